"""Sign-in with throttling and a TOTP second factor for editors, archivists and custodians.

* Throttling: failed attempts (password or code) are counted per username + address and per address;
  past the limit the account is locked for that address for a while, the password is not even checked,
  and custodians get an alert.
* Second factor: an account with an editor, archivist or custodian membership (or a superuser) that has
  enrolled a TOTP app must give a code after its password before it gets a session. With
  RAWI_REQUIRE_TOTP (production), such an account that has not enrolled must enrol before it gets one.
  The demo accounts have not enrolled, so the demo signs in with passwords alone.
* The secret is shown as text on the enrolment page (no QR from the internet) and stored sealed under
  the KEK. A code is accepted once.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pyotp
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from .models import Alert, LoginFailure, Membership, SecondFactor
from .services import audit_log
from .services.people import second_factor_seal, second_factor_secret

PENDING_KEY = "_rawi_pending_user"
PENDING_AT_KEY = "_rawi_pending_at"
PENDING_NEXT_KEY = "_rawi_pending_next"
ENROL_SECRET_KEY = "_rawi_enrol_secret"  # noqa: S105 - a session key name, not a secret
PENDING_TTL_SECONDS = 300
ISSUER = "Rawi"
STAFF_ROLES = {Membership.Role.EDITOR, Membership.Role.ARCHIVIST, Membership.Role.CUSTODIAN}
LOCKED_MESSAGE = "Too many failed attempts. Try again later."


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def client_ip(request: HttpRequest) -> str | None:
    # X-Forwarded-For is not trusted here: a client could rotate it to dodge the per-address limit.
    return request.META.get("REMOTE_ADDR") or None


def needs_second_factor(user: Any) -> bool:
    return bool(user.is_superuser or user.is_staff or user.memberships.filter(role__in=STAFF_ROLES).exists())


def totp_secret(factor: SecondFactor) -> str:
    return second_factor_secret(user_pk=factor.user_id, sealed=factor.secret_ciphertext)


def seal_secret(user_pk: int, secret: str) -> str:
    return second_factor_seal(user_pk=user_pk, secret=secret)


def verify_code(factor: SecondFactor, code: str) -> bool:
    """Accept a current code (±1 step for clock drift) that was not used before."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return False
    totp = pyotp.TOTP(totp_secret(factor))
    now = time.time()
    for offset in (-1, 0, 1):
        step = int(now // totp.interval) + offset
        if step > factor.last_step and totp.at(step * totp.interval) == code:
            updated = SecondFactor.objects.filter(pk=factor.pk, last_step__lt=step).update(last_step=step)
            return updated == 1
    return False


# Throttling --------------------------------------------------------------------------------------


def _window_start():
    return timezone.now() - timedelta(seconds=_setting("RAWI_LOGIN_LOCKOUT_SECONDS", 900))


def is_locked(username: str, ip: str | None) -> bool:
    since = _window_start()
    recent = LoginFailure.objects.filter(created_at__gte=since)
    if recent.filter(username=username.lower(), ip=ip).count() >= _setting("RAWI_LOGIN_MAX_FAILURES", 5):
        return True
    return ip is not None and recent.filter(ip=ip).count() >= _setting("RAWI_LOGIN_MAX_FAILURES_PER_IP", 30)


def record_failure(username: str, ip: str | None, stage: str) -> None:
    LoginFailure.objects.create(username=username.lower()[:150], ip=ip)
    if is_locked(username, ip):
        # Once per lockout: the count equals the limit exactly on the failure that locks.
        count = LoginFailure.objects.filter(created_at__gte=_window_start(), username=username.lower(), ip=ip).count()
        if count == _setting("RAWI_LOGIN_MAX_FAILURES", 5):
            user = get_user_model().objects.filter(username__iexact=username).first()
            audit_log(
                actor=None,
                action="login_locked",
                target_type="user",
                target_id=str(user.pk) if user else "",
                detail={"stage": stage, "known_account": user is not None},
            )
            Alert.objects.create(
                kind="login_locked",
                message=f"Sign-in locked after {count} failed attempts"
                + (f" for account {user.pk}." if user else " for an unknown account."),
                target_id=str(user.pk) if user else "",
            )


def clear_failures(username: str, ip: str | None) -> None:
    LoginFailure.objects.filter(username=username.lower(), ip=ip).delete()


# Views -------------------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=10, widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"})
    )


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


