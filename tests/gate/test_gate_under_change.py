"""The gate while an interview changes after it was redacted: each finding of the lifecycle review as a
test (voice note deep in a chat, a second part, a new version, a place entity, a transcribed phone
number, decrypted names at rest, edit rights). Whisper is the deterministic, word-timed stand-in of the
stateful test (tests/lifecycle.py) over synthesised tone-burst speech; the real engine is exercised in
test_gate_under_change_engine.py."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from archive import services
from archive.gate import NotVisible, render, rendering_for
from archive.models import Membership, Recording, Redaction, Segment
from archive.services import recordings
from archive.services.exports import export_interview
from archive.services.recordings import interview_retranscribe, recorded_interview_create, recording_add
from archive.services.transcripts_ingest import transcription_job_run
from tests.builders import ROOT
from tests.lifecycle import SERVED_RATE, StandInWhisper, decode, filler_hz, stand_ins, synthesise

NAME = "Zqxhamid"  # the narrator's given name; their legal name (FULL) is said aloud below
FULL = f"{NAME} Qaddour"


@pytest.fixture
def whisper(monkeypatch):
    """The stand-in, and jobs sent at once (each test runs in one transaction that never commits)."""
    stand_in = StandInWhisper()
    monkeypatch.setattr(recordings.transaction, "on_commit", lambda callback, **_kwargs: callback())
    with stand_ins(stand_in):
        yield stand_in


def speech(whisper: StandInWhisper, *lines: str) -> tuple[bytes, object]:
    """Synthesised speech saying `lines` (words separated by spaces), registered with the stand-in."""
    data, script = synthesise([[(word, filler_hz(word)) for word in line.split()] for line in lines])
    whisper.register(data, script)
    return data, script


def run_jobs(whisper: StandInWhisper) -> None:
    while whisper.queued:
        assert transcription_job_run(whisper.queued.pop(0)) == "done"


def public_interview(demo, *, anonymity: str = "anonymous"):
    interview = recorded_interview_create(
        collection=demo.collection,
        title="A call that dropped twice",
        narrator_name=FULL,
        anonymity=anonymity,
        access_level="public",
        status="published",
        consent_scopes={"research_access": True, "publication": True, "public_web": True, "voice_release": True},
    )
    return interview


def add(whisper, interview, data: bytes, **options) -> Recording:
    recording, _job = recording_add(
        interview=interview, fileobj=io.BytesIO(data), original_filename="call.wav", **options
    )
    run_jobs(whisper)
    return recording


def word_time(script, text: str) -> tuple[float, float]:
    word = next(w for w in script.words if w.text == text)
    return word.start, word.end


def rms(samples: np.ndarray, start: float, end: float) -> float:
    piece = samples[int(start * SERVED_RATE) : int(end * SERVED_RATE)].astype(np.float64)
    return float(np.sqrt(np.mean(piece**2))) if len(piece) else 0.0


def tier_audio(interview, tier: str) -> np.ndarray:
    result = export_interview(interview=interview, fmt="audio", tier=tier, requester_tier=tier)
    with result.open() as handle:
        return decode(io.BytesIO(handle.read()))


def all_text(interview, tier: str) -> str:
    rendering = rendering_for(interview, tier)
    return "\n".join([rendering.title, rendering.summary, rendering.place, *rendering.topics, rendering.text])


@pytest.mark.django_db
def test_a_voice_note_600_seconds_into_a_chat_is_silenced_on_its_own_timeline(demo, whisper):
    interview = public_interview(demo)
    services.transcript_store(
        interview=interview,
        segments=[
            services.SegmentInput(start=0.0, end=0.0, text="Hello, are you there?", speaker="Researcher"),
            services.SegmentInput(start=600.0, end=600.0, text="[voice note awaiting transcription]", speaker="N"),
        ],
        source="chat",
    )
    data, script = speech(whisper, f"my name is {FULL} and I stayed")
    note = services.recordings.recording_store(
        interview=interview, fileobj=io.BytesIO(data), original_filename="n.opus"
    )
    services.recordings.transcription_job_create(recording=note, options={"in_place": True, "offset": 600.0})
    run_jobs(whisper)

    assert NAME not in all_text(interview, "public")
    assert NAME in all_text(interview, "custodian")  # the positive control
    public = rendering_for(interview, "public")
    [part] = public.audio_parts
    start, end = word_time(script, NAME)
    # The hidden interval is on the note's own timeline, not the chat's (600 s later).
    assert part.recording_id == str(note.public_id)
    assert all(s <= start and e >= end and e < script.duration for s, e in part.spans)
    samples = tier_audio(interview, "public")
    assert abs(len(samples) / SERVED_RATE - script.duration) < 0.05  # the note, not 600 s of chat
    assert rms(samples, start, end) == 0.0
    assert rms(tier_audio(interview, "custodian"), start, end) > 0.05


@pytest.mark.django_db
def test_a_second_shorter_recording_is_a_new_part_and_both_are_silenced(demo, whisper, tmp_path):
    interview = public_interview(demo)
    first, first_script = speech(whisper, f"we spoke with {FULL} first", "then the line dropped")
    second, second_script = speech(whisper, f"{FULL} again")
    add(whisper, interview, first)
    segments_before = list(interview.transcripts.get(is_current=True).segments.values_list("raw_text", flat=True))
    add(whisper, interview, second)

    current = interview.transcripts.get(is_current=True)
    texts = list(current.segments.order_by("index").values_list("raw_text", flat=True))
    assert texts[: len(segments_before)] == segments_before  # nothing of the first part is lost
    public = rendering_for(interview, "public")
    assert [round(p.duration, 1) for p in public.audio_parts] == [
        round(first_script.duration, 1),
        round(second_script.duration, 1),
    ]
    samples = tier_audio(interview, "public")
    assert abs(len(samples) / SERVED_RATE - (first_script.duration + second_script.duration)) < 0.1
    a, b = word_time(first_script, NAME)
    c, d = word_time(second_script, NAME)
    offset = first_script.duration
    assert rms(samples, a, b) == 0.0
    assert rms(samples, offset + c, offset + d) == 0.0
    # A bag holds one audio file per recording.
    bag = services.exports.export_interview_bag(
        interview=interview, tier="public", requester_tier="public", destination=tmp_path / "bag"
    )
    names = sorted(p.name for p in (bag / "data" / str(interview.public_id)).iterdir())
    assert [n for n in names if n.startswith("audio")] == ["audio-01.mp3", "audio-02.mp3"]


@pytest.mark.django_db
def test_span_redactions_follow_a_replacement_and_a_retranscription_or_hold_the_lower_tiers(demo, whisper):
    interview = public_interview(demo, anonymity="named")
    data, _script = speech(whisper, "my cousin Zqxbrother drove the truck", "to the bakery at dawn")
    original = add(whisper, interview, data)
    redaction = services.redaction_add_phrase_span(
        interview=interview, phrase="Zqxbrother", category="relative", visible_from="staff"
    )
    assert "Zqxbrother" not in all_text(interview, "public")

    # A better copy of the same speech, a little later in the file: the span follows its text.
    better, better_script = speech(whisper, "hello again", "my cousin Zqxbrother drove the truck", "to the bakery")
    add(whisper, interview, better, replaces=original)
    redaction.refresh_from_db()
    assert not redaction.held and redaction.segment.transcript.is_current
    assert "Zqxbrother" not in all_text(interview, "public")
    a, b = word_time(better_script, "Zqxbrother")
    assert rms(tier_audio(interview, "public"), a, b) == 0.0
    original.refresh_from_db()
    assert original.replaced_by is not None

    # Re-transcribed: the stand-in groups the words into other segments; the span still follows.
    interview_retranscribe(interview=interview)
    run_jobs(whisper)
    redaction.refresh_from_db()
    assert interview.transcripts.get(is_current=True).version == 3
    assert not redaction.held and "Zqxbrother" not in all_text(interview, "public")

    # A copy in which the phrase is not found: the redaction is held and the lower tiers wait.
    newest = Recording.objects.get(replaced_by__isnull=True, interview=interview)
    other, _ = speech(whisper, "my cousin drove the truck", "to the bakery")
    add(whisper, interview, other, replaces=newest)
    redaction.refresh_from_db()
    assert redaction.held
    with pytest.raises(NotVisible):
        rendering_for(interview, "public")
    assert rendering_for(interview, "staff").title  # its own tier is unaffected
    assert any("wait for a decision" in reason for reason in services.interviews.publication_blockers(interview))
    services.redactions.redaction_resolve_held(redaction=redaction)
    interview.refresh_from_db()
    assert rendering_for(interview, "public").title


@pytest.mark.django_db
def test_a_correction_moves_the_span_onto_its_phrase_or_holds_it(demo):
    interview = demo.interview("facebook-journalist")
    segment = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True).order_by("index")[0]
    services.segment_edit(segment=segment, text="We met Zqxfriend near the river.", actor=None)
    redaction = services.redaction_add_phrase_span(
        interview=interview, phrase="Zqxfriend", category="name", visible_from="staff"
    )
    segment.refresh_from_db()
    services.segment_edit(segment=segment, text="Yesterday evening we met Zqxfriend near the river.", actor=None)
    redaction.refresh_from_db()
    assert segment.raw_text[redaction.start_char : redaction.end_char] == "Zqxfriend"
    assert "Zqxfriend" not in all_text(interview, "public")
    segment.refresh_from_db()
    services.segment_edit(segment=segment, text="Yesterday we met Qolmarr near the river.", actor=None)
    redaction.refresh_from_db()
    assert redaction.held
    with pytest.raises(NotVisible):
        rendering_for(interview, "researcher")
    assert "Qolmarr" in all_text(interview, "staff")


@pytest.mark.django_db
def test_an_entity_redaction_reaches_every_rendered_field_at_once(demo, client_as):
    interview = demo.interview("facebook-journalist")
    services.interview_update(
        interview=interview, place="Zqxquarter, Homs", place_general="Zqxquarter", topics=["life in Zqxquarter"]
    )
    assert "Zqxquarter" in rendering_for(interview, "staff").place
    services.redact_phrase(phrase="Zqxquarter", category="place", visible_from="custodian", replacement="a district")
    for tier in ("public", "researcher", "staff"):
        rendering = rendering_for(interview, tier)
        assert "Zqxquarter" not in rendering.place + "".join(rendering.topics), tier
        assert rendering == render(interview, tier)
    assert "Zqxquarter" in rendering_for(interview, "custodian").place
    for client in (client_as("archivist"), client_as(None)):
        page = client.get(f"/interviews/{interview.public_id}/").content.decode()
        api = client.get(f"/api/v1/interviews/{interview.public_id}/").content.decode()
        assert "Zqxquarter" not in page + api
    # Rejecting it brings the place back everywhere at once.
    entity_redaction = Redaction.objects.filter(kind="entity", entity__raw_name="Zqxquarter").get()
    services.redaction_decide(redaction=entity_redaction, approve=False)
    assert "Zqxquarter" in rendering_for(interview, "staff").place


@pytest.mark.django_db
def test_a_phone_number_transcribed_by_whisper_is_hidden_below_custodian_at_once(demo, whisper):
    interview = public_interview(demo)
    words = "call me on 0944 123 456 tonight"
    data, _ = speech(whisper, words)
    add(whisper, interview, data)
    for tier in ("public", "researcher", "staff"):
        assert "0944" not in all_text(interview, tier), tier
    assert "0944 123 456" in all_text(interview, "custodian")


@pytest.mark.django_db
def test_adding_media_needs_edit_rights_on_the_interview(demo, client_as, whisper):
    interview = public_interview(demo)
    outsider_field = User.objects.create_user(username="field2", password="field2-password-123")
    Membership.objects.create(user=outsider_field, collection=demo.collection, role="field_researcher")

    client = Client()
    client.force_login(outsider_field)
    url = f"/api/v1/interviews/{interview.public_id}/uploads/"
    assert client.post(url, {"size": 10, "filename": "x.wav"}, content_type="application/json").status_code == 404
    retranscribe = f"/api/v1/interviews/{interview.public_id}/retranscribe"
    assert client.post(retranscribe, {}, content_type="application/json").status_code == 404
    services.interview_set_people(interview=interview, interviewers=[outsider_field])
    assert client.post(url, {"size": 10, "filename": "x.wav"}, content_type="application/json").status_code == 201
    # A named recording to replace must be one of this interview's.
    other = client.post(
        url, {"size": 10, "filename": "x.wav", "replaces": str(interview.public_id)}, content_type="application/json"
    )
    assert other.status_code == 400


@pytest.mark.django_db
def test_a_custodian_rendering_and_index_hold_references_not_names(demo, whisper):
    interview = public_interview(demo)
    data, _ = speech(whisper, "we lived by the river")
    add(whisper, interview, data)
    Segment.objects.filter(transcript__interview=interview).update(
        speaker_role="narrator", speaker_narrator=interview.narrators.get()
    )
    services.interview_touch(interview)
    custodian = rendering_for(interview, "custodian")
    assert custodian.narrators[0].display_name == f"{NAME} Qaddour"
    assert custodian.segments[0].speaker == f"{NAME} Qaddour"
    export = export_interview(interview=interview, fmt="txt", tier="custodian", requester_tier="custodian")
    assert NAME in export.open().read().decode()
    assert export.path is None  # never cached
    assert NAME not in database_text()


def database_text() -> str:
    """Every text value of every table, as one string."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            chunks.extend(str(value) for row in cursor.fetchall() for value in row if value is not None)
    return "\n".join(chunks)


