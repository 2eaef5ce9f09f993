"""Search documents: tokens and normalisation as FTS5 sees them, one document per rendered segment per
tier, made only from the tier's stored rendering, and the writes that keep the index in step with the
renderings (index_interview, restamp, remove_interview, reindex)."""

# ruff: noqa: S608 -- table names come from the fixed TIERS list; every value is a query parameter.
from __future__ import annotations

import functools
import itertools
import json
import re
import secrets
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import snowballstemmer
from django.db import connection as default_connection
from django.db import transaction

from ..gate import policy as access
from ..gate.identity import IDENTITY_REF
from ..gate.stamps import policy_stamp
from ..gate.store import materialise
from ..models import TIERS, Interview, RenderedInterview
from ..textnorm import normalise
from .facets import profile_id
from .schema import (
    LANG_TABLE,
    META_COLUMNS,
    META_TABLE,
    VERSION_TABLE,
    doc_table,
    fts_table,
    index_stamp,
    vec_table,
)

# Tokens as FTS5 unicode61 sees them: runs of letters and numbers (marks and punctuation separate).
TOKEN = re.compile(r"[^\W_]+")
# unicode61 keeps private-use characters inside tokens, Python's \w does not; the index uses two of them
# (below), so they are removed from indexed text and the two tokenisers agree.
PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
PAIR_JOIN = "\ue000"  # joins a word pair into one `bi` token: "of" + J + "the"
# Light stems (snowball English for Latin letters, Arabic for Arabic letters) of the indexed words are
# indexed beside the pairs, each marked so that it never equals a word: in `bi` on SQLite, as marked
# lexemes on PostgreSQL. Only stems that differ from their word are indexed (a word that is its own stem is
# found in `body`). A word searched unquoted matches its stem in either place; a "quoted" phrase and a
# prefix* match only `body`, exactly. Stems are taken from the tier's rendered text only: a word hidden at
# the tier is not in it, so neither is its stem.
STEM_MARK = "\ue001"

# PostgreSQL: each document's tsvector is written here (pg_vector), from the same tokens FTS5 sees, so both
# engines match the same documents. Besides the words (with their positions), it holds marked lexemes; a
# mark is a character no token holds and comes first, so a prefix query for words never reaches them:
PG_PAIR_MARK = "_"  # "_of_the": the adjacent words (of, the), at the position of the first
PG_STEM_MARK = "~"  # "~detaine": a word whose stem is detaine and which is not detaine itself
# "#the", "#_of_the", "#~detaine": the lexeme occurs at least twice in the document; "##the": three times
PG_REPEAT_MARK = "#"
PG_MAX_LEXEME_BYTES = 2045  # PostgreSQL's limit (2047) less two repeat marks; longer words are not indexed
PG_MAX_POSITION = 16383  # later positions are stored as this one (PostgreSQL's limit)
PG_MAX_POSITIONS = 256  # positions kept per lexeme (PostgreSQL's limit)

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


_STEMMERS = threading.local()  # snowball stemmers keep state between calls: one per thread
ARABIC_LETTERS = re.compile("[\u0600-\u06ff\u0750-\u077f]")


def _stemmer(language: str):
    stemmer = getattr(_STEMMERS, language, None)
    if stemmer is None:
        stemmer = snowballstemmer.stemmer(language)
        setattr(_STEMMERS, language, stemmer)
    return stemmer


@functools.lru_cache(maxsize=131072)
def stem(token: str) -> str:
    """The light stem of an indexed (normalised, folded) token: English for ASCII letters, Arabic for
    Arabic letters; numbers, other scripts and words under three letters are their own stem."""
    if len(token) < 3 or not token.isalpha():
        return token
    if token.isascii():
        return _stemmer("english").stemWord(token) or token
    if ARABIC_LETTERS.search(token):
        return _stemmer("arabic").stemWord(token) or token
    return token


