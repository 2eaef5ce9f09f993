"""Quarantined metadata: container tags, GPS, devices, upload file names, chat and email headers.
Stored encrypted for custodians; never rendered, served or indexed below."""

from __future__ import annotations

from typing import Any

from .. import crypto
from ..models import Interview, QuarantinedMetadata, Recording
from .audit import audit_log


def _context(interview: Interview) -> str:
    return f"quarantine:{interview.public_id}"


def quarantine_store(
    *, interview: Interview, source: str, payload: dict[str, Any], recording: Recording | None = None
) -> QuarantinedMetadata | None:
    if not payload:
        return None
    return QuarantinedMetadata.objects.create(
        interview=interview,
        recording=recording,
        source=source,
        payload_ciphertext=crypto.seal_json(payload, _context(interview)),
    )


def quarantine_read(*, row: QuarantinedMetadata, actor: Any) -> dict[str, Any]:
    """For custodians only (the caller checks the tier); every read is audited."""
    audit_log(
        actor=actor,
        action="quarantine_read",
        target_type="interview",
        target_id=str(row.interview.public_id),
        tier="custodian",
        detail={"source": row.source},
    )
    return crypto.open_json(row.payload_ciphertext, _context(row.interview))
