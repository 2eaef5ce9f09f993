"""The publication workflow (draft → in review → published, and back to review) decides who knows an
interview exists: below staff only published interviews exist, whatever their access level. Uploads
and imports from the interface start as drafts; `ingest --access TIER` publishes at that tier unless
given --draft. The upload page checks the file before it creates anything."""

from __future__ import annotations

import io
import json
import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from archive.gate import policy
from archive.models import AuditEvent, Interview, Recording, Tier

pytestmark = pytest.mark.django_db

PHOTOGRAPHER = "A photographer on the siege economy"


def _post(client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


def _api(interview: Interview, tail: str = "") -> str:
    return f"/api/v1/interviews/{interview.public_id}/{tail}"


def _listed(client) -> set[str]:
    return {item["title"] for item in client.get("/api/v1/interviews/?page_size=100").json()["results"]}


def _wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate)))
        out.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return buffer.getvalue()


# Who sees what at each status ----------------------------------------------------------------------


def test_it_hides_an_interview_below_staff_while_it_is_back_in_review(demo, client_as):
    interview = demo.interview("skype-photographer")  # published at public
    editor, public, researcher = client_as("editor"), client_as(None), client_as("researcher")
    assert public.get(_api(interview)).status_code == 200
    assert PHOTOGRAPHER in public.get("/search/?q=siege").content.decode()

    assert _post(editor, _api(interview, "status"), {"status": "review"}).json() == {"status": "review"}
    for client in (public, researcher):
        assert client.get(_api(interview)).status_code == 404
        assert client.get(f"/interviews/{interview.public_id}/").status_code == 404
        assert PHOTOGRAPHER not in _listed(client)
        assert PHOTOGRAPHER not in client.get("/search/?q=siege").content.decode()
        assert PHOTOGRAPHER not in client.get(f"/collections/{demo.collection.slug}/").content.decode()
    assert editor.get(_api(interview)).json()["tier"] == Tier.STAFF
    assert client_as("fieldresearcher").get(_api(interview)).status_code == 200  # who gathered it

    assert _post(editor, _api(interview, "status"), {"status": "published"}).json() == {"status": "published"}
    assert public.get(_api(interview)).json()["tier"] == Tier.PUBLIC
    assert PHOTOGRAPHER in public.get("/search/?q=siege").content.decode()
    moves = [e.detail for e in AuditEvent.objects.filter(action="interview_status", target_id=str(interview.public_id))]
    assert moves == [{"from": "published", "to": "review"}, {"from": "review", "to": "published"}]


@pytest.mark.parametrize("status", ["draft", "review", "transcribing", "planned", "archived"])
def test_the_floor_of_an_unpublished_interview_is_staff(demo, status):
    interview = demo.interview("skype-photographer")
    interview.status = status
    assert policy.computed_floor(interview) == Tier.STAFF
    interview.status = "published"
    assert policy.computed_floor(interview) == Tier.PUBLIC


def test_the_demo_shows_its_published_public_interviews_publicly(demo, client_as):
    data = demo.data["interviews"]
    published = {i["title"] for i in data if i["status"] == "published" and i["access_level"] == "public"}
    # The loyalist's consent does not cover publication on the web: researchers only.
    restricted = {i["title"] for i in data if i["key"] == "email-loyalist"}
    assert len(published - restricted) == 4
    assert _listed(client_as(None)) == published - restricted


# ingest ---------------------------------------------------------------------------------------------