def _stems(found: list[str]) -> list[str]:
    """The stem tokens of a token sequence: the stem of every word that is not its own stem, marked."""
    out = []
    for token in found:
        root = stem(token)
        if root != token:
            out.append(STEM_MARK + root)
    return out


def stem_count(sequence: list[str], root: str) -> int:
    """How many stem tokens of a document equal `root` (what FTS5 counts for `bi : <mark>root`)."""
    return sum(1 for token in sequence if token != root and stem(token) == root)


def _pairs(found: list[str]) -> list[str]:
    """The `bi` tokens of a token sequence: every adjacent pair of two common words."""
    return [a + PAIR_JOIN + b for a, b in itertools.pairwise(found) if a in COMMON_WORDS and b in COMMON_WORDS]


def _bi(found: list[str]) -> list[str]:
    """The `bi` column's tokens: the common-word pairs, then the marked stems."""
    return _pairs(found) + _stems(found)


def bigrams(body: str) -> str:
    """The `bi` column of a normalised body (what make_doc indexed; needed to delete it again)."""
    return " ".join(_bi(tokens(body)))


def pg_pair_indexed(first: str, second: str) -> bool:
    """PostgreSQL indexes the pair of adjacent words when either is a common word: a phrase of two words
    where one is common is then one lexeme, counted and ranked without reading the documents. Where
    neither is common, each word's own list is short enough to check the phrase's positions."""
    return first in COMMON_WORDS or second in COMMON_WORDS


def pg_pair(first: str, second: str) -> str:
    return PG_PAIR_MARK + first + PG_PAIR_MARK + second


def pg_lexeme_fits(lexeme: str) -> bool:
    """Whether PostgreSQL can hold the lexeme (and its repeat mark); a longer one is not indexed, as
    PostgreSQL's own parser leaves out a word that long."""
    return len(lexeme) * 4 <= PG_MAX_LEXEME_BYTES or len(lexeme.encode()) <= PG_MAX_LEXEME_BYTES


def pg_vector(found: list[str]) -> str:
    """PostgreSQL's tsvector of a token sequence, in tsvector's input syntax: every word with its positions
    (1-based), the stem of every word that is not its own stem (at the word's positions), the pair of every
    two adjacent words of which one is common (at the first word's position), and the repeat marks of every
    one of these that occurs twice, or three times or more (what ranking reads instead of the vector).
    Tokens are letters and digits and the marks are not quotes or backslashes: each lexeme is quoted as
    it is. (Written for speed: the bulk build makes a million of these.)"""
    positions: dict[str, list[int]] = {}
    for at, token in enumerate(found, 1):
        held = positions.get(token)
        if held is None:
            positions[token] = [at]
        else:
            held.append(at)
        root = stem(token)
        if root != token:
            marked = PG_STEM_MARK + root
            held = positions.get(marked)
            if held is None:
                positions[marked] = [at]
            else:
                held.append(at)
    common = COMMON_WORDS
    for at, (first, second) in enumerate(itertools.pairwise(found), 1):
        if first in common or second in common:
            pair = PG_PAIR_MARK + first + PG_PAIR_MARK + second
            held = positions.get(pair)
            if held is None:
                positions[pair] = [at]
            else:
                held.append(at)
    long_document = len(found) > PG_MAX_POSITION
    short_lexeme = PG_MAX_LEXEME_BYTES // 4  # characters of at most 4 bytes: no need to encode to know
    parts = []
    for lexeme, at in positions.items():
        if len(lexeme) > short_lexeme and not pg_lexeme_fits(lexeme):
            continue
        if long_document or len(at) > PG_MAX_POSITIONS:
            at = [min(p, PG_MAX_POSITION) for p in at[:PG_MAX_POSITIONS]]
        if len(at) == 1:
            parts.append(f"'{lexeme}':{at[0]}")
            continue
        parts.append(f"'{lexeme}':" + ",".join(map(str, at)))
        parts.append(f"'{PG_REPEAT_MARK}{lexeme}'")
        if len(at) > 2:
            parts.append(f"'{PG_REPEAT_MARK * 2}{lexeme}'")
    return " ".join(parts)