def test_no_decrypted_identity_anywhere_under_the_data_dir_after_ingest(tmp_path):
    """`ingest --narrator` plants a name; the database (and its WAL), search index, exports and logs
    under RAWI_DATA_DIR never hold it in plain text, while a custodian's export does show it."""
    data_dir = tmp_path / "data"
    transcript = tmp_path / "notes.txt"
    transcript.write_text("Narrator: We baked bread at night.\nInterviewer: Where was the oven?\n", encoding="utf-8")
    env = {"RAWI_DATA_DIR": str(data_dir), "DEBUG": "true", "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    python = sys.executable

    def manage(*args: str) -> str:
        done = subprocess.run(
            [python, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    manage("migrate", "--noinput")
    planted = "Zqxplanted Alkhatib"
    out = manage(
        "ingest",
        str(transcript),
        "--collection",
        "rest",
        "--title",
        "Bread",
        "--narrator",
        planted,
        "--anonymity",
        "anonymous",
        "--access",
        "public",
    )
    interview_id = out.strip().splitlines()[-1]
    manage("reindex")
    manage("search", "bread", "--tier", "custodian", "--json")
    export = tmp_path / "custodian.txt"
    manage("export", interview_id, "--format", "txt", "--tier", "custodian", "--out", str(export))
    assert "Zqxplanted" in export.read_text(encoding="utf-8")  # the positive control
    manage("export", interview_id, "--format", "txt", "--tier", "public", "--out", str(tmp_path / "public.txt"))
    found = [
        str(path.relative_to(data_dir))
        for path in data_dir.rglob("*")
        if path.is_file()
        and (b"Zqxplanted" in path.read_bytes() or "Zqxplanted".encode("utf-16-le") in path.read_bytes())
    ]
    assert found == []
