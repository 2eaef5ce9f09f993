"""Verifying the audit trail: the chain from its start, then against its newest signed checkpoint.

The writer itself (audit_log, the hash chain, checkpoints) is archive/audit.py, below the gate, which
audits denials with it; its names are re-exported here for the services that write events.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..audit import (
    DENIED_ALERT_THRESHOLD,
    GENESIS,
    Checkpoint,
    CheckpointInvalid,
    audit_checkpoint,
    audit_checkpoints,
    audit_log,
    audit_verify,
    checkpoint_file,
    event_hash,
)
from ..models import AuditEvent

__all__ = [
    "DENIED_ALERT_THRESHOLD",
    "GENESIS",
    "Checkpoint",
    "CheckpointInvalid",
    "Verification",
    "audit_checkpoint",
    "audit_checkpoints",
    "audit_log",
    "audit_verify",
    "audit_verify_anchored",
    "checkpoint_file",
    "event_hash",
]


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str
    broken: AuditEvent | None = None
    checkpoint: Checkpoint | None = None
    missing: int = 0


def audit_verify_anchored() -> Verification:
    """The chain from its start, then against the newest signed checkpoint: every event it counted
    must still be there, ending in the event it names with the hash it names."""
    ok, broken = audit_verify()
    if not ok:
        assert broken is not None, "a broken chain names its first broken event"
        return Verification(False, f"Audit chain broken at event {broken.pk} ({broken.action}).", broken=broken)
    try:
        points = audit_checkpoints()
    except CheckpointInvalid as invalid:
        return Verification(False, str(invalid))
    total = AuditEvent.objects.count()
    if not points:
        return Verification(True, f"Audit chain intact: {total} events (no checkpoint yet).")
    point = points[-1]
    present = AuditEvent.objects.filter(id__lte=point.head_id).count()
    head = AuditEvent.objects.filter(id=point.head_id).only("hash").first()
    if present < point.count or head is None:
        missing = max(point.count - present, 1)
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        return Verification(
            False,
            f"Audit trail trimmed: the checkpoint of {point.at} counts {point.count} events up to event "
            f"{point.head_id}; {missing} of them are missing (the newest event left is {last}).",
            checkpoint=point,
            missing=missing,
        )
    if head.hash != point.head_hash or present != point.count:
        return Verification(
            False,
            f"Audit trail rewritten: event {point.head_id} or the events before it differ from the "
            f"checkpoint of {point.at}.",
            checkpoint=point,
        )
    return Verification(
        True,
        f"Audit chain intact: {total} events; the checkpoint of {point.at} ({point.count} events up to "
        f"event {point.head_id}) matches.",
        checkpoint=point,
    )