def index_tokens(sequence: list[str]) -> int:
    """Tokens FTS5 counts for a document (body plus bi): the `D` of its bm25."""
    return len(sequence) + len(_bi(sequence))


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
    bi: str = ""  # the `bi` column (SQLite): common-word pairs and marked stems, derived from body
    nbi: int = 0  # tokens in bi


def normalise_body(text: str) -> str:
    if text.isascii():
        # normalise() takes its ASCII fast path (no private-use characters to remove); the bulk build
        # runs this a million times.
        return normalise(text)
    return PRIVATE_USE.sub(" ", normalise(text))


def make_doc(seg_index: int, start: float, end: float, language: str, speaker: str, text: str) -> Doc:
    """The one way a document is made, by the transactional and the bulk path alike."""
    body = normalise_body(text)
    found = TOKEN.findall(body)
    if not body.isascii():
        found = [fold_token(t) for t in found]
    pairs = _bi(found)
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
        "summary": metadata.get("summary", ""),
    }


# The document of an interview's metadata at a tier: its segment index is one no segment has (the
# largest a document id can carry), its times are zero and never shown (a hit on it links to the
# interview, not to a moment of it).
META_SEGMENT = 2**24 - 1
META_SEPARATOR = " · "


def meta_text(meta: dict[str, Any]) -> str:
    """The indexed text of an interview's metadata at a tier, from that tier's rendering only: title,
    summary, place (as rendered at the tier: the general place below staff), topics and narrators'
    display names. A custodian's stored rendering names a narrator whose name is hidden below it only
    by reference (⟦narrator:…⟧): references are left out, a decrypted name is never indexed."""
    names = [IDENTITY_REF.sub(" ", name).strip() for name in meta.get("narrators") or []]
    parts = [meta.get("title", ""), meta.get("summary", ""), meta.get("place", "")]
    parts += list(meta.get("topics") or []) + names
    return META_SEPARATOR.join(" ".join(str(part).split()) for part in parts if str(part).strip())


def meta_doc(meta: dict[str, Any]) -> Doc | None:
    text = meta_text(meta)
    if not text:
        return None
    return make_doc(META_SEGMENT, 0.0, 0.0, (meta.get("languages") or [""])[0], "", text)


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
    else:
        cursor.execute(f"DELETE FROM {vec_table(tier)} WHERE interview_id = %s", [interview_id])
    cursor.execute(f"DELETE FROM {doc} WHERE interview_id = %s", [interview_id])
    cursor.execute(f"DELETE FROM {META_TABLE} WHERE tier = %s AND interview_id = %s", [tier, interview_id])
    bump_version(cursor, tier)


def bump_version(cursor, tier: str) -> None:
    """Mark the tier's metadata as changed, in the writer's transaction. A random value, never a counter:
    a rolled-back change must not leave a number that a later, different change could take again."""
    cursor.execute(f"UPDATE {VERSION_TABLE} SET version = %s WHERE tier = %s", [secrets.randbits(62) + 1, tier])


def insert_docs(cursor, vendor: str, tier: str, interview_id: int, docs: Sequence[Doc], *, profile: int) -> None:
    """Insert documents for one interview at one tier (the caller removed the old ones); `profile` is the
    interview's facet profile at the tier (PostgreSQL keeps it on each document's search row)."""
    doc, fts = doc_table(tier), fts_table(tier)
    if vendor == "sqlite":
        doc_rows, fts_rows = sqlite_rows(interview_id, docs, lang_codes(cursor, (d.language for d in docs)))
        cursor.executemany(SQLITE_DOC_INSERT.format(doc=doc).replace("?", "%s"), doc_rows)
        cursor.executemany(SQLITE_FTS_INSERT.format(fts=fts).replace("?", "%s"), fts_rows)
        return
    doc_rows, vec_rows = pg_rows(interview_id, docs, profile)
    cursor.executemany(PG_DOC_INSERT.format(doc=doc), doc_rows)
    cursor.executemany(PG_VEC_INSERT.format(vec=vec_table(tier)), vec_rows)


