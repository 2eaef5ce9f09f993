"""What a search asks of the database, for SQLite (FTS5) and PostgreSQL (tsvector): which of a tier's
indexed interviews the user sees, and one tier's matches, facet counts and top hits."""

# ruff: noqa: S608 -- table names come from the fixed TIERS list; every value is a query parameter.
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection as default_connection

from .documents import ID_INTERVIEW_SHIFT, ID_KEY_SHIFT, ID_LANG_MASK, PG_KEY_SHIFT, index_tokens, pg_doc_key, tokens
from .query import FILTER_FIELDS, Filters, phrases_of, rank_candidates, to_fts5, to_tsquery
from .ranking import _bm25, _idf, _phrase_count
from .schema import LANG_TABLE, META_TABLE, PROFILE_TABLE, VERSION_TABLE, doc_table, fts_table, vec_table


@dataclass
class _TierScope:
    tier: str
    visible: list[int]  # interviews whose documents this user may see at this tier (stats set)
    allowed: list[int]  # visible and passing the interview filters (candidate set)
    whole_table: bool  # the user sees every interview indexed at this tier
    meta: dict[int, dict[str, Any]]  # decoded metadata, loaded for filters and for the hits shown
    public_ids: dict[int, str]  # loaded for the hits shown
    toks: int
    docs: int


def _load_scope(cursor, tier: str, seen: dict[int, str], filters: Filters) -> _TierScope:
    """Which of the tier's indexed interviews the user sees (policy stamps must match: stale rows fail
    closed), and the bm25 statistics of those. Metadata is read only when interview filters need it."""
    if not any(getattr(filters, n) for n in FILTER_FIELDS):
        indexed, docs, toks = _indexed(cursor, tier)
        if indexed.items() <= seen.items():
            # Every interview indexed at this tier is seen, at its current policy (the public case).
            visible = list(indexed)
            return _TierScope(tier, visible, visible, True, {}, {}, toks, docs)
    filtering = any(getattr(filters, n) for n in FILTER_FIELDS)
    columns = "interview_id, policy, docs, toks" + (", meta" if filtering else "")
    cursor.execute(f"SELECT {columns} FROM {META_TABLE} WHERE tier = %s", [tier])
    visible: list[int] = []
    allowed: list[int] = []
    meta: dict[int, dict[str, Any]] = {}
    whole = True
    docs = toks = 0
    for row in cursor.fetchall():
        interview_id, policy, n_docs, n_toks = row[:4]
        if seen.get(interview_id) != policy:
            whole = False  # not visible to this user, or stale: fail closed
            continue
        visible.append(interview_id)
        docs += n_docs
        toks += n_toks
        if filtering:
            decoded = json.loads(row[4])
            meta[interview_id] = decoded
            if not filters.interview_ok(decoded):
                continue
        allowed.append(interview_id)
    return _TierScope(tier, visible, allowed, whole, meta, {}, toks, docs)


_INDEXED_CACHE: dict[tuple[str, str], tuple[int, dict[int, str], int, int]] = {}


def _indexed(cursor, tier: str) -> tuple[dict[int, str], int, int]:
    """{interview id: policy stamp} of every interview indexed at the tier, with its document and token
    totals. Kept per process between searches while the tier's version is unchanged (ids and stamps
    only, nothing of any text or query); every change of the metadata rows changes the version in the
    same transaction."""
    cursor.execute(f"SELECT version FROM {VERSION_TABLE} WHERE tier = %s", [tier])
    row = cursor.fetchone()
    version = row[0] if row else None
    key = (str(cursor.db.alias) + ":" + str(cursor.db.settings_dict.get("NAME")), tier)
    cached = _INDEXED_CACHE.get(key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1], cached[2], cached[3]
    cursor.execute(f"SELECT interview_id, policy, docs, toks FROM {META_TABLE} WHERE tier = %s", [tier])
    indexed: dict[int, str] = {}
    docs = toks = 0
    for interview_id, policy, n_docs, n_toks in cursor.fetchall():
        indexed[interview_id] = policy
        docs += n_docs
        toks += n_toks
    if version is not None:
        _INDEXED_CACHE[key] = (version, indexed, docs, toks)
    return indexed, docs, toks


def _load_hit_meta(cursor, backend: Backend, scope: _TierScope, interview_ids: Iterable[int]) -> None:
    """Metadata and public ids of the interviews behind the hits shown (visible ones only)."""
    wanted = {i for i in interview_ids if i not in scope.public_ids}
    if not scope.whole_table:
        wanted &= set(scope.visible)
    wanted = sorted(wanted)
    if not wanted:
        return
    clause, params = backend.ids_clause("interview_id", wanted)
    cursor.execute(
        f"SELECT interview_id, public_id, meta FROM {META_TABLE} WHERE tier = %s AND {clause}", [scope.tier, *params]
    )
    for interview_id, public_id, meta_json in cursor.fetchall():
        scope.public_ids[interview_id] = public_id
        scope.meta.setdefault(interview_id, json.loads(meta_json))