def _ingest(tmp_path: Path, *extra: str) -> Interview:
    path = tmp_path / "talk.vtt"
    path.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nThe bakery closed in the winter.\n", encoding="utf-8")
    out = io.StringIO()
    call_command(
        "ingest", str(path), "--collection", "cli", "--title", "Bakery", "--narrator", "Hala Canary",
        "--access", "public", *extra, stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    return Interview.objects.get(public_id=out.getvalue().strip().splitlines()[-1])


def test_ingest_publishes_at_its_access_level(demo, client_as, tmp_path):
    interview = _ingest(tmp_path)
    assert interview.status == Interview.Status.PUBLISHED
    assert client_as(None).get(_api(interview)).json()["tier"] == Tier.PUBLIC


def test_ingest_keeps_a_draft_for_staff(demo, client_as, tmp_path):
    interview = _ingest(tmp_path, "--draft")
    assert (interview.status, interview.access_level) == (Interview.Status.DRAFT, Tier.PUBLIC)
    assert client_as(None).get(_api(interview)).status_code == 404
    assert policy.required_tier(interview) == Tier.STAFF


def test_an_import_from_the_interface_is_a_draft_its_importer_sees(demo, client_as):
    client = client_as("fieldresearcher")
    vtt = SimpleUploadedFile("talk.vtt", b"WEBVTT\n\n00:00.000 --> 00:02.000\nThe bakery closed.\n")
    response = client.post(
        f"/collections/{demo.collection.slug}/import/",
        {
            "file": vtt,
            "title": "Imported bakery",
            "narrator": "Hala Canary",
            "anonymity": "anonymous",
            "access": "public",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    interview = Interview.objects.get(title="Imported bakery")
    assert interview.status == Interview.Status.DRAFT
    assert list(interview.interviewers.values_list("username", flat=True)) == ["fieldresearcher"]
    assert client.get(response["Location"]).status_code == 200
    assert client_as(None).get(_api(interview)).status_code == 404
    assert client_as("researcher").get(_api(interview)).status_code == 404


# The upload page --------------------------------------------------------------------------------------

UPLOAD = {
    "title": "Voices from the market",
    "narrator": "Canary Real Name",
    "anonymity": "anonymous",
    "access": "public",
    "mode": "phone",
    "recorded_on": "2017-03-04",
    "place": "Canary Street 4",
    "place_general": "Homs",
    "summary": "On the market after the siege.",
    "topics": "siege, market , bread",
    "interviewer": "Reporter",
    "per_channel": "auto",
    "gathered": "on",
}


def _upload(client, demo, file, *, js: bool = False):
    fields = {**UPLOAD, "file": file}
    headers = {}
    if js:
        fields["file_head"] = "1"
        headers["Accept"] = "application/json"
    return client.post(f"/collections/{demo.collection.slug}/upload/", fields, headers=headers)


def _nothing_made(before: int, stored_before: set[str]) -> None:
    assert not Interview.objects.filter(title=UPLOAD["title"]).exists()
    assert Interview.objects.count() == before
    assert not AuditEvent.objects.filter(action="interview_create").exclude(target_id__in=stored_before).exists()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.mp3", b"%PDF-1.4\n" + b"not a recording " * 400, "not a recognisable audio or video file"),
        ("talk.vtt", b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello.\n", "WebVTT transcript"),
        ("chat.txt", b"12/03/2017, 10:01 - Hala: we left at dawn\n12/03/2017, 10:02 - Sami: ok\n", "WhatsApp"),
        ("empty.wav", b"", "empty"),
    ],
)
@pytest.mark.parametrize("js", [False, True])
def test_it_refuses_a_file_that_is_not_a_recording_and_creates_nothing(demo, client_as, name, data, words, js):
    before = Interview.objects.count()
    created_before = set(AuditEvent.objects.filter(action="interview_create").values_list("target_id", flat=True))
    recordings = Recording.objects.count()
    response = _upload(client_as("fieldresearcher"), demo, SimpleUploadedFile(name, data), js=js)
    assert response.status_code == 400
    error = " ".join(response.json()["errors"]["file"]) if js else response.content.decode()
    assert words in error, error
    if data:  # an empty file is refused by the form itself
        assert "Nothing was created." in error
    _nothing_made(before, created_before)
    assert Recording.objects.count() == recordings


def test_it_creates_a_draft_with_every_field_from_a_recording(demo, client_as, django_capture_on_commit_callbacks):
    client = client_as("fieldresearcher")
    response = _upload(client, demo, SimpleUploadedFile("market.wav", _wav()))
    assert response.status_code == 302
    interview = Interview.objects.get(title=UPLOAD["title"])
    assert (interview.status, interview.access_level, interview.mode) == ("draft", "public", "phone")
    assert str(interview.recorded_on) == "2017-03-04"
    assert (interview.place, interview.place_general, interview.summary) == (
        "Canary Street 4", "Homs", "On the market after the siege.",
    )  # fmt: skip
    assert interview.topics == ["siege", "market", "bread"]
    assert interview.interviewer_label == "Reporter"
    assert Recording.objects.get(interview=interview).duration_seconds == pytest.approx(1.0, abs=0.05)
    assert client.get(response["Location"]).status_code == 200  # its interviewer sees the draft
    assert client_as(None).get(_api(interview)).status_code == 404  # the public does not, yet
    assert client_as("researcher").get(_api(interview)).status_code == 404


def test_it_checks_the_head_the_page_sends_before_the_resumable_upload(demo, client_as):
    client = client_as("fieldresearcher")
    response = _upload(client, demo, SimpleUploadedFile("market.wav", _wav()[:5000]), js=True)
    assert response.status_code == 201, response.content
    interview = Interview.objects.get(public_id=response.json()["interview"])
    assert interview.status == "draft" and not interview.recordings.exists()
    assert response.json()["job"] is None


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_it_accepts_the_head_of_an_m4a_whose_index_is_at_its_end(demo, client_as, tmp_path):
    path = tmp_path / "call.m4a"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=400",
         "-c:a", "aac", "-b:a", "128k", str(path)],
        check=True,
    )  # fmt: skip
    data = path.read_bytes()
    assert len(data) > 4 * 1024 * 1024 and data.find(b"moov") > 4 * 1024 * 1024
    head = data[: 4 * 1024 * 1024]
    response = _upload(client_as("fieldresearcher"), demo, SimpleUploadedFile("call.m4a", head), js=True)
    assert response.status_code == 201, response.content


