"""Hardening: deploy checks, CSP without inline code, TOTP, sign-in throttling, logs without identities,
and sealed ids that look exactly like missing ones on every URL shape."""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from archive.models import Alert, AuditEvent, SecondFactor

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "archive" / "templates"
MISSING = "00000000-0000-4000-8000-000000000000"


# Deployment settings -----------------------------------------------------------------------------


def test_it_passes_check_deploy_without_warnings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "false",
        "RAWI_TESTING": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "RAWI_DATA_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout + result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
    )


def test_it_has_no_inline_script_or_style_in_any_template():
    offenders = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern in (
            r"<script(?![^>]*\bsrc=)[^>]*>",
            r"<style\b",
            r"\sstyle\s*=",
            r"\son[a-z]+\s*=",
            r"javascript:",
        ):
            if re.search(pattern, text, flags=re.IGNORECASE):
                offenders.append(f"{template.relative_to(ROOT)}: {pattern}")
    assert offenders == []


def test_it_sends_a_csp_without_inline_script_on_pages(demo, client_as):
    response = client_as("editor").get(f"/interviews/{demo.interview('skype-photographer').public_id}/consent/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"


# Second factor -----------------------------------------------------------------------------------


def _sign_in(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def _enrol(client: Client) -> pyotp.TOTP:
    page = client.get("/account/second-factor/").content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    totp = pyotp.TOTP(secret)
    assert client.post("/account/second-factor/", {"code": totp.now()}).status_code == 302
    return totp


def test_it_signs_demo_users_in_with_a_password_alone(demo, settings):
    settings.RAWI_REQUIRE_TOTP = False  # as `make run`'s demo sets it
    client = Client()
    response = _sign_in(client, "custodian", "rawi-demo-custodian")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/audit/").status_code == 200


def test_it_asks_enrolled_staff_for_a_code_and_accepts_it_once(demo, client_as):
    totp = _enrol(client_as("editor"))
    factor = SecondFactor.objects.get(user=demo.user("editor"))
    assert factor.confirmed_at is not None
    assert totp.secret not in factor.secret_ciphertext  # sealed under the KEK

    client = Client()
    response = _sign_in(client, "editor", "rawi-demo-editor")
    assert response["Location"] == "/login/verify/"
    assert "_auth_user_id" not in client.session  # no session before the code
    wrong = client.post("/login/verify/", {"code": "000000"})
    assert wrong.status_code == 200 and "That code is not valid." in wrong.content.decode()
    # The enrolment used this step's code; the next step's is still within the drift window.
    code = totp.at(time.time() + totp.interval)
    assert client.post("/login/verify/", {"code": code}).status_code == 302
    assert client.session["_auth_user_id"] == str(demo.user("editor").pk)

    replay = Client()
    _sign_in(replay, "editor", "rawi-demo-editor")
    again = replay.post("/login/verify/", {"code": code})
    assert again.status_code == 200 and "_auth_user_id" not in replay.session
    assert AuditEvent.objects.filter(action="totp_enrol", actor_label="editor").count() == 1


def test_it_makes_staff_enrol_before_a_session_when_totp_is_required(demo, settings):
    settings.RAWI_REQUIRE_TOTP = True
    client = Client()
    response = _sign_in(client, "archivist", "rawi-demo-archivist")
    assert response["Location"] == "/login/enrol/"
    assert "_auth_user_id" not in client.session
    page = client.get("/login/enrol/").content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert client.post("/login/enrol/", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert client.session["_auth_user_id"] == str(demo.user("archivist").pk)
    # A reader without a staff role is not asked.
    reader = Client()
    assert _sign_in(reader, "researcher", "rawi-demo-researcher")["Location"] == "/"


# Throttling --------------------------------------------------------------------------------------


def test_it_locks_an_account_out_per_address_after_repeated_failures(demo):
    client = Client()
    for _ in range(5):
        response = _sign_in(client, "custodian", "wrong-password")
    assert response.status_code == 429
    locked = _sign_in(client, "custodian", "rawi-demo-custodian")
    assert locked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert Alert.objects.filter(kind="login_locked", target_id=str(demo.user("custodian").pk)).count() == 1
    assert AuditEvent.objects.filter(action="login_locked").count() == 1
    # The owner, from another address, still gets in.
    elsewhere = Client()
    assert _sign_in(elsewhere, "custodian", "rawi-demo-custodian", ip="10.0.0.2").status_code == 302


def test_it_answers_the_same_for_unknown_accounts_and_wrong_passwords(demo):
    unknown = _sign_in(Client(), "nobody-here", "whatever-password")
    wrong = _sign_in(Client(), "editor", "whatever-password", ip="10.0.0.3")
    assert unknown.status_code == wrong.status_code == 200
    assert "did not match" in unknown.content.decode() and "did not match" in wrong.content.decode()


# Logs --------------------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def _sensitive(demo) -> list[str]:
    values: list[str] = []
    for narrator in demo.data["narrators"]:
        values.append(narrator["legal_name"])
        values.extend(narrator.get("aliases", []))
        if narrator.get("contacts"):
            values.append(narrator["contacts"])
    for entity in demo.data["entities"]:
        values.append(entity["name"])
    for interview in demo.data["interviews"]:
        for _role, text in interview.get("segments", []):
            if len(text) > 24:
                values.append(text[:40])
    return [v for v in values if len(v) > 4]


def test_it_keeps_identities_and_transcript_text_out_of_the_logs(demo, client_as):
    handler = _Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        ids = [str(i.public_id) for i in demo.interviews.values()]
        for who in (None, "researcher", "fieldresearcher", "archivist", "editor", "custodian"):
            client = client_as(who)
            for url in [
                "/",
                "/interviews/",
                "/collections/",
                f"/collections/{demo.collection.slug}/",
                "/api/v1/interviews/",
                "/api/v1/collections/",
                "/search/?q=Homs",
                "/audit/",
            ]:
                client.get(url)
            for pid in [*ids, MISSING]:
                for url in [
                    f"/interviews/{pid}/",
                    f"/api/v1/interviews/{pid}/",
                    f"/interviews/{pid}/consent/",
                    f"/api/v1/interviews/{pid}/export?format=txt",
                    f"/interviews/{pid}/workbench/",
                ]:
                    client.get(url)
        _sign_in(Client(), "Yusuf Kamal Darwish", "not-a-password")
        for tier in ("public", "researcher", "staff", "custodian"):
            call_command("search", "Homs", "--tier", tier, "--json", stdout=io.StringIO())
        call_command("audit_verify", stdout=io.StringIO())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = "\n".join(handler.lines)
    assert len(handler.lines) > 10  # the run did log (404 warnings at least)
    leaks = [value for value in _sensitive(demo) if value in logged]
    # The only name that may appear is the one typed into the sign-in form as a username: it is not
    # logged either.
    assert leaks == []


# Sealed and missing ids look the same ------------------------------------------------------------


def _interview_patterns(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    resolver = resolver or get_resolver()
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.extend(_interview_patterns(entry, route))
        elif isinstance(entry, URLPattern) and "<uuid:public_id>" in route:
            found.append(route)
    return found


def _fill(route: str, public_id: str, narrator_id: str) -> str:
    route = route.replace("<uuid:public_id>", public_id).replace("<uuid:narrator_id>", narrator_id)
    route = re.sub(r"<int:[a-z_]+>", "1", route)
    route = re.sub(r"<slug:[a-z_]+>", "demo", route)
    route = re.sub(r"<[a-z]+:[a-z_]+>", "x", route)
    return "/" + route.lstrip("^").rstrip("$")


def test_it_answers_sealed_ids_exactly_like_missing_ones_on_every_url_shape(demo, client_as):
    sealed = demo.interview("sealed-committee")
    narrator = str(sealed.narrators.get().public_id)
    routes = _interview_patterns()
    assert len(routes) >= 8
    checked = 0
    for route in routes:
        for suffix in ("", "?format=txt", "?tier=public"):
            for method in ("get", "post", "head"):
                client = client_as(None)
                hidden = getattr(client, method)(_fill(route, str(sealed.public_id), narrator) + suffix)
                missing = getattr(client, method)(
                    _fill(route, MISSING, "00000000-0000-4000-8000-0000000000aa") + suffix
                )
                assert (hidden.status_code, _body(hidden)) == (missing.status_code, _body(missing)), (route, method)
                checked += 1
    assert checked == len(routes) * 9


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def test_it_sets_secure_cookies_and_hsts_in_production(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "false",
        "RAWI_TESTING": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "RAWI_DATA_DIR": str(tmp_path),
    }
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup();"
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_HTTPONLY)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "True True True 31536000 True True"
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 10 * 1024 * 1024