PG_DOC_COLUMNS = 'interview_id, seg_index, start, "end", language, speaker, text, body, ntok'
PG_VEC_COLUMNS = "interview_id, seg_index, profile, language, vec"
PG_DOC_INSERT = "INSERT INTO {doc} (" + PG_DOC_COLUMNS + ") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
PG_VEC_INSERT = "INSERT INTO {vec} (" + PG_VEC_COLUMNS + ") VALUES (%s, %s, %s, %s, %s::tsvector)"


def pg_rows(interview_id: int, docs: Sequence[Doc], profile: int) -> tuple[list[tuple], list[tuple]]:
    """(document rows, search rows) for one interview on PostgreSQL, in PG_DOC_COLUMNS and PG_VEC_COLUMNS
    order; shared by insert_docs and the bulk benchmark build."""
    doc_rows, vec_rows = [], []
    for d in docs:
        doc_rows.append((interview_id, d.seg_index, d.start, d.end, d.language, d.speaker, d.text, d.body, d.ntok))
        vec_rows.append((interview_id, d.seg_index, profile, d.language, pg_vector(tokens(d.body))))
    return doc_rows, vec_rows


# PostgreSQL's search results name a document by its interview and segment, in one number ordered as
# (interview, segment), as SQLite's rowid is.
PG_KEY_SHIFT = 24


def pg_doc_key(interview_id: int, seg_index: int) -> int:
    return (interview_id << PG_KEY_SHIFT) | seg_index


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
    cursor, tier: str, interview_id: int, policy: str, public_id: str, meta: dict, docs: Sequence[Doc], profile: int
) -> None:
    row = meta_row(tier, interview_id, policy, public_id, meta, docs, profile)
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
                heading = meta_doc(meta)
                if heading is not None:
                    docs.append(heading)
                profile = profile_id(cursor, meta)
                insert_docs(cursor, vendor, tier, interview.pk, docs, profile=profile)
                stamp = index_stamp(stored.policy_version)
                insert_meta(cursor, tier, interview.pk, stamp, str(interview.public_id), meta, docs, profile)


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
    documents yet, they were written by an earlier index version, or its metadata changed: the caller then
    rebuilds the tier's documents whole."""
    meta = _meta_from_rendering(stored.metadata)
    cursor.execute(
        f"SELECT meta, docs, toks, profile, policy FROM {META_TABLE} WHERE tier = %s AND interview_id = %s",
        [tier, interview.pk],
    )
    row = cursor.fetchone()
    if row is None or row[0] != json.dumps(meta, ensure_ascii=False) or not row[4].endswith(index_stamp("")):
        return False
    count, toks, profile = int(row[1]), int(row[2]), int(row[3])
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
        if vendor != "sqlite":
            cursor.execute(
                f"DELETE FROM {vec_table(tier)} WHERE interview_id = %s AND seg_index IN ({marks})",
                [interview.pk, *indexes],
            )
        cursor.execute(
            f"DELETE FROM {doc} WHERE interview_id = %s AND seg_index IN ({marks})", [interview.pk, *indexes]
        )
        fresh = _docs_of(stored, meta, indexes)
        insert_docs(cursor, vendor, tier, interview.pk, fresh, profile=profile)
        count += len(fresh) - len(old)
        toks += sum(d.ntok + d.nbi for d in fresh) - sum(ntok + len(bi.split()) for _r, _b, bi, ntok in old)
    cursor.execute(
        f"UPDATE {META_TABLE} SET policy = %s, docs = %s, toks = %s WHERE tier = %s AND interview_id = %s",
        [index_stamp(stored.policy_version), count, toks, tier, interview.pk],
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
            [(index_stamp(new), interview_id, index_stamp(old)) for interview_id, old, new in rows],
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
