"""The HTML side of transcription: the upload page (interview created through services, then the
resumable upload), the player and job status on the interview page, and the transcript editor
(corrections that keep span redactions on their words, speaker assignment, no hidden text in forms)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from archive import services
from archive.gate import render
from archive.models import Interview, Narrator, Recording, Redaction, Segment, TranscriptionJob
from archive.services.recordings import recording_store
from tests.transcription_audio import AudioFiles, audio_files

UPLOAD_FIELDS = {
    "title": "Voices from the market",
    "narrator": "Canary Real Name",
    "anonymity": "anonymous",
    "access": "staff",
    "mode": "phone",
    "language": "en",
    "per_channel": "yes",
    "multilingual": "on",
    "gathered": "on",
}


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    return audio_files(tmp_path_factory)


def _segment(interview: Interview, index: int) -> Segment:
    return Segment.objects.get(transcript__interview=interview, transcript__is_current=True, index=index)


# Upload page ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_upload_page_only_to_those_who_may_upload(demo, client_as):
    url = f"/collections/{demo.collection.slug}/upload/"
    page = client_as("fieldresearcher").get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-recording-upload" in html and "archive/upload.js" in html
    assert client_as("researcher").get(url).status_code == 404
    assert client_as("archivist").get(url).status_code == 404
    assert client_as(None).get(url).status_code == 302
    assert client_as("fieldresearcher").get("/collections/no-such-collection/upload/").status_code == 404


@pytest.mark.django_db
def test_it_creates_the_interview_then_takes_the_file_by_resumable_upload(demo, client_as, audio):
    client = client_as("fieldresearcher")
    data = audio.speech_wav.read_bytes()
    # The page sends the file's first bytes to be checked before anything is created.
    head = SimpleUploadedFile("x.wav", data[: 4 * 1024 * 1024])
    created = client.post(
        f"/collections/{demo.collection.slug}/upload/",
        {**UPLOAD_FIELDS, "file": head, "file_head": "1"},
        headers={"Accept": "application/json"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    interview = Interview.objects.get(public_id=body["interview"])
    assert body["upload_url"] == f"/api/v1/interviews/{interview.public_id}/uploads/"
    assert body["interview_url"] == f"/interviews/{interview.public_id}/"
    assert body["options"] == {"language": "en", "multilingual": True, "per_channel": True}
    assert body["job"] is None
    assert (interview.title, interview.mode, interview.access_level, interview.languages) == (
        "Voices from the market", "phone", "staff", ["en"],
    )  # fmt: skip
    narrator = interview.narrators.get()
    assert narrator.anonymity == Narrator.Anonymity.ANONYMOUS
    assert services.narrator_identity(narrator=narrator, actor=None)["legal_name"] == "Canary Real Name"
    assert list(interview.interviewers.values_list("username", flat=True)) == ["fieldresearcher"]
    assert not interview.recordings.exists()
    # The JS then starts the resumable upload with the options the page returned.
    start = client.post(body["upload_url"], {"size": len(data), "filename": "x.wav", **body["options"]},
                        content_type="application/json")  # fmt: skip
    assert start.status_code == 201
    done = client.patch(f"/api/v1/uploads/{start.json()['upload']}/", data, content_type="application/octet-stream",
                        headers={"Upload-Offset": "0"})  # fmt: skip
    assert done.status_code == 201
    job = TranscriptionJob.objects.get(public_id=done.json()["job"])
    assert job.options == {"language": "en", "multilingual": True, "per_channel": True}
    assert job.state == TranscriptionJob.State.QUEUED


@pytest.mark.django_db
def test_it_takes_a_plain_multipart_post_without_javascript(demo, client_as, audio, django_capture_on_commit_callbacks):
    client = client_as("editor")
    with open(audio.speech_wav, "rb") as handle:
        response = client.post(
            f"/collections/{demo.collection.slug}/upload/", {**UPLOAD_FIELDS, "per_channel": "auto", "file": handle}
        )
    interview = Interview.objects.get(title="Voices from the market")
    assert response.status_code == 302
    assert response["Location"] == f"/interviews/{interview.public_id}/"
    recording = Recording.objects.get(interview=interview)
    assert recording.original.read() == audio.speech_wav.read_bytes()
    job = TranscriptionJob.objects.get(recording=recording)
    assert job.options == {"language": "en", "multilingual": True, "per_channel": None}
    # Staff see the job on the interview page, polled live by upload.js.
    page = client.get(f"/interviews/{interview.public_id}/").content.decode()
    assert f'data-job-url="/api/v1/jobs/{job.public_id}/"' in page
    assert "archive/upload.js" in page


@pytest.mark.django_db
def test_it_refuses_an_access_level_the_uploader_could_not_see(demo, client_as, audio):
    fields = {**UPLOAD_FIELDS, "access": "custodian", "file_head": "1"}
    fields["file"] = SimpleUploadedFile("x.wav", audio.speech_wav.read_bytes())
    del fields["gathered"]
    response = client_as("fieldresearcher").post(
        f"/collections/{demo.collection.slug}/upload/", fields, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"]["access"][0].startswith("You could not see this interview yourself")
    assert not Interview.objects.filter(title="Voices from the market").exists()


@pytest.mark.django_db
def test_it_asks_for_a_file_when_the_form_is_posted_without_one(demo, client_as):
    response = client_as("editor").post(f"/collections/{demo.collection.slug}/upload/", UPLOAD_FIELDS)
    assert response.status_code == 400
    assert "Choose the recording to upload." in response.content.decode()
    assert not Interview.objects.filter(title="Voices from the market").exists()


# Player and job status on the interview page -----------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_player_only_where_the_tier_may_hear_the_voice(demo, client_as, audio):
    interview = demo.interview("skype-photographer")  # public; no consent to release the voice
    with open(audio.speech_wav, "rb") as handle:
        recording = recording_store(interview=interview, fileobj=handle, original_filename="call.wav")
    # The first segment's times refer to that recording (nothing in it is hidden at staff).
    first = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True).order_by("index")[0]
    Segment.objects.filter(pk=first.pk).update(recording=recording, media_offset=0.0)
    services.interview_touch(interview)
    audio_tag = f'src="/api/v1/interviews/{interview.public_id}/audio"'
    staff_page = client_as("editor").get(f"/interviews/{interview.public_id}/").content.decode()
    assert audio_tag in staff_page and "data-transcript-player" in staff_page and "archive/transcript.js" in staff_page
    public_page = client_as(None).get(f"/interviews/{interview.public_id}/").content.decode()
    assert "<audio" not in public_page and "archive/transcript.js" not in public_page
    assert client_as(None).get(f"/api/v1/interviews/{interview.public_id}/audio").status_code == 404
    # Job status and the editor's link are for staff only.
    assert 'data-testid="transcription-status"' in staff_page
    assert f'href="/interviews/{interview.public_id}/transcript/"' in staff_page
    researcher_page = client_as("researcher").get(f"/interviews/{interview.public_id}/").content.decode()
    assert 'data-testid="transcription-status"' not in researcher_page


# Transcript editor ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_offers_forms_only_for_segments_with_nothing_hidden_at_the_editors_tier(demo, client_as):
    interview = demo.interview("skype-photographer")
    page = client_as("editor").get(f"/interviews/{interview.public_id}/transcript/")
    assert page.status_code == 200
    html = page.content.decode()
    editable = sorted(int(i) for i in re.findall(r'id="seg-text-(\d+)"', html))
    assert editable == [0, 1, 2, 3, 5, 6]
    assert html.count('data-testid="not-editable"') == 2
    # The hidden words are not in the page, not even in a form.
    for secret in ("Tareq Mansour", "Abu Kamal", "Yusuf Kamal Darwish"):
        assert secret not in html
    assert "A few traders have permits" in html
    # A custodian may correct every segment.
    custodian = client_as("custodian").get(f"/interviews/{interview.public_id}/transcript/").content.decode()
    assert sorted(int(i) for i in re.findall(r'id="seg-text-(\d+)"', custodian)) == list(range(8))
    assert client_as("researcher").get(f"/interviews/{interview.public_id}/transcript/").status_code == 404
    # The field researcher who gathered it corrects it too (they see it at custodian tier).
    assert interview.interviewers.filter(username="fieldresearcher").exists()
    assert client_as("fieldresearcher").get(f"/interviews/{interview.public_id}/transcript/").status_code == 200
    assert client_as("archivist").get(f"/interviews/{interview.public_id}/transcript/").status_code == 404


@pytest.mark.django_db
def test_it_saves_a_correction_and_keeps_the_span_redaction_on_its_words(demo, client_as):
    interview = demo.interview("skype-photographer")
    client = client_as("editor")
    corrected = (
        "Only a few traders have permits from the authorities. Every checkpoint takes its share, on both sides "
        "of the line, so a kilo of sugar costs five times what it costs in the city."
    )
    response = client.post(f"/interviews/{interview.public_id}/transcript/3/", {"text": corrected})
    assert response.status_code == 302
    assert response["Location"] == f"/interviews/{interview.public_id}/transcript/#seg-3"
    segment = _segment(interview, 3)
    assert (segment.edited, segment.edited_by.username) == (True, "editor")
    span = Redaction.objects.get(segment=segment, kind="span")
    assert corrected[span.start_char : span.end_char] == "five times"
    assert render(interview, "public").segments[3].text == corrected.replace("five times", "[detail withheld]")
    assert render(interview, "staff").segments[3].text == corrected


@pytest.mark.django_db
def test_it_refuses_a_correction_that_changes_redacted_words_or_hidden_segments(demo, client_as):
    interview = demo.interview("skype-photographer")
    before = render(interview, "custodian").segments[3].text
    client = client_as("custodian")
    response = client.post(
        f"/interviews/{interview.public_id}/transcript/3/", {"text": before.replace("five times", "six times")},
        follow=True,
    )  # fmt: skip
    assert "This correction changes words that are redacted." in response.content.decode()
    assert render(interview, "custodian").segments[3].text == before
    # Staff cannot post a correction to a segment they only see redacted.
    refused = client_as("editor").post(
        f"/interviews/{interview.public_id}/transcript/4/", {"text": "My brother drives a pickup."}, follow=True
    )
    assert "Only a custodian can correct it here" in refused.content.decode()
    assert _segment(interview, 4).edited is False
    assert (
        client_as("researcher").post(f"/interviews/{interview.public_id}/transcript/3/", {"text": "x"}).status_code
        == 404
    )
    assert client_as("editor").get(f"/interviews/{interview.public_id}/transcript/3/").status_code == 405


@pytest.mark.django_db
def test_it_refuses_a_correction_aimed_at_a_segment_that_moved(demo, client_as):
    interview = demo.interview("skype-photographer")
    url = f"/interviews/{interview.public_id}/transcript/2/"
    page = client_as("editor").get(f"/interviews/{interview.public_id}/transcript/").content.decode()
    start = _segment(interview, 2).start
    assert f'name="start" value="{start:f}"' in page
    moved = client_as("editor").post(url, {"text": "Moved?", "start": f"{start + 10:f}"}, follow=True)
    assert "The transcript changed since the page was loaded" in moved.content.decode()
    assert _segment(interview, 2).edited is False
    saved = client_as("editor").post(url, {"text": "How do goods get in now?", "start": f"{start:f}"}, follow=True)
    assert "Segment 3 saved." in saved.content.decode()
    assert render(interview, "public").segments[2].text == "How do goods get in now?"


@pytest.mark.django_db
def test_it_assigns_a_speaker_to_every_segment_with_the_same_label(demo, client_as):
    interview = demo.interview("skype-photographer")
    transcript = interview.transcripts.get(is_current=True)
    services.transcript_store(
        interview=interview,
        source="whisper",
        segments=[
            services.SegmentInput(start=0, end=2, text="Hello, can you hear me?", speaker="Speaker 1"),
            services.SegmentInput(start=2, end=5, text="Yes, I hear you.", speaker="Speaker 2"),
            services.SegmentInput(start=5, end=8, text="Tell me about the market.", speaker="Speaker 1"),
        ],
    )
    assert transcript.version == 1
    client = client_as("editor")
    response = client.post(
        f"/interviews/{interview.public_id}/transcript/0/speaker/", {"role": "interviewer", "all_same": "on"}
    )
    assert response.status_code == 302
    client.post(f"/interviews/{interview.public_id}/transcript/1/speaker/", {"role": "narrator"})
    staff = render(interview, "staff")
    narrator_label = "an amateur photographer from the district"
    assert [s.speaker for s in staff.segments] == ["Interviewer", narrator_label, "Interviewer"]
    bad = client.post(f"/interviews/{interview.public_id}/transcript/1/speaker/", {"role": "boss"}, follow=True)
    assert "Choose narrator, interviewer or other." in bad.content.decode()
