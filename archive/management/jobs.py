"""Waiting for a transcription job from a management command (`ingest --wait`, `retranscribe --wait`)."""

from __future__ import annotations

import contextlib
import time
from typing import TextIO

from django.core.management.base import CommandError

from archive.models import TranscriptionJob
from archive.services.recordings import workers_available
from archive.services.transcripts_ingest import TransientJobError, transcription_job_run

ENDED = (TranscriptionJob.State.DONE, TranscriptionJob.State.FAILED)


def wait_for_job(job: TranscriptionJob, timeout: float, stderr: TextIO) -> TranscriptionJob:
    """The job once it has ended. With no worker answering (or no broker) it runs in this process;
    the job's conditional claim keeps a worker that appears later from running it a second time."""
    job.refresh_from_db()
    if job.state in ENDED:
        return job  # already ran (an eager configuration runs it on commit)
    if not workers_available():
        stderr.write("no transcription worker answered; transcribing in this process")
        # A transient error puts the job back in the queue with its reason; a worker picks it up.
        with contextlib.suppress(TransientJobError):
            transcription_job_run(job.pk)
        job.refresh_from_db()
        if job.state in ENDED:
            return job
        # A worker that was still starting claimed it first: wait for that worker below.
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        job.refresh_from_db()
        if job.state in ENDED:
            return job
        percent = int(job.progress * 100)
        if percent != last:
            stderr.write(f"{job.state} {percent}%")
            last = percent
        if time.monotonic() > deadline:
            raise CommandError("Timed out waiting for the transcription job.")
        time.sleep(0.25)
