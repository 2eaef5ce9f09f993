"""Sign-in policy shared by the web sign-in and the API token endpoint, so both are one door.

* The client address is REMOTE_ADDR, or the address the configured number of trusted proxies
  (RAWI_TRUSTED_PROXIES) put in X-Forwarded-For; a client-supplied header is never believed beyond that.
* Failed attempts (password or code) are counted per username + address and per address; past the
  limit the account is locked for that address, the password is not even checked, custodians get an
  alert, and the answer says how long the lockout lasts. Every failure is an audit event.
* A second factor (TOTP) is asked of every account that has one. An account that can reach staff or
  custodian tier (a staff role, a field researcher who gathers interviews and is their custodian, or a
  superuser) must enrol one before it gets a session or a token, unless RAWI_REQUIRE_TOTP is off (the
  demo). A custodian's reset leaves a marker: that account enrols again at its next sign-in either way.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.http import HttpRequest
from django.utils import timezone

from .audit import audit_log
from .models import Alert, LoginFailure, Membership, SecondFactor
from .services.people import second_factor_secret

# Roles whose holders reach staff or custodian tier somewhere (field researchers are custodians of
# the interviews they gathered).
SECOND_FACTOR_ROLES = {
    Membership.Role.FIELD_RESEARCHER,
    Membership.Role.EDITOR,
    Membership.Role.ARCHIVIST,
    Membership.Role.CUSTODIAN,
}


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def client_ip(request: HttpRequest) -> str | None:
    """The address to throttle on: REMOTE_ADDR, unless RAWI_TRUSTED_PROXIES proxies stand in front,
    in which case the address the outermost trusted proxy saw (DRF's NUM_PROXIES rule, same setting)."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = _setting("RAWI_TRUSTED_PROXIES", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    candidate = addresses[-min(proxies, len(addresses))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


# Who needs a second factor ------------------------------------------------------------------------


def needs_second_factor(user: Any) -> bool:
    """True for every account that can reach staff or custodian tier."""
    return bool(
        user.is_superuser
        or user.is_staff
        or user.memberships.filter(role__in=SECOND_FACTOR_ROLES).exists()
        or user.gathered_interviews.exists()
    )


def confirmed_factor(user: Any) -> SecondFactor | None:
    return SecondFactor.objects.filter(user=user, confirmed_at__isnull=False).first()


class FactorStep(Enum):
    NONE = "none"  # password alone
    VERIFY = "verify"  # a code from the enrolled app
    ENROL = "enrol"  # must enrol before a session or token


def second_factor_step(user: Any) -> FactorStep:
    factor = SecondFactor.objects.filter(user=user).first()
    if factor is not None and factor.confirmed_at is not None:
        return FactorStep.VERIFY
    if factor is not None:  # reset by a custodian: enrol again, whatever the setting
        return FactorStep.ENROL
    if needs_second_factor(user) and getattr(settings, "RAWI_REQUIRE_TOTP", True):
        return FactorStep.ENROL
    return FactorStep.NONE


def verify_code(factor: SecondFactor, code: str) -> bool:
    """Accept a current code (±1 step for clock drift) that was not used before."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6 or factor.confirmed_at is None:
        return False
    totp = pyotp.TOTP(second_factor_secret(user_pk=factor.user_id, sealed=factor.secret_ciphertext))
    now = time.time()
    for offset in (-1, 0, 1):
        step = int(now // totp.interval) + offset
        if step > factor.last_step and totp.at(step * totp.interval) == code:
            updated = SecondFactor.objects.filter(pk=factor.pk, last_step__lt=step).update(last_step=step)
            return updated == 1
    return False


# Lockout -----------------------------------------------------------------------------------------


def _window() -> timedelta:
    return timedelta(seconds=_setting("RAWI_LOGIN_LOCKOUT_SECONDS", 900))


def lockout_remaining(username: str, ip: str | None) -> int:
    """Seconds until this username + address may try again (0: not locked).

    Locked while the window holds `limit` failures; it ends when the limit-th newest ages out."""
    now = timezone.now()
    recent = LoginFailure.objects.filter(created_at__gte=now - _window()).order_by("-created_at")
    limits = [(recent.filter(username=username.lower(), ip=ip), _setting("RAWI_LOGIN_MAX_FAILURES", 5))]
    if ip is not None:
        limits.append((recent.filter(ip=ip), _setting("RAWI_LOGIN_MAX_FAILURES_PER_IP", 30)))
    remaining = 0.0
    for rows, limit in limits:
        edge = list(rows.values_list("created_at", flat=True)[limit - 1 : limit])
        if edge:
            remaining = max(remaining, (edge[0] + _window() - now).total_seconds())
    return math.ceil(remaining) if remaining > 0 else 0


def is_locked(username: str, ip: str | None) -> bool:
    return lockout_remaining(username, ip) > 0


def locked_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def record_failure(username: str, ip: str | None, stage: str, *, via: str) -> None:
    """One failed attempt: counted, audited (never the typed name: it may be anyone's), and on the
    failure that locks, an alert for custodians."""
    LoginFailure.objects.create(username=username.lower()[:150], ip=ip)
    user = get_user_model().objects.filter(username__iexact=username).first() if username else None
    target = str(user.pk) if user else ""
    audit_log(
        action="login_failed",
        target_type="user",
        target_id=target,
        detail={"stage": stage, "via": via, "known_account": user is not None},
    )
    count = LoginFailure.objects.filter(
        created_at__gte=timezone.now() - _window(), username=username.lower(), ip=ip
    ).count()
    if count == _setting("RAWI_LOGIN_MAX_FAILURES", 5):  # once per lockout: the failure that locks
        audit_log(
            action="login_locked",
            target_type="user",
            target_id=target,
            detail={"stage": stage, "via": via, "known_account": user is not None},
        )
        Alert.objects.create(
            kind="login_locked",
            message=f"Sign-in locked after {count} failed attempts"
            + (f" for account {user.pk}." if user else " for an unknown account."),
            target_id=target,
        )


def clear_failures(username: str, ip: str | None) -> None:
    LoginFailure.objects.filter(username=username.lower(), ip=ip).delete()


# The two steps -----------------------------------------------------------------------------------


class Outcome(Enum):
    OK = "ok"
    LOCKED = "locked"
    BAD_PASSWORD = "bad_password"  # noqa: S105 - an outcome name
    BAD_CODE = "bad_code"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    user: Any = None
    retry_after: int = 0


def check_password(request: HttpRequest | None, username: str, password: str, ip: str | None, *, via: str) -> Attempt:
    remaining = lockout_remaining(username, ip)
    if remaining:
        return Attempt(Outcome.LOCKED, retry_after=remaining)
    user = authenticate(request, username=username, password=password) if username and password else None
    if user is None:
        record_failure(username, ip, "password", via=via)
        remaining = lockout_remaining(username, ip)
        return Attempt(Outcome.LOCKED, retry_after=remaining) if remaining else Attempt(Outcome.BAD_PASSWORD)
    return Attempt(Outcome.OK, user=user)


def check_code(user: Any, code: str, ip: str | None, *, via: str) -> Attempt:
    username = user.get_username()
    remaining = lockout_remaining(username, ip)
    if remaining:
        return Attempt(Outcome.LOCKED, user=user, retry_after=remaining)
    factor = confirmed_factor(user)
    if factor is not None and verify_code(factor, code):
        clear_failures(username, ip)
        return Attempt(Outcome.OK, user=user)
    record_failure(username, ip, "totp", via=via)
    remaining = lockout_remaining(username, ip)
    if remaining:
        return Attempt(Outcome.LOCKED, user=user, retry_after=remaining)
    return Attempt(Outcome.BAD_CODE, user=user)


# Who may manage whose account --------------------------------------------------------------------


def can_manage_account(actor: Any, target: Any) -> bool:
    """A superuser manages anyone; a custodian manages the non-superusers of their collections."""
    if not (actor and actor.is_authenticated and actor.is_active) or target is None:
        return False
    if actor.is_superuser:
        return True
    if target.is_superuser or target.pk == actor.pk:
        return False
    custodian_of = Membership.objects.filter(user=actor, role=Membership.Role.CUSTODIAN).values("collection_id")
    return Membership.objects.filter(user=target, collection_id__in=custodian_of).exists()
