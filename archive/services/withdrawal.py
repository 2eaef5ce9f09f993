"""Withdrawal cascade: seal the interview and purge every lower-tier derivative in one transaction."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Interview
from .access_requests import access_grants_revoke
from .audit import audit_log
from .base import touch, write


def export_cache_dir(interview: Interview) -> Path:
    """Where cached exports and redacted audio of one interview live (purged on withdrawal)."""
    return Path(settings.EXPORTS_DIR) / str(interview.public_id)


@write
def interview_withdraw(*, interview: Interview, actor: Any = None) -> None:
    Interview.objects.filter(pk=interview.pk).update(withdrawn_at=timezone.now(), status=Interview.Status.SEALED)
    interview.refresh_from_db()
    # Rebuilding drops every rendering (and search document) below custodian in this transaction.
    touch(interview)
    cache = export_cache_dir(interview)
    # Purge now (fail closed), and again after commit in case an export finished writing meanwhile.
    shutil.rmtree(cache, ignore_errors=True)
    transaction.on_commit(lambda: shutil.rmtree(cache, ignore_errors=True))
    access_grants_revoke(interview=interview, reason="consent_withdrawn", actor=actor)
    audit_log(
        actor=actor,
        action="interview_withdrawn",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"tombstone": True},
    )
