"""Web sign-in: password, then the second factor when the account has or needs one (archive.accounts
holds the policy; the API token endpoint goes through the same steps).

* The secret is shown on the enrolment page as text and as a QR code drawn here (inline SVG, no
  request to anyone), and stored sealed under the KEK. A code is accepted once.
* Replacing an enrolled factor asks for the password and a current code of the old one.
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe

from ..accounts import (
    Attempt,
    FactorStep,
    Outcome,
    check_code,
    check_password,
    client_ip,
    confirmed_factor,
    locked_message,
    record_failure,
    second_factor_step,
)
from ..services import audit_log
from ..services.accounts import second_factor_confirm

PENDING_KEY = "_rawi_pending_user"
PENDING_AT_KEY = "_rawi_pending_at"
PENDING_NEXT_KEY = "_rawi_pending_next"
ENROL_SECRET_KEY = "_rawi_enrol_secret"  # noqa: S105 - a session key name, not a secret
PENDING_TTL_SECONDS = 300
ISSUER = "Rawi"
VIA = "web"


# Views -------------------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=10, widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"})
    )


class ReplaceForm(CodeForm):
    """Replacing an enrolled factor: the new app's code, and proof of the old factor and the password."""

    password = forms.CharField(max_length=4096, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    current_code = forms.CharField(
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


def _locked(attempt: Attempt) -> tuple[str, int]:
    return locked_message(attempt.retry_after), 429


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
        attempt = check_password(request, username, password, ip, via=VIA)
        if attempt.outcome is Outcome.LOCKED:
            error, status = _locked(attempt)
        elif attempt.outcome is Outcome.BAD_PASSWORD:
            error = "Your username and password did not match."
        else:
            user = attempt.user
            target = _safe_next(request, next_url)
            step = second_factor_step(user)
            if step is not FactorStep.NONE:
                request.session.cycle_key()
                request.session[PENDING_KEY] = user.pk
                request.session[PENDING_AT_KEY] = int(time.time())
                request.session[PENDING_NEXT_KEY] = target
                return redirect("archive:login_verify" if step is FactorStep.VERIFY else "archive:login_enrol")
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
    if second_factor_step(user) is not FactorStep.VERIFY:
        return redirect("archive:login_enrol")
    form = CodeForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST":
        code = form.cleaned_data["code"] if form.is_valid() else ""
        attempt = check_code(user, code, client_ip(request), via=VIA)
        if attempt.outcome is Outcome.OK:
            return _finish_login(request, user, _clear_pending(request))
        if attempt.outcome is Outcome.LOCKED:
            _clear_pending(request)
            error, status = _locked(attempt)
        else:
            error = "That code is not valid."
    return render(request, "archive/login_verify.html", {"form": form, "error": error}, status=status)


def _qr_svg(uri: str) -> str:
    # Drawn here as inline SVG (attributes only, no style): no third party sees the secret, and the
    # strict CSP needs no exception.
    return mark_safe(  # noqa: S308 - segno's own markup over our own otpauth URI
        segno.make(uri, error="m").svg_inline(
            scale=4, border=2, dark="#000", light="#fff", title="QR code of the key", svgclass="qr"
        )
    )


def _replacement_refused(request: HttpRequest, user: Any, form: ReplaceForm) -> str:
    """'' when the password and a current code of the enrolled factor were given, else why not."""
    ip = client_ip(request)
    if not user.check_password(form.cleaned_data["password"]):
        record_failure(user.get_username(), ip, "replace", via=VIA)
        return "Your password and current code are needed to replace the second factor."
    attempt = check_code(user, form.cleaned_data["current_code"], ip, via=VIA)
    if attempt.outcome is Outcome.LOCKED:
        return locked_message(attempt.retry_after)
    if attempt.outcome is not Outcome.OK:
        return "Your password and current code are needed to replace the second factor."
    return ""


def _enrol(request: HttpRequest, user: Any, on_success, *, replacing: bool = False) -> HttpResponse:
    secret = request.session.get(ENROL_SECRET_KEY)
    if not secret:
        secret = pyotp.random_base32()
        request.session[ENROL_SECRET_KEY] = secret
    form_class = ReplaceForm if replacing else CodeForm
    form = form_class(request.POST or None)
    error = ""
    if request.method == "POST":
        if not form.is_valid():
            error = (
                "Your password and current code are needed to replace the second factor."
                if replacing
                else "That code is not valid. Check the clock of the device and try again."
            )
        else:
            error = _replacement_refused(request, user, form) if replacing else ""
            if not error:
                if second_factor_confirm(user=user, secret=secret, code=form.cleaned_data["code"]):
                    request.session.pop(ENROL_SECRET_KEY, None)
                    return on_success()
                record_failure(user.get_username(), client_ip(request), "enrol", via=VIA)
                error = "That code is not valid. Check the clock of the device and try again."
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request,
        "archive/totp_enrol.html",
        {
            "secret": grouped,
            "uri": uri,
            "qr_svg": _qr_svg(uri),
            "form": form,
            "error": error,
            "enrolled": replacing,
        },
    )


def login_enrol(request: HttpRequest) -> HttpResponse:
    """Enrolment during sign-in, for an account that must have a second factor and has none (or was
    reset). An account with an enrolled factor is sent to the code step: enrolling here must never
    stand in for the code."""
    user = _pending_user(request)
    if user is None:
        return redirect("archive:login")
    if second_factor_step(user) is not FactorStep.ENROL:
        return redirect("archive:login_verify")
    return _enrol(request, user, lambda: _finish_login(request, user, _clear_pending(request)))


@login_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """A signed-in user sets up their TOTP app, or replaces it with their password and a current code."""

    def done() -> HttpResponse:
        messages.success(request, "Second factor enrolled: sign-in now asks for a code.")
        return redirect("archive:home")

    replacing = confirmed_factor(request.user) is not None
    return _enrol(request, request.user, done, replacing=replacing)
