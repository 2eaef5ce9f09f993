"""A trail that cannot be trimmed: DELETE is refused by the database, and signed checkpoints outside it
show any events removed after them."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from archive import services, tasks
from archive.models import AuditEvent
from archive.services.audit import audit_checkpoint, audit_checkpoints

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _drop_guards() -> None:
    """Play the attacker who owns the database: every trigger on the audit table goes."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in ("no_update", "no_delete", "no_truncate"):
                cursor.execute(f"DROP TRIGGER IF EXISTS archive_auditevent_{name} ON archive_auditevent")
        else:
            for name in ("no_update", "no_delete"):
                cursor.execute(f"DROP TRIGGER IF EXISTS archive_auditevent_{name}")


def _lines(settings) -> list[dict]:
    return [json.loads(line) for line in settings.RAWI_AUDIT_CHECKPOINT_FILE.read_text().splitlines()]


def test_it_refuses_a_raw_delete_of_an_audit_row(demo):
    newest = AuditEvent.objects.order_by("-id").first()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM archive_auditevent WHERE id = %s", [newest.pk])
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE archive_auditevent")
    assert AuditEvent.objects.filter(pk=newest.pk).exists()


def test_it_fails_verification_when_the_newest_events_are_deleted(demo):
    point = audit_checkpoint()
    kept = AuditEvent.objects.order_by("-id").values_list("id", flat=True)[3]
    assert call_command("audit_verify", stdout=io.StringIO()) is None
    _drop_guards()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM archive_auditevent WHERE id > %s", [kept])
    # The chain alone still looks whole: it is intact from its start up to the new, earlier head.
    assert services.audit_verify() == (True, None)
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    assert str(failure.value) == (
        f"Audit trail trimmed: the checkpoint of {point.at} counts {point.count} events up to event "
        f"{point.head_id}; 3 of them are missing (the newest event left is {kept})."
    )


def test_it_verifies_against_the_newest_checkpoint_with_events_after_it(demo):
    point = audit_checkpoint()
    services.audit_log(action="later_event")
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue() == (
        f"Audit chain intact: {point.count + 1} events; the checkpoint of {point.at} "
        f"({point.count} events up to event {point.head_id}) matches.\n"
    )


def test_it_rejects_a_checkpoint_that_was_edited(demo, settings):
    audit_checkpoint()
    path = settings.RAWI_AUDIT_CHECKPOINT_FILE
    line = json.loads(path.read_text())
    line["count"] -= 3  # an attacker who trimmed three events and then "fixed" the anchor
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    assert str(failure.value) == "Audit checkpoint line 1 has an invalid signature."


def test_it_signs_with_a_key_kept_outside_the_database(demo, settings):
    point = audit_checkpoint()
    key_file = django_settings.KEYS_DIR / "audit-checkpoint.key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    [line] = _lines(settings)
    assert set(line) == {"head_id", "head_hash", "count", "at", "mac"}
    assert (line["head_id"], line["count"]) == (point.head_id, AuditEvent.objects.count())
    assert oct(settings.RAWI_AUDIT_CHECKPOINT_FILE.stat().st_mode & 0o777) == "0o600"


def test_it_writes_a_checkpoint_to_the_file_and_the_log_after_a_custodian_action(
    demo, settings, django_capture_on_commit_callbacks, caplog
):
    with caplog.at_level(logging.INFO, logger="archive.services.audit"):
        with django_capture_on_commit_callbacks(execute=True):
            services.audit_log(action="ordinary_view", tier="researcher")
        assert not settings.RAWI_AUDIT_CHECKPOINT_FILE.exists()
        with django_capture_on_commit_callbacks(execute=True):
            services.narrator_identity(
                actor=demo.user("custodian"), narrator=demo.interview("sealed-committee").narrators.get()
            )
    [line] = _lines(settings)
    newest = AuditEvent.objects.order_by("-id").first()
    assert (line["head_id"], line["head_hash"], line["count"]) == (newest.pk, newest.hash, AuditEvent.objects.count())
    assert [r.getMessage() for r in caplog.records] == [
        "audit checkpoint " + settings.RAWI_AUDIT_CHECKPOINT_FILE.read_text().strip()
    ]


def test_it_does_not_anchor_an_event_that_was_rolled_back(demo, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.audit_log(action="reveal", tier="custodian")
                raise RuntimeError("the outer write failed")
        except RuntimeError:
            pass
    assert callbacks == [] and not settings.RAWI_AUDIT_CHECKPOINT_FILE.exists()


def test_it_writes_a_checkpoint_every_hour(demo, settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert schedule == {"task": "archive.tasks.audit_checkpoint", "schedule": 3600.0}
    tasks.audit_checkpoint()
    tasks.audit_checkpoint()
    assert [line["count"] for line in _lines(settings)] == [AuditEvent.objects.count()] * 2
    assert len(audit_checkpoints()) == 2


@pytest.mark.django_db(transaction=True)
def test_it_puts_the_delete_guard_back_after_a_flush(demo):
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    services.audit_log(action="after_flush")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM archive_auditevent")
    assert AuditEvent.objects.count() == 1
