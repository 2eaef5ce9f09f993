"""Property-based fuzzing of the REST API from its own OpenAPI schema (schemathesis, bounded).

Every operation gets up to 20 generated requests, signed out and signed in (a researcher's token and a
custodian's): no response may be a 5xx, and every documented response must match the schema. Status
codes the schema does not list (404 for ids the caller may not see) are expected and not checked.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, assume, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# The token endpoint is throttled (10/min) and takes passwords: fuzzing it only exercises the throttle.
SKIP_PATHS = {"/api/v1/auth/token/"}
FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


@pytest.fixture
def api_schema(demo):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def tokens(demo):
    return {who: AuthToken.objects.create(user=demo.user(who))[1] for who in ("researcher", "custodian")}


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_it_never_fails_or_breaks_its_schema(case, tokens):
    if case.path in SKIP_PATHS:
        pytest.skip("throttled credential endpoint")
    # A form body must be a mapping: the WSGI transport cannot even send a generated list as a form
    # (a client-side limitation, not the server's), so those examples are discarded.
    assume(not (case.media_type in FORM_TYPES and not isinstance(case.body, dict)))
    case.call_and_validate(checks=CHECKS)
    for key in tokens.values():
        case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Token {key}"})
