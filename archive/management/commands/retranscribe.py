"""`manage.py retranscribe INTERVIEW [--language xx] [--wait]`: a new transcript version of every recorded
part of the interview (editors' corrections kept; span redactions carried over or held for a decision).
Prints the interview's public id on the last line."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from archive.management.jobs import wait_for_job
from archive.models import Interview, TranscriptionJob
from archive.services.recordings import RecordingRefused, interview_retranscribe


class Command(BaseCommand):
    help = "Transcribe an interview's recordings again, as a new transcript version."

    def add_arguments(self, parser) -> None:
        parser.add_argument("interview", help="the interview's public id")
        parser.add_argument("--language", default=None, help="ISO 639 code; detected when absent")
        parser.add_argument("--wait", action="store_true", help="wait until every job has ended")
        parser.add_argument("--timeout", type=float, default=3600.0)

    def handle(self, *args: Any, interview: str, language: str | None, wait: bool, timeout: float, **opts) -> None:
        try:
            target = Interview.objects.get(public_id=uuid.UUID(interview))
        except (ValueError, Interview.DoesNotExist):
            raise CommandError("No interview with that id.") from None
        try:
            jobs = interview_retranscribe(interview=target, language=language)
        except RecordingRefused as error:
            raise CommandError(str(error)) from error
        failed = False
        for job in jobs:
            self.stdout.write(f"transcription job {job.public_id} queued")
            if wait:
                job = wait_for_job(job, timeout, self.stderr)
                if job.state != TranscriptionJob.State.DONE:
                    failed = True
                    self.stdout.write(f"transcription failed: {job.reason}")
        if wait and not failed:
            current = target.transcripts.filter(is_current=True).first()
            self.stdout.write(f"transcript version {current.version if current else 0} is current")
        self.stdout.write(str(target.public_id))
        if failed:
            raise SystemExit(1)
