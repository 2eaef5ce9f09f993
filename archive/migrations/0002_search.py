"""Search tables, one set per tier: FTS5 on SQLite, tsvector + GIN on PostgreSQL.

Frozen as data: the statements below are the search schema as this migration made it, whatever the search
code says today (a later layout gets a migration of its own).
"""

from pathlib import Path

from django.db import migrations

SQLITE_CREATE = ['CREATE TABLE IF NOT EXISTS search_doc_public ( id INTEGER PRIMARY KEY, interview_id INTEGER NOT NULL, seg_index '
 'INTEGER NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, language TEXT NOT NULL, speaker TEXT NOT NULL, text '
 'TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL)',
 'CREATE INDEX IF NOT EXISTS search_doc_public_interview ON search_doc_public (interview_id, seg_index)',
 "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_public USING fts5( body, bi, content='', tokenize='unicode61 "
 "remove_diacritics 2')",
 'CREATE TABLE IF NOT EXISTS search_doc_researcher ( id INTEGER PRIMARY KEY, interview_id INTEGER NOT NULL, '
 'seg_index INTEGER NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, language TEXT NOT NULL, speaker TEXT NOT '
 'NULL, text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL)',
 'CREATE INDEX IF NOT EXISTS search_doc_researcher_interview ON search_doc_researcher (interview_id, seg_index)',
 "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_researcher USING fts5( body, bi, content='', tokenize='unicode61 "
 "remove_diacritics 2')",
 'CREATE TABLE IF NOT EXISTS search_doc_staff ( id INTEGER PRIMARY KEY, interview_id INTEGER NOT NULL, seg_index '
 'INTEGER NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, language TEXT NOT NULL, speaker TEXT NOT NULL, text '
 'TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL)',
 'CREATE INDEX IF NOT EXISTS search_doc_staff_interview ON search_doc_staff (interview_id, seg_index)',
 "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_staff USING fts5( body, bi, content='', tokenize='unicode61 "
 "remove_diacritics 2')",
 'CREATE TABLE IF NOT EXISTS search_doc_custodian ( id INTEGER PRIMARY KEY, interview_id INTEGER NOT NULL, '
 'seg_index INTEGER NOT NULL, start REAL NOT NULL, "end" REAL NOT NULL, language TEXT NOT NULL, speaker TEXT NOT '
 'NULL, text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL)',
 'CREATE INDEX IF NOT EXISTS search_doc_custodian_interview ON search_doc_custodian (interview_id, seg_index)',
 "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_custodian USING fts5( body, bi, content='', tokenize='unicode61 "
 "remove_diacritics 2')",
 'CREATE TABLE IF NOT EXISTS search_meta ( tier TEXT NOT NULL, interview_id INTEGER NOT NULL, policy TEXT NOT '
 'NULL, public_id TEXT NOT NULL, meta TEXT NOT NULL, docs INTEGER NOT NULL, toks INTEGER NOT NULL, profile BIGINT '
 'NOT NULL, PRIMARY KEY (tier, interview_id))',
 'CREATE TABLE IF NOT EXISTS search_lang (code INTEGER PRIMARY KEY, language TEXT NOT NULL UNIQUE)',
 'CREATE TABLE IF NOT EXISTS search_profile (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)',
 'CREATE INDEX IF NOT EXISTS search_meta_scope ON search_meta (tier, interview_id, policy, docs, toks, profile)',
 'CREATE TABLE IF NOT EXISTS search_version (tier TEXT PRIMARY KEY, version BIGINT NOT NULL)',
 "INSERT INTO search_version (tier, version) VALUES ('public', 0) ON CONFLICT (tier) DO NOTHING",
 "INSERT INTO search_version (tier, version) VALUES ('researcher', 0) ON CONFLICT (tier) DO NOTHING",
 "INSERT INTO search_version (tier, version) VALUES ('staff', 0) ON CONFLICT (tier) DO NOTHING",
 "INSERT INTO search_version (tier, version) VALUES ('custodian', 0) ON CONFLICT (tier) DO NOTHING"]

SQLITE_DROP = ['DROP TABLE IF EXISTS search_meta',
 'DROP TABLE IF EXISTS search_version',
 'DROP TABLE IF EXISTS search_profile',
 'DROP TABLE IF EXISTS search_lang',
 'DROP TABLE IF EXISTS search_fts_public',
 'DROP TABLE IF EXISTS search_doc_public',
 'DROP TABLE IF EXISTS search_fts_researcher',
 'DROP TABLE IF EXISTS search_doc_researcher',
 'DROP TABLE IF EXISTS search_fts_staff',
 'DROP TABLE IF EXISTS search_doc_staff',
 'DROP TABLE IF EXISTS search_fts_custodian',
 'DROP TABLE IF EXISTS search_doc_custodian']

