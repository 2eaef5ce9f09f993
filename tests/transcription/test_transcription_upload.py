"""Resumable upload API and job status: a dropped connection resumes at the server's offset; the
finished upload is stored unaltered and its transcription job runs (eagerly here)."""

from __future__ import annotations

import pytest

from archive.models import Recording, TranscriptionJob
from config.celery import app
from tests.transcription_audio import AudioFiles, audio_files


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    return audio_files(tmp_path_factory)


@pytest.mark.django_db(transaction=True)
def test_it_resumes_an_upload_and_reports_the_job(demo, client_as, audio, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.RAWI_WHISPER_MODEL = "tiny.en"

    app.conf.task_always_eager = True
    interview = next(iter(demo.interviews.values()))
    client = client_as("custodian")
    data = audio.speech_wav.read_bytes()
    created = client.post(
        f"/api/v1/interviews/{interview.public_id}/uploads/",
        {"size": len(data), "filename": "secret-name.wav"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    upload = created.json()["upload"]
    first = client.patch(f"/api/v1/uploads/{upload}/", data[:5000], content_type="application/octet-stream",
                         headers={"Upload-Offset": "0"})  # fmt: skip
    assert first.json() == {"offset": 5000, "size": len(data)}
    # The connection dropped; the client repeats a chunk from a stale offset and is told where to resume.
    stale = client.patch(f"/api/v1/uploads/{upload}/", data[:5000], content_type="application/octet-stream",
                         headers={"Upload-Offset": "0"})  # fmt: skip
    assert (stale.status_code, stale.json()["offset"]) == (409, 5000)
    assert client.get(f"/api/v1/uploads/{upload}/").json() == {"offset": 5000, "size": len(data)}
    last = client.patch(f"/api/v1/uploads/{upload}/", data[5000:], content_type="application/octet-stream",
                        headers={"Upload-Offset": "5000"})  # fmt: skip
    assert last.status_code == 201, last.content
    recording = Recording.objects.get(public_id=last.json()["recording"])
    assert recording.original.read() == data
    assert "secret" not in recording.original.name
    status = client.get(f"/api/v1/jobs/{last.json()['job']}/").json()
    assert status["state"] == TranscriptionJob.State.DONE
    assert status["progress"] == 1.0
    assert client_as(None).get(f"/api/v1/jobs/{last.json()['job']}/").status_code == 404
    app.conf.task_always_eager = False
