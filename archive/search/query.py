"""The query language: words, "phrases", prefix*, AND / OR / NOT, parentheses, within the MAX_QUERY_*
limits; entity alias expansion; the FTS5 and tsquery forms of a parsed query; the interview filters."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from ..models import TIER_ORDER, EntityAlias, Redaction
from ..textnorm import is_arabic, normalise
from .documents import (
    COMMON_WORDS,
    PAIR_JOIN,
    PG_PAIR_MARK,
    PG_REPEAT_MARK,
    PG_STEM_MARK,
    STEM_MARK,
    pg_lexeme_fits,
    pg_pair,
    pg_pair_indexed,
    stem,
    tokens,
)
from .labels import language_codes, matches_label, mode_codes

# Query limits: parsing recurses once per parenthesis and FTS5 refuses expressions deeper than 256,
# so a hostile query is refused with a clear message before either limit is reached.
MAX_QUERY_CHARS = 500
MAX_QUERY_DEPTH = 16
MAX_QUERY_TERMS = 64


class QueryError(ValueError):
    """The query cannot be understood; the message is safe to show."""


@dataclass(frozen=True)
class Phrase:
    tokens: tuple[str, ...]
    prefix: bool = False
    exact: bool = False  # typed in "quotes": never matched through stems


@dataclass(frozen=True)
class Stem:
    """A word's light stem, matched among the marked stems of the indexed words (see documents.stem)."""

    root: str


@dataclass(frozen=True)
class Node:
    op: str  # "and" | "or"
    children: tuple[Any, ...]
    negated: tuple[Any, ...] = ()  # for "and": children that must not match


LEX = re.compile(r'"(?P<phrase>[^"]*)"(?P<pstar>\*)?|(?P<lp>\()|(?P<rp>\))|(?P<word>[^\s()"]+)')


def _phrase(text: str, prefix: bool, exact: bool = False) -> Phrase | None:
    found = tokens(normalise(text))
    if not found:
        return None
    return Phrase(tuple(found), prefix, exact)


