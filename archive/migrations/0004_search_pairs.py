"""Search tables, second layout (issue 5, archive/search.py): contentless FTS5 with the common-word pair
column, rowids carrying (interview, language, segment), facet profiles, per-tier version.

A database created with the first layout of 0002_search is upgraded here: the search tables are dropped,
made again and refilled from the stored renderings (search documents are derived data). On a database
whose 0002 already made the second layout this does nothing.
"""

from django.db import migrations


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
    from archive import search

    if not _old_layout(schema_editor):
        return
    vendor = schema_editor.connection.vendor
    for statement in search.drop_statements(vendor):
        schema_editor.execute(statement)
    if vendor == "sqlite":
        for tier in search.TIERS:  # the first layout also had these, not all dropped by drop_statements
            schema_editor.execute(f"DROP TABLE IF EXISTS {search.fts_table(tier)}")
    for statement in search.schema_statements(vendor):
        schema_editor.execute(statement)
    if apps.get_model("archive", "Interview").objects.exists():
        search.reindex(rebuild_stale=False)


class Migration(migrations.Migration):
    dependencies = [("archive", "0002_search"), ("archive", "0003_audit_triggers")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