class Backend:
    def __init__(self, connection=None):
        self.connection = connection or default_connection
        self.vendor = self.connection.vendor

    def ids_clause(self, column: str, ids: list[int]) -> tuple[str, list[Any]]:
        if self.vendor == "sqlite":
            return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(ids)]
        return f"{column} = ANY(%s)", [list(ids)]

    def match(self, tier: str, tree: Any) -> tuple[str, str, list[Any]]:
        """(FROM clause, WHERE clause, params) selecting documents `d` that match the query."""
        doc = doc_table(tier)
        if self.vendor == "sqlite":
            fts = fts_table(tier)
            return f"{fts} JOIN {doc} d ON d.id = {fts}.rowid", f"{fts} MATCH %s", [to_fts5(tree)]
        vec = vec_table(tier)
        source = f"{doc} d JOIN {vec} v ON v.interview_id = d.interview_id AND v.seg_index = d.seg_index"
        return source, "v.vec @@ %s::tsquery", [to_tsquery(tree)]

    def candidates(
        self, tier: str, tree: Any, ids: list[int] | None, languages: list[str] | None
    ) -> tuple[str, str, list[Any]]:
        source, where, params = self.match(tier, tree)
        if ids is not None:
            clause, extra = self.ids_clause("d.interview_id", ids)
            where += " AND " + clause
            params += extra
        if languages:
            where += " AND d.language IN (" + ", ".join(["%s"] * len(languages)) + ")"
            params += languages
        return source, where, params


