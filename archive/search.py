"""Redaction-aware search over per-tier renderings (issue 5, DESIGN §5, INFRA-NOTES §2).

One index document per rendered segment per tier, built only from that tier's stored rendering
(RenderedSegment.text, RenderedInterview.metadata). Each tier has its own tables
(`search_doc_<tier>` + `search_fts_<tier>` on SQLite, `search_doc_<tier>` with a stored tsvector and
GIN on PostgreSQL), so ranking statistics, counts, facets, snippets and suggestions only ever see
what that tier may read. A user searches the tier tables at which they see interviews (equality,
never "at or below"), limited to the interviews they see there.

SQLite FTS5's bm25 uses table-wide statistics. When a user sees every interview indexed at a tier
(every public search), the native bm25 is used; when they see only part of a tier's table, the same
bm25 formula is computed here from the statistics of the visible documents alone, so nothing they may
not see changes a score. PostgreSQL's ts_rank uses no corpus statistics and is used as is.

Speed at a million segments (SQLite; see schema_statements): the FTS5 table is contentless, with a
second column of pair tokens for phrases of two common words; a document's rowid carries its
interview and language, so counts and facets are one aggregate over FTS rowids joined to per-interview
facet profiles, and the whole-table top-n is FTS5's own bm25 without a join. The map of indexed
interviews and policy stamps is reused between searches while the tier's random version is unchanged.
Nothing derived from a query or from text is cached.
"""

# ruff: noqa: S608 -- table names come from the fixed TIERS list; every value is a query parameter.
from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import escape

from .gate import policy as access
from .gate.stamps import policy_stamp, rules_clock, stamp_of
from .gate.store import materialise
from .models import TIER_ORDER, TIERS, EntityAlias, Interview, Redaction, RenderedInterview, Tier
from .textnorm import is_arabic, normalise, normalise_with_map

PG_CONFIGS = ("simple", "english", "arabic")
BM25_K1 = 1.2
BM25_B = 0.75
MAX_PER_PAGE = 50
SNIPPET_CHARS = 220
# Query limits: parsing recurses once per parenthesis and FTS5 refuses expressions deeper than 256,
# so a hostile query is refused with a clear message before either limit is reached.
MAX_QUERY_CHARS = 500
MAX_QUERY_DEPTH = 16
MAX_QUERY_TERMS = 64
SUGGEST_SAMPLE_DOCS = 400
META_TABLE = "search_meta"
LANG_TABLE = "search_lang"
VERSION_TABLE = "search_version"  # tier -> a fresh random number at every change of its metadata rows


