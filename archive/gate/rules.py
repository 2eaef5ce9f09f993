"""Redaction rules and the pure text and word operations that apply them."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..models import (
    Entity,
    Redaction,
    Segment,
)
from .types import RenderedWord

CATEGORY_LABELS: dict[str, str] = {
    Redaction.Category.NAME: "[name withheld]",
    Redaction.Category.RELATIVE: "[relative withheld]",
    Redaction.Category.PLACE: "[place withheld]",
    Redaction.Category.CONTACT: "[contact withheld]",
    Redaction.Category.DATE: "[date withheld]",
    Redaction.Category.IDENTIFIER: "[number withheld]",
    Redaction.Category.ORGANISATION: "[organisation withheld]",
    Redaction.Category.EVENT: "[event withheld]",
    Redaction.Category.OTHER: "[detail withheld]",
}


@dataclass(frozen=True)
class Rule:
    visible_from: str
    replacement: str
    category: str


def _entity_of(redaction: Redaction) -> Entity | None:
    """The redaction's entity, loaded only where it has one (a span redaction's costs no query)."""
    return redaction.entity if redaction.entity_id else None


def replacement_for(redaction: Redaction) -> str:
    kind = redaction.replacement_kind
    if kind == Redaction.ReplacementKind.PSEUDONYM and (entity := _entity_of(redaction)) and entity.pseudonym:
        return entity.pseudonym
    if redaction.replacement_kind == Redaction.ReplacementKind.GENERALISATION:
        if redaction.replacement:
            return redaction.replacement
        if (entity := _entity_of(redaction)) and entity.generalisation:
            return entity.generalisation
    if redaction.replacement and redaction.replacement_kind != Redaction.ReplacementKind.LABEL:
        return redaction.replacement
    return CATEGORY_LABELS.get(redaction.category, CATEGORY_LABELS[Redaction.Category.OTHER])


def entity_rules() -> list[tuple[str, Rule]]:
    """(name or alias, rule) for every approved entity redaction in the archive."""
    names: list[tuple[str, Rule]] = []
    redactions = Redaction.objects.filter(kind=Redaction.Kind.ENTITY, status=Redaction.Status.APPROVED).select_related(
        "entity"
    )
    for redaction in redactions.prefetch_related("entity__aliases"):
        rule = Rule(redaction.visible_from, replacement_for(redaction), redaction.category)
        entity = redaction.entity
        assert entity is not None, "an entity redaction has its entity (redaction_entity_has_entity)"
        names.append((entity.raw_name, rule))
        names.extend((alias.raw_alias, rule) for alias in entity.aliases.all())
    return names


def replaced(text: str, intervals: list[tuple[int, int, Rule]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end, rule in intervals:
        pieces.append(text[cursor:start])
        pieces.append(rule.replacement)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def word_offsets(text: str, words: Sequence[RenderedWord]) -> list[tuple[int, int]] | None:
    """Character offsets of each word in the segment text, or None if they do not line up."""
    offsets: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        token = word.text.strip()
        if not token:
            offsets.append((cursor, cursor))
            continue
        position = text.find(token, cursor)
        if position < 0:
            return None
        offsets.append((position, position + len(token)))
        cursor = position + len(token)
    return offsets


def hide_intervals(
    segment: Segment, words: Sequence[RenderedWord], intervals: list[tuple[int, int, Rule]]
) -> tuple[str, tuple[RenderedWord, ...], tuple[tuple[float, float], ...]]:
    """The segment's text, words and audio spans to silence with `intervals` hidden."""
    raw = segment.raw_text
    text = replaced(raw, intervals)
    offsets = word_offsets(raw, words) if words else None
    if offsets is None:
        # No usable word alignment: a redaction silences the whole segment, and no words go out.
        return text, (), ((segment.start, segment.end),)
    spans: list[tuple[float, float]] = []
    rendered_words: list[RenderedWord] = []
    starts = [start for start, _end, _rule in intervals]
    open_interval: int | None = None
    for word, (w_start, w_end) in zip(words, offsets, strict=True):
        position = bisect.bisect_right(starts, w_end - 1) - 1 if w_end > w_start else -1
        hit = position >= 0 and intervals[position][1] > w_start and w_end > w_start
        if not hit:
            open_interval = None
            rendered_words.append(word)
            continue
        w_s, w_e = word.start, word.end
        if w_s is None or w_e is None:
            spans.append((segment.start, segment.end))
        else:
            spans.append((max(0.0, float(w_s) - AUDIO_PAD_SECONDS), float(w_e) + AUDIO_PAD_SECONDS))
        if open_interval == position:
            previous = rendered_words[-1]
            rendered_words[-1] = RenderedWord(previous.text, previous.start, w_e if w_e is not None else previous.end)
        else:
            rendered_words.append(RenderedWord(" " + intervals[position][2].replacement, w_s, w_e))
            open_interval = position
    # A redacted interval that no word covers (e.g. text edited after alignment) silences the segment.
    for start, end, _rule in intervals:
        if not any(ws < end and we > start for ws, we in offsets if we > ws):
            spans.append((segment.start, segment.end))
    return text, tuple(rendered_words), tuple(spans)


def merge_spans(spans: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((round(s, 3), round(e, 3)) for s, e in merged)


AUDIO_PAD_SECONDS = 0.15


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
