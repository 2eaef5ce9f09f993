"""PostgreSQL search rows of their own: `search_vec_<tier>`, one narrow row per document (interview, segment,
facet profile, language) whose tsvector, written by the application, is stored out of line; the
documents' generated vector (simple, english and arabic configurations of the body, and the pairs column) and
its GIN index go. Counting and grouping many matches then reads a table that fits in memory.

The search tables hold derived data: rows written before are not served (the index version in their stamps
is an earlier one) until `manage.py reindex` rebuilds them. SQLite is unchanged. Frozen as data: it imports
no application code.
"""

from django.db import migrations

POSTGRESQL_FORWARDS = ['DROP INDEX IF EXISTS search_doc_public_vec',
 'ALTER TABLE search_doc_public DROP COLUMN IF EXISTS vec, DROP COLUMN IF EXISTS pairs',
 'CREATE TABLE IF NOT EXISTS search_vec_public ( interview_id INTEGER NOT NULL, seg_index INTEGER NOT NULL, '
 'profile INTEGER NOT NULL, language TEXT NOT NULL, vec tsvector NOT NULL, filler TEXT NOT NULL DEFAULT '
 "repeat('-', 2048), PRIMARY KEY (interview_id, seg_index)) WITH (toast_tuple_target = 128)",
 'ALTER TABLE search_vec_public ALTER COLUMN vec SET STORAGE EXTERNAL, ALTER COLUMN filler SET STORAGE MAIN',
 'CREATE INDEX IF NOT EXISTS search_vec_public_vec ON search_vec_public USING GIN (vec)',
 'DROP INDEX IF EXISTS search_doc_researcher_vec',
 'ALTER TABLE search_doc_researcher DROP COLUMN IF EXISTS vec, DROP COLUMN IF EXISTS pairs',
 'CREATE TABLE IF NOT EXISTS search_vec_researcher ( interview_id INTEGER NOT NULL, seg_index INTEGER NOT NULL, '
 'profile INTEGER NOT NULL, language TEXT NOT NULL, vec tsvector NOT NULL, filler TEXT NOT NULL DEFAULT '
 "repeat('-', 2048), PRIMARY KEY (interview_id, seg_index)) WITH (toast_tuple_target = 128)",
 'ALTER TABLE search_vec_researcher ALTER COLUMN vec SET STORAGE EXTERNAL, ALTER COLUMN filler SET STORAGE MAIN',
 'CREATE INDEX IF NOT EXISTS search_vec_researcher_vec ON search_vec_researcher USING GIN (vec)',
 'DROP INDEX IF EXISTS search_doc_staff_vec',
 'ALTER TABLE search_doc_staff DROP COLUMN IF EXISTS vec, DROP COLUMN IF EXISTS pairs',
 'CREATE TABLE IF NOT EXISTS search_vec_staff ( interview_id INTEGER NOT NULL, seg_index INTEGER NOT NULL, '
 'profile INTEGER NOT NULL, language TEXT NOT NULL, vec tsvector NOT NULL, filler TEXT NOT NULL DEFAULT '
 "repeat('-', 2048), PRIMARY KEY (interview_id, seg_index)) WITH (toast_tuple_target = 128)",
 'ALTER TABLE search_vec_staff ALTER COLUMN vec SET STORAGE EXTERNAL, ALTER COLUMN filler SET STORAGE MAIN',
 'CREATE INDEX IF NOT EXISTS search_vec_staff_vec ON search_vec_staff USING GIN (vec)',
 'DROP INDEX IF EXISTS search_doc_custodian_vec',
 'ALTER TABLE search_doc_custodian DROP COLUMN IF EXISTS vec, DROP COLUMN IF EXISTS pairs',
 'CREATE TABLE IF NOT EXISTS search_vec_custodian ( interview_id INTEGER NOT NULL, seg_index INTEGER NOT NULL, '
 'profile INTEGER NOT NULL, language TEXT NOT NULL, vec tsvector NOT NULL, filler TEXT NOT NULL DEFAULT '
 "repeat('-', 2048), PRIMARY KEY (interview_id, seg_index)) WITH (toast_tuple_target = 128)",
 'ALTER TABLE search_vec_custodian ALTER COLUMN vec SET STORAGE EXTERNAL, ALTER COLUMN filler SET STORAGE MAIN',
 'CREATE INDEX IF NOT EXISTS search_vec_custodian_vec ON search_vec_custodian USING GIN (vec)']

POSTGRESQL_BACKWARDS = ['DROP TABLE IF EXISTS search_vec_public',
 "ALTER TABLE search_doc_public ADD COLUMN IF NOT EXISTS pairs TEXT NOT NULL DEFAULT ''",
 'ALTER TABLE search_doc_public ADD COLUMN IF NOT EXISTS vec tsvector GENERATED ALWAYS AS '
 "(to_tsvector('simple'::regconfig, body) || to_tsvector('english'::regconfig, body) || "
 "to_tsvector('arabic'::regconfig, body) || to_tsvector('simple'::regconfig, pairs)) STORED",
 'CREATE INDEX IF NOT EXISTS search_doc_public_vec ON search_doc_public USING GIN (vec)',
 'DROP TABLE IF EXISTS search_vec_researcher',
 "ALTER TABLE search_doc_researcher ADD COLUMN IF NOT EXISTS pairs TEXT NOT NULL DEFAULT ''",
 'ALTER TABLE search_doc_researcher ADD COLUMN IF NOT EXISTS vec tsvector GENERATED ALWAYS AS '
 "(to_tsvector('simple'::regconfig, body) || to_tsvector('english'::regconfig, body) || "
 "to_tsvector('arabic'::regconfig, body) || to_tsvector('simple'::regconfig, pairs)) STORED",
 'CREATE INDEX IF NOT EXISTS search_doc_researcher_vec ON search_doc_researcher USING GIN (vec)',
 'DROP TABLE IF EXISTS search_vec_staff',
 "ALTER TABLE search_doc_staff ADD COLUMN IF NOT EXISTS pairs TEXT NOT NULL DEFAULT ''",
 'ALTER TABLE search_doc_staff ADD COLUMN IF NOT EXISTS vec tsvector GENERATED ALWAYS AS '
 "(to_tsvector('simple'::regconfig, body) || to_tsvector('english'::regconfig, body) || "
 "to_tsvector('arabic'::regconfig, body) || to_tsvector('simple'::regconfig, pairs)) STORED",
 'CREATE INDEX IF NOT EXISTS search_doc_staff_vec ON search_doc_staff USING GIN (vec)',
 'DROP TABLE IF EXISTS search_vec_custodian',
 "ALTER TABLE search_doc_custodian ADD COLUMN IF NOT EXISTS pairs TEXT NOT NULL DEFAULT ''",
 'ALTER TABLE search_doc_custodian ADD COLUMN IF NOT EXISTS vec tsvector GENERATED ALWAYS AS '
 "(to_tsvector('simple'::regconfig, body) || to_tsvector('english'::regconfig, body) || "
 "to_tsvector('arabic'::regconfig, body) || to_tsvector('simple'::regconfig, pairs)) STORED",
 'CREATE INDEX IF NOT EXISTS search_doc_custodian_vec ON search_doc_custodian USING GIN (vec)']


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL_FORWARDS:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRESQL_BACKWARDS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("archive", "0009_message_dates")]

    operations = [migrations.RunPython(forwards, backwards)]