def doc_table(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError("unknown tier")
    return f"search_doc_{tier}"


def fts_table(tier: str) -> str:
    if tier not in TIERS:
        raise ValueError("unknown tier")
    return f"search_fts_{tier}"


# Schema ------------------------------------------------------------------------------------------


META_COLUMNS = "tier, interview_id, policy, public_id, meta, docs, toks, profile"
PROFILE_TABLE = "search_profile"  # facet values shared by interviews: (collection, title, year, mode, topics)


def schema_statements(vendor: str) -> list[str]:
    """DDL for every tier's tables; used by migration 0002_search and the benchmark.

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


def drop_statements(vendor: str) -> list[str]:
    statements = [f"DROP TABLE IF EXISTS {t}" for t in (META_TABLE, VERSION_TABLE, PROFILE_TABLE)]
    if vendor == "sqlite":
        statements.append(f"DROP TABLE IF EXISTS {LANG_TABLE}")
    for tier in TIERS:
        if vendor == "sqlite":
            statements.append(f"DROP TABLE IF EXISTS {fts_table(tier)}")
        statements.append(f"DROP TABLE IF EXISTS {doc_table(tier)}")
    return statements


# Documents ---------------------------------------------------------------------------------------

# Tokens as FTS5 unicode61 sees them: runs of letters and numbers (marks and punctuation separate).
TOKEN = re.compile(r"[^\W_]+")
# unicode61 keeps private-use characters inside tokens, Python's \w does not; the index uses two of them
# (below), so they are removed from indexed text and the two tokenisers agree.
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
PAIR_JOIN = "\ue000"  # joins a word pair into one `bi` token: "of" + J + "the"
PG_PAIR_JOIN = "qzjxq"  # the same on PostgreSQL, whose parser keeps a run of letters and digits one word

# Common words (normalised). A pair of two of them is also indexed as a single `bi` token, so the phrase
# "of the" or "في على" reads one posting list instead of intersecting two that span most documents (a
# narrow form of "common grams"). A phrase with any other word is anchored by that word's short list and
# stays in `body`. Changing this list changes the `bi` column: run `manage.py reindex` after.
COMMON_WORDS = frozenset(
    normalise(w)
    for w in [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "him",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "up",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "في",
        "من",
        "على",
        "إلى",
        "عن",
        "مع",
        "أن",
        "إن",
        "لا",
        "ما",
        "لم",
        "لن",
        "قد",
        "كان",
        "كانت",
        "كل",
        "بعد",
        "قبل",
        "هذا",
        "هذه",
        "ذلك",
        "التي",
        "الذي",
        "هو",
        "هي",
        "هم",
        "نحن",
        "أنا",
        "و",
        "أو",
        "ثم",
        "حتى",
        "إذا",
        "بين",
        "عند",
    ]
)


def fold_token(token: str) -> str:
    """What unicode61 remove_diacritics 2 compares: case-folded, Latin diacritics removed."""
    if token.isascii():
        return token
    return _fold_non_ascii(token)


@functools.lru_cache(maxsize=65536)
def _fold_non_ascii(token: str) -> str:
    decomposed = unicodedata.normalize("NFD", token)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def tokens(body: str) -> list[str]:
    return [fold_token(t) for t in TOKEN.findall(body)]


def _pairs(found: list[str]) -> list[str]:
    """The `bi` tokens of a token sequence: every adjacent pair of two common words."""
    return [a + PAIR_JOIN + b for a, b in itertools.pairwise(found) if a in COMMON_WORDS and b in COMMON_WORDS]


def bigrams(body: str) -> str:
    """The `bi` column of a normalised body (what make_doc indexed; needed to delete it again)."""
    return " ".join(_pairs(tokens(body)))


def index_tokens(sequence: list[str]) -> int:
    """Tokens FTS5 counts for a document (body plus bi): the `D` of its bm25."""
    return len(sequence) + len(_pairs(sequence))


@dataclass(frozen=True)
class Doc:
    seg_index: int
    start: float
    end: float
    language: str
    speaker: str
    text: str  # the tier's display text
    body: str  # normalised text, what is indexed
    ntok: int
    bi: str = ""  # the `bi` column (SQLite), derived from body
    nbi: int = 0  # tokens in bi


def normalise_body(text: str) -> str:
    if text.isascii():
        # Same result as normalise() (NFKC, the Arabic folds and digit mapping leave ASCII unchanged,
        # casefold() of ASCII is lower()), several times faster; the bulk build runs this a million times.
        return text.lower()
    return PRIVATE_USE.sub(" ", normalise(text))


def make_doc(seg_index: int, start: float, end: float, language: str, speaker: str, text: str) -> Doc:
    """The one way a document is made, by the transactional and the bulk path alike."""
    body = normalise_body(text)
    found = TOKEN.findall(body)
    if not body.isascii():
        found = [fold_token(t) for t in found]
    pairs = _pairs(found)
    return Doc(
        seg_index,
        float(start),
        float(end),
        language or "",
        speaker or "",
        text,
        body,
        len(found),
        " ".join(pairs),
        len(pairs),
    )


def _meta_from_rendering(metadata: dict[str, Any]) -> dict[str, Any]:
    recorded = metadata.get("recorded_on") or ""
    return {
        "collection": metadata.get("collection_slug", ""),
        "collection_title": metadata.get("collection_title", ""),
        "title": metadata.get("title", ""),
        "mode": metadata.get("mode", ""),
        "recorded_on": recorded,
        "year": recorded[:4],
        "languages": list(metadata.get("languages") or []),
        "topics": list(metadata.get("topics") or []),
        "narrators": [n[1] for n in metadata.get("narrators") or []],
        "place": metadata.get("place", ""),
    }


# SQLite document ids: interview (31 bits) | language code (8 bits) | segment index (24 bits). Counts per
# interview and language group on one integer of the FTS rowid (rowid >> 24), never touching documents;
# equal scores break ties on the id on both the FTS5 and the visible-only path.
ID_INTERVIEW_SHIFT = 32
ID_KEY_SHIFT = 24  # rowid >> 24: (interview, language)
ID_LANG_MASK = 0xFF


def doc_id(interview_id: int, seg_index: int, lang_code: int) -> int:
    if not (0 < interview_id < 2**31 and 0 <= seg_index < 2**24 and 0 <= lang_code <= ID_LANG_MASK):
        raise ValueError("search document id out of range")
    return (interview_id << ID_INTERVIEW_SHIFT) | (lang_code << ID_KEY_SHIFT) | seg_index


def lang_codes(cursor, languages: Iterable[str]) -> dict[str, int]:
    """Small integer codes for language tags (SQLite; stable once given)."""
    wanted = sorted(set(languages))
    codes: dict[str, int] = {}
    for language in wanted:
        cursor.execute(f"SELECT code FROM {LANG_TABLE} WHERE language = %s", [language])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"SELECT coalesce(max(code), 0) + 1 FROM {LANG_TABLE}")
            code = cursor.fetchone()[0]
            if code > ID_LANG_MASK:
                raise ValueError("too many distinct languages for the search index")
            cursor.execute(f"INSERT INTO {LANG_TABLE} (code, language) VALUES (%s, %s)", [code, language])
        else:
            code = row[0]
        codes[language] = code
    return codes


def sqlite_rows(interview_id: int, docs: Sequence[Doc], codes: dict[str, int]) -> tuple[list[tuple], list[tuple]]:
    """(document rows, FTS rows) for one interview; shared by insert_docs and the bulk benchmark build."""
    doc_rows, fts_rows = [], []
    for d in docs:
        rowid = doc_id(interview_id, d.seg_index, codes[d.language])
        doc_rows.append(
            (rowid, interview_id, d.seg_index, d.start, d.end, d.language, d.speaker, d.text, d.body, d.ntok)
        )
        fts_rows.append((rowid, d.body, d.bi))
    return doc_rows, fts_rows


SQLITE_DOC_INSERT = (
    'INSERT INTO {doc} (id, interview_id, seg_index, start, "end", language, speaker, text, body, ntok) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQLITE_FTS_INSERT = "INSERT INTO {fts} (rowid, body, bi) VALUES (?, ?, ?)"


def _delete_interview_docs(cursor, vendor: str, tier: str, interview_id: int) -> None:
    doc, fts = doc_table(tier), fts_table(tier)
    if vendor == "sqlite":
        # Contentless FTS5: a row is removed by handing back exactly what was indexed.
        cursor.execute(f"SELECT id, body FROM {doc} WHERE interview_id = %s", [interview_id])
        old = [(rowid, body, bigrams(body)) for rowid, body in cursor.fetchall()]
        if old:
            cursor.executemany(f"INSERT INTO {fts} ({fts}, rowid, body, bi) VALUES ('delete', %s, %s, %s)", old)
    cursor.execute(f"DELETE FROM {doc} WHERE interview_id = %s", [interview_id])
    cursor.execute(f"DELETE FROM {META_TABLE} WHERE tier = %s AND interview_id = %s", [tier, interview_id])
    bump_version(cursor, tier)


def bump_version(cursor, tier: str) -> None:
    """Mark the tier's metadata as changed, in the writer's transaction. A random value, never a counter:
    a rolled-back change must not leave a number that a later, different change could take again."""
    cursor.execute(f"UPDATE {VERSION_TABLE} SET version = %s WHERE tier = %s", [secrets.randbits(62) + 1, tier])


def insert_docs(cursor, vendor: str, tier: str, interview_id: int, docs: Sequence[Doc]) -> None:
    """Insert documents for one interview at one tier (the caller removed the old ones)."""
    doc, fts = doc_table(tier), fts_table(tier)
    if vendor == "sqlite":
        doc_rows, fts_rows = sqlite_rows(interview_id, docs, lang_codes(cursor, (d.language for d in docs)))
        cursor.executemany(SQLITE_DOC_INSERT.format(doc=doc).replace("?", "%s"), doc_rows)
        cursor.executemany(SQLITE_FTS_INSERT.format(fts=fts).replace("?", "%s"), fts_rows)
        return
    cursor.executemany(
        f'INSERT INTO {doc} (interview_id, seg_index, start, "end", language, speaker, text, body, ntok, pairs) '
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (interview_id, d.seg_index, d.start, d.end, d.language, d.speaker, d.text, d.body, d.ntok, pg_pairs(d))
            for d in docs
        ],
    )


def pg_pairs(d: Doc) -> str:
    """PostgreSQL's `pairs` column: the same pair tokens as SQLite's `bi`, joined with letters so that the
    default parser keeps each pair one word (it splits on private-use characters)."""
    return d.bi.replace(PAIR_JOIN, PG_PAIR_JOIN)


def facet_profile(meta: dict) -> str:
    """The facet values of an interview's metadata at a tier, as the canonical key of its profile."""
    values = [
        meta.get("collection", ""),
        meta.get("collection_title", ""),
        meta.get("year", ""),
        meta.get("mode", ""),
        list(dict.fromkeys(meta.get("topics") or [])),
    ]
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def profile_id(cursor, meta: dict) -> int:
    """The id of the interview's facet profile (made on first use; works on a DB-API cursor too)."""
    key = facet_profile(meta)
    cursor.execute(f"SELECT id FROM {PROFILE_TABLE} WHERE key = %s", [key])
    row = cursor.fetchone()
    if row is None:
        cursor.execute(f"INSERT INTO {PROFILE_TABLE} (key) VALUES (%s) ON CONFLICT (key) DO NOTHING", [key])
        cursor.execute(f"SELECT id FROM {PROFILE_TABLE} WHERE key = %s", [key])
        row = cursor.fetchone()
    return int(row[0])


def meta_row(
    tier: str, interview_id: int, policy: str, public_id: str, meta: dict, docs: Sequence[Doc], profile: int
) -> tuple:
    """One row of META_TABLE (META_COLUMNS order): the interview's metadata at the tier, its document and
    token counts (bm25 statistics of a partly visible tier) and its facet profile."""
    return (
        tier,
        interview_id,
        policy,
        public_id,
        json.dumps(meta, ensure_ascii=False),
        len(docs),
        sum(d.ntok + d.nbi for d in docs),
        profile,
    )


META_INSERT = f"INSERT INTO {META_TABLE} ({META_COLUMNS}) VALUES ({', '.join(['%s'] * 8)})"


def insert_meta(
    cursor, tier: str, interview_id: int, policy: str, public_id: str, meta: dict, docs: Sequence[Doc]
) -> None:
    row = meta_row(tier, interview_id, policy, public_id, meta, docs, profile_id(cursor, meta))
    cursor.execute(META_INSERT, list(row))
    bump_version(cursor, tier)


def index_interview(interview: Interview, tiers: Iterable[str], changes: dict[str, set[int]] | None = None) -> None:
    """Replace the interview's search documents with those of its current renderings.
    Called by rendering.materialise inside the writer's transaction: tiers that may no longer see the
    interview lose its documents in that same transaction. `changes` (tier → segment indexes whose
    rendering changed) lets a tier whose metadata is unchanged replace just those documents."""
    tiers = [t for t in tiers if t in TIERS]
    changes = changes or {}
    with transaction.atomic():
        vendor = default_connection.vendor
        with default_connection.cursor() as cursor:
            stored_by_tier = {r.tier: r for r in RenderedInterview.objects.filter(interview=interview, tier__in=tiers)}
            for tier in TIERS:
                stored = stored_by_tier.get(tier)
                changed = changes.get(tier)
                if (
                    stored is not None
                    and changed is not None
                    and _replace_changed_docs(cursor, vendor, tier, interview, stored, changed)
                ):
                    continue
                _delete_interview_docs(cursor, vendor, tier, interview.pk)
                if stored is None:
                    continue
                meta = _meta_from_rendering(stored.metadata)
                docs = _docs_of(stored, meta)
                insert_docs(cursor, vendor, tier, interview.pk, docs)
                insert_meta(cursor, tier, interview.pk, stored.policy_version, str(interview.public_id), meta, docs)


def _docs_of(stored: RenderedInterview, meta: dict, indexes: Iterable[int] | None = None) -> list[Doc]:
    rows = stored.segments.order_by("index")
    if indexes is not None:
        rows = rows.filter(index__in=list(indexes))
    fallback = (meta["languages"] or [""])[0]
    docs = [make_doc(*row) for row in rows.values_list("index", "start", "end", "language", "speaker", "text")]
    return [d if d.language else Doc(**{**d.__dict__, "language": fallback}) for d in docs]


def _replace_changed_docs(
    cursor, vendor: str, tier: str, interview: Interview, stored: RenderedInterview, changed: set[int]
) -> bool:
    """Replace only the documents of changed segments. False (nothing done) when the tier has no
    documents yet or its metadata changed: the caller then rebuilds the tier's documents whole."""
    meta = _meta_from_rendering(stored.metadata)
    cursor.execute(
        f"SELECT meta, docs, toks FROM {META_TABLE} WHERE tier = %s AND interview_id = %s", [tier, interview.pk]
    )
    row = cursor.fetchone()
    if row is None or row[0] != json.dumps(meta, ensure_ascii=False):
        return False
    count, toks = int(row[1]), int(row[2])
    if changed:
        doc, fts = doc_table(tier), fts_table(tier)
        indexes = sorted(changed)
        marks = ", ".join(["%s"] * len(indexes))
        cursor.execute(
            f"SELECT id, body, ntok FROM {doc} WHERE interview_id = %s AND seg_index IN ({marks})",
            [interview.pk, *indexes],
        )
        old = [(rowid, body, bigrams(body), ntok) for rowid, body, ntok in cursor.fetchall()]
        if vendor == "sqlite" and old:
            cursor.executemany(
                f"INSERT INTO {fts} ({fts}, rowid, body, bi) VALUES ('delete', %s, %s, %s)",
                [(rowid, body, bi) for rowid, body, bi, _ntok in old],
            )
        cursor.execute(
            f"DELETE FROM {doc} WHERE interview_id = %s AND seg_index IN ({marks})", [interview.pk, *indexes]
        )
        fresh = _docs_of(stored, meta, indexes)
        insert_docs(cursor, vendor, tier, interview.pk, fresh)
        count += len(fresh) - len(old)
        toks += sum(d.ntok + d.nbi for d in fresh) - sum(ntok + len(bi.split()) for _r, _b, bi, ntok in old)
    cursor.execute(
        f"UPDATE {META_TABLE} SET policy = %s, docs = %s, toks = %s WHERE tier = %s AND interview_id = %s",
        [stored.policy_version, count, toks, tier, interview.pk],
    )
    bump_version(cursor, tier)
    return True


def restamp(stamps: Iterable[tuple[int, str, str]]) -> None:
    """(interview id, old stamp, new stamp): documents shown to be unaffected by a change of the
    archive-wide rules take the new stamp (rows at any other stamp stay stale and are not served)."""
    rows = list(stamps)
    if not rows:
        return
    with transaction.atomic(), default_connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {META_TABLE} SET policy = %s WHERE interview_id = %s AND policy = %s",
            [(new, interview_id, old) for interview_id, old, new in rows],
        )
        for tier in TIERS:
            bump_version(cursor, tier)


