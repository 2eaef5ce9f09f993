"""The append-only, hash-chained audit trail. Details carry ids, tiers and counts, never text or names."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Alert, AuditEvent

GENESIS = "0" * 64
DENIED_ALERT_THRESHOLD = 5


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
) -> AuditEvent:
    """Append one event to the chain. Runs in its own atomic block; the chain head is locked."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
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
