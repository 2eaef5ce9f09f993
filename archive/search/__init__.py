"""Redaction-aware search over per-tier renderings (issue 5, DESIGN §5, INFRA-NOTES §2).

One index document per rendered segment per tier, built only from that tier's stored rendering
(RenderedSegment.text, RenderedInterview.metadata). Each tier has its own tables
(`search_doc_<tier>` + `search_fts_<tier>` on SQLite, `search_doc_<tier>` + `search_vec_<tier>` with a
tsvector and GIN on PostgreSQL), so ranking statistics, counts, facets, snippets and suggestions only ever see
what that tier may read. A user searches the tier tables at which they see interviews (equality,
never "at or below"), limited to the interviews they see there.

SQLite FTS5's bm25 uses table-wide statistics. When a user sees every interview indexed at a tier
(every public search), the native bm25 is used; when they see only part of a tier's table, the same
bm25 formula is computed here from the statistics of the visible documents alone, so nothing they may
not see changes a score. PostgreSQL's ts_rank uses no corpus statistics and is used as is.

Speed at a million segments (SQLite; see schema_statements): the FTS5 table is contentless, with a
second column of pair tokens for phrases of two common words; a document's rowid carries its
interview and language, so counts and facets are one aggregate over FTS rowids joined to per-interview
facet profiles, and the whole-table top-n is FTS5's own bm25 without a join. PostgreSQL (see
vector_statements): each document's tsvector, written here from the same tokens (words, stems, the pairs
of adjacent words one of which is common, repeat marks), sits out of line behind a row of 100 bytes that
carries the interview, segment, language and facet profile, so a phrase of two words with a common one is
a single lexeme, counts and facets read only those narrow rows, and ts_rank reads the vectors of a few
candidates (query.rank_candidates). Both engines match the same documents. The map of indexed
interviews and policy stamps is reused between searches while the tier's random version is unchanged.
Nothing derived from a query or from text is cached.

The package, from the bottom up: schema (tables and DDL), documents (tokens, documents, index writes,
reindex), facets, query (parser, limits, aliases, FTS5 and tsquery forms, filters), ranking (bm25,
snippets), engines (SQLite and PostgreSQL reads), visibility, searching (run_search, search, suggest).
This module is the face: the names the rest of the project, the tests and the benchmarks use.
"""

from .documents import (
    META_INSERT,
    PG_DOC_COLUMNS,
    PG_VEC_COLUMNS,
    SQLITE_DOC_INSERT,
    SQLITE_FTS_INSERT,
    Doc,
    index_interview,
    lang_codes,
    make_doc,
    meta_row,
    optimise,
    pg_rows,
    pg_vector,
    rebuild_fts,
    reindex,
    remove_interview,
    restamp,
    sqlite_rows,
)
from .engines import Backend, TierQuery
from .engines import _load_scope as _load_scope
from .facets import FACETS, profile_id
from .query import (
    MAX_QUERY_CHARS,
    MAX_QUERY_DEPTH,
    MAX_QUERY_TERMS,
    Filters,
    QueryError,
    alias_groups,
    parse,
    to_fts5,
    to_tsquery,
)
from .schema import (
    VERSION_TABLE,
    doc_table,
    drop_statements,
    fts_table,
    schema_statements,
    vec_table,
    vector_statements,
)
from .searching import (
    MAX_PER_PAGE,
    Hit,
    Results,
    query_fingerprint,
    run_search,
    search,
    search_as_tier,
    suggest,
    suggest_for,
)
from .visibility import visible_by_tier_for_tier, visible_by_tier_for_user

__all__ = [
    "FACETS",
    "MAX_PER_PAGE",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_DEPTH",
    "MAX_QUERY_TERMS",
    "META_INSERT",
    "PG_DOC_COLUMNS",
    "PG_VEC_COLUMNS",
    "SQLITE_DOC_INSERT",
    "SQLITE_FTS_INSERT",
    "VERSION_TABLE",
    "Backend",
    "Doc",
    "Filters",
    "Hit",
    "QueryError",
    "Results",
    "TierQuery",
    "alias_groups",
    "doc_table",
    "drop_statements",
    "fts_table",
    "index_interview",
    "lang_codes",
    "make_doc",
    "meta_row",
    "optimise",
    "parse",
    "pg_rows",
    "pg_vector",
    "profile_id",
    "query_fingerprint",
    "rebuild_fts",
    "reindex",
    "remove_interview",
    "restamp",
    "run_search",
    "schema_statements",
    "search",
    "search_as_tier",
    "sqlite_rows",
    "suggest",
    "suggest_for",
    "to_fts5",
    "to_tsquery",
    "vec_table",
    "vector_statements",
    "visible_by_tier_for_tier",
    "visible_by_tier_for_user",
]
