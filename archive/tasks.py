"""Thin Celery tasks: fetch by id, call the service. Messages carry ids only, never text or names.

Routing (settings): archive.tasks.transcribe_* → queue "transcribe"; the rest → "default".
acks_late + reject_on_worker_lost (settings) redeliver a job whose worker was killed; the job row's
conditional claim makes the redelivery (or a watchdog re-send) run it exactly once.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.core.management import call_command
from django.db import transaction

from .audit import audit_checkpoint as write_checkpoint
from .models import TranscriptionJob
from .services.base import renderings_rebuild, renderings_rebuild_stale
from .services.recordings import requeue_stale_jobs as requeue
from .services.transcripts_ingest import TransientJobError, transcription_job_run

logger = logging.getLogger(__name__)

MAX_RETRIES = 3


def retry_countdown(retries: int) -> int:
    """Exponential backoff with jitter: ~30 s, 60 s, 120 s (far below the broker's visibility timeout)."""
    return int(30 * (2**retries) * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not security)


@shared_task(bind=True, name="archive.tasks.transcribe_recording", max_retries=MAX_RETRIES, acks_late=True)
def transcribe_recording(self, job_id: int) -> str:
    try:
        return transcription_job_run(int(job_id))
    except TransientJobError as exc:
        if self.request.retries >= MAX_RETRIES:
            TranscriptionJob.objects.filter(pk=job_id, state=TranscriptionJob.State.QUEUED).update(
                state=TranscriptionJob.State.FAILED,
                reason="Temporary errors persisted after several retries; try again later.",
            )
            logger.error("transcription job %s failed after %s retries", job_id, MAX_RETRIES)
            return "failed"
        raise self.retry(countdown=retry_countdown(self.request.retries), exc=exc) from None


@shared_task(name="archive.tasks.requeue_stale_jobs")
def requeue_stale_jobs() -> dict[str, int]:
    with transaction.atomic():
        return requeue()


@shared_task(name="archive.tasks.fixity_check")
def fixity_check() -> None:
    call_command("fixity_check")


@shared_task(name="archive.tasks.audit_checkpoint")
def audit_checkpoint() -> None:
    write_checkpoint()


@shared_task(name="archive.tasks.rebuild_renderings")
def rebuild_renderings(interview_id: int) -> bool:
    return renderings_rebuild(interview_id)


@shared_task(name="archive.tasks.rebuild_stale_renderings")
def rebuild_stale_renderings() -> int:
    return renderings_rebuild_stale()