def test_it_refuses_a_draft_the_uploader_could_not_see(demo, client_as):
    fields = {**UPLOAD, "file": SimpleUploadedFile("market.wav", _wav())}
    del fields["gathered"]
    response = client_as("fieldresearcher").post(
        f"/collections/{demo.collection.slug}/upload/", fields, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert "starts as a draft" in response.json()["errors"]["access"][0]
    assert not Interview.objects.filter(title=UPLOAD["title"]).exists()


def test_a_failed_upload_is_archived_by_an_editor_then_purged_by_a_custodian(
    demo, client_as, django_capture_on_commit_callbacks
):
    response = _upload(client_as("fieldresearcher"), demo, SimpleUploadedFile("market.wav", _wav()))
    interview = Interview.objects.get(title=UPLOAD["title"])
    stored = Recording.objects.get(interview=interview).original.name
    editor = client_as("editor")
    assert response.status_code == 302
    assert editor.post(f"/manage/interviews/{interview.public_id}/status/", {"status": "archived"}).status_code == 302
    assert Interview.objects.get(pk=interview.pk).status == "archived"
    assert editor.post(f"/manage/interviews/{interview.public_id}/delete/", {"reason": "test"}).status_code == 404
    custodian = client_as("custodian")
    with django_capture_on_commit_callbacks(execute=True):
        answer = custodian.post(
            f"/manage/interviews/{interview.public_id}/delete/", {"reason": "a test upload", "confirm": "DELETE"}
        )
    assert answer.status_code == 302
    assert Interview.objects.get(pk=interview.pk).status == "deleted"

    assert not default_storage.exists(stored)
    assert AuditEvent.objects.filter(action="interview_purged", target_id=str(interview.public_id)).exists()
