"""Run one transcription job: claim it, transcribe with heartbeats and progress, store a new
transcript version (editors' corrections carried over) and rebuild the renderings, exactly once.

Bad input ends the job as failed with a reason and is never retried; transient errors raise
``TransientJobError`` so the Celery task can retry with backoff, a bounded number of times.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from .. import media, transcription
from ..models import Interview, TranscriptionJob
from .interviews import SegmentInput, interview_update, transcript_store
from .recordings import MAX_ATTEMPTS, job_claim, job_touch, recording_source

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


class TransientJobError(Exception):
    """Worth retrying later (storage or database briefly unavailable)."""


class JobLost(Exception):
    """Another worker took the job over (the watchdog judged this one dead); stop quietly."""


def worker_label() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _fail(job_id: int, worker: str, reason: str) -> None:
    TranscriptionJob.objects.filter(pk=job_id, state=TranscriptionJob.State.RUNNING, worker=worker).update(
        state=TranscriptionJob.State.FAILED, reason=reason[:300], finished_at=timezone.now()
    )


def job_release_for_retry(job_id: int, *, worker: str, reason: str) -> bool:
    """running → queued before a retry, so the retried message can claim it again."""
    return bool(
        TranscriptionJob.objects.filter(pk=job_id, state=TranscriptionJob.State.RUNNING, worker=worker).update(
            state=TranscriptionJob.State.QUEUED, reason=reason[:300], heartbeat_at=timezone.now(), worker=""
        )
    )


class _Heartbeat(threading.Thread):
    """Writes heartbeat and progress every few seconds from its own database connection, and notices
    when the job has been taken over by another worker."""

    def __init__(self, job_id: int, worker: str, interval: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id, self.worker, self.interval = job_id, worker, interval
        self.progress = 0.0
        self.lost = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.interval):
                try:
                    if not job_touch(self.job_id, worker=self.worker, progress=self.progress):
                        self.lost = True
                        return
                except DatabaseError:
                    logger.warning("heartbeat for job %s failed; will try again", self.job_id)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def _segment_inputs(result: transcription.Transcription) -> list[SegmentInput]:
    return [
        SegmentInput(
            start=s.start,
            end=s.end,
            text=s.text,
            language=s.language,
            speaker=f"Speaker {s.channel + 1}" if s.channel is not None else "",
            channel=s.channel,
            words=s.words_as_dicts(),
        )
        for s in result.segments
    ]


def transcription_job_run(
    job_id: int, *, worker: str | None = None, heartbeat_seconds: float = HEARTBEAT_SECONDS
) -> str:
    """Returns the job's end state for this attempt: done, failed, skipped (someone else has it or it
    has ended). Raises TransientJobError after putting the job back in the queue."""
    worker = worker or worker_label()
    close_old_connections()
    if not job_claim(job_id, worker=worker):
        logger.info("transcription job %s not claimed (taken or finished)", job_id)
        return "skipped"
    job = TranscriptionJob.objects.select_related("recording__interview").get(pk=job_id)
    if job.attempts > MAX_ATTEMPTS:
        _fail(job_id, worker, f"The transcription was attempted {MAX_ATTEMPTS} times without finishing; not retried.")
        return "failed"
    recording = job.recording
    logger.info("transcription job %s claimed by %s (attempt %s)", job_id, worker, job.attempts)

    heartbeat = _Heartbeat(job_id, worker, heartbeat_seconds)
    heartbeat.start()
    try:
        try:
            source = recording_source(recording)
        except OSError as exc:
            raise TransientJobError("storage unavailable") from exc
        try:
            options = transcription.TranscribeOptions.from_dict(job.options)
            spec = transcription.resolve_model()
            info = media.inspect(source)

            def progress(share: float) -> None:
                heartbeat.progress = share
                if heartbeat.lost:
                    raise JobLost()

            result = transcription.transcribe(
                source,
                options=options,
                model_spec=spec,
                threads=settings.RAWI_WHISPER_THREADS,
                progress=progress,
                info=info,
            )
        finally:
            if hasattr(source, "close"):
                source.close()
    except media.MediaError as exc:
        heartbeat.stop()
        _fail(job_id, worker, exc.reason)
        logger.info("transcription job %s failed: bad input (%s)", job_id, exc.code)
        return "failed"
    except transcription.ModelError as exc:
        heartbeat.stop()
        _fail(job_id, worker, f"The transcription model is unavailable on this worker: {exc}")
        logger.error("transcription job %s failed: model unavailable", job_id)
        return "failed"
    except JobLost:
        heartbeat.stop()
        logger.warning("transcription job %s was taken over by another worker; stopping", job_id)
        return "skipped"
    except (TransientJobError, OSError, DatabaseError) as exc:
        heartbeat.stop()
        job_release_for_retry(job_id, worker=worker, reason="Waiting to retry after a temporary error.")
        raise TransientJobError(type(exc).__name__) from exc
    except Exception as exc:
        heartbeat.stop()
        _fail(job_id, worker, f"The transcription failed unexpectedly ({type(exc).__name__}); an operator has the log.")
        logger.exception("transcription job %s failed unexpectedly", job_id)
        return "failed"
    heartbeat.stop()
    return _store(job_id, worker, result, info)


def _store(job_id: int, worker: str, result: transcription.Transcription, info: media.MediaInfo) -> str:
    with transaction.atomic():
        # Exactly once: only the worker that still owns the running job may store its transcript.
        job = (
            TranscriptionJob.objects.select_for_update()
            .select_related("recording__interview")
            .filter(pk=job_id, state=TranscriptionJob.State.RUNNING, worker=worker)
            .first()
        )
        if job is None:
            logger.warning("transcription job %s lost before storing; discarded this attempt's result", job_id)
            return "skipped"
        recording = job.recording
        interview: Interview = recording.interview
        provenance = result.provenance
        transcript_store(
            interview=interview,
            segments=_segment_inputs(result),
            source="whisper",
            recording=recording,
            language=result.language,
            engine=f"{provenance.engine} {provenance.engine_version}",
            model_name=provenance.model_name,
            model_sha256=provenance.model_sha256,
            options={
                **provenance.options,
                "language_probability": result.language_probability,
                "input_sha256": recording.sha256,
                "channel_languages": {str(k): v for k, v in result.channel_languages.items()},
            },
        )
        if result.language and not interview.languages:
            interview_update(interview=interview, languages=[result.language])
        if recording.duration_seconds is None and info.decoded_duration:
            type(recording).objects.filter(pk=recording.pk).update(duration_seconds=info.decoded_duration)
        job.state = TranscriptionJob.State.DONE
        job.progress = 1.0
        job.reason = "" if result.segments else "No speech was found in the recording."
        job.finished_at = timezone.now()
        job.heartbeat_at = job.finished_at
        job.save(update_fields=["state", "progress", "reason", "finished_at", "heartbeat_at"])
    logger.info("transcription job %s done: %d segments", job_id, len(result.segments))
    return "done"
