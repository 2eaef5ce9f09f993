"""Search tables, one set per tier (archive/search.py): FTS5 on SQLite, tsvector + GIN on PostgreSQL.

Owned by the search work (issue 5). `make migrations` regenerates 0001_initial only; keep this file.
"""

from pathlib import Path

from django.db import migrations


def forwards(apps, schema_editor):
    from archive.search import schema_statements

    for statement in schema_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    from archive.search import drop_statements

    for statement in drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]
    # Keep one leaf: the audit-trigger migration (0003) was written against 0001 as well.
    run_before = (
        [("archive", "0003_audit_triggers")] if Path(__file__).with_name("0003_audit_triggers.py").exists() else []
    )

    operations = [migrations.RunPython(forwards, backwards)]
