"""The database triggers that keep archive_auditevent append-only (migrations 0003 and 0007 install
them), as statements `flush` can lift and put back: a flush empties every table, the audit trail too."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

_FUNCTION = """CREATE OR REPLACE FUNCTION archive_auditevent_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql;"""

INSTALL = {
    "sqlite": [
        """CREATE TRIGGER IF NOT EXISTS archive_auditevent_no_delete BEFORE DELETE ON archive_auditevent
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;""",
    ],
    "postgresql": [
        _FUNCTION,
        "DROP TRIGGER IF EXISTS archive_auditevent_no_delete ON archive_auditevent;",
        """CREATE TRIGGER archive_auditevent_no_delete BEFORE DELETE ON archive_auditevent
        FOR EACH ROW EXECUTE FUNCTION archive_auditevent_append_only();""",
        "DROP TRIGGER IF EXISTS archive_auditevent_no_truncate ON archive_auditevent;",
        """CREATE TRIGGER archive_auditevent_no_truncate BEFORE TRUNCATE ON archive_auditevent
        FOR EACH STATEMENT EXECUTE FUNCTION archive_auditevent_append_only();""",
    ],
}
REMOVE = {
    "sqlite": ["DROP TRIGGER IF EXISTS archive_auditevent_no_delete;"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS archive_auditevent_no_delete ON archive_auditevent;",
        "DROP TRIGGER IF EXISTS archive_auditevent_no_truncate ON archive_auditevent;",
    ],
}


def _table_exists(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        return "archive_auditevent" in connection.introspection.table_names(cursor)


def guard_remove(connection: BaseDatabaseWrapper) -> bool:
    """Drop the delete guards; True when there were tables to guard (so they go back afterwards)."""
    if not _table_exists(connection):
        return False
    with connection.cursor() as cursor:
        for statement in REMOVE.get(connection.vendor, []):
            cursor.execute(statement)
    return True


def guard_install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in INSTALL.get(connection.vendor, []):
            cursor.execute(statement)
