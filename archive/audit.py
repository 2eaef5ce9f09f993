"""The append-only, hash-chained audit trail: the event writer, the chain and its checkpoints.

It sits below the gate (which audits denials) and every service; archive/services/audit.py verifies the
trail on top of it. Details carry ids, tiers and counts, never text or names.

A chain verified from its start cannot tell that its newest events were cut off, so its head is also
anchored outside the database: a checkpoint (head id and hash, event count, time) signed with a key the
database does not hold, appended to RAWI_AUDIT_CHECKPOINT_FILE and written to the log. One is written
after every event logged at custodian tier (once that event is committed) and hourly (Celery beat);
`audit_verify` checks the chain against the newest one and reports the events missing after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import crypto
from .models import Alert, AuditEvent, Tier

GENESIS = "0" * 64
DENIED_ALERT_THRESHOLD = 5
logger = logging.getLogger(__name__)


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "tier": event.tier,
        "detail": event.detail,
        "prev": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


def audit_log(
    *,
    actor: Any = None,
    action: str,
    target_type: str = "",
    target_id: str = "",
    tier: str = "",
    detail: dict[str, Any] | None = None,
    checkpoint: bool | None = None,
) -> AuditEvent:
    """Append one event to the chain. Runs in its own atomic block; the chain head is locked.

    An event at custodian tier (or with checkpoint=True) anchors the head once it is committed. Inside a
    caller's transaction the event is part of it (no savepoint): a write whose audit event fails fails."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic(savepoint=False):
        last = AuditEvent.objects.select_for_update().order_by("-id").only("hash").first()
        event = AuditEvent(
            created_at=timezone.now(),
            actor=user,
            actor_label=user.get_username() if user else "anonymous",
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            tier=tier,
            detail=detail or {},
            prev_hash=last.hash if last else GENESIS,
        )
        # Round-trip the JSON so the hash is computed over exactly what the database returns.
        event.detail = json.loads(json.dumps(event.detail, default=str))
        event.created_at = event.created_at.replace(microsecond=event.created_at.microsecond)
        event.hash = event_hash(event)
        event.save()
        if tier == Tier.CUSTODIAN if checkpoint is None else checkpoint:
            transaction.on_commit(_checkpoint_after_commit)
    if action == "access_denied" and user is not None:
        _alert_on_repeated_denials(user)
    return event


def _alert_on_repeated_denials(user: Any) -> None:
    since = timezone.now() - timedelta(minutes=10)
    denied = AuditEvent.objects.filter(actor=user, action="access_denied", created_at__gte=since).count()
    if denied == DENIED_ALERT_THRESHOLD:
        Alert.objects.create(
            kind="repeated_denials",
            message=f"Account {user.pk} was denied access {denied} times in 10 minutes.",
            target_id=str(user.pk),
        )


def audit_verify() -> tuple[bool, AuditEvent | None]:
    """Recompute the chain; (True, None) or (False, first broken event)."""
    previous = GENESIS
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != previous or event_hash(event) != event.hash:
            return False, event
        previous = event.hash
    return True, None


# Checkpoints outside the database ----------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    head_id: int
    head_hash: str
    count: int
    at: str

    def body(self) -> bytes:
        fields = {"head_id": self.head_id, "head_hash": self.head_hash, "count": self.count, "at": self.at}
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")

    def line(self) -> str:
        signed = {**json.loads(self.body()), "mac": crypto.audit_checkpoint_mac(self.body())}
        return json.dumps(signed, sort_keys=True, separators=(",", ":"))


class CheckpointInvalid(Exception):
    """A checkpoint line that does not parse or whose signature does not match."""


def checkpoint_file() -> Path:
    return Path(settings.RAWI_AUDIT_CHECKPOINT_FILE)


def audit_checkpoint() -> Checkpoint | None:
    """Sign the committed head of the chain; append it to the checkpoint file and to the log."""
    head = AuditEvent.objects.order_by("-id").only("id", "hash").first()
    if head is None:
        return None
    # Counted up to the head read above, so events appended meanwhile cannot make it inconsistent.
    count = AuditEvent.objects.filter(id__lte=head.pk).count()
    point = Checkpoint(head_id=head.pk, head_hash=head.hash, count=count, at=timezone.now().isoformat())
    line = point.line()
    path = checkpoint_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_APPEND: concurrent writers each add whole lines; nothing here ever rewrites the file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    logger.info("audit checkpoint %s", line)
    return point


def _checkpoint_after_commit() -> None:
    try:
        audit_checkpoint()
    except OSError:
        # The event itself is committed; the hourly checkpoint anchors it if this write failed.
        logger.exception("audit checkpoint could not be written")


def audit_checkpoints() -> list[Checkpoint]:
    """Every checkpoint in the file, oldest first; CheckpointInvalid on a line that fails its signature."""
    path = checkpoint_file()
    if not path.exists():
        return []
    points = []
    for number, raw in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            fields = json.loads(raw)
            point = Checkpoint(
                head_id=int(fields["head_id"]),
                head_hash=str(fields["head_hash"]),
                count=int(fields["count"]),
                at=str(fields["at"]),
            )
            mac = str(fields["mac"])
        except (ValueError, KeyError, TypeError):
            raise CheckpointInvalid(f"Audit checkpoint line {number} cannot be read.") from None
        if not hmac.compare_digest(mac, crypto.audit_checkpoint_mac(point.body())):
            raise CheckpointInvalid(f"Audit checkpoint line {number} has an invalid signature.")
        points.append(point)
    return points
