"""The second factor on the web: replacing it takes the password and a current code, enrolment shows a
QR code drawn inline under the strict CSP, and the demo says that it does without one."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.test import Client

from archive import runner
from archive.models import AuditEvent, SecondFactor

pytestmark = pytest.mark.django_db


def _secret(page: str) -> str:
    return re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def _enrol(client: Client) -> pyotp.TOTP:
    totp = pyotp.TOTP(_secret(client.get("/account/second-factor/").content.decode()))
    assert client.post("/account/second-factor/", {"code": totp.now()}).status_code == 302
    return totp


def test_it_replaces_a_second_factor_only_with_the_password_and_a_current_code(demo, client_as):
    client = client_as("editor")
    old = _enrol(client)
    before = SecondFactor.objects.get(user=demo.user("editor")).secret_ciphertext
    page = client.get("/account/second-factor/").content.decode()
    new = pyotp.TOTP(_secret(page))
    assert "give your password and a current code" in page

    # A stolen session alone cannot swap the factor: the new code is not enough.
    refused = client.post("/account/second-factor/", {"code": new.now()})
    assert refused.status_code == 200
    assert "Your password and current code are needed to replace the second factor." in refused.content.decode()
    wrong_password = client.post(
        "/account/second-factor/",
        {"code": new.now(), "password": "not-the-password", "current_code": old.at(time.time() + old.interval)},
    )
    assert "Your password and current code are needed" in wrong_password.content.decode()
    wrong_code = client.post(
        "/account/second-factor/", {"code": new.now(), "password": "rawi-demo-editor", "current_code": "000000"}
    )
    assert "Your password and current code are needed" in wrong_code.content.decode()
    assert SecondFactor.objects.get(user=demo.user("editor")).secret_ciphertext == before

    replaced = client.post(
        "/account/second-factor/",
        {"code": new.now(), "password": "rawi-demo-editor", "current_code": old.at(time.time() + old.interval)},
    )
    assert replaced.status_code == 302
    assert SecondFactor.objects.get(user=demo.user("editor")).secret_ciphertext != before
    assert list(AuditEvent.objects.filter(action__startswith="totp_").values_list("action", flat=True)) == [
        "totp_enrol",
        "totp_replace",
    ]
    assert AuditEvent.objects.filter(action="login_failed", detail__stage="replace").count() == 1


def test_it_shows_a_qr_code_inline_without_loosening_the_csp(demo, client_as):
    response = client_as("researcher").get("/account/second-factor/")
    page = response.content.decode()
    qr = re.search(r'<div class="card" data-testid="totp-qr">(<svg .*?</svg>)</div>', page, flags=re.S)
    assert qr is not None and "<title>QR code of the key</title>" in qr.group(1)
    assert not re.search(r"\sstyle\s*=|<style|<script|\son[a-z]+\s*=", qr.group(1))
    assert _secret(page) in page  # the key is still there as text
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "unsafe-inline" not in policy


def test_it_requires_field_researchers_to_enrol_outside_the_demo(demo, settings):
    assert settings.RAWI_REQUIRE_TOTP is True
    client = Client()
    response = client.post(
        "/login/", {"username": "fieldresearcher", "password": "rawi-demo-field"}, REMOTE_ADDR="10.2.0.1"
    )
    assert response["Location"] == "/login/enrol/" and "_auth_user_id" not in client.session


def test_the_demo_turns_the_second_factor_off_and_says_so(monkeypatch, tmp_path):
    monkeypatch.delenv("RAWI_REQUIRE_TOTP", raising=False)
    monkeypatch.setenv("RAWI_DATA_DIR", str(tmp_path))
    env = runner._prepare_environment()
    assert env["RAWI_REQUIRE_TOTP"] == "false"
    assert runner.second_factor_notice(env).startswith(
        "Demo: a second factor is NOT required for staff and custodians (RAWI_REQUIRE_TOTP=false)"
    )
    assert runner.second_factor_notice({"RAWI_REQUIRE_TOTP": "true"}).startswith("A second factor is required")
