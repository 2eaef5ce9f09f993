"""Account writes: second factors and API tokens. Each is audited; a custodian's action on someone
else's account is logged at custodian tier, which also anchors the audit chain (a checkpoint)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pyotp
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

from ..models import SecondFactor, Tier
from .audit import audit_log
from .people import second_factor_seal


def second_factor_confirm(*, user: Any, secret: str, code: str) -> bool:
    """Store a new TOTP secret once the user proved their app shows its codes. Replacing an enrolled
    factor is the caller's decision to allow (the web asks for the password and a current code)."""
    totp = pyotp.TOTP(secret)
    code = "".join(c for c in code if c.isdigit())
    if not code or not totp.verify(code, valid_window=1):
        return False
    with transaction.atomic():
        replaced = SecondFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()
        SecondFactor.objects.update_or_create(
            user=user,
            defaults={
                "secret_ciphertext": second_factor_seal(user_pk=user.pk, secret=secret),
                "confirmed_at": timezone.now(),
                "last_step": int(time.time() // totp.interval),
            },
        )
        audit_log(
            actor=user,
            action="totp_replace" if replaced else "totp_enrol",
            target_type="user",
            target_id=str(user.pk),
        )
    return True


def second_factor_reset(*, actor: Any, user: Any) -> None:
    """A custodian clears someone's second factor (lost phone): the old secret is replaced by one no one
    has seen, unconfirmed, so the account must enrol again at its next sign-in. Its API tokens go too."""
    with transaction.atomic():
        SecondFactor.objects.update_or_create(
            user=user,
            defaults={
                "secret_ciphertext": second_factor_seal(user_pk=user.pk, secret=pyotp.random_base32()),
                "confirmed_at": None,
                "last_step": 0,
            },
        )
        revoked, _ = AuthToken.objects.filter(user=user).delete()
        audit_log(
            actor=actor,
            action="totp_reset",
            target_type="user",
            target_id=str(user.pk),
            tier=Tier.CUSTODIAN,
            detail={"tokens_revoked": revoked},
        )


def api_token_issue(*, user: Any, via: str = "api") -> tuple[AuthToken, str]:
    """A new expiring API token; only its digest is stored. Returns (row, the token shown once)."""
    with transaction.atomic():
        instance, token = AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)
        audit_log(
            actor=user,
            action="token_issue",
            target_type="user",
            target_id=str(user.pk),
            detail={"token": instance.token_key, "via": via, "expiry": _iso(instance.expiry)},
        )
    return instance, token


def api_token_revoke(*, actor: Any, token: AuthToken) -> None:
    by_owner = actor.pk == token.user_id
    with transaction.atomic():
        AuthToken.objects.filter(digest=token.digest).delete()
        audit_log(
            actor=actor,
            action="token_revoke",
            target_type="user",
            target_id=str(token.user_id),
            tier="" if by_owner else Tier.CUSTODIAN,
            detail={"token": token.token_key},
        )


def api_tokens_of(user: Any) -> list[AuthToken]:
    """The user's live tokens, newest first (expired ones are deleted on the way)."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    return list(AuthToken.objects.filter(user=user).order_by("-created"))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
