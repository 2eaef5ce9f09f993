"""Exporters: every format built from a Rendering only, checked with the format's own tools."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import bagit
import docx
import numpy as np
import pytest
import soundfile
import srt
import webvtt
from django.core.management import call_command
from django.core.management.base import CommandError
from docx.oxml.ns import qn
from lxml import etree

from archive import exports
from archive.exports import FORMATS, export_bytes, file_name
from archive.exports.bag import BagExportError, BagItem, write_bag
from archive.exports.common import consent_basis, split_gaps
from archive.exports.documents import pdf_html
from archive.exports.scholarly import OHMS_NS, TEI_NS, ohms_record_id
from archive.gate import AudioPart, Rendering, SegmentRendering, rendering_for
from archive.gate import policy as access
from archive.models import AuditEvent
from archive.services import SegmentInput, interview_touch, transcript_store
from archive.services.exports import export_interview
from archive.services.recordings import recording_store
from tests.builders import (
    INTERVIEW_ID,
    NARRATOR_ID,
    RECORDING_ID,
    RENDERED_ARABIC,
    SEALED_NARRATOR_ID,
    canaries_for,
    make_rendering,
    published_whatsapp_chat,
)


def test_it_writes_plain_text_with_timestamps_and_speakers():
    text = export_bytes(make_rendering(), "txt").decode("utf-8")
    assert text.splitlines() == [
        "Testimony from a district of Homs",
        "Collection: Homs 2012",
        "Recorded: 2012-02",
        "Place: a district of Homs",
        "Narrators: Resident B",
        "Interviewer: Interviewer",
        "Audience: public",
        "",
        "[00:00:00] Interviewer: Where were you in February?",
        "[00:00:04] Resident B: I was in [place withheld] with [name withheld] & my cousin <b>.",
        f"[00:00:09] Resident B: {RENDERED_ARABIC}",
        "[01:02:05] Speaker 1: =SUM(A1) looks like a formula",
        "[01:02:06] ",
    ]


def seconds(timecode: str) -> float:
    hours, minutes, rest = timecode.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def assert_monotonic(captions) -> None:
    # webvtt-py is not a validator (and its *_in_seconds are whole seconds): check times ourselves.
    previous = -1.0
    for caption in captions:
        start, end = seconds(caption.start), seconds(caption.end)
        assert start >= previous
        assert end > start
        previous = start


def test_it_writes_webvtt_with_voice_tags_and_no_notes():
    data = export_bytes(make_rendering(), "vtt").decode("utf-8")
    captions = webvtt.from_string(data).captions
    assert len(captions) == 4
    assert_monotonic(captions)
    assert [c.voice for c in captions] == ["Interviewer", "Resident B", "Resident B", "Speaker 1"]
    # webvtt-py does not unescape entities: the cue text is exactly what a player decodes.
    assert captions[1].text == "I was in [place withheld] with [name withheld] &amp; my cousin &lt;b&gt;."
    assert captions[2].text == RENDERED_ARABIC
    assert (captions[3].start, captions[3].end) == ("01:02:05.000", "01:02:05.001")
    assert "NOTE" not in data
    assert data.startswith(
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:04.200\n<v Interviewer>Where were you in February?</v>\n"
    )


def test_it_writes_srt_that_parses():
    data = export_bytes(make_rendering(), "srt").decode("utf-8")
    subtitles = list(srt.parse(data))
    assert [s.index for s in subtitles] == [1, 2, 3, 4]
    assert [s.content for s in subtitles] == [
        "Interviewer: Where were you in February?",
        "Resident B: I was in [place withheld] with [name withheld] & my cousin <b>.",
        f"Resident B: {RENDERED_ARABIC}",
        "Speaker 1: =SUM(A1) looks like a formula",
    ]
    assert all(s.proprietary == "" for s in subtitles)
    assert all(s.end > s.start for s in subtitles)
    assert subtitles[1].start.total_seconds() == 4.2


def test_it_writes_csv_with_timecode_speaker_text():
    data = export_bytes(make_rendering(), "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["timecode", "end", "speaker", "text", "sent_at"]
    assert rows[1] == ["00:00:00.000", "00:00:04.200", "Interviewer", "Where were you in February?", ""]
    assert rows[3] == ["00:00:09.800", "00:00:15.500", "Resident B", RENDERED_ARABIC, ""]
    # A cell that looks like a spreadsheet formula is neutralised.
    assert rows[4] == ["01:02:05.000", "01:02:05.000", "Speaker 1", "'=SUM(A1) looks like a formula", ""]
    assert len(rows) == 6


def test_it_writes_json_with_segments_and_words():
    document = json.loads(export_bytes(make_rendering(), "json"))
    assert document["interview"]["interview_id"] == INTERVIEW_ID
    assert document["interview"]["tier"] == "public"
    assert document["interview"]["redaction_categories"] == ["name", "place"]
    assert "audio_spans" not in json.dumps(document)
    assert len(document["segments"]) == 5
    assert document["segments"][1]["words"] == [
        {"text": "I", "start": 4.2, "end": 4.4, "probability": 0.9},
        {"text": "was", "start": 4.4, "end": 4.6, "probability": 0.9},
        {"text": "in", "start": 4.6, "end": 4.7, "probability": 0.9},
        {"text": "[place withheld]", "start": 4.7, "end": 5.3, "probability": None},
    ]
    assert document["segments"][2]["text"] == RENDERED_ARABIC


# A chat: two messages two minutes apart, as the gate gives them to staff and, below, to the month.
SENT_TO_STAFF = ("2016-03-13T09:00:00", "2016-03-13T09:02:00")
SENT_BELOW_STAFF = ("2016-03", "2016-03")


def chat_rendering(sent: tuple[str, str], tier: str) -> Rendering:
    segments = (
        SegmentRendering(0, 0.0, 0.0, "Interviewer", "How is the bakery?", "en", sent_at=sent[0]),
        SegmentRendering(1, 120.0, 120.0, "Resident B", "Closed after the truce & <b>.", "en", sent_at=sent[1]),
    )
    return make_rendering(segments=segments, tier=tier, mode="whatsapp")


def test_it_dates_each_message_in_the_plain_text_and_documents():
    staff = export_bytes(chat_rendering(SENT_TO_STAFF, "staff"), "txt").decode("utf-8").splitlines()
    assert staff[-2:] == [
        "[2016-03-13 09:00:00] Interviewer: How is the bakery?",
        "[2016-03-13 09:02:00] Resident B: Closed after the truce & <b>.",
    ]
    public = export_bytes(chat_rendering(SENT_BELOW_STAFF, "public"), "txt").decode("utf-8").splitlines()
    assert public[-2:] == [
        "[2016-03] Interviewer: How is the bakery?",
        "[2016-03] Resident B: Closed after the truce & <b>.",
    ]
    document = docx.Document(io.BytesIO(export_bytes(chat_rendering(SENT_TO_STAFF, "staff"), "docx")))
    assert "[2016-03-13 09:02:00] Resident B: Closed after the truce & <b>." in [p.text for p in document.paragraphs]
    html = pdf_html(chat_rendering(SENT_BELOW_STAFF, "public"))
    assert "<span class='time'>[2016-03]</span>" in html and "[00:02:00]" not in html
    rows = list(
        csv.reader(io.StringIO(export_bytes(chat_rendering(SENT_TO_STAFF, "staff"), "csv").decode("utf-8-sig")))
    )
    assert [row[4] for row in rows[1:]] == list(SENT_TO_STAFF)


def test_it_dates_each_message_in_the_cue_text_and_keeps_the_cue_times():
    vtt = webvtt.from_string(export_bytes(chat_rendering(SENT_TO_STAFF, "staff"), "vtt").decode("utf-8")).captions
    assert [(c.start, c.voice, c.text) for c in vtt] == [
        ("00:00:00.000", "Interviewer", "[2016-03-13 09:00:00] How is the bakery?"),
        ("00:02:00.000", "Resident B", "[2016-03-13 09:02:00] Closed after the truce &amp; &lt;b&gt;."),
    ]
    subtitles = list(srt.parse(export_bytes(chat_rendering(SENT_BELOW_STAFF, "public"), "srt").decode("utf-8")))
    assert [(s.start.total_seconds(), s.content) for s in subtitles] == [
        (0.0, "[2016-03] Interviewer: How is the bakery?"),
        (120.0, "[2016-03] Resident B: Closed after the truce & <b>."),
    ]


def test_it_dates_each_message_in_ohms_and_tei():
    ns = {"o": OHMS_NS, "t": TEI_NS}
    record = etree.fromstring(export_bytes(chat_rendering(SENT_TO_STAFF, "staff"), "ohms")).find("o:record", ns)
    points = record.findall("o:index/o:point", ns)
    assert [(p.findtext("o:time", namespaces=ns), p.findtext("o:title", namespaces=ns)) for p in points] == [
        ("0", "Interviewer [2016-03-13 09:00:00]"),
        ("120", "Resident B [2016-03-13 09:02:00]"),
    ]
    assert record.findtext("o:transcript", namespaces=ns).splitlines() == [
        "[2016-03-13 09:00:00] Interviewer: How is the bakery?",
        "[2016-03-13 09:02:00] Resident B: Closed after the truce & <b>.",
    ]
    for sent, tier in ((SENT_TO_STAFF, "staff"), (SENT_BELOW_STAFF, "public")):
        utterances = etree.fromstring(export_bytes(chat_rendering(sent, tier), "tei")).findall(".//t:body/t:u", ns)
        dates = [u[0] for u in utterances]
        assert [(d.tag, d.get("type"), d.get("when"), d.text) for d in dates] == [
            (f"{{{TEI_NS}}}date", "sent", when, None) for when in sent
        ]
        # The message's words follow its date; the utterance keeps its place on the timeline.
        assert [(u.text, d.tail) for u, d in zip(utterances, dates, strict=True)] == [
            (None, "How is the bakery?"),
            (None, "Closed after the truce & <b>."),
        ]
        assert utterances[1].get("start") != utterances[0].get("start")


def test_it_hides_sealed_narrators_in_the_consent_basis():
    assert consent_basis(make_rendering()) == f"{NARRATOR_ID}:v2,withheld:v1"
    assert consent_basis(make_rendering(consent_version="")) == ""


def test_it_writes_docx_with_rtl_arabic_and_no_author():
    document = docx.Document(io.BytesIO(export_bytes(make_rendering(), "docx")))
    core = document.core_properties
    assert (core.author, core.last_modified_by, core.comments, core.keywords) == ("", "", "", "")
    assert core.title == "Testimony from a district of Homs"
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Testimony from a district of Homs"
    assert f"[00:00:09] Resident B: {RENDERED_ARABIC}" in texts
    arabic = next(p for p in document.paragraphs if RENDERED_ARABIC in p.text)
    assert arabic._p.pPr.find(qn("w:bidi")).get(qn("w:val")) == "1"
    assert all(run._r.rPr.find(qn("w:rtl")) is not None for run in arabic.runs)
    english = next(p for p in document.paragraphs if "February" in p.text)
    assert english._p.pPr is None or english._p.pPr.find(qn("w:bidi")) is None


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_it_writes_pdf_with_arabic_in_logical_order(tmp_path):
    path = tmp_path / "out.pdf"
    path.write_bytes(export_bytes(make_rendering(), "pdf"))
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    text = text.decode("utf-8")
    assert "Testimony from a district of Homs" in text
    assert "عندما بدأ القصف على باب عمرو" in " ".join(text.split())
    assert "Resident B" in text
    assert b"/Author" not in path.read_bytes()


def test_it_writes_well_formed_ohms_xml_with_required_elements():
    root = etree.fromstring(export_bytes(make_rendering(), "ohms"))
    ns = {"o": OHMS_NS}
    assert root.tag == f"{{{OHMS_NS}}}ROOT"
    record = root.find("o:record", ns)
    assert record.get("id") == str(ohms_record_id(INTERVIEW_ID))
    assert record.findtext("o:cms_record_id", namespaces=ns) == INTERVIEW_ID
    assert record.findtext("o:title", namespaces=ns) == "Testimony from a district of Homs"
    assert record.findtext("o:accession", namespaces=ns) == INTERVIEW_ID
    assert record.findtext("o:duration", namespaces=ns) == "01:02:07"
    assert record.find("o:date", ns).attrib == {"value": "2012-02-01", "format": "yyyy-mm-dd"}
    assert record.findtext("o:interviewee", namespaces=ns) == "Resident B"
    assert record.findtext("o:language", namespaces=ns) == "ara"
    points = record.findall("o:index/o:point", ns)
    assert [p.findtext("o:time", namespaces=ns) for p in points] == ["0", "4", "9", "3725"]
    assert points[2].findtext("o:partial_transcript", namespaces=ns) == RENDERED_ARABIC
    transcript = record.findtext("o:transcript", namespaces=ns)
    assert transcript.splitlines()[1] == (
        "[00:00:04] Resident B: I was in [place withheld] with [name withheld] & my cousin <b>."
    )


def test_it_writes_tei_with_utterances_and_gaps():
    data = export_bytes(make_rendering(), "tei")
    root = etree.fromstring(data)
    ns = {"t": TEI_NS}
    utterances = root.findall(".//t:body/t:u", ns)
    assert len(utterances) == 5
    ids = {element.get("{http://www.w3.org/XML/1998/namespace}id") for element in root.iter()}
    for utterance in utterances:
        assert utterance.get("start")[1:] in ids
        assert utterance.get("end")[1:] in ids
    assert [u.get("who") for u in utterances[:4]] == ["#spk1", "#spk2", "#spk2", "#spk3"]
    second = utterances[1]
    gaps = second.findall("t:gap", ns)
    assert [g.get("reason") for g in gaps] == ["redacted", "redacted"]
    assert [g.findtext("t:desc", namespaces=ns) for g in gaps] == ["place withheld", "name withheld"]
    assert second.text == "I was in "
    assert gaps[0].tail == " with "
    assert gaps[1].tail == " & my cousin <b>."
    assert b"[place withheld]" not in data
    assert utterances[2].get("{http://www.w3.org/XML/1998/namespace}lang") == "ar"


def test_it_splits_text_at_replacement_labels():
    assert split_gaps("a [name withheld] b [narrator withheld]") == [
        ("a ", None),
        ("", "[name withheld]"),
        (" b ", None),
        ("", "[narrator withheld]"),
    ]


def test_it_names_files_by_public_id_only():
    assert file_name(make_rendering(), "ohms") == f"rawi-{INTERVIEW_ID}-public.ohms.xml"
    assert set(FORMATS) == {"txt", "vtt", "srt", "docx", "pdf", "csv", "json", "ohms", "tei", "audio", "bagit"}


def bag_lines(path: Path, name: str) -> list[str]:
    return (path / name).read_text(encoding="utf-8").splitlines()


def test_it_writes_a_bag_that_validates(tmp_path):
    destination = tmp_path / "bag"
    write_bag([BagItem(make_rendering())], destination, tier="public", formats=["txt", "vtt", "json"], name="rawi-bag")

    bag = bagit.Bag(str(destination))
    assert bag.is_valid()
    assert sorted(bag.payload_files()) == [
        f"data/{INTERVIEW_ID}/metadata.json",
        f"data/{INTERVIEW_ID}/transcript.json",
        f"data/{INTERVIEW_ID}/transcript.txt",
        f"data/{INTERVIEW_ID}/transcript.vtt",
    ]
    info = bag_lines(destination, "bag-info.txt")
    assert f"Rawi-Consent-Version: {INTERVIEW_ID} {NARRATOR_ID}:v2,withheld:v1" in info
    assert f"Rawi-Redaction-Categories: {INTERVIEW_ID} name,place" in info
    assert "Rawi-Redaction-Categories-Applied: name,place" in info
    assert "Bag-Group-Identifier: audience:public" in info
    assert SEALED_NARRATOR_ID not in (destination / "bag-info.txt").read_text()
    assert len(bag_lines(destination, "manifest-sha256.txt")) == 4
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "bagit.py"), "--validate", str(destination)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    # Tampering is detected.
    with (destination / "data" / INTERVIEW_ID / "transcript.txt").open("ab") as handle:
        handle.write(b"x")
    assert not bagit.Bag(str(destination)).is_valid()


def test_it_writes_a_zipped_collection_bag_with_audio(tmp_path):
    source = tmp_path / "recording.wav"
    rate = 16_000
    t = np.arange(rate * 7) / rate
    soundfile.write(source, (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), rate)
    second_id = "6f1c2a4e-0000-4000-8000-000000000002"
    second_part = "7a2b3c4d-0000-4000-8000-000000000003"
    first = make_rendering(
        audio_parts=(AudioPart(RECORDING_ID, 7.0, ((4.55, 5.45),)), AudioPart(second_part, 7.0, ((1.0, 2.0),)))
    )
    items = [
        BagItem(first, {RECORDING_ID: source, second_part: source}),
        BagItem(
            make_rendering(interview_id=second_id, audio_allowed=False, redaction_categories=()),
            {RECORDING_ID: source},
        ),
    ]
    destination = tmp_path / "collection.zip"
    write_bag(items, destination, tier="public", formats=["txt", "audio"], name="rawi-homs-2012-public")

    with zipfile.ZipFile(destination) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path / "unzipped")
    # One file per recording, each silenced on its own timeline.
    assert f"rawi-homs-2012-public/data/{INTERVIEW_ID}/audio-01.mp3" in names
    assert f"rawi-homs-2012-public/data/{INTERVIEW_ID}/audio-02.mp3" in names
    assert not any(name.startswith(f"rawi-homs-2012-public/data/{second_id}/audio") for name in names)
    unzipped = tmp_path / "unzipped" / "rawi-homs-2012-public"
    assert bagit.Bag(str(unzipped)).is_valid()
    info = bag_lines(unzipped, "bag-info.txt")
    assert f"Rawi-Redaction-Categories: {second_id} none" in info
    assert [line for line in info if line.startswith("External-Identifier")] == [
        f"External-Identifier: {INTERVIEW_ID}",
        f"External-Identifier: {second_id}",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["collection.zip", "recording.wav", "unzipped"]


def test_it_leaves_nothing_when_a_bag_fails(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    with pytest.raises(Exception):  # noqa: B017 - the redaction error, whatever wraps it
        write_bag(
            [BagItem(make_rendering(), {RECORDING_ID: broken})],
            tmp_path / "bag.zip",
            tier="public",
            formats=["txt", "audio"],
            name="bag",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.wav"]
    with pytest.raises(BagExportError, match="another tier"):
        write_bag([BagItem(make_rendering(tier="staff"))], tmp_path / "b", tier="public", formats=["txt"], name="b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.wav"]


# Phase 2: the service, command, API and dialog over the demo archive ------------------------------


def texts_of_export(data: bytes) -> list[str]:
    """Every readable text inside an export: the bytes, zip members (DOCX, bags), pdftotext output."""
    texts = [data.decode("utf-8", "ignore")]
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            texts += [archive.read(name).decode("utf-8", "ignore") for name in archive.namelist()]
    if data.startswith(b"%PDF"):
        out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True)
        texts.append(out.stdout.decode("utf-8"))
    return texts


def public_interviews(demo):
    return [i for i in demo.interviews.values() if "public" in access.visible_tiers(i)]


@pytest.mark.django_db
def test_it_exports_every_format_of_the_demo_at_public_tier_without_canaries(demo):
    canaries = canaries_for("public")
    assert len(canaries) >= 8
    interviews = public_interviews(demo)
    assert len(interviews) >= 2
    redacted = 0
    for interview in interviews:
        for fmt in sorted(FORMATS):
            if fmt == "audio":
                continue  # the demo has no recordings; audio is covered below with synthesised speech
            result = export_interview(interview=interview, fmt=fmt, tier="public", requester_tier="public")
            with result.open() as handle:
                data = handle.read()
            assert data, fmt
            for text in texts_of_export(data):
                for canary in canaries:
                    assert canary.text not in text, (fmt, canary.why)
            if fmt == "txt" and "withheld]" in data.decode("utf-8"):
                redacted += 1
    assert redacted >= 1, "at least one public demo interview must carry redactions"


@pytest.mark.django_db
def test_it_serves_exports_through_the_api_and_audits_them(demo, client_as):
    interview = public_interviews(demo)[0]
    client = client_as(None)
    url = f"/api/v1/interviews/{interview.public_id}/export"
    before = AuditEvent.objects.filter(action="export").count()

    response = client.get(url, {"format": "vtt"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="rawi-{interview.public_id}-public.vtt"'
    body = b"".join(response.streaming_content).decode("utf-8")
    assert_monotonic(webvtt.from_string(body).captions)
    assert AuditEvent.objects.filter(action="export").count() == before + 1
    event = AuditEvent.objects.filter(action="export").order_by("-id").first()
    assert (event.target_id, event.tier, event.detail["format"]) == (str(interview.public_id), "public", "vtt")
    assert set(event.detail) == {"format", "cached"}  # cached: an earlier test may have built it
    srt_body = b"".join(client.get(url, {"format": "srt"}).streaming_content).decode("utf-8")
    assert len(list(srt.parse(srt_body))) >= 1
    # Above the caller's tier, an unknown interview, or audio without a recording: the same 404.
    assert client.get(url, {"format": "txt", "tier": "staff"}).status_code == 404
    assert client.get(f"/api/v1/interviews/{uuid_not_in_archive()}/export", {"format": "txt"}).status_code == 404
    assert client.get(url, {"format": "audio"}).status_code == 404
    assert client.get(f"/api/v1/interviews/{interview.public_id}/audio").status_code == 404
    assert client.get(url, {"format": "exe"}).status_code == 400


def uuid_not_in_archive() -> str:
    return "00000000-0000-4000-8000-000000000000"


@pytest.mark.django_db
def test_it_hides_interviews_above_the_tier_from_exports(demo, client_as):
    hidden = [i for i in demo.interviews.values() if "public" not in access.visible_tiers(i)]
    assert hidden
    client = client_as(None)
    for interview in hidden:
        assert client.get(f"/api/v1/interviews/{interview.public_id}/export", {"format": "txt"}).status_code == 404
        assert client.get(f"/interviews/{interview.public_id}/export/").status_code == 404


@pytest.mark.django_db
def test_it_offers_only_tiers_up_to_the_users_in_the_dialog(demo, client_as):
    interview = public_interviews(demo)[0]
    page = client_as(None).get(f"/interviews/{interview.public_id}/export/")
    assert page.status_code == 200
    html = page.content.decode("utf-8")
    assert 'name="tier" value="public"' in html
    assert 'value="researcher"' not in html
    download = client_as(None).get(f"/interviews/{interview.public_id}/export/", {"format": "csv", "tier": "public"})
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["timecode", "end", "speaker", "text", "sent_at"]
    refused = client_as(None).get(f"/interviews/{interview.public_id}/export/", {"format": "csv", "tier": "staff"})
    assert refused.status_code == 400


@pytest.mark.django_db
def test_it_exports_a_collection_bag_with_the_command(demo, tmp_path):
    destination = tmp_path / "homs-bag"
    call_command("export", demo.collection.slug, "--format", "bagit", "--tier", "public", "--out", str(destination))

    bag = bagit.Bag(str(destination))
    assert bag.is_valid()
    ids = {str(i.public_id) for i in public_interviews(demo)}
    assert {p.split("/")[1] for p in bag.payload_files()} == ids
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "bagit.py"), "--validate", str(destination)], capture_output=True, text=True
    )
    assert cli.returncode == 0, cli.stderr
    info = (destination / "bag-info.txt").read_text(encoding="utf-8")
    assert "Bag-Group-Identifier: audience:public" in info

    for path in destination.rglob("*"):
        if path.is_file():
            content = path.read_text(encoding="utf-8", errors="ignore")
            for canary in canaries_for("public"):
                assert canary.text not in content, canary.why


def store_speech_recording(interview, tmp_path):
    rate = 16_000
    t = np.arange(rate * 6) / rate
    path = tmp_path / "upload.wav"
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate)
    with path.open("rb") as handle:
        recording = recording_store(interview=interview, fileobj=handle, original_filename="Resident phone 2012.wav")
    # A transcript whose times refer to the recording: the interview's audio is derived from that media.
    transcript_store(
        interview=interview,
        segments=[SegmentInput(start=0.0, end=6.0, text="A steady tone.")],
        source="manual",
        recording=recording,
        rebuild=False,
    )
    interview_touch(interview)
    return recording


@pytest.mark.django_db
def test_it_exports_redacted_audio_and_a_bag_with_it_for_staff(demo, tmp_path):
    interview = public_interviews(demo)[0]
    store_speech_recording(interview, tmp_path)
    rendering = rendering_for(interview, "staff")
    if not rendering.audio_allowed:
        pytest.skip("the demo interview's consent does not release the voice to staff")
    result = export_interview(interview=interview, fmt="audio", tier="staff", requester_tier="staff")
    data = result.path.read_bytes()
    assert data[:2] in (b"\xff\xfb", b"\xff\xf3")  # an MP3 frame, no ID3 tag
    assert b"Resident phone" not in data
    bag = export_interview(interview=interview, fmt="bagit", tier="staff", requester_tier="staff")
    with zipfile.ZipFile(bag.path) as archive:
        assert f"rawi-{interview.public_id}-staff/data/{interview.public_id}/audio-01.mp3" in archive.namelist()
        archive.extractall(tmp_path / "bag")
    assert bagit.Bag(str(tmp_path / "bag" / f"rawi-{interview.public_id}-staff")).is_valid()


@pytest.mark.django_db
def test_it_exports_one_interview_with_the_command(demo, tmp_path):
    interview = public_interviews(demo)[0]
    out = tmp_path / "interview.tei.xml"
    call_command("export", str(interview.public_id), "--format", "tei", "--tier", "public", "--out", str(out))
    root = etree.parse(str(out)).getroot()
    assert root.tag == f"{{{TEI_NS}}}TEI"
    assert len(root.findall(f".//{{{TEI_NS}}}u")) >= 1
    bag_dir = tmp_path / "one-bag"
    call_command("export", str(interview.public_id), "--format", "bagit", "--tier", "public", "--out", str(bag_dir))
    assert bagit.Bag(str(bag_dir)).is_valid()
    hidden = next(i for i in demo.interviews.values() if "public" not in access.visible_tiers(i))
    with pytest.raises(CommandError, match="no rendering at this tier"):
        call_command(
            "export", str(hidden.public_id), "--format", "txt", "--tier", "public", "--out", str(tmp_path / "x")
        )
    assert not (tmp_path / "x").exists()


@pytest.mark.django_db
def test_it_rebuilds_and_purges_cached_exports_when_the_policy_changes(demo):
    interview = public_interviews(demo)[0]
    first = export_interview(interview=interview, fmt="txt", tier="public", requester_tier="public")
    assert first.path.parent.name == str(interview.public_id)
    interview_touch(interview)
    second = export_interview(interview=interview, fmt="txt", tier="public", requester_tier="public")
    assert second.path != first.path
    assert not first.path.exists()
    assert sorted(p.name for p in second.path.parent.glob("public-*.txt")) == [second.path.name]


def _document_text(fmt: str, data: bytes) -> str:
    if fmt == "docx":
        return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    return data.decode("utf-8-sig")


@pytest.mark.django_db
def test_no_export_below_staff_dates_a_message_finer_than_the_month(demo):
    """A chat's messages were sent on 13 March 2016 at 09:00, 09:02 and 21:47: every text export gives
    them to staff to the second, and below staff the month the gate gives, and nothing finer."""
    interview = published_whatsapp_chat(demo)
    formats = ("txt", "vtt", "srt", "csv", "json", "ohms", "tei", "docx")
    finer = re.compile(r"2016-03-\d|13/03|09:0\d|21:47|\b9:0\d|T\d\d:")
    for tier in ("public", "researcher"):
        # The interview's own date, where each format states it, at the gate's precision for the tier
        # (the month for the public, the day for researchers; OHMS's <date> wants a day: the month's first).
        recorded = rendering_for(interview, tier).recorded_on
        assert recorded == {"public": "2016-03", "researcher": "2016-03-13"}[tier]
        headers = (
            f"Recorded: {recorded}\n",
            f'value="{recorded if len(recorded) == 10 else recorded + "-01"}"',
            f">{recorded}</date_nonpreferred_format>",
            f", {recorded}</p>",
            f'"recorded_on": "{recorded}"',
        )
        for fmt in formats:
            result = export_interview(interview=interview, fmt=fmt, tier=tier, requester_tier=tier)
            text = _document_text(fmt, result.open().read())
            for header in headers:
                text = text.replace(header, "")
            assert finer.findall(text) == [], (tier, fmt)
            assert text.count("2016-03") >= 3, (tier, fmt)
    staff = {
        fmt: _document_text(
            fmt, export_interview(interview=interview, fmt=fmt, tier="staff", requester_tier="staff").open().read()
        )
        for fmt in formats
    }
    assert re.search(r"^\[2016-03-13 21:47:00\] [^:]+: Then the shelling began again\.$", staff["txt"], re.M)
    assert '<date type="sent" when="2016-03-13T21:47:00"/>Then the shelling began again.' in staff["tei"]
    for fmt in ("vtt", "srt", "ohms", "docx", "csv", "json"):
        assert "2016-03-13" in staff[fmt] and "21:47:00" in staff[fmt], fmt


@pytest.mark.django_db
def test_a_file_written_by_older_exporters_is_not_served_again(demo, monkeypatch):
    interview = public_interviews(demo)[0]
    first = export_interview(interview=interview, fmt="txt", tier="public", requester_tier="public")
    monkeypatch.setattr(exports, "EXPORTERS_VERSION", exports.EXPORTERS_VERSION + 1)
    second = export_interview(interview=interview, fmt="txt", tier="public", requester_tier="public")
    assert second.path != first.path
    assert not first.path.exists()
