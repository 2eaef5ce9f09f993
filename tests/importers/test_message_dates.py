"""When each chat message and email was sent: stored from every chat and email importer, and shown
through the gate at the precision the tier may see (to the second from staff up, the month of an
interview's public date below), in one date format, in English and Arabic."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from archive.exports import export_bytes
from archive.gate import render, rendering_for
from archive.importers import parse_file
from archive.importers.detect import detect_kind
from archive.models import Segment
from archive.services import SegmentInput
from archive.services.imports import import_file
from archive.services.transcripts_ingest import note_insert, version_replacing
from tests.builders import (
    WHATSAPP_CHAT,
    mbox_message,
    messenger_zip,
    published_whatsapp_chat,
    skype_export,
    telegram_zip,
)

pytestmark = [pytest.mark.django_db]

MBOX = "\n".join(
    [
        mbox_message("Sara <s@example.org>", "Tue, 3 Jan 2017 10:00:00 +0000", "What happened in December?"),
        mbox_message("Abu Khaled <ak@example.net>", "Wed, 4 Jan 2017 09:30:15 +0200", "The truce held two weeks."),
    ]
)


def _exports() -> dict[str, tuple[str, bytes, str]]:
    """kind → (file name, bytes, narrator as a sender of the export)."""
    return {
        "whatsapp": ("WhatsApp Chat with Abu Khaled.txt", WHATSAPP_CHAT.encode(), "Abu Khaled"),
        "email": ("thread.mbox", MBOX.encode(), "Abu Khaled"),
        "messenger": ("facebook-sara.zip", messenger_zip(), ""),
        "skype": ("8_live_sara.rawi_export.tar", skype_export(), "Abu Khaled"),
        "telegram": ("ChatExport.zip", telegram_zip(), "Abu Khaled"),
    }


def _telegram_with_a_queued_voice_note():
    filename, data, narrator = _exports()["telegram"]
    [outcome] = import_file(
        data=data,
        filename=filename,
        collection_slug="message-dates",
        title="Telegram",
        narrator_name=narrator,
        voice_notes="queue",
    )
    return outcome


def _as_stored(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@pytest.mark.parametrize("kind", ["whatsapp", "email", "messenger", "skype", "telegram"])
def test_it_stores_when_each_message_was_sent_from_every_chat_and_email_importer(kind, demo):
    filename, data, narrator = _exports()[kind]
    parsed = parse_file(filename, data, kind=detect_kind(filename, data))
    expected = sorted(_as_stored(s.sent_at) for s in parsed.segments)
    assert len(expected) >= 2 and len(set(expected)) >= 2
    [outcome] = import_file(
        data=data,
        filename=filename,
        collection_slug="message-dates",
        title=f"{kind} thread",
        narrator_name=narrator,
        access="staff",
        voice_notes="queue",
    )
    stored = list(Segment.objects.filter(transcript=outcome.transcript).order_by("index"))
    assert [s.sent_at for s in stored] == expected
    staff = rendering_for(outcome.interview, "staff")
    assert [s.sent_at for s in staff.segments] == [m.strftime("%Y-%m-%dT%H:%M:%S") for m in expected]


def test_the_gate_gives_each_tier_the_message_dates_at_its_precision(demo):
    interview = published_whatsapp_chat(demo)
    full = ["2016-03-13T09:00:00", "2016-03-13T09:02:00", "2016-03-13T21:47:00"]
    for tier in ("custodian", "staff"):
        assert [s.sent_at for s in render(interview, tier).segments] == full
        assert [s.sent_at for s in rendering_for(interview, tier).segments] == full
    for tier in ("researcher", "public"):
        assert [s.sent_at for s in render(interview, tier).segments] == ["2016-03"] * 3
        assert [s.sent_at for s in rendering_for(interview, tier).segments] == ["2016-03"] * 3


def test_the_transcript_shows_when_each_message_was_sent_in_one_format_in_english_and_arabic(demo, client_as):
    interview = published_whatsapp_chat(demo)
    url = f"/interviews/{interview.public_id}/"
    staff = client_as("editor").get(url).content.decode()
    assert staff.count('data-testid="sent-at"') == 3
    assert '<time datetime="2016-03-13T21:47:00">March 13, 2016, 21:47</time>' in staff
    arabic = client_as("editor").get(url, HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert '<time datetime="2016-03-13T21:47:00">13 مارس، 2016، 21:47</time>' in arabic
    public = client_as(None).get(url).content.decode()
    assert public.count('<time datetime="2016-03">March 2016</time>') == 3
    assert "21:47" not in public and "2016-03-13" not in public
    # A chat's messages carry their dates, not times on a recording.
    assert 'datetime="PT' not in public.split('data-testid="transcript"')[1]


def test_the_api_gives_the_message_dates_at_the_tiers_precision(demo, client_as):
    interview = published_whatsapp_chat(demo)
    url = f"/api/v1/interviews/{interview.public_id}/"
    public = client_as(None).get(url).json()
    assert [s["sent_at"] for s in public["segments"]] == ["2016-03"] * 3
    staff = client_as("editor").get(url).json()
    assert [s["sent_at"] for s in staff["segments"]][-1] == "2016-03-13T21:47:00"


def test_the_json_export_carries_the_message_dates_at_the_tiers_precision(demo):
    interview = published_whatsapp_chat(demo)
    public = json.loads(export_bytes(rendering_for(interview, "public"), "json"))
    assert [s["sent_at"] for s in public["segments"]] == ["2016-03"] * 3
    staff = json.loads(export_bytes(rendering_for(interview, "staff"), "json"))
    assert staff["segments"][-1]["sent_at"] == "2016-03-13T21:47:00"
    assert "21:47" not in export_bytes(rendering_for(interview, "public"), "txt").decode()


def test_a_voice_notes_segments_keep_their_messages_time_when_inserted_and_transcribed_again(demo):
    """A queued voice note's placeholder carries its message's time; the note's segments inserted in
    its place later take it, and so do those of a new transcription of the note."""
    outcome = _telegram_with_a_queued_voice_note()
    interview = outcome.interview
    note = outcome.recordings[0]
    placeholder = Segment.objects.get(transcript=outcome.transcript, start=note.timeline_offset)
    sent = placeholder.sent_at
    assert sent is not None
    heard = [SegmentInput(start=0.0, end=1.5, text="The bread ran out."), SegmentInput(start=1.5, end=3.0, text="Then")]
    note_insert(interview=interview, recording=note, segments=heard, offset=note.timeline_offset, provenance={})
    rows = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True, recording=note)
    assert [(r.raw_text, r.sent_at) for r in rows.order_by("index")] == [("The bread ran out.", sent), ("Then", sent)]
    again = [SegmentInput(start=0.0, end=3.0, text="The bread ran out, then the flour.")]
    version_replacing(interview=interview, old=note, new=note, segments=again, language="", provenance={}, options={})
    rows = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True, recording=note)
    assert [(r.raw_text, r.sent_at) for r in rows] == [("The bread ran out, then the flour.", sent)]


def test_the_demos_email_thread_shows_when_each_message_was_sent(demo, client_as):
    interview = demo.interview("email-loyalist")
    html = client_as("editor").get(f"/interviews/{interview.public_id}/").content.decode()
    segments = len(rendering_for(interview, "staff").segments)
    assert html.count('data-testid="sent-at"') == segments > 1
    assert '<time datetime="2017-02-05T09:12:00">Feb. 5, 2017, 09:12</time>' in html


def test_below_staff_a_message_is_not_placed_on_the_conversations_timeline(demo, client_as):
    """Times on the conversation's timeline are seconds since the first message: their gaps would tell
    to the second what the month-precision date hides. Below staff a written message has no time and a
    voice note's words keep only their times inside the note."""
    interview = published_whatsapp_chat(demo)
    gaps = [0.0, 120.0, 46_020.0]  # 09:00, 09:02 and 21:47 after the first message
    for tier in ("custodian", "staff"):
        assert [s.start for s in rendering_for(interview, tier).segments] == gaps
    for tier in ("researcher", "public"):
        for rendering in (render(interview, tier), rendering_for(interview, tier)):
            assert [(s.start, s.end) for s in rendering.segments] == [(0.0, 0.0)] * 3
    public = client_as(None).get(f"/api/v1/interviews/{interview.public_id}/").json()
    assert {(s["start"], s["end"]) for s in public["segments"]} == {(0.0, 0.0)}
    page = client_as(None).get(f"/interviews/{interview.public_id}/").content.decode()
    assert 'data-start="120.0"' not in page and 'data-start="46020.0"' not in page
    for fmt in ("vtt", "srt", "json", "ohms"):
        text = export_bytes(rendering_for(interview, "public"), fmt).decode()
        assert "12:47:00" not in text and "00:02:00" not in text and "46020" not in text, fmt


