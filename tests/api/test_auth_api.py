"""One door in: the API token endpoint asks for the same password, second factor, lockout and throttle
as the web sign-in, audits every issue and failure, and issues hashed, expiring, revocable tokens."""

from __future__ import annotations

import importlib
import re
import time
from datetime import timedelta

import pyotp
import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken

from archive.accounts import client_ip
from archive.models import AuditEvent, SecondFactor

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # DRF's rate throttle counts in the cache, which outlives each test's rollback
    yield
    cache.clear()


def _enrol(client: Client) -> pyotp.TOTP:
    page = client.get("/account/second-factor/").content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    totp = pyotp.TOTP(secret)
    assert client.post("/account/second-factor/", {"code": totp.now()}).status_code == 302
    return totp


def _post(data: dict, ip: str = "10.1.0.1", **headers):
    return Client().post(TOKEN_URL, data, REMOTE_ADDR=ip, **headers)


def _next_code(totp: pyotp.TOTP) -> str:
    # The enrolment used this step's code; the next step's is within the drift window.
    return totp.at(time.time() + totp.interval)


# The second factor ----------------------------------------------------------------------------------


def test_it_asks_an_enrolled_account_for_its_code_before_a_token(demo, client_as):
    totp = _enrol(client_as("editor"))
    without = _post({"username": "editor", "password": "rawi-demo-editor"})
    assert without.status_code == 400
    assert without.json() == {
        "detail": "This account has a second factor: send its current code as `code`.",
        "second_factor": "required",
    }
    wrong = _post({"username": "editor", "password": "rawi-demo-editor", "code": "000000"})
    assert (wrong.status_code, wrong.json()["detail"]) == (400, "That code is not valid.")
    assert AuthToken.objects.filter(user=demo.user("editor")).count() == 0

    good = _post({"username": "editor", "password": "rawi-demo-editor", "code": _next_code(totp)})
    assert good.status_code == 200
    token = good.json()["token"]
    listed = Client().get("/api/v1/auth/tokens/", HTTP_AUTHORIZATION=f"Token {token}")
    assert listed.status_code == 200 and [row["current"] for row in listed.json()] == [True]


def test_it_refuses_a_token_to_staff_without_a_second_factor_by_default(demo, settings):
    assert settings.RAWI_REQUIRE_TOTP is True  # the default, outside the demo
    for username, password in (
        ("archivist", "rawi-demo-archivist"),
        ("fieldresearcher", "rawi-demo-field"),
        ("custodian", "rawi-demo-custodian"),
    ):
        response = _post({"username": username, "password": password})
        assert response.status_code == 403, username
        assert response.json()["second_factor"] == "enrol"
    assert AuthToken.objects.count() == 0
    # A reader who cannot reach staff tier needs none.
    assert _post({"username": "researcher", "password": "rawi-demo-researcher"}).status_code == 200


def test_it_never_lets_enrolment_stand_in_for_the_code_on_the_web(demo, client_as):
    _enrol(client_as("editor"))
    client = Client()
    client.post("/login/", {"username": "editor", "password": "rawi-demo-editor"}, REMOTE_ADDR="10.1.0.9")
    # A password alone must not reach the enrolment step of an account that already has a factor.
    response = client.get("/login/enrol/")
    assert response.status_code == 302 and response["Location"] == "/login/verify/"
    assert client.post("/login/enrol/", {"code": "123456"}).status_code == 302
    assert "_auth_user_id" not in client.session


# Lockout and throttle -------------------------------------------------------------------------------


def test_it_locks_the_api_out_like_the_web_and_says_for_how_long(demo):
    for number in range(5):
        response = _post(
            {"username": "custodian", "password": "wrong-password"}, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}"
        )
    assert response.status_code == 429
    assert response.json() == {"detail": "Too many failed attempts. Try again in 15 minutes."}
    assert int(response["Retry-After"]) in range(890, 901)
    # The right password is not even checked now, on the API or on the web, from this address.
    locked = _post({"username": "custodian", "password": "rawi-demo-custodian"})
    assert locked.status_code == 429
    web = Client().post("/login/", {"username": "custodian", "password": "rawi-demo-custodian"}, REMOTE_ADDR="10.1.0.1")
    assert web.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in web.content.decode()
    assert AuditEvent.objects.filter(action="login_locked").count() == 1


def test_it_does_not_let_x_forwarded_for_reset_the_rate_throttle(demo):
    statuses = []
    for number in range(11):
        # A new name each time stays under the per-account lockout; only the rate throttle can answer.
        response = _post(
            {"username": f"guess-{number}", "password": "wrong-password"}, HTTP_X_FORWARDED_FOR=f"198.51.100.{number}"
        )
        statuses.append(response.status_code)
    assert statuses == [400] * 10 + [429]
    assert "throttled" in response.json()["detail"]


def test_it_takes_the_client_address_from_the_configured_number_of_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.4")
    assert client_ip(request) == "10.0.0.5"
    settings.RAWI_TRUSTED_PROXIES = 1
    assert client_ip(request) == "10.0.0.4"
    settings.RAWI_TRUSTED_PROXIES = 2
    assert client_ip(request) == "203.0.113.9"
    garbage = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_ip(garbage) == "10.0.0.5"
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # DRF's own throttles never read the header


# Audit ----------------------------------------------------------------------------------------------