def remove_interview(interview_id: int) -> None:
    with transaction.atomic(), default_connection.cursor() as cursor:
        for tier in TIERS:
            _delete_interview_docs(cursor, default_connection.vendor, tier, interview_id)


def rebuild_fts(chunk: int = 20000) -> None:
    """SQLite: refill every tier's contentless FTS table from its document table, in one transaction per
    tier. Run by reindex, so a change of COMMON_WORDS (which changes what `bi` holds, and so what a
    'delete' must hand back) cannot leave stale index entries behind."""
    if default_connection.vendor != "sqlite":
        return
    for tier in TIERS:
        doc, fts = doc_table(tier), fts_table(tier)
        with transaction.atomic(), default_connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {fts} ({fts}) VALUES ('delete-all')")
            last = -1
            while True:
                cursor.execute(f"SELECT id, body FROM {doc} WHERE id > %s ORDER BY id LIMIT %s", [last, chunk])
                rows = cursor.fetchall()
                if not rows:
                    break
                cursor.executemany(
                    SQLITE_FTS_INSERT.format(fts=fts).replace("?", "%s"),
                    [(rowid, body, bigrams(body)) for rowid, body in rows],
                )
                last = rows[-1][0]


def optimise() -> None:
    if default_connection.vendor == "sqlite":
        with default_connection.cursor() as cursor:
            for tier in TIERS:
                cursor.execute(f"INSERT INTO {fts_table(tier)}({fts_table(tier)}) VALUES ('optimize')")