def parse(query: str) -> Any:  # noqa: C901 (the query grammar's hand-written parser)
    """Words, "phrases", prefix*, AND / OR / NOT (or -word), parentheses; adjacent terms are ANDed.
    Raises QueryError for a query longer, deeper or wider than the MAX_QUERY_* limits."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is longer than {MAX_QUERY_CHARS} characters.")
    items: list[tuple[str, Any]] = []
    depth = terms = 0
    for m in LEX.finditer(query):
        if m.group("phrase") is not None:
            items.append(("term", _phrase(m.group("phrase"), bool(m.group("pstar")), exact=True)))
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


def phrases_of(tree: Any, *, positive_only: bool = False) -> list[Phrase | Stem]:
    """The leaves of a query (phrases and stems): the phrases of bm25."""
    if isinstance(tree, Phrase | Stem):
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


def _stemmed_word(phrase: Phrase) -> Any:
    """An unquoted word: the word itself or any word of the same stem, as (body word OR marked stem).
    A word that is its own stem still matches the words that stem to it."""
    root = stem(phrase.tokens[0])
    return Node("or", (Phrase((root,), exact=True), Stem(root)))


def stemmed(tree: Any, groups: dict[str, set[str]] | None = None) -> Any:
    """The query as matched: every unquoted single word (not a prefix) also finds the words of its stem;
    phrases, quoted words and prefixes stay exact. Applied after alias expansion: the aliases of a
    quoted word (`groups`, the expansion's) stay exact too."""
    groups = groups or {}
    if isinstance(tree, Phrase):
        if tree.exact or tree.prefix or len(tree.tokens) != 1 or not tree.tokens[0].isalpha():
            return tree
        return _stemmed_word(tree)
    children = tree.children
    first = children[0] if children else None
    if (
        tree.op == "or"
        and isinstance(first, Phrase)
        and first.exact
        and all(isinstance(c, Phrase) for c in children)
        and {" ".join(c.tokens) for c in children[1:]} <= groups.get(" ".join(first.tokens), set())
    ):
        return tree  # a quoted word with its aliases (expand): all of them exact
    return Node(tree.op, tuple(stemmed(c, groups) for c in children), tuple(stemmed(c, groups) for c in tree.negated))


def _pair_route(phrase: Phrase) -> bool:
    """Whether a phrase is read from the `bi` column: exactly two common words, no prefix."""
    return len(phrase.tokens) == 2 and not phrase.prefix and all(t in COMMON_WORDS for t in phrase.tokens)


def to_fts5(tree: Any) -> str:
    """FTS5 query text, every phrase limited to one column. A two-common-word phrase matches its single
    `bi` token (same documents, same count per document: one phrase for bm25 either way); everything
    else matches in `body`."""
    if isinstance(tree, Stem):
        return 'bi : "' + (STEM_MARK + tree.root).replace('"', '""') + '"'
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


# PostgreSQL ------------------------------------------------------------------------------------------
# A query is written in tsquery's input syntax over the lexemes documents.pg_vector writes: tokens are
# letters and digits and the marks are not quotes or backslashes, so a lexeme is quoted as it is.

PG_NOTHING = f"'{PG_PAIR_MARK}'"  # a lexeme no document holds: a word too long to be indexed


def _lexeme(text: str, prefix: bool = False) -> str:
    if not pg_lexeme_fits(text):
        return PG_NOTHING
    return f"'{text}'" + (":*" if prefix else "")


def _phrase_tsquery(phrase: Phrase) -> str:
    """A phrase as its indexed pairs (a pair lexeme stands for its two words at its position), with a
    word lexeme for every word no pair covers, chained at their distances. Two words of which one is
    common are one pair lexeme, matched without reading a document; otherwise the index finds the
    documents holding all of them and PostgreSQL checks their positions."""
    found = phrase.tokens
    last = len(found) - 1
    operands: list[tuple[int, str]] = []
    covered: set[int] = set()
    for at, (first, second) in enumerate(itertools.pairwise(found)):
        pair = pg_pair(first, second)
        completed = phrase.prefix and at + 1 == last  # the second word is a prefix
        # Every pair that starts with a common word is indexed, whatever the word that completes it.
        usable = first in COMMON_WORDS if completed else pg_pair_indexed(first, second)
        if usable and pg_lexeme_fits(pair):
            operands.append((at, _lexeme(pair, completed)))
            covered.update((at, at + 1))
    for at, token in enumerate(found):
        if at not in covered:
            operands.append((at, _lexeme(token, phrase.prefix and at == last)))
    operands.sort()
    text = operands[0][1]
    for (before, _), (at, operand) in itertools.pairwise(operands):
        text = f"{text} <{at - before}> {operand}"
    return f"({text})" if len(operands) > 1 else text


def to_tsquery(tree: Any) -> str:
    """The query in tsquery's input syntax (see documents.pg_vector): words, pairs, phrases and prefixes
    exactly as written, stems as their marked lexeme."""
    if isinstance(tree, Stem):
        return _lexeme(PG_STEM_MARK + tree.root)
    if isinstance(tree, Phrase):
        return _phrase_tsquery(tree)
    joiner = " & " if tree.op == "and" else " | "
    text = "(" + joiner.join(to_tsquery(child) for child in tree.children) + ")"
    for child in tree.negated:
        text = f"({text} & !{to_tsquery(child)})"
    return text


PG_RANK_SHORTCUT_LEXEMES = 4


def _single_lexemes(tree: Any) -> list[str] | None:
    """The lexemes of a query that is one lexeme or an OR of lexemes (a word, its stem, a two-word phrase
    that is one pair lexeme); None for any other query."""
    if isinstance(tree, Stem):
        return [PG_STEM_MARK + tree.root]
    if isinstance(tree, Phrase):
        if tree.prefix:
            return None
        if len(tree.tokens) == 1:
            return [tree.tokens[0]]
        if len(tree.tokens) == 2 and pg_pair_indexed(*tree.tokens):
            return [pg_pair(*tree.tokens)]
        return None
    if tree.op != "or" or tree.negated:
        return None
    found: list[str] = []
    for child in tree.children:
        lexemes = _single_lexemes(child)
        if lexemes is None:
            return None
        found += lexemes
    return found


def rank_candidates(tree: Any) -> tuple[str, str] | None:
    """For a query that is one lexeme or an OR of a few, which matches can be among the best `n` by ts_rank
    (then interview and segment), as two tsqueries: (above, exact). None for a query of another form: its
    matches are all ranked one by one.

    For such a query ts_rank sums, per lexeme of the query, a score that grows with the lexeme's
    occurrences in the document, over the number of lexemes. Every match holding one lexeme once scores
    the same, the least; `above` are the matches that score more (a lexeme twice: its repeat mark, or two
    of them). Of those, the matches holding one lexeme exactly twice and no other score the same again;
    the rest, `exact` (a lexeme three times or more, or two of them), are ranked one by one. So the best
    `n` are among `exact`, the first `n` of `above` in (interview, segment) order and, when fewer than `n`
    matches are above, the first `n` matches."""
    lexemes = _single_lexemes(tree)
    if lexemes is None:
        return None
    unique = sorted(set(lexemes))
    if len(unique) > PG_RANK_SHORTCUT_LEXEMES or not all(pg_lexeme_fits(lexeme) for lexeme in unique):
        return None
    both = [f"({_lexeme(first)} & {_lexeme(second)})" for first, second in itertools.combinations(unique, 2)]
    above = [_lexeme(PG_REPEAT_MARK + lexeme) for lexeme in unique] + both
    exact = [_lexeme(PG_REPEAT_MARK * 2 + lexeme) for lexeme in unique] + both
    return " | ".join(above), " | ".join(exact)


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

    def language_codes(self) -> list[str]:
        """The language codes the language filter names: a code ("en") or a label users see ("English",
        "الإنجليزية"); nothing matches an unknown one."""
        return language_codes(self.language) if self.language else []

    def interview_ok(self, meta: dict[str, Any]) -> bool:
        """Whether an interview's metadata at the tier passes the filters. Collections, modes and topics
        are named by code or by the label users see (the collection's title, "Video call")."""
        if self.collection and not (
            meta["collection"] == self.collection or matches_label(self.collection, meta.get("collection_title", ""))
        ):
            return False
        if self.mode and meta["mode"] not in mode_codes(self.mode):
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


FILTER_FIELDS = ("collection", "date_from", "date_to", "mode", "topic", "narrator")