def test_it_audits_every_failure_and_every_token_issued(demo):
    _post({"username": "researcher", "password": "wrong-password"})
    _post({"username": "nobody-at-all", "password": "wrong-password"})
    issued = _post({"username": "researcher", "password": "rawi-demo-researcher"})
    failures = AuditEvent.objects.filter(action="login_failed").order_by("id")
    assert [(e.target_id, e.detail) for e in failures] == [
        (str(demo.user("researcher").pk), {"stage": "password", "via": "api", "known_account": True}),
        ("", {"stage": "password", "via": "api", "known_account": False}),
    ]
    event = AuditEvent.objects.get(action="token_issue")
    assert (event.actor_label, event.detail["token"], event.detail["via"]) == (
        "researcher",
        issued.json()["id"],
        "api",
    )
    assert "nobody-at-all" not in str(list(AuditEvent.objects.values_list("detail", "target_id")))


# Tokens ---------------------------------------------------------------------------------------------


def test_it_stores_only_a_digest_and_the_token_expires(demo, settings):
    response = _post({"username": "researcher", "password": "rawi-demo-researcher"})
    token = response.json()["token"]
    row = AuthToken.objects.get(user=demo.user("researcher"))
    assert row.digest == hash_token(token) and token not in (row.digest, row.token_key)
    assert timedelta(hours=9, minutes=59) < row.expiry - timezone.now() <= timedelta(hours=10)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert Client().get("/api/v1/auth/tokens/", **auth).status_code == 200
    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert Client().get("/api/v1/auth/tokens/", **auth).status_code == 401


def test_it_lets_the_owner_list_and_revoke_their_tokens(demo):
    first = _post({"username": "researcher", "password": "rawi-demo-researcher"}).json()
    second = _post({"username": "researcher", "password": "rawi-demo-researcher"}).json()
    auth = {"HTTP_AUTHORIZATION": f"Token {second['token']}"}
    listed = Client().get("/api/v1/auth/tokens/", **auth).json()
    assert sorted((row["id"], row["current"]) for row in listed) == sorted([(first["id"], False), (second["id"], True)])
    assert set(listed[0]) == {"id", "created", "expiry", "current"}
    assert Client().delete(f"/api/v1/auth/tokens/{first['id']}/", **auth).status_code == 204
    assert Client().get("/api/v1/auth/tokens/", HTTP_AUTHORIZATION=f"Token {first['token']}").status_code == 401
    # Someone else's token id is not found, like a missing one.
    other = AuthToken.objects.create(user=demo.user("editor"))[0]
    assert Client().delete(f"/api/v1/auth/tokens/{other.token_key}/", **auth).status_code == 404
    assert AuthToken.objects.filter(pk=other.pk).exists()
    event = AuditEvent.objects.get(action="token_revoke")
    assert (event.actor_label, event.detail, event.tier) == ("researcher", {"token": first["id"]}, "")


def test_it_lets_a_custodian_list_and_revoke_anothers_tokens(demo, client_as):
    issued = _post({"username": "researcher", "password": "rawi-demo-researcher"}).json()
    custodian = client_as("custodian")
    listed = custodian.get("/api/v1/users/researcher/tokens/")
    assert listed.status_code == 200 and [row["id"] for row in listed.json()] == [issued["id"]]
    assert custodian.delete(f"/api/v1/users/researcher/tokens/{issued['id']}/").status_code == 204
    assert Client().get("/api/v1/auth/tokens/", HTTP_AUTHORIZATION=f"Token {issued['token']}").status_code == 401
    event = AuditEvent.objects.get(action="token_revoke")
    assert (event.actor_label, event.target_id, event.tier) == (
        "custodian",
        str(demo.user("researcher").pk),
        "custodian",
    )
    # An editor is not a custodian: the same 404 as for an account that does not exist.
    editor = client_as("editor")
    assert editor.get("/api/v1/users/researcher/tokens/").status_code == 404
    assert editor.get("/api/v1/users/no-such-user/tokens/").status_code == 404


def test_it_drops_the_plain_text_tokens_of_earlier_releases(demo, settings):
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS
    migration = importlib.import_module("archive.migrations.0007_accounts")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, created date)")
        cursor.execute(
            "INSERT INTO authtoken_token VALUES ('0123456789abcdef0123456789abcdef01234567', 1, '2025-01-01')"
        )

    class Editor:
        def __init__(self):
            self.connection = connection

        def execute(self, sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)

    migration.drop_plain_tokens(None, Editor())
    assert "authtoken_token" not in connection.introspection.table_names()
    old = Client().get("/api/v1/auth/tokens/", HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert old.status_code == 401


# A custodian resets a second factor -----------------------------------------------------------------


def test_it_lets_a_custodian_reset_a_second_factor_and_the_user_enrols_again(demo, client_as, settings):
    settings.RAWI_REQUIRE_TOTP = False  # even in the demo, a reset account must enrol again
    _enrol(client_as("editor"))
    token = AuthToken.objects.create(user=demo.user("editor"))[1]
    assert client_as("editor").delete("/api/v1/users/custodian/second-factor/").status_code == 404
    assert client_as("custodian").delete("/api/v1/users/editor/second-factor/").status_code == 204
    factor = SecondFactor.objects.get(user=demo.user("editor"))
    assert factor.confirmed_at is None
    assert Client().get("/api/v1/auth/tokens/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 401
    event = AuditEvent.objects.get(action="totp_reset")
    assert (event.actor_label, event.target_id, event.tier, event.detail) == (
        "custodian",
        str(demo.user("editor").pk),
        "custodian",
        {"tokens_revoked": 1},
    )
    client = Client()
    response = client.post("/login/", {"username": "editor", "password": "rawi-demo-editor"}, REMOTE_ADDR="10.1.0.7")
    assert response["Location"] == "/login/enrol/"
    assert _post({"username": "editor", "password": "rawi-demo-editor"}).status_code == 403