def _finish_login(request: HttpRequest, user: Any, next_url: str) -> HttpResponse:
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    audit_log(actor=user, action="login", target_type="user", target_id=str(user.pk))
    return redirect(next_url)


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request, request.GET.get("next")))
    error = ""
    status = 200
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "POST":
        username = (request.POST.get("username") or "").strip()[:150]
        password = request.POST.get("password") or ""
        ip = client_ip(request)
        if is_locked(username, ip):
            error, status = LOCKED_MESSAGE, 429
        else:
            user = authenticate(request, username=username, password=password) if username and password else None
            if user is None:
                record_failure(username, ip, "password")
                error, status = "Your username and password did not match.", 200
                if is_locked(username, ip):
                    error, status = LOCKED_MESSAGE, 429
            else:
                target = _safe_next(request, next_url)
                factor = SecondFactor.objects.filter(user=user, confirmed_at__isnull=False).first()
                if needs_second_factor(user) and (factor or getattr(settings, "RAWI_REQUIRE_TOTP", False)):
                    request.session.cycle_key()
                    request.session[PENDING_KEY] = user.pk
                    request.session[PENDING_AT_KEY] = int(time.time())
                    request.session[PENDING_NEXT_KEY] = target
                    return redirect("archive:login_verify" if factor else "archive:login_enrol")
                clear_failures(username, ip)
                return _finish_login(request, user, target)
    return render(request, "archive/signin.html", {"error": error, "next": next_url}, status=status)


def _pending_user(request: HttpRequest) -> Any | None:
    pk = request.session.get(PENDING_KEY)
    started = request.session.get(PENDING_AT_KEY, 0)
    if not pk or time.time() - started > PENDING_TTL_SECONDS:
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).first()


def _clear_pending(request: HttpRequest) -> str:
    request.session.pop(PENDING_KEY, None)
    request.session.pop(PENDING_AT_KEY, None)
    request.session.pop(ENROL_SECRET_KEY, None)
    return request.session.pop(PENDING_NEXT_KEY, "/")


def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step: the TOTP code of a user whose password was right."""
    user = _pending_user(request)
    if user is None:
        return redirect("archive:login")
    factor = SecondFactor.objects.filter(user=user, confirmed_at__isnull=False).first()
    if factor is None:
        return redirect("archive:login_enrol")
    ip = client_ip(request)
    form = CodeForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST":
        if is_locked(user.get_username(), ip):
            _clear_pending(request)
            error, status = LOCKED_MESSAGE, 429
        elif form.is_valid() and verify_code(factor, form.cleaned_data["code"]):
            clear_failures(user.get_username(), ip)
            return _finish_login(request, user, _clear_pending(request))
        else:
            record_failure(user.get_username(), ip, "totp")
            error, status = "That code is not valid.", 200
    return render(request, "archive/login_verify.html", {"form": form, "error": error}, status=status)


def _enrol(request: HttpRequest, user: Any, on_success) -> HttpResponse:
    secret = request.session.get(ENROL_SECRET_KEY)
    if not secret:
        secret = pyotp.random_base32()
        request.session[ENROL_SECRET_KEY] = secret
    form = CodeForm(request.POST or None)
    error = ""
    if request.method == "POST":
        totp = pyotp.TOTP(secret)
        code = "".join(c for c in form.cleaned_data["code"] if c.isdigit()) if form.is_valid() else ""
        if code and totp.verify(code, valid_window=1):
            step = int(time.time() // totp.interval)
            SecondFactor.objects.update_or_create(
                user=user,
                defaults={
                    "secret_ciphertext": seal_secret(user.pk, secret),
                    "confirmed_at": timezone.now(),
                    "last_step": step,
                },
            )
            request.session.pop(ENROL_SECRET_KEY, None)
            audit_log(actor=user, action="totp_enrol", target_type="user", target_id=str(user.pk))
            return on_success()
        record_failure(user.get_username(), client_ip(request), "enrol")
        error = "That code is not valid. Check the clock of the device and try again."
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request,
        "archive/totp_enrol.html",
        {
            "secret": grouped,
            "uri": uri,
            "form": form,
            "error": error,
            "enrolled": SecondFactor.objects.filter(user=user, confirmed_at__isnull=False).exists(),
        },
    )


def login_enrol(request: HttpRequest) -> HttpResponse:
    """Enrolment during sign-in, when RAWI_REQUIRE_TOTP demands a second factor the account lacks."""
    user = _pending_user(request)
    if user is None:
        return redirect("archive:login")
    return _enrol(request, user, lambda: _finish_login(request, user, _clear_pending(request)))


@login_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """A signed-in user sets up (or replaces) their TOTP app."""

    def done() -> HttpResponse:
        from django.contrib import messages

        messages.success(request, "Second factor enrolled: sign-in now asks for a code.")
        return redirect("archive:home")

    return _enrol(request, request.user, done)
