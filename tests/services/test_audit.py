"""The append-only, hash-chained audit trail: verification, denial alerts, the custodian pages."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from archive import services
from archive.models import Alert, AuditEvent, Narrator

pytestmark = pytest.mark.django_db

MISSING = "00000000-0000-4000-8000-000000000000"


def _unmasked(body: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"csrf", body)


def test_it_verifies_an_intact_chain(demo):
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue() == f"Audit chain intact: {AuditEvent.objects.count()} events (no checkpoint yet).\n"


def test_it_refuses_a_raw_update_of_an_audit_row(demo):
    event = AuditEvent.objects.order_by("id")[3]
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE archive_auditevent SET action = 'nothing' WHERE id = %s", [event.pk])
    with pytest.raises(RuntimeError):
        event.save()


def test_it_names_the_first_event_edited_directly_in_the_database(demo):
    event = AuditEvent.objects.order_by("id")[5]
    with connection.cursor() as cursor:
        # Play the attacker who owns the database: the trigger goes first, then the row is edited.
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER archive_auditevent_no_update ON archive_auditevent")
        else:
            cursor.execute("DROP TRIGGER archive_auditevent_no_update")
        cursor.execute("UPDATE archive_auditevent SET target_id = %s WHERE id = %s", ["someone-else", event.pk])
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    assert str(failure.value) == f"Audit chain broken at event {event.pk} ({event.action})."


def test_it_notices_a_deleted_event(demo):
    event = AuditEvent.objects.order_by("id")[2]
    following = AuditEvent.objects.filter(id__gt=event.pk).order_by("id").first()
    with connection.cursor() as cursor:
        # The delete guard goes first (an attacker who owns the database), then the row.
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER archive_auditevent_no_update ON archive_auditevent")
            cursor.execute("DROP TRIGGER archive_auditevent_no_delete ON archive_auditevent")
        else:
            cursor.execute("DROP TRIGGER archive_auditevent_no_delete")
        cursor.execute("DELETE FROM archive_auditevent WHERE id = %s", [event.pk])
    ok, broken = services.audit_verify()
    assert (ok, broken.pk) == (False, following.pk)


def test_it_logs_denied_access_to_an_existing_interview_without_telling(demo, client_as):
    sealed = demo.interview("sealed-committee")
    researcher = client_as("researcher")
    hidden = researcher.get(f"/interviews/{sealed.public_id}/")
    missing = researcher.get(f"/interviews/{MISSING}/")
    assert hidden.status_code == missing.status_code == 404
    # Equal but for the per-response masking of the CSRF token in the sign-out form.
    assert _unmasked(hidden.content) == _unmasked(missing.content)
    api_hidden = researcher.get(f"/api/v1/interviews/{sealed.public_id}/")
    assert api_hidden.status_code == 404 and api_hidden.json() == {"detail": "Not found."}
    denied = AuditEvent.objects.filter(action="access_denied")
    # A missing id is an event too (probing is an attempt, and equal work keeps timing equal).
    assert list(denied.values_list("actor_label", "target_id", "tier", "detail")) == [
        ("researcher", str(sealed.public_id), "researcher", {"found": True}),
        ("researcher", MISSING, "", {"found": False}),
        ("researcher", str(sealed.public_id), "researcher", {"found": True}),
    ]
    # Signed-out probes are not events (no account to alert on).
    client_as(None).get(f"/interviews/{sealed.public_id}/")
    assert denied.count() == 3


def test_it_alerts_custodians_when_one_account_is_denied_repeatedly(demo, client_as):
    sealed = demo.interview("sealed-committee")
    embargoed = demo.interview("whatsapp-embargoed")
    researcher = client_as("researcher")
    for url in [f"/interviews/{sealed.public_id}/", f"/api/v1/interviews/{embargoed.public_id}/"] * 2:
        researcher.get(url)
    assert not Alert.objects.filter(kind="repeated_denials").exists()
    researcher.get(f"/api/v1/interviews/{sealed.public_id}/export?format=txt")
    alert = Alert.objects.get(kind="repeated_denials")
    assert alert.target_id == str(demo.user("researcher").pk)
    page = client_as("custodian").get("/audit/alerts/")
    assert page.status_code == 200
    assert page.content.decode().count('data-kind="repeated_denials"') == 1
    for who in (None, "researcher", "editor", "archivist"):
        assert client_as(who).get("/audit/alerts/").status_code == 404
    resolve = client_as("custodian").post(f"/audit/alerts/{alert.pk}/resolve/")
    assert resolve.status_code == 302
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_it_lets_custodians_filter_the_trail(demo, client_as):
    custodian = client_as("custodian")
    narrator = Narrator.objects.get(pseudonym="Resident B")
    services.narrator_identity(narrator=narrator, actor=demo.user("custodian"), reason="court order")
    page = custodian.get("/audit/", {"action": "identity_reveal", "actor": "custodian"})
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="audit-count">1 event<' in body
    assert f"narrator {narrator.public_id}" in body
    assert "Rima" not in body and "court order" not in body
    assert AuditEvent.objects.filter(action="audit_view", actor_label="custodian").count() == 1
    for who in (None, "researcher", "editor", "archivist", "fieldresearcher"):
        assert client_as(who).get("/audit/").status_code == 404


def test_it_audits_views_above_public_searches_and_exports(demo, client_as):
    interview = demo.interview("skype-photographer")
    researcher = client_as("researcher")
    before = AuditEvent.objects.count()
    assert researcher.get(f"/interviews/{interview.public_id}/").status_code == 200
    assert researcher.get(f"/api/v1/interviews/{interview.public_id}/").status_code == 200
    assert researcher.get(f"/api/v1/interviews/{interview.public_id}/export?format=txt").status_code == 200
    researcher.get("/search/", {"q": "Homs"})
    client_as(None).get(f"/interviews/{interview.public_id}/")  # public views are not events
    new = list(AuditEvent.objects.filter(id__gt=0).order_by("id")[before:].values_list("action", "actor_label"))
    actions = [action for action, _who in new]
    assert actions.count("view") == 2
    assert "search" in actions
    assert any(action.startswith("export") for action in actions)
    assert {who for _action, who in new} == {"researcher"}
    ok, broken = services.audit_verify()
    assert ok and broken is None
