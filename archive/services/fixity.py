"""Fixity: every stored original is re-hashed (SHA-256) and compared with the checksum recorded at
ingest. A mismatch (or a missing file) is recorded on the recording, audited, and raised as an Alert
that custodians see. Messages name the recording's public id only, never a file name or title."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from django.utils import timezone

from ..models import Alert, Recording
from .audit import audit_log

ALERT_KIND = "fixity_mismatch"


@dataclass
class FixityReport:
    checked: int = 0
    ok: int = 0
    mismatched: list[str] = field(default_factory=list)  # recording public ids
    missing: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [*self.mismatched, *self.missing]


def file_sha256(recording: Recording) -> str:
    digest = hashlib.sha256()
    with recording.original.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def recording_verify(*, recording: Recording) -> bool | None:
    """True when the original matches its checksum, False when it differs, None when it is missing."""
    try:
        ok: bool | None = file_sha256(recording) == recording.sha256.lower()
    except (FileNotFoundError, ValueError, OSError):
        ok = None
    Recording.objects.filter(pk=recording.pk).update(fixity_checked_at=timezone.now(), fixity_ok=bool(ok))
    return ok


def fixity_check_all() -> FixityReport:
    report = FixityReport()
    for recording in Recording.objects.order_by("pk").iterator():
        report.checked += 1
        ok = recording_verify(recording=recording)
        public_id = str(recording.public_id)
        if ok:
            report.ok += 1
            continue
        (report.mismatched if ok is False else report.missing).append(public_id)
        problem = "does not match its checksum" if ok is False else "is missing"
        Alert.objects.create(
            kind=ALERT_KIND,
            message=f"Fixity check: the original of recording {public_id} {problem}.",
            target_id=public_id,
        )
        audit_log(
            action="fixity_failed",
            target_type="recording",
            target_id=public_id,
            detail={"reason": "mismatch" if ok is False else "missing"},
        )
    audit_log(
        action="fixity_check",
        detail={"checked": report.checked, "ok": report.ok, "failed": len(report.failed)},
    )
    return report
