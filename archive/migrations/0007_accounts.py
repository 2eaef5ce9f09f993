"""Accounts and a trail that cannot be trimmed.

* API tokens move to django-rest-knox (hashed, expiring). DRF's old plain-text token table goes: the
  tokens it held stop working on upgrade (the app is no longer installed; its table is dropped here).
* DELETE on archive_auditevent is refused by a trigger on SQLite as on PostgreSQL, and on PostgreSQL
  TRUNCATE too. Django's `flush` (tests, a deliberate wipe) lifts them for its own duration
  (archive/management/commands/flush.py); the signed checkpoints outside the database tell any other
  removal.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE TRIGGER IF NOT EXISTS archive_auditevent_no_delete BEFORE DELETE ON archive_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS archive_auditevent_no_delete;"]
POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION archive_auditevent_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql;""",
    "DROP TRIGGER IF EXISTS archive_auditevent_no_delete ON archive_auditevent;",
    """CREATE TRIGGER archive_auditevent_no_delete BEFORE DELETE ON archive_auditevent
    FOR EACH ROW EXECUTE FUNCTION archive_auditevent_append_only();""",
    "DROP TRIGGER IF EXISTS archive_auditevent_no_truncate ON archive_auditevent;",
    """CREATE TRIGGER archive_auditevent_no_truncate BEFORE TRUNCATE ON archive_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION archive_auditevent_append_only();""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS archive_auditevent_no_delete ON archive_auditevent;",
    "DROP TRIGGER IF EXISTS archive_auditevent_no_truncate ON archive_auditevent;",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def drop_plain_tokens(apps, schema_editor):
    """Tokens from rest_framework.authtoken were stored in clear and never expired: drop them all."""
    connection = schema_editor.connection
    if "authtoken_token" in connection.introspection.table_names():
        schema_editor.execute("DROP TABLE authtoken_token")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("archive", "0006_lifecycle")]

    operations = [
        migrations.RunPython(drop_plain_tokens, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
