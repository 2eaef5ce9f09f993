"""The real engine end to end (Whisper tiny.en in this process, espeak-ng speech): a spoken canary is
heard in the custodian's audio and not in the public audio once it is redacted, after a
re-transcription and after a second part was added."""

from __future__ import annotations

import io
import subprocess

import av
import numpy as np
import pytest

from archive import services, transcription
from archive.gate import rendering_for
from archive.services import recordings
from archive.services.exports import export_interview
from archive.services.recordings import interview_retranscribe, recorded_interview_create, recording_add
from archive.services.transcripts_ingest import transcription_job_run
from tests.transcription_audio import require_tools

CANARY = "manchester"


def espeak(text: str) -> bytes:
    done = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "--stdout", text], check=True, capture_output=True)
    return done.stdout


def heard(data: bytes, model, start: float = 0.0) -> str:
    """What Whisper hears in served audio (decoded to 16 kHz mono) from `start` seconds on."""
    container = av.open(io.BytesIO(data))
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)
    chunks = []
    for frame in container.decode(audio=0):
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
    container.close()
    samples = np.concatenate(chunks)[int(start * 16_000) :]
    segments, _info = model.transcribe(samples, language="en", beam_size=1, vad_filter=False)
    return " ".join(segment.text for segment in segments).lower()


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    ids: list[int] = []
    monkeypatch.setattr(recordings, "_enqueue", ids.append)
    monkeypatch.setattr(recordings.transaction, "on_commit", lambda callback, **_kwargs: callback())
    return ids


def run(sent: list[int]) -> None:
    while sent:
        assert transcription_job_run(sent.pop(0)) == "done"


def audio(interview, tier: str) -> bytes:
    interview.refresh_from_db()
    with export_interview(interview=interview, fmt="audio", tier=tier, requester_tier=tier).open() as handle:
        return handle.read()


@pytest.mark.django_db
def test_a_spoken_canary_stays_unheard_below_its_tier_through_changes(demo, settings, sent):
    require_tools()
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    spec = transcription.resolve_model("tiny.en")
    model = transcription.load_model(spec)
    interview = recorded_interview_create(
        collection=demo.collection,
        title="Two calls with a baker",
        narrator_name="Zqxbaker Halabi",
        anonymity="anonymous",
        access_level="public",
        status="published",
        language="en",
        consent_scopes={"research_access": True, "publication": True, "public_web": True, "voice_release": True},
    )
    first = espeak("My brother still lives in Manchester with his wife and children.")
    recording, _job = recording_add(interview=interview, fileobj=io.BytesIO(first), original_filename="call-1.wav")
    run(sent)
    assert CANARY in rendering_text(interview, "public")
    assert CANARY in heard(audio(interview, "public"), model)  # the positive control, before redaction

    services.redact_phrase(phrase="Manchester", category="place", visible_from="custodian")
    assert CANARY not in rendering_text(interview, "public")
    assert CANARY not in heard(audio(interview, "public"), model)
    assert CANARY in heard(audio(interview, "custodian"), model)

    interview_retranscribe(interview=interview)
    run(sent)
    assert interview.transcripts.get(is_current=True).version == 2
    assert CANARY not in heard(audio(interview, "public"), model)

    second = espeak("Her sister also moved to Manchester last year.")
    recording_add(interview=interview, fileobj=io.BytesIO(second), original_filename="call-2.wav")
    run(sent)
    recording.refresh_from_db()
    # The second part follows the first: heard from the end of the first recording on.
    public = heard(audio(interview, "public"), model, start=recording.duration_seconds)
    custodian = heard(audio(interview, "custodian"), model, start=recording.duration_seconds)
    assert "also moved" in public and "also moved" in custodian
    assert CANARY not in public and CANARY not in heard(audio(interview, "public"), model)
    assert CANARY in custodian


def rendering_text(interview, tier: str) -> str:
    interview.refresh_from_db()
    return rendering_for(interview, tier).text.lower()
