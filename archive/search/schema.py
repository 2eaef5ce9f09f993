"""The search tables: one document table (and on SQLite one FTS5 table) per tier, the metadata, language,
facet-profile and version tables, and the DDL that makes them."""

# ruff: noqa: S608 -- table names come from the fixed TIERS list; every value is a query parameter.
from __future__ import annotations

from ..models import TIERS

PG_CONFIGS = ("simple", "english", "arabic")
META_TABLE = "search_meta"
LANG_TABLE = "search_lang"
VERSION_TABLE = "search_version"  # tier -> a fresh random number at every change of its metadata rows

# The version of what a search document holds (the metadata document, the stems beside the pairs). It is
# part of the stamp each interview's search rows carry (`index_stamp`), so rows written by an earlier
# version are never matched against a current visibility stamp: they are not served (search fails
# closed) until `manage.py reindex` rebuilds them. Bump it whenever what is indexed changes.
INDEX_VERSION = 3


def index_stamp(policy_stamp: str) -> str:
    """The stamp a search row carries for a rendering stamped `policy_stamp`."""
    return f"{policy_stamp}/s{INDEX_VERSION}"


def doc_table(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError("unknown tier")
    return f"search_doc_{tier}"


def vec_table(tier: str) -> str:
    """PostgreSQL: the table of the tier's search rows (one per document of `doc_table`, keyed like it by
    interview and segment)."""
    if tier not in TIERS:
        raise ValueError("unknown tier")
    return f"search_vec_{tier}"


def fts_table(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError("unknown tier")
    return f"search_fts_{tier}"


META_COLUMNS = "tier, interview_id, policy, public_id, meta, docs, toks, profile"
PROFILE_TABLE = "search_profile"  # facet values shared by interviews: (collection, title, year, mode, topics)


def schema_statements(vendor: str) -> list[str]:
    """DDL for every tier's tables as migration 0002_search made them (frozen there); on PostgreSQL,
    vector_statements (0010_search_vectors) then changes them.

    SQLite: `search_doc_<tier>` holds the displayed and normalised text; `search_fts_<tier>` is a
    contentless FTS5 table with two columns, `body` (the normalised words) and `bi` (one token for each
    adjacent pair of two common words; see `COMMON_WORDS`), so that a phrase of two common words is one
    token's posting list. A document's rowid encodes (interview, language, segment) (see `doc_id`), so
    counts and facets never touch the document table. Each interview's facet values are one row of
    `search_profile`, shared by every interview with the same values; facets are counted per profile.
    """
    statements: list[str] = []
    meta_extra = "profile BIGINT NOT NULL"
    if vendor == "sqlite":
        for tier in TIERS:
            doc, fts = doc_table(tier), fts_table(tier)
            statements += [
                f"""CREATE TABLE IF NOT EXISTS {doc} (
                    id INTEGER PRIMARY KEY, interview_id INTEGER NOT NULL, seg_index INTEGER NOT NULL,
                    start REAL NOT NULL, "end" REAL NOT NULL, language TEXT NOT NULL, speaker TEXT NOT NULL,
                    text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL)""",
                f"CREATE INDEX IF NOT EXISTS {doc}_interview ON {doc} (interview_id, seg_index)",
                f"""CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(
                    body, bi, content='', tokenize='unicode61 remove_diacritics 2')""",
            ]
        statements += [
            f"""CREATE TABLE IF NOT EXISTS {META_TABLE} (
                tier TEXT NOT NULL, interview_id INTEGER NOT NULL, policy TEXT NOT NULL, public_id TEXT NOT NULL,
                meta TEXT NOT NULL, docs INTEGER NOT NULL, toks INTEGER NOT NULL, {meta_extra},
                PRIMARY KEY (tier, interview_id))""",
            f"CREATE TABLE IF NOT EXISTS {LANG_TABLE} (code INTEGER PRIMARY KEY, language TEXT NOT NULL UNIQUE)",
            f"CREATE TABLE IF NOT EXISTS {PROFILE_TABLE} (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)",
        ]
    elif vendor == "postgresql":
        vector = " || ".join(f"to_tsvector('{config}'::regconfig, body)" for config in PG_CONFIGS)
        vector += " || to_tsvector('simple'::regconfig, pairs)"
        for tier in TIERS:
            doc = doc_table(tier)
            statements += [
                f"""CREATE TABLE IF NOT EXISTS {doc} (
                    id BIGSERIAL PRIMARY KEY, interview_id BIGINT NOT NULL, seg_index INTEGER NOT NULL,
                    start DOUBLE PRECISION NOT NULL, "end" DOUBLE PRECISION NOT NULL, language TEXT NOT NULL,
                    speaker TEXT NOT NULL, text TEXT NOT NULL, body TEXT NOT NULL, ntok INTEGER NOT NULL,
                    pairs TEXT NOT NULL DEFAULT '',
                    vec tsvector GENERATED ALWAYS AS ({vector}) STORED)""",
                f"CREATE INDEX IF NOT EXISTS {doc}_interview ON {doc} (interview_id, seg_index)",
                f"CREATE INDEX IF NOT EXISTS {doc}_vec ON {doc} USING GIN (vec)",
            ]
        statements.append(
            f"""CREATE TABLE IF NOT EXISTS {META_TABLE} (
                tier TEXT NOT NULL, interview_id BIGINT NOT NULL, policy TEXT NOT NULL, public_id TEXT NOT NULL,
                meta TEXT NOT NULL, docs INTEGER NOT NULL, toks BIGINT NOT NULL, {meta_extra},
                PRIMARY KEY (tier, interview_id))"""
        )
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {PROFILE_TABLE} (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE)"
        )
    # Covers the per-search reads of the metadata table (visibility, bm25 statistics, facet profile)
    # without loading the rows' JSON.
    statements.append(
        f"CREATE INDEX IF NOT EXISTS {META_TABLE}_scope ON {META_TABLE} "
        "(tier, interview_id, policy, docs, toks, profile)"
    )
    statements.append(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (tier TEXT PRIMARY KEY, version BIGINT NOT NULL)")
    for tier in TIERS:
        statements.append(
            f"INSERT INTO {VERSION_TABLE} (tier, version) VALUES ('{tier}', 0) ON CONFLICT (tier) DO NOTHING"
        )
    return statements


# A search row must be longer than PostgreSQL's threshold for moving values out of line (about 2 kB) for
# its vector to be stored in the TOAST table at all; `filler` (2 kB of one character, kept inline and
# compressed to 35 bytes) makes every row longer, and `toast_tuple_target` then moves the vector out.
PG_FILLER_CHARS = 2048


def vector_statements(vendor: str) -> list[str]:
    """What migration 0010_search_vectors changed in the layout of 0002_search (schema_statements), on
    PostgreSQL; nothing on SQLite.

    The documents' display text stays in `search_doc_<tier>`; what a search reads is `search_vec_<tier>`:
    one row of 100 bytes per document (interview, segment, facet profile, language) with its tsvector
    stored out of line. Counting and grouping a hundred thousand matches then reads a table that fits in
    shared buffers, not the documents; a vector is read only to check a phrase's positions or to rank the
    few documents that can be among the top hits. The vector is written by the application
    (documents.pg_vector): words, marked stems, pairs and repeats, no per-language stemmed copies.
    Interview and profile ids are 32-bit here (SQLite's document ids already limit interviews to 2^31).
    """
    if vendor != "postgresql":
        return []
    statements: list[str] = []
    for tier in TIERS:
        doc, vec = doc_table(tier), vec_table(tier)
        statements += [
            f"DROP INDEX IF EXISTS {doc}_vec",
            f"ALTER TABLE {doc} DROP COLUMN IF EXISTS vec, DROP COLUMN IF EXISTS pairs",
            f"""CREATE TABLE IF NOT EXISTS {vec} (
                interview_id INTEGER NOT NULL, seg_index INTEGER NOT NULL, profile INTEGER NOT NULL,
                language TEXT NOT NULL, vec tsvector NOT NULL,
                filler TEXT NOT NULL DEFAULT repeat('-', {PG_FILLER_CHARS}),
                PRIMARY KEY (interview_id, seg_index)) WITH (toast_tuple_target = 128)""",
            f"ALTER TABLE {vec} ALTER COLUMN vec SET STORAGE EXTERNAL, ALTER COLUMN filler SET STORAGE MAIN",
            f"CREATE INDEX IF NOT EXISTS {vec}_vec ON {vec} USING GIN (vec)",
        ]
    return statements


def drop_statements(vendor: str) -> list[str]:
    statements = [f"DROP TABLE IF EXISTS {t}" for t in (META_TABLE, VERSION_TABLE, PROFILE_TABLE)]
    if vendor == "postgresql":
        statements += [f"DROP TABLE IF EXISTS {vec_table(tier)}" for tier in TIERS]
    if vendor == "sqlite":
        statements.append(f"DROP TABLE IF EXISTS {LANG_TABLE}")
    for tier in TIERS:
        if vendor == "sqlite":
            statements.append(f"DROP TABLE IF EXISTS {fts_table(tier)}")
        statements.append(f"DROP TABLE IF EXISTS {doc_table(tier)}")
    return statements