def test_below_staff_a_voice_notes_words_keep_their_times_inside_the_note(demo):
    outcome = _telegram_with_a_queued_voice_note()
    interview, note = outcome.interview, outcome.recordings[0]
    assert note.timeline_offset > 0
    words = [{"w": "bread", "s": 0.4, "e": 0.9}, {"w": "ran", "s": 1.0, "e": 1.3}]
    heard = [SegmentInput(start=0.2, end=1.5, text="bread ran", words=words)]
    note_insert(interview=interview, recording=note, segments=heard, offset=note.timeline_offset, provenance={})
    interview.refresh_from_db()
    staff = [s for s in render(interview, "staff").segments if s.text == "bread ran"]
    assert staff[0].start == pytest.approx(note.timeline_offset + 0.2)
    [below] = [s for s in render(interview, "researcher").segments if s.text == "bread ran"]
    assert (below.start, below.end) == (0.2, 1.5)
    assert [(w.start, w.end) for w in below.words] == [(0.4, 0.9), (1.0, 1.3)]


def test_a_search_hit_on_a_message_shows_when_it_was_sent_at_the_tiers_precision(demo, client_as):
    interview = published_whatsapp_chat(demo)
    hits = client_as(None).get("/api/v1/search/", {"q": "bakery"}).json()["hits"]
    mine = [h for h in hits if h["interview_id"] == str(interview.public_id) and h["segment_index"] is not None]
    assert [h["sent_at"] for h in mine] == ["2016-03"]
    hits = client_as("editor").get("/api/v1/search/", {"q": "bakery"}).json()["hits"]
    mine = [h for h in hits if h["interview_id"] == str(interview.public_id) and h["segment_index"] is not None]
    assert [h["sent_at"] for h in mine] == ["2016-03-13T09:02:00"]
    page = client_as(None).get("/search/", {"q": "bakery"}).content.decode()
    assert '<time datetime="2016-03">March 2016</time>' in page
    # Speech keeps its media time.
    spoken = [h for h in client_as(None).get("/api/v1/search/", {"q": "the"}).json()["hits"] if not h["sent_at"]]
    assert spoken and all(h["start"] is not None for h in spoken if h["segment_index"] is not None)
