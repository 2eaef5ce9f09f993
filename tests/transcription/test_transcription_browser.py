"""upload.js and transcript.js in a real headless Chromium: the upload page creates the interview, sends
the file in resumable chunks (one chunk's connection is dropped and the upload resumes), then follows
the job; on the interview page a click on a segment seeks the player and the current segment follows.
The broker boundary (`_enqueue`) only records job ids: no worker runs here."""

from __future__ import annotations

import io
import os
import time
import wave

import pytest

from archive.models import Interview, Recording, Segment, TranscriptionJob
from archive.services import interview_touch
from archive.services import recordings as recordings_service
from archive.services.recordings import recording_store
from tests.builders import sign_in
from tests.transcription_audio import AudioFiles, audio_files

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_until(page, expression: str, timeout: float = 60.0) -> None:
    """Poll a JS expression (page.wait_for_function evaluates strings, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    return audio_files(tmp_path_factory)


def test_it_uploads_in_resumable_chunks_with_progress_and_shows_the_job(demo, live_server, page, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(recordings_service, "_enqueue", sent.append)
    # A real recording (the page has its first bytes checked before anything is created), two chunks of upload.js.
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(os.urandom(9 * 1024 * 1024))
    data = buffer.getvalue()
    dropped: list[str] = []

    def drop_second_chunk(route, request):
        if request.method == "PATCH" and request.headers.get("upload-offset") != "0" and not dropped:
            dropped.append(request.headers["upload-offset"])
            return route.abort("connectionreset")
        return route.continue_()

    page.route("**/api/v1/uploads/**", drop_second_chunk)
    sign_in(page, live_server.url, "fieldresearcher", "rawi-demo-field")
    page.goto(f"{live_server.url}/collections/{demo.collection.slug}/upload/")
    page.fill("#id_title", "Recorded over a bad line")
    page.fill("#id_narrator", "Canary Browser Name")
    page.select_option("#id_access", "staff")
    page.fill("#id_language", "ar")
    page.set_input_files("#id_file", {"name": "call.wav", "mimeType": "audio/wav", "buffer": data})
    page.click("[data-testid=upload-submit]")
    wait_until(
        page, "document.querySelector('[data-testid=upload-status]').textContent.startsWith('Transcription: Queued')"
    )
    assert dropped == [str(8 * 1024 * 1024)]
    interview = Interview.objects.get(title="Recorded over a bad line")
    recording = Recording.objects.get(interview=interview)
    assert recording.original.read() == data
    job = TranscriptionJob.objects.get(recording=recording)
    assert sent == [job.pk]
    assert job.options == {"language": "ar", "multilingual": False, "per_channel": None}
    assert page.get_attribute("[data-upload-link]", "href") == f"/interviews/{interview.public_id}/"
    assert page.evaluate("document.querySelector('[data-upload-progress]').value") == 0
    assert "Canary Browser Name" not in page.content()


def test_it_seeks_the_player_from_a_segment_and_follows_playback(demo, live_server, page, audio):
    interview = demo.interview("skype-photographer")
    # Long enough to hold every segment's times (a hidden interval outside its recording fails closed).
    with open(audio.long_speech(9), "rb") as handle:
        recording = recording_store(interview=interview, fileobj=handle, original_filename="call.wav")
    # The transcript's times refer to this recording (its media), so the interview has audio.
    Segment.objects.filter(transcript__interview=interview, transcript__is_current=True).update(
        recording=recording, media_offset=0.0
    )
    interview_touch(interview)
    sign_in(page, live_server.url, "editor", "rawi-demo-editor")
    page.goto(f"{live_server.url}/interviews/{interview.public_id}/")
    player = page.locator("audio[data-transcript-player]")
    assert player.get_attribute("src") == f"/api/v1/interviews/{interview.public_id}/audio"
    segment = page.locator("#seg-1")
    start = float(segment.get_attribute("data-start"))
    page.evaluate("document.querySelector('audio').muted = true")
    page.locator("#seg-1 .text").click()
    wait_until(page, "document.querySelector('audio').readyState >= 1")
    wait_until(page, "document.querySelector('#seg-1').classList.contains('current')")
    current = page.evaluate("document.querySelector('audio').currentTime")
    assert start <= current < float(segment.get_attribute("data-end"))
    assert page.get_attribute("#seg-1", "aria-current") == "true"
    assert page.locator(".segment.current").count() == 1