POSTGRESQL_CREATE = ['CREATE TABLE IF NOT EXISTS search_doc_public ( id BIGSERIAL PRIMARY KEY, interview_id BIGINT NOT NULL, '
 'seg_index INTEGER NOT NULL, start DOUBLE PRECISION NOT NULL, "end" DOUBLE PRECISION NOT NULL, language TEXT NOT '
 'NULL, speaker TEXT NOT NULL, text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL, pairs TEXT NOT NULL '
 "DEFAULT '', vec tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body) || "
 "to_tsvector('english'::regconfig, body) || to_tsvector('arabic'::regconfig, body) || "
 "to_tsvector('simple'::regconfig, pairs)) STORED)",
 'CREATE INDEX IF NOT EXISTS search_doc_public_interview ON search_doc_public (interview_id, seg_index)',
 'CREATE INDEX IF NOT EXISTS search_doc_public_vec ON search_doc_public USING GIN (vec)',
 'CREATE TABLE IF NOT EXISTS search_doc_researcher ( id BIGSERIAL PRIMARY KEY, interview_id BIGINT NOT NULL, '
 'seg_index INTEGER NOT NULL, start DOUBLE PRECISION NOT NULL, "end" DOUBLE PRECISION NOT NULL, language TEXT NOT '
 'NULL, speaker TEXT NOT NULL, text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL, pairs TEXT NOT NULL '
 "DEFAULT '', vec tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body) || "
 "to_tsvector('english'::regconfig, body) || to_tsvector('arabic'::regconfig, body) || "
 "to_tsvector('simple'::regconfig, pairs)) STORED)",
 'CREATE INDEX IF NOT EXISTS search_doc_researcher_interview ON search_doc_researcher (interview_id, seg_index)',
 'CREATE INDEX IF NOT EXISTS search_doc_researcher_vec ON search_doc_researcher USING GIN (vec)',
 'CREATE TABLE IF NOT EXISTS search_doc_staff ( id BIGSERIAL PRIMARY KEY, interview_id BIGINT NOT NULL, seg_index '
 'INTEGER NOT NULL, start DOUBLE PRECISION NOT NULL, "end" DOUBLE PRECISION NOT NULL, language TEXT NOT NULL, '
 'speaker TEXT NOT NULL, text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL, pairs TEXT NOT NULL '
 "DEFAULT '', vec tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body) || "
 "to_tsvector('english'::regconfig, body) || to_tsvector('arabic'::regconfig, body) || "
 "to_tsvector('simple'::regconfig, pairs)) STORED)",
 'CREATE INDEX IF NOT EXISTS search_doc_staff_interview ON search_doc_staff (interview_id, seg_index)',
 'CREATE INDEX IF NOT EXISTS search_doc_staff_vec ON search_doc_staff USING GIN (vec)',
 'CREATE TABLE IF NOT EXISTS search_doc_custodian ( id BIGSERIAL PRIMARY KEY, interview_id BIGINT NOT NULL, '
 'seg_index INTEGER NOT NULL, start DOUBLE PRECISION NOT NULL, "end" DOUBLE PRECISION NOT NULL, language TEXT NOT '
 'NULL, speaker TEXT NOT NULL, text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL, pairs TEXT NOT NULL '
 "DEFAULT '', vec tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, body) || "
 "to_tsvector('english'::regconfig, body) || to_tsvector('arabic'::regconfig, body) || "
 "to_tsvector('simple'::regconfig, pairs)) STORED)",
 'CREATE INDEX IF NOT EXISTS search_doc_custodian_interview ON search_doc_custodian (interview_id, seg_index)',
 'CREATE INDEX IF NOT EXISTS search_doc_custodian_vec ON search_doc_custodian USING GIN (vec)',
 'CREATE TABLE IF NOT EXISTS search_meta ( tier TEXT NOT NULL, interview_id BIGINT NOT NULL, policy TEXT NOT '
 'NULL, public_id TEXT NOT NULL, meta TEXT NOT NULL, docs INTEGER NOT NULL, toks BIGINT NOT NULL, profile BIGINT '
 'NOT NULL, PRIMARY KEY (tier, interview_id))',
 'CREATE TABLE IF NOT EXISTS search_profile (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE)',
 'CREATE INDEX IF NOT EXISTS search_meta_scope ON search_meta (tier, interview_id, policy, docs, toks, profile)',
 'CREATE TABLE IF NOT EXISTS search_version (tier TEXT PRIMARY KEY, version BIGINT NOT NULL)',
 "INSERT INTO search_version (tier, version) VALUES ('public', 0) ON CONFLICT (tier) DO NOTHING",
 "INSERT INTO search_version (tier, version) VALUES ('researcher', 0) ON CONFLICT (tier) DO NOTHING",
 "INSERT INTO search_version (tier, version) VALUES ('staff', 0) ON CONFLICT (tier) DO NOTHING",
 "INSERT INTO search_version (tier, version) VALUES ('custodian', 0) ON CONFLICT (tier) DO NOTHING"]

POSTGRESQL_DROP = ['DROP TABLE IF EXISTS search_meta',
 'DROP TABLE IF EXISTS search_version',
 'DROP TABLE IF EXISTS search_profile',
 'DROP TABLE IF EXISTS search_doc_public',
 'DROP TABLE IF EXISTS search_doc_researcher',
 'DROP TABLE IF EXISTS search_doc_staff',
 'DROP TABLE IF EXISTS search_doc_custodian']



def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in SQLITE_CREATE if vendor == "sqlite" else POSTGRESQL_CREATE:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in SQLITE_DROP if vendor == "sqlite" else POSTGRESQL_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]
    # Keep one leaf: the audit-trigger migration (0003) was written against 0001 as well.
    run_before = (
        [("archive", "0003_audit_triggers")] if Path(__file__).with_name("0003_audit_triggers.py").exists() else []
    )

    operations = [migrations.RunPython(forwards, backwards)]
