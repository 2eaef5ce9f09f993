"""Search tables, second layout: contentless FTS5 with the common-word pair column, rowids carrying
(interview, language, segment), facet profiles, per-tier version.

A database created with the first layout of 0002_search is upgraded here: the search tables are dropped
and made again, empty (search documents are derived data: `manage.py reindex`, which `make run` runs at
start and deploys run after migrating, fills them from the renderings). On a database whose 0002 already
made the second layout this does nothing. Frozen as data: it imports no application code.
"""

import importlib

from django.db import migrations

TIERS = ("public", "researcher", "staff", "custodian")
layout = importlib.import_module("archive.migrations.0002_search")


def _old_layout(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM pragma_table_info('search_meta') WHERE name = 'profile'")
        else:
            cursor.execute(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'search_doc_public' AND column_name = 'pairs'"
            )
        return cursor.fetchone()[0] == 0


def forwards(apps, schema_editor):
    if not _old_layout(schema_editor):
        return
    vendor = schema_editor.connection.vendor
    for statement in layout.SQLITE_DROP if vendor == "sqlite" else layout.POSTGRESQL_DROP:
        schema_editor.execute(statement)
    if vendor == "sqlite":
        for tier in TIERS:  # the first layout also had these, not all dropped above
            schema_editor.execute(f"DROP TABLE IF EXISTS search_fts_{tier}")
    for statement in layout.SQLITE_CREATE if vendor == "sqlite" else layout.POSTGRESQL_CREATE:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("archive", "0002_search"), ("archive", "0003_audit_triggers")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
