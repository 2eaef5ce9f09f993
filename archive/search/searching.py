"""The search itself: run_search for a given visibility, search and suggest as a user, search_as_tier for
operators; results as hits with snippets and facets."""

# ruff: noqa: S608 -- table names come from the fixed TIERS list; every value is a query parameter.
from __future__ import annotations

import hashlib
import hmac
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from ..audit import audit_log
from ..models import TIER_ORDER, TIERS, RenderedInterview, RenderedSegment, Tier
from ..textnorm import normalise, normalise_with_map
from .documents import META_SEGMENT, TOKEN, fold_token, tokens
from .engines import Backend, TierQuery, _load_hit_meta, _load_scope, _sqlite_pragmas, _TierScope
from .facets import FACETS, _facets
from .query import Filters, Phrase, QueryError, alias_groups, expand, parse, stemmed
from .ranking import snippet
from .visibility import visible_by_tier_for_tier, visible_by_tier_for_user

MAX_PER_PAGE = 50
SUGGEST_SAMPLE_DOCS = 400


@dataclass
class Hit:
    interview_id: str
    title: str
    collection: str
    segment_index: int | None  # None: a hit on the interview's metadata (title, summary, place, …)
    start: float | None
    end: float | None
    speaker: str
    language: str
    snippet: str  # HTML: escaped text with <mark> around matches
    score: float
    url: str
    # A chat message or e-mail: when it was sent, at the tier's precision (its times are not media times).
    sent_at: str = ""

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
            groups = alias_groups(tier)
            tree = stemmed(expand(base_tree, groups), groups)
            tier_query = TierQuery(backend, cursor, scope, tree, filters)
            tier_query.prefetch = page * per_page
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
        sent: dict[tuple[str, int, int], str] = {}
        for tier, tier_query in tier_queries.items():
            found = tier_query.rows([d for _s, t, d in chosen if t == tier])
            _load_hit_meta(cursor, backend, scopes[tier], (row[1] for row in found.values()))
            for doc_id, row in found.items():
                rows[(tier, doc_id)] = row
            places = [(row[1], row[2]) for row in found.values() if row[2] != META_SEGMENT]
            sent.update(((tier, i, n), when) for i, n, when in _sent_at(cursor, backend, tier, places))
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
        on_meta = seg_index == META_SEGMENT
        results.hits.append(
            Hit(
                interview_id=public_id,
                title=meta["title"],
                collection=meta["collection"],
                segment_index=None if on_meta else seg_index,
                start=None if on_meta else start,
                end=None if on_meta else end,
                speaker=speaker,
                language=language,
                snippet=snippet(text, tier_queries[tier].tree),
                score=round(-score, 6),
                url=f"/interviews/{public_id}/" if on_meta else f"/interviews/{public_id}/#seg-{seg_index}",
                sent_at=sent.get((tier, interview_id, seg_index), ""),
            )
        )
    return results


def _sent_at(cursor, backend: Backend, tier: str, places: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """(interview id, segment index, sent_at) of the hits that are chat messages or e-mails, from the
    interviews' stored renderings at `tier` (current whenever their search rows are)."""
    if not places:
        return []
    interviews, indexes = sorted({i for i, _n in places}), sorted({n for _i, n in places})
    in_interviews, interview_params = backend.ids_clause("r.interview_id", interviews)
    in_indexes, index_params = backend.ids_clause('s."index"', indexes)
    cursor.execute(
        f'SELECT r.interview_id, s."index", s.sent_at FROM {RenderedSegment._meta.db_table} s '
        f"JOIN {RenderedInterview._meta.db_table} r ON r.id = s.rendering_id "
        f"WHERE r.tier = %s AND {in_interviews} AND {in_indexes} AND s.sent_at <> ''",
        [tier, *interview_params, *index_params],
    )
    wanted = set(places)
    return [(i, n, when) for i, n, when in cursor.fetchall() if (i, n) in wanted]


def search(user, query: str, *, filters: Filters | None = None, page: int = 1, per_page: int = 20) -> Results:
    """Search as `user`: each tier's documents for the interviews they see at that tier, merged.
    Searches above public tier leave an audit event with a keyed hash of the query and the hit count."""
    seen = visible_by_tier_for_user(user)
    results = run_search(seen, query, filters=filters, page=page, per_page=per_page)
    tiers = [t for t in TIERS if t in seen and t != Tier.PUBLIC]
    if tiers and getattr(user, "is_authenticated", False):
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
        audit_log(
            action="search_cli",
            tier=tier,
            detail={"query_hmac": query_fingerprint(query), "hits": results.total, "tiers": [tier]},
        )
    return results


def suggest_for(seen_by_tier: dict[str, dict[int, str]], prefix: str, limit: int = 8, connection=None) -> list[str]:
    """Completions of the last word typed, taken only from documents the caller may see, as the words
    are written there (not their normalised or stemmed forms; Arabic without its short vowels)."""
    words = tokens(normalise(prefix))
    if not words or len(words[-1]) < 2:
        return []
    start = words[-1]
    tally: Counter = Counter()  # normalised word -> documents
    spellings: dict[str, Counter] = {}  # normalised word -> its written forms
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
            source, where, params = backend.candidates(tier, Phrase((start,), prefix=True), ids, None)
            cursor.execute(f"SELECT d.text FROM {source} WHERE {where} LIMIT %s", [*params, SUGGEST_SAMPLE_DOCS])
            for (text,) in cursor.fetchall():
                for word, written in _written_words(text):
                    if word.startswith(start) and word != start:
                        tally[word] += 1
                        spellings.setdefault(word, Counter())[written] += 1
    ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [_spelling(spellings[word]) for word, _n in ranked]


def _written_words(text: str) -> list[tuple[str, str]]:
    """(indexed form, written form) of every word of a display text."""
    norm, offsets = normalise_with_map(text)
    out = []
    for m in TOKEN.finditer(norm):
        written = text[offsets[m.start()] : offsets[m.end() - 1] + 1]
        out.append((fold_token(m.group()), _without_marks(written)))
    return out


def _without_marks(word: str) -> str:
    """A written word as one types it: Arabic short vowels, shadda and tatweel left out."""
    return "".join(c for c in word if not ("\u064b" <= c <= "\u065f" or c in "\u0670\u0640"))


def _spelling(forms: Counter) -> str:
    """The most frequent written form; among equals the lower-case one (a capital often only starts a
    sentence), then the first in order."""
    return sorted(forms.items(), key=lambda item: (-item[1], item[0] != item[0].lower(), item[0]))[0][0]


def suggest(user, prefix: str, limit: int = 8) -> list[str]:
    return suggest_for(visible_by_tier_for_user(user), prefix, limit)
