"""Make the audit trail append-only in the database itself, not only in the ORM.

* UPDATE on archive_auditevent is refused by a trigger on SQLite and PostgreSQL.
* DELETE is refused by a trigger on PostgreSQL only: there Django's flush uses TRUNCATE, which row
  triggers do not see. SQLite's flush is a plain DELETE, so a DELETE trigger would break test and
  `flush` tear-down; on SQLite the ORM guard (AuditEvent.delete raises) and the hash chain stand in.

A database owner can still drop these triggers; that is what the hash chain and
`manage.py audit_verify` are for (the acceptance test drops the trigger to play that attacker).
Deleting a user who has audit events now fails (their id is part of the hashed events): deactivate.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE TRIGGER IF NOT EXISTS archive_auditevent_no_update BEFORE UPDATE ON archive_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS archive_auditevent_no_update;"]
POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION archive_auditevent_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql;""",
    """DROP TRIGGER IF EXISTS archive_auditevent_no_update ON archive_auditevent;""",
    """CREATE TRIGGER archive_auditevent_no_update BEFORE UPDATE OR DELETE ON archive_auditevent
    FOR EACH ROW EXECUTE FUNCTION archive_auditevent_append_only();""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS archive_auditevent_no_update ON archive_auditevent;",
    "DROP FUNCTION IF EXISTS archive_auditevent_append_only();",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