# Queries -----------------------------------------------------------------------------------------


class QueryError(ValueError):
    """The query cannot be understood; the message is safe to show."""


@dataclass(frozen=True)
class Phrase:
    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Node:
    op: str  # "and" | "or"
    children: tuple[Any, ...]
    negated: tuple[Any, ...] = ()  # for "and": children that must not match


LEX = re.compile(r'"(?P<phrase>[^"]*)"(?P<pstar>\*)?|(?P<lp>\()|(?P<rp>\))|(?P<word>[^\s()"]+)')


def _phrase(text: str, prefix: bool) -> Phrase | None:
    found = tokens(normalise(text))
    if not found:
        return None
    return Phrase(tuple(found), prefix)


def parse(query: str) -> Any:
    """Words, "phrases", prefix*, AND / OR / NOT (or -word), parentheses; adjacent terms are ANDed.
    Raises QueryError for a query longer, deeper or wider than the MAX_QUERY_* limits."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is longer than {MAX_QUERY_CHARS} characters.")
    items: list[tuple[str, Any]] = []
    depth = terms = 0
    for m in LEX.finditer(query):
        if m.group("phrase") is not None:
            items.append(("term", _phrase(m.group("phrase"), bool(m.group("pstar")))))
            terms += 1
        elif m.group("lp"):
            depth += 1
            if depth > MAX_QUERY_DEPTH:
                raise QueryError(f"The query nests parentheses more than {MAX_QUERY_DEPTH} deep.")
            items.append(("(", None))
        elif m.group("rp"):
            depth = max(0, depth - 1)
            items.append((")", None))
        else:
            word = m.group("word")
            if word in {"AND", "OR", "NOT"}:
                items.append((word, None))
                continue
            negate = word.startswith("-") and len(word) > 1
            word = word[1:] if negate else word
            prefix = word.endswith("*")
            if negate:
                items.append(("NOT", None))
            items.append(("term", _phrase(word.rstrip("*"), prefix)))
            terms += 1
        if terms > MAX_QUERY_TERMS:
            raise QueryError(f"The query has more than {MAX_QUERY_TERMS} terms.")
    position = 0

    def peek() -> str | None:
        return items[position][0] if position < len(items) else None

    def take() -> tuple[str, Any]:
        nonlocal position
        position += 1
        return items[position - 1]

    def parse_or() -> Any:
        parts = [parse_and()]
        while peek() == "OR":
            take()
            parts.append(parse_and())
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Node("or", tuple(parts))

    def parse_and() -> Any:
        positive: list[Any] = []
        negative: list[Any] = []
        while peek() not in (None, "OR", ")"):
            kind = peek()
            if kind == "AND":
                take()
                continue
            if kind == "NOT":
                take()
                item = parse_primary()
                if item is not None:
                    negative.append(item)
                continue
            item = parse_primary()
            if item is not None:
                positive.append(item)
        if not positive:
            if negative:
                raise QueryError("A query needs at least one word to look for besides NOT.")
            return None
        if len(positive) == 1 and not negative:
            return positive[0]
        return Node("and", tuple(positive), tuple(negative))

    def parse_primary() -> Any:
        kind, value = take() if peek() is not None else (None, None)
        if kind == "(":
            inner = parse_or()
            if peek() == ")":
                take()
            return inner
        if kind == "term":
            return value
        return None

    parts = [parse_or()]
    while position < len(items):  # a stray ")" or operator: parse what follows too, ANDed flat
        take()
        parts.append(parse_or())
    parts = [part for part in parts if part is not None]
    if not parts:
        raise QueryError("Type a word to search for.")
    return parts[0] if len(parts) == 1 else Node("and", tuple(parts))


def phrases_of(tree: Any, *, positive_only: bool = False) -> list[Phrase]:
    if isinstance(tree, Phrase):
        return [tree]
    found: list[Phrase] = []
    for child in tree.children:
        found += phrases_of(child, positive_only=positive_only)
    if not positive_only:
        for child in tree.negated:
            found += phrases_of(child)
    return found


# Entity aliases ------------------------------------------------------------------------------------


def _alias_forms(normalised: str) -> set[str]:
    form = " ".join(tokens(normalised))
    forms = {form} if form else set()
    if is_arabic(form):
        if form.startswith("ال") and len(form) > 3:
            forms.add(form[2:])
        else:
            forms.add("ال" + form)
    else:
        stripped = re.sub(r"^(?:al|el) ", "", form)
        forms.add(stripped)
    return {f for f in forms if f}


def alias_groups(tier: str) -> dict[str, set[str]]:
    """normalised alias form -> every form of the same entity, for entities visible at `tier`.
    An entity with an approved entity redaction whose visible_from is above the tier does not expand."""
    hidden = {
        entity_id
        for entity_id, visible_from in Redaction.objects.filter(
            kind=Redaction.Kind.ENTITY, status=Redaction.Status.APPROVED
        ).values_list("entity_id", "visible_from")
        if TIER_ORDER[visible_from] > TIER_ORDER[tier]
    }
    by_entity: dict[int, set[str]] = {}
    for entity_id, normalised in EntityAlias.objects.exclude(entity_id__in=hidden).values_list(
        "entity_id", "normalised"
    ):
        by_entity.setdefault(entity_id, set()).update(_alias_forms(normalised))
    groups: dict[str, set[str]] = {}
    for forms in by_entity.values():
        for form in forms:
            groups.setdefault(form, set()).update(forms)
    return groups


def expand(tree: Any, groups: dict[str, set[str]]) -> Any:
    if not groups:
        return tree
    if isinstance(tree, Phrase):
        if tree.prefix:
            return tree
        forms = groups.get(" ".join(tree.tokens))
        if not forms:
            return tree
        alternatives = [Phrase(tuple(f.split())) for f in sorted(forms)]
        alternatives = [tree] + [a for a in alternatives if a != tree]
        return alternatives[0] if len(alternatives) == 1 else Node("or", tuple(alternatives))
    return Node(
        tree.op, tuple(expand(c, groups) for c in tree.children), tuple(expand(c, groups) for c in tree.negated)
    )


def _pair_route(phrase: Phrase) -> bool:
    """Whether a phrase is read from the `bi` column: exactly two common words, no prefix."""
    return len(phrase.tokens) == 2 and not phrase.prefix and all(t in COMMON_WORDS for t in phrase.tokens)


def to_fts5(tree: Any) -> str:
    """FTS5 query text, every phrase limited to one column. A two-common-word phrase matches its single
    `bi` token (same documents, same count per document: one phrase for bm25 either way); everything
    else matches in `body`."""
    if isinstance(tree, Phrase):
        if _pair_route(tree):
            words = [PAIR_JOIN.join(tree.tokens)]
            column = "bi"
        else:
            words = list(tree.tokens)
            column = "body"
        quoted = '"' + " ".join(words).replace('"', '""') + '"'
        return f"{column} : " + quoted + (" *" if tree.prefix else "")
    joined = f" {tree.op.upper()} ".join(to_fts5(c) for c in tree.children)
    text = f"({joined})"
    if tree.negated:
        text += " NOT (" + " OR ".join(to_fts5(c) for c in tree.negated) + ")"
    return f"({text})"


def to_tsquery_sql(tree: Any) -> tuple[str, list[Any]]:
    """A tsquery SQL expression over the three configurations, with parameters (no user syntax)."""
    if isinstance(tree, Phrase):
        if _pair_route(tree):
            # Two common words: their pair lexeme (letters and digits only, no tsquery syntax).
            return "to_tsquery('simple'::regconfig, %s)", [PG_PAIR_JOIN.join(tree.tokens)]
        if tree.prefix:
            # Tokens are letters and digits only, so they cannot carry tsquery syntax.
            text = " <-> ".join(tree.tokens) + ":*"
            return "to_tsquery('simple'::regconfig, %s)", [text]
        function = "phraseto_tsquery" if len(tree.tokens) > 1 else "plainto_tsquery"
        text = " ".join(tree.tokens)
        parts = [f"{function}('{config}'::regconfig, %s)" for config in PG_CONFIGS]
        return "(" + " || ".join(parts) + ")", [text] * len(PG_CONFIGS)
    params: list[Any] = []
    pieces = []
    for child in tree.children:
        sql, child_params = to_tsquery_sql(child)
        pieces.append(sql)
        params += child_params
    joiner = " && " if tree.op == "and" else " || "
    sql = "(" + joiner.join(pieces) + ")"
    for child in tree.negated:
        child_sql, child_params = to_tsquery_sql(child)
        sql = f"({sql} && !!{child_sql})"
        params += child_params
    return sql, params


# Visibility ----------------------------------------------------------------------------------------


def _stamper():
    """policy version → the current stamp of a rendering built at it (see rendering.stamp_of)."""
    clock = rules_clock()
    return lambda policy_version: stamp_of(policy_version, clock)


def visible_by_tier_for_user(user) -> dict[str, dict[int, str]]:
    """tier -> {interview pk: current policy stamp} of interviews the user sees at that tier."""
    result: dict[str, dict[int, str]] = {}
    _stamp = _stamper()
    if not getattr(user, "is_authenticated", False):
        # Signed out: exactly access.visible_interviews(AnonymousUser()), without loading every interview.
        rows = (
            Interview.objects.filter(floor_tier=Tier.PUBLIC)
            .filter(Q(embargo_effective__isnull=True) | Q(embargo_effective__lte=timezone.localdate()))
            .values_list("pk", "policy_version")
        )
        if rows:
            result[Tier.PUBLIC] = {pk: _stamp(version) for pk, version in rows}
        return result
    for interview, tier in access.visible_interviews(user):
        result.setdefault(tier, {})[interview.pk] = _stamp(interview.policy_version)
    return result


def visible_by_tier_for_tier(tier: str) -> dict[str, dict[int, str]]:
    """What someone with `tier` in every collection sees: interviews whose floor is at or below it."""
    seen: dict[int, str] = {}
    _stamp = _stamper()
    for interview in Interview.objects.only("pk", "policy_version", "floor_tier", "embargo_effective"):
        if access.tier_at_least(tier, access.required_tier(interview)):
            seen[interview.pk] = _stamp(interview.policy_version)
    return {tier: seen} if seen else {}


# Search ------------------------------------------------------------------------------------------


@dataclass
class Filters:
    collection: str = ""
    language: str = ""
    date_from: str = ""
    date_to: str = ""
    mode: str = ""
    topic: str = ""
    narrator: str = ""

    @classmethod
    def from_mapping(cls, data: Any) -> Filters:
        def get(name: str) -> str:
            value = data.get(name, "") if data is not None else ""
            return str(value or "").strip()[:200]

        filters = cls(**{name: get(name) for name in cls.__dataclass_fields__})
        for name in ("date_from", "date_to"):
            value = getattr(filters, name)
            if value and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value):
                raise QueryError("Dates are YYYY, YYYY-MM or YYYY-MM-DD.")
        return filters

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in self.__dataclass_fields__)

    def interview_ok(self, meta: dict[str, Any]) -> bool:
        if self.collection and meta["collection"] != self.collection:
            return False
        if self.mode and meta["mode"] != self.mode:
            return False
        if self.topic and normalise(self.topic) not in {normalise(t) for t in meta["topics"]}:
            return False
        if self.narrator and not any(normalise(self.narrator) in normalise(n) for n in meta["narrators"]):
            return False
        recorded = meta["recorded_on"]
        if self.date_from or self.date_to:
            if not recorded:
                return False
            if self.date_from and recorded < self.date_from[: len(recorded)]:
                return False
            if self.date_to and recorded[: len(self.date_to)] > self.date_to:
                return False
        return True


@dataclass
class Hit:
    interview_id: str
    title: str
    collection: str
    segment_index: int
    start: float
    end: float
    speaker: str
    language: str
    snippet: str  # HTML: escaped text with <mark> around matches
    score: float
    url: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Results:
    query: str
    total: int = 0
    page: int = 1
    per_page: int = 20
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: str = ""

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "hits": [h.as_json() for h in self.hits],
            "facets": self.facets,
            "error": self.error,
        }


FACETS = ("collection", "language", "year", "mode", "topic")


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


FILTER_FIELDS = ("collection", "date_from", "date_to", "mode", "topic", "narrator")


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
        sql, params = to_tsquery_sql(tree)
        return f"{doc} d", f"d.vec @@ {sql}", params

    def candidates(self, tier: str, tree: Any, ids: list[int] | None, language: str) -> tuple[str, str, list[Any]]:
        source, where, params = self.match(tier, tree)
        if ids is not None:
            clause, extra = self.ids_clause("d.interview_id", ids)
            where += " AND " + clause
            params += extra
        if language:
            where += " AND d.language = %s"
            params.append(language)
        return source, where, params


def _phrase_count(sequence: list[str], phrase: Phrase) -> int:
    size = len(phrase.tokens)
    count = 0
    for i in range(len(sequence) - size + 1):
        window = sequence[i : i + size]
        if phrase.prefix:
            if window[:-1] == list(phrase.tokens[:-1]) and window[-1].startswith(phrase.tokens[-1]):
                count += 1
        elif tuple(window) == phrase.tokens:
            count += 1
    return count


def _bm25(tf: list[int], idf: list[float], dl: int, avgdl: float) -> float:
    score = 0.0
    for f, weight in zip(tf, idf, strict=True):
        score += weight * (f * (BM25_K1 + 1)) / (f + BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl))
    return -score


def _idf(n_docs: int, n_hits: int) -> float:
    value = math.log((n_docs - n_hits + 0.5) / (n_hits + 0.5))
    return value if value > 0 else 1e-6


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
        if self.filters.language:
            where += (
                f" AND (({fts}.rowid >> {ID_KEY_SHIFT}) & {ID_LANG_MASK}) = "
                f"(SELECT code FROM {LANG_TABLE} WHERE language = %s)"
            )
            params.append(self.filters.language)
        return where, params

    def facet_counts(self) -> list[tuple[str, str, str, int]]:
        """(facet, value, label, matching documents) for every facet. Matches are counted per (interview,
        language) from the FTS rowids, joined to the interviews' facet profiles and summed per (profile,
        language): a few rows whatever the number of hits, expanded into facet values here."""
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
        else:
            source, where, params = self.backend.candidates(tier, self.tree, ids, self.filters.language)
            counted = (
                "SELECT d.interview_id AS iid, d.language AS lang, count(*) AS n "
                f"FROM {source} WHERE {where} GROUP BY 1, 2"
            )
            interview, language = "c.iid", "c.lang"
        self.cursor.execute(
            f"WITH c AS MATERIALIZED ({counted}) SELECT m.profile, {language}, sum(c.n) FROM c "
            f"JOIN {META_TABLE} m ON m.tier = %s AND m.interview_id = {interview} GROUP BY 1, 2",
            [*params, tier],
        )
        counts = [(int(p), lang, int(n)) for p, lang, n in self.cursor.fetchall()]
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

    def top(self, limit: int) -> list[tuple[float, int]]:
        """(score, doc id) of the best `limit` matches; lower score first on SQLite (bm25 is negative)."""
        ids = self._ids()
        if ids == [] or limit <= 0:
            return []
        tier = self.scope.tier
        if self.backend.vendor == "postgresql":
            source, where, params = self.backend.candidates(tier, self.tree, ids, self.filters.language)
            rank_sql, rank_params = to_tsquery_sql(self.tree)
            self.cursor.execute(
                f"SELECT -ts_rank(d.vec, {rank_sql}) AS score, d.id FROM {source} WHERE {where} "
                "ORDER BY score, d.interview_id, d.seg_index LIMIT %s",
                rank_params + params + [limit],
            )
            return [(float(s), i) for s, i in self.cursor.fetchall()]
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
            source, where, params = self.backend.candidates(tier, phrase, visible, "")
            self.cursor.execute(f"SELECT count(*) FROM {source} WHERE {where}", params)
            idf.append(_idf(n_docs, self.cursor.fetchone()[0]))
        source, where, params = self.backend.candidates(tier, self.tree, self._ids(), self.filters.language)
        self.cursor.execute(f"SELECT d.id, d.body FROM {source} WHERE {where}", params)
        scored = []
        for doc_id, body in self.cursor.fetchall():
            sequence = tokens(body)
            tf = [_phrase_count(sequence, p) for p in phrases]
            scored.append((_bm25(tf, idf, index_tokens(sequence), avgdl), doc_id))
        scored.sort()  # ties on the id, as the FTS5 path
        return scored[:limit]

    def rows(self, doc_ids: list[int]) -> dict[int, tuple]:
        if not doc_ids:
            return {}
        clause, params = self.backend.ids_clause("id", doc_ids)
        self.cursor.execute(
            'SELECT id, interview_id, seg_index, start, "end", language, speaker, text '
            f"FROM {doc_table(self.scope.tier)} WHERE {clause}",
            params,
        )
        return {row[0]: row for row in self.cursor.fetchall()}


def snippet(text: str, tree: Any, width: int = SNIPPET_CHARS) -> str:
    """Escaped display text around the first match, matched words wrapped in <mark>."""
    wanted = phrases_of(tree, positive_only=True)
    exact = {t for p in wanted for t in (p.tokens if not p.prefix else p.tokens[:-1])}
    prefixes = [p.tokens[-1] for p in wanted if p.prefix]
    norm, offsets = normalise_with_map(text)
    marks: list[tuple[int, int]] = []
    for m in TOKEN.finditer(norm):
        token = fold_token(m.group())
        if token in exact or any(token.startswith(p) for p in prefixes):
            start = offsets[m.start()]
            end = offsets[m.end() - 1] + 1
            marks.append((start, end))
    window_start, window_end = 0, len(text)
    if len(text) > width:
        centre = marks[0][0] if marks else 0
        window_start = max(0, min(centre - width // 3, len(text) - width))
        window_end = min(len(text), window_start + width)
        # Do not cut words in half.
        while window_start > 0 and text[window_start - 1].isalnum():
            window_start -= 1
        while window_end < len(text) and text[window_end].isalnum():
            window_end += 1
    pieces = ["…"] if window_start > 0 else []
    cursor = window_start
    for start, end in marks:
        if start < cursor or end > window_end:
            continue
        pieces.append(escape(text[cursor:start]))
        pieces.append("<mark>" + escape(text[start:end]) + "</mark>")
        cursor = end
    pieces.append(escape(text[cursor:window_end]))
    if window_end < len(text):
        pieces.append("…")
    return "".join(pieces)


def _facets(rows: list[tuple[str, str, str, int]]) -> dict[str, list[dict[str, Any]]]:
    """Facet lists from (facet, value, label, count) rows of every tier searched."""
    tallies: dict[str, Counter] = {name: Counter() for name in FACETS}
    labels: dict[str, str] = {}
    for name, value, label, n in rows:
        if name != "collection" and not value:
            continue
        tallies[name][value] += n
        if name == "collection":
            labels[value] = label
    facets: dict[str, list[dict[str, Any]]] = {}
    for name, tally in tallies.items():
        ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        facets[name] = [
            {"value": value, "label": labels.get(value, value) if name == "collection" else value, "count": count}
            for value, count in ordered
        ]
    return facets


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


def query_fingerprint(query: str) -> str:
    """A keyed hash of the query for the audit trail: equal queries compare equal, the text is not kept."""
    key = str(settings.SECRET_KEY).encode("utf-8")
    return hmac.new(key, normalise(query).strip().encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def run_search(
    seen_by_tier: dict[str, dict[int, str]],
    query: str,
    *,
    filters: Filters | None = None,
    page: int = 1,
    per_page: int = 20,
    facets: bool = True,
    connection=None,
) -> Results:
    """The search itself, for a given visibility (tier -> interviews seen there)."""
    filters = filters or Filters()
    per_page = max(1, min(int(per_page), MAX_PER_PAGE))
    page = max(1, int(page))
    results = Results(query=query, page=page, per_page=per_page)
    try:
        base_tree = parse(query)
    except QueryError as error:
        results.error = str(error)
        results.facets = {name: [] for name in FACETS} if facets else {}
        return results
    backend = Backend(connection)
    _sqlite_pragmas(backend.connection)
    scopes: dict[str, _TierScope] = {}
    tier_queries: dict[str, TierQuery] = {}
    facet_rows: list[tuple[str, str, str, int]] = []
    with backend.connection.cursor() as cursor:
        for tier in TIERS:
            seen = seen_by_tier.get(tier)
            if not seen:
                continue
            scope = _load_scope(cursor, tier, seen, filters)
            if not scope.visible:
                continue
            scopes[tier] = scope
            tree = expand(base_tree, alias_groups(tier))
            tier_query = TierQuery(backend, cursor, scope, tree, filters)
            tier_queries[tier] = tier_query
            facet_rows += tier_query.facet_counts()
        results.total = sum(n for name, _v, _l, n in facet_rows if name == "collection")
        if facets:
            results.facets = _facets(facet_rows)
        wanted = page * per_page
        ranked: list[tuple[float, str, int]] = []
        if results.total > (page - 1) * per_page:
            for tier, tier_query in tier_queries.items():
                ranked += [(score, tier, doc_id) for score, doc_id in tier_query.top(wanted)]
        ranked.sort(key=lambda item: (item[0], TIER_ORDER[item[1]], item[2]))
        chosen = ranked[(page - 1) * per_page : wanted]
        rows: dict[tuple[str, int], tuple] = {}
        for tier, tier_query in tier_queries.items():
            found = tier_query.rows([d for _s, t, d in chosen if t == tier])
            _load_hit_meta(cursor, backend, scopes[tier], (row[1] for row in found.values()))
            for doc_id, row in found.items():
                rows[(tier, doc_id)] = row
    for score, tier, doc_id in chosen:
        row = rows.get((tier, doc_id))
        if row is None:
            continue
        _id, interview_id, seg_index, start, end, language, speaker, text = row
        scope = scopes[tier]
        if interview_id not in scope.public_ids:
            continue
        meta = scope.meta[interview_id]
        public_id = scope.public_ids[interview_id]
        results.hits.append(
            Hit(
                interview_id=public_id,
                title=meta["title"],
                collection=meta["collection"],
                segment_index=seg_index,
                start=start,
                end=end,
                speaker=speaker,
                language=language,
                snippet=snippet(text, tier_queries[tier].tree),
                score=round(-score, 6),
                url=f"/interviews/{public_id}/#seg-{seg_index}",
            )
        )
    return results


def search(user, query: str, *, filters: Filters | None = None, page: int = 1, per_page: int = 20) -> Results:
    """Search as `user`: each tier's documents for the interviews they see at that tier, merged.
    Searches above public tier leave an audit event with a keyed hash of the query and the hit count."""
    seen = visible_by_tier_for_user(user)
    results = run_search(seen, query, filters=filters, page=page, per_page=per_page)
    tiers = [t for t in TIERS if t in seen and t != Tier.PUBLIC]
    if tiers and getattr(user, "is_authenticated", False):
        from .services import audit_log

        audit_log(
            actor=user,
            action="search",
            tier=tiers[-1],
            detail={"query_hmac": query_fingerprint(query), "hits": results.total, "tiers": tiers},
        )
    return results


def search_as_tier(
    tier: str, query: str, *, filters: Filters | None = None, page: int = 1, per_page: int = 20
) -> Results:
    """Search as someone with `tier` in every collection (management command, operators)."""
    if tier not in TIERS:
        raise ValueError("unknown tier")
    results = run_search(visible_by_tier_for_tier(tier), query, filters=filters, page=page, per_page=per_page)
    if tier != Tier.PUBLIC:
        from .services import audit_log

        audit_log(
            action="search_cli",
            tier=tier,
            detail={"query_hmac": query_fingerprint(query), "hits": results.total, "tiers": [tier]},
        )
    return results


def suggest_for(seen_by_tier: dict[str, dict[int, str]], prefix: str, limit: int = 8, connection=None) -> list[str]:
    """Completions of the last word typed, taken only from documents the caller may see."""
    words = tokens(normalise(prefix))
    if not words or len(words[-1]) < 2:
        return []
    stem = words[-1]
    tally: Counter = Counter()
    backend = Backend(connection)
    with backend.connection.cursor() as cursor:
        for tier in TIERS:
            seen = seen_by_tier.get(tier)
            if not seen:
                continue
            scope = _load_scope(cursor, tier, seen, Filters())
            if not scope.visible:
                continue
            ids = None if scope.whole_table else scope.visible
            source, where, params = backend.candidates(tier, Phrase((stem,), prefix=True), ids, "")
            cursor.execute(f"SELECT d.body FROM {source} WHERE {where} LIMIT %s", [*params, SUGGEST_SAMPLE_DOCS])
            for (body,) in cursor.fetchall():
                tally.update(t for t in tokens(body) if t.startswith(stem) and t != stem)
    return [word for word, _n in sorted(tally.items(), key=lambda item: (-item[1], item[0]))[:limit]]


def suggest(user, prefix: str, limit: int = 8) -> list[str]:
    return suggest_for(visible_by_tier_for_user(user), prefix, limit)


def reindex(*, rebuild_stale: bool = True, stdout=None) -> int:
    """Rebuild every interview's documents from its stored renderings (stale renderings are rebuilt)."""
    count = 0
    for interview in Interview.objects.all().iterator(chunk_size=200):
        with transaction.atomic():
            tiers = access.visible_tiers(interview)
            stored = dict(RenderedInterview.objects.filter(interview=interview).values_list("tier", "policy_version"))
            if rebuild_stale and (
                set(stored) != set(tiers) or any(v != policy_stamp(interview) for v in stored.values())
            ):
                rebuilt = materialise(interview)
                index_interview(interview, rebuilt.tiers, rebuilt.changes)
            else:
                index_interview(interview, [t for t in tiers if t in stored])
        count += 1
    rebuild_fts()
    with transaction.atomic():
        optimise()
    return count


__all__ = [
    "Filters",
    "QueryError",
    "Results",
    "index_interview",
    "reindex",
    "run_search",
    "search",
    "search_as_tier",
    "suggest",
]