class TierQuery:
    """One tier's share of a search."""

    def __init__(self, backend: Backend, cursor, scope: _TierScope, tree: Any, filters: Filters):
        self.backend = backend
        self.cursor = cursor
        self.scope = scope
        self.tree = tree
        self.filters = filters
        self.filtered = bool(filters) and any(
            getattr(filters, n) for n in ("collection", "date_from", "date_to", "mode", "topic", "narrator")
        )
        self.languages = filters.language_codes()  # the language filter: codes, whether named by code or label
        # PostgreSQL: how many top hits facet_counts ranks in the same statement as it counts (top() then
        # answers from them), so the matches are read once, not once to count and again to rank.
        self.prefetch = 0
        self._prefetched: tuple[int, list[tuple[float, int]]] | None = None

    def _ids(self) -> list[int] | None:
        if self.scope.whole_table and not self.filtered:
            return None
        return self.scope.allowed

    def _fts_where(self, ids: list[int] | None) -> tuple[str, list[Any]]:
        """SQLite: WHERE clause over the FTS table alone (interview and language come from the rowid)."""
        fts = fts_table(self.scope.tier)
        where = f"{fts} MATCH %s"
        params: list[Any] = [to_fts5(self.tree)]
        if ids is not None:
            where += f" AND ({fts}.rowid >> {ID_INTERVIEW_SHIFT}) IN (SELECT value FROM json_each(%s))"
            params.append(json.dumps(ids))
        if self.languages:
            where += (
                f" AND (({fts}.rowid >> {ID_KEY_SHIFT}) & {ID_LANG_MASK}) IN "
                f"(SELECT code FROM {LANG_TABLE} WHERE language IN ({', '.join(['%s'] * len(self.languages))}))"
            )
            params += self.languages
        return where, params

    def facet_counts(self) -> list[tuple[str, str, str, int]]:
        """(facet, value, label, matching documents) for every facet. Matches are counted per (facet profile,
        language): on SQLite per (interview, language) from the FTS rowids, joined to the interviews'
        profiles; on PostgreSQL from the search rows, which carry the profile. A few rows whatever the
        number of hits, expanded into facet values here."""
        ids = self._ids()
        if ids == []:
            return []
        tier = self.scope.tier
        if self.backend.vendor == "sqlite":
            fts = fts_table(tier)
            where, params = self._fts_where(ids)
            counted = f"SELECT {fts}.rowid >> {ID_KEY_SHIFT} AS key, count(*) AS n FROM {fts} WHERE {where} GROUP BY 1"
            interview = f"(c.key >> {ID_INTERVIEW_SHIFT - ID_KEY_SHIFT})"
            language = f"(c.key & {ID_LANG_MASK})"
            self.cursor.execute(
                f"WITH c AS MATERIALIZED ({counted}) SELECT m.profile, {language}, sum(c.n) FROM c "
                f"JOIN {META_TABLE} m ON m.tier = %s AND m.interview_id = {interview} GROUP BY 1, 2",
                [*params, tier],
            )
            counts = [(int(p), lang, int(n)) for p, lang, n in self.cursor.fetchall()]
        else:
            limit = max(self.prefetch, 0)
            counts, ranked = self._pg_counts_and_top(ids, limit)
            self._prefetched = (limit, ranked)
        if not counts:
            return []
        clause, extra = self.backend.ids_clause("id", sorted({p for p, _l, _n in counts}))
        self.cursor.execute(f"SELECT id, key FROM {PROFILE_TABLE} WHERE {clause}", extra)
        profiles = {int(i): json.loads(key) for i, key in self.cursor.fetchall()}
        sqlite = self.backend.vendor == "sqlite"
        names: dict[Any, str] = {}
        if sqlite:
            self.cursor.execute(f"SELECT code, language FROM {LANG_TABLE}")
            names = dict(self.cursor.fetchall())
        out: list[tuple[str, str, str, int]] = []
        for profile, lang, n in counts:
            collection, title, year, mode, topics = profiles[profile]
            out += [
                ("collection", collection, title, n),
                ("language", names.get(lang, "") if sqlite else lang, "", n),
                ("year", year, "", n),
                ("mode", mode, "", n),
            ]
            out += [("topic", topic, "", n) for topic in topics]
        return out

    def _pg_where(self, tsquery: str, ids: list[int] | None) -> tuple[str, list[Any]]:
        """PostgreSQL: WHERE clause over the search rows `d` alone (interview and language are on them)."""
        where = "d.vec @@ %s::tsquery"
        params: list[Any] = [tsquery]
        if ids is not None:
            where += " AND d.interview_id = ANY(%s)"
            params.append(list(ids))
        if self.languages:
            where += " AND d.language IN (" + ", ".join(["%s"] * len(self.languages)) + ")"
            params += self.languages
        return where, params

    def _pg_counts_and_top(
        self, ids: list[int] | None, limit: int
    ) -> tuple[list[tuple[int, str, int]], list[tuple[float, int]]]:
        """PostgreSQL, one statement over the tier's search rows (never the documents): (profile, language,
        matches) for the facets, and the best `limit` (score, document key), ranked by ts_rank, then
        interview and segment. For a query with a shortcut (query.rank_candidates) the matches are read
        once, to count them, and only the vectors of the few candidates are read, to rank them; otherwise
        every match is ranked in the same pass that counts."""
        vec = vec_table(self.scope.tier)
        tsquery = to_tsquery(self.tree)
        where, params = self._pg_where(tsquery, ids)
        shortcut = rank_candidates(self.tree)
        if shortcut is None:
            sql = (
                "WITH h AS MATERIALIZED (SELECT d.interview_id AS iid, d.seg_index AS seg, d.profile, "
                f"d.language AS lang, -ts_rank(d.vec, %s::tsquery) AS score FROM {vec} d WHERE {where}), "
                "t AS (SELECT score, iid, seg FROM h ORDER BY score, iid, seg LIMIT %s) "
                "SELECT 0, profile, lang, count(*)::bigint, NULL::real, NULL::integer FROM h GROUP BY 2, 3 "
            )
            params = [tsquery, *params, limit]
        else:
            above, exact = shortcut
            above_where, above_params = self._pg_where(above, ids)
            exact_where, exact_params = self._pg_where(exact, ids)
            keys = f"SELECT d.interview_id AS iid, d.seg_index AS seg FROM {vec} d WHERE "
            # The first `limit` matches are read again only when fewer than `limit` score above the least
            # (a one-time filter: no scan otherwise); OFFSET 0 keeps each scan a bitmap scan, not a walk of
            # the primary key that would read every vector on its way.
            sql = (
                f"WITH x AS MATERIALIZED ({keys}{above_where}), "
                "c AS ((SELECT iid, seg FROM x ORDER BY iid, seg LIMIT %s) "
                f"UNION ({keys}{exact_where}) "
                f"UNION (SELECT iid, seg FROM ({keys}{where} AND (SELECT count(*) FROM x) < %s OFFSET 0) m "
                "ORDER BY iid, seg LIMIT %s)), "
                "t AS (SELECT -ts_rank(d.vec, %s::tsquery) AS score, d.interview_id AS iid, d.seg_index AS seg "
                f"FROM {vec} d WHERE (d.interview_id, d.seg_index) IN (SELECT iid, seg FROM c) "
                "ORDER BY score, iid, seg LIMIT %s) "
                "SELECT 0, d.profile, d.language, count(*)::bigint, NULL::real, NULL::integer "
                f"FROM {vec} d WHERE {where} GROUP BY 2, 3 "
            )
            params = [*above_params, limit, *exact_params, *params, limit, limit, tsquery, limit, *params]
        self.cursor.execute(sql + "UNION ALL SELECT 1, iid, NULL, NULL, score, seg FROM t", params)
        counts: list[tuple[int, str, int]] = []
        ranked: list[tuple[float, int]] = []
        for kind, key, lang, n, score, seg_index in self.cursor.fetchall():
            if kind == 0:
                counts.append((int(key), lang, int(n)))
            else:
                ranked.append((float(score), pg_doc_key(int(key), int(seg_index))))
        ranked.sort()  # score, then interview and segment (the key's order)
        return counts, ranked

    def top(self, limit: int) -> list[tuple[float, int]]:
        """(score, doc id) of the best `limit` matches; lower score first on SQLite (bm25 is negative)."""
        ids = self._ids()
        if ids == [] or limit <= 0:
            return []
        if self._prefetched is not None and self._prefetched[0] >= limit:
            return self._prefetched[1][:limit]
        tier = self.scope.tier
        if self.backend.vendor == "postgresql":
            return self._pg_counts_and_top(ids, limit)[1]
        if self.scope.whole_table:
            # The table holds exactly what the user sees: FTS5's own bm25, top-n without touching documents.
            # Ties break on the rowid, that is (interview, segment).
            fts = fts_table(tier)
            where, params = self._fts_where(ids)
            self.cursor.execute(
                f"SELECT bm25({fts}) AS score, {fts}.rowid FROM {fts} WHERE {where} "
                f"ORDER BY score, {fts}.rowid LIMIT %s",
                [*params, limit],
            )
            return [(float(s), i) for s, i in self.cursor.fetchall()]
        return self._scoped_top(limit)

    def _scoped_top(self, limit: int) -> list[tuple[float, int]]:
        """bm25 exactly as FTS5 defines it, from the statistics of the visible documents alone."""
        tier = self.scope.tier
        visible = self.scope.visible
        n_docs = self.scope.docs
        if not n_docs:
            return []
        avgdl = self.scope.toks / n_docs if self.scope.toks else 1.0
        phrases = phrases_of(self.tree)
        idf = []
        for phrase in phrases:
            source, where, params = self.backend.candidates(tier, phrase, visible, None)
            self.cursor.execute(f"SELECT count(*) FROM {source} WHERE {where}", params)
            idf.append(_idf(n_docs, self.cursor.fetchone()[0]))
        source, where, params = self.backend.candidates(tier, self.tree, self._ids(), self.languages)
        self.cursor.execute(f"SELECT d.id, d.body FROM {source} WHERE {where}", params)
        scored = []
        for doc_id, body in self.cursor.fetchall():
            sequence = tokens(body)
            tf = [_phrase_count(sequence, p) for p in phrases]
            scored.append((_bm25(tf, idf, index_tokens(sequence), avgdl), doc_id))
        scored.sort()  # ties on the id, as the FTS5 path
        return scored[:limit]

    def rows(self, doc_ids: list[int]) -> dict[int, tuple]:
        """(id, interview, segment, start, end, language, speaker, text) of the documents top() named."""
        if not doc_ids:
            return {}
        columns = 'interview_id, seg_index, start, "end", language, speaker, text'
        if self.backend.vendor == "postgresql":
            interviews = [key >> PG_KEY_SHIFT for key in doc_ids]
            segments = [key & ((1 << PG_KEY_SHIFT) - 1) for key in doc_ids]
            self.cursor.execute(
                f"SELECT {columns} FROM {doc_table(self.scope.tier)} d JOIN unnest(%s::bigint[], %s::integer[]) "
                "AS k(iid, seg) ON d.interview_id = k.iid AND d.seg_index = k.seg",
                [interviews, segments],
            )
            return {pg_doc_key(row[0], row[1]): (pg_doc_key(row[0], row[1]), *row) for row in self.cursor.fetchall()}
        clause, params = self.backend.ids_clause("id", doc_ids)
        self.cursor.execute(f"SELECT id, {columns} FROM {doc_table(self.scope.tier)} WHERE {clause}", params)
        return {row[0]: row for row in self.cursor.fetchall()}


SQLITE_MMAP_BYTES = 1 << 30
SQLITE_CACHE_KIB = 64 * 1024


def _sqlite_pragmas(connection) -> None:
    """Memory-map the database and give the page cache room for the FTS index (once per connection)."""
    if connection.vendor != "sqlite":
        return
    connection.ensure_connection()
    raw = connection.connection
    if getattr(connection, "_rawi_search_tuned", None) is raw:
        return
    raw.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
    raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    connection._rawi_search_tuned = raw
