"""Suggested redactions for an interview's current transcript.

Runs the pure detectors (archive/suggestions.py) over every segment and stores what they find as span
redactions with status=suggested and source=<detector>. A suggestion changes no rendering until an
editor approves it, so storing suggestions never rebuilds anything. Called after transcription and
import, and from the editors' workbench.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..gate.inputs import load_inputs
from ..gate.redactor import TierRedactor
from ..lexicons import cross_script_aliases, default_detector
from ..models import Entity, Interview, Redaction, Segment, Tier
from ..suggestions import GazetteerName, Suggester, Suggestion
from .audit import audit_log
from .people import interview_touch

CATEGORY_FOR_KIND: dict[str, str] = {
    Entity.Kind.PERSON: Redaction.Category.NAME,
    Entity.Kind.PLACE: Redaction.Category.PLACE,
    Entity.Kind.ORGANISATION: Redaction.Category.ORGANISATION,
    Entity.Kind.EVENT: Redaction.Category.EVENT,
    Entity.Kind.OTHER: Redaction.Category.OTHER,
}
# Categories whose confirmed span text is worth looking for again elsewhere.
GAZETTEER_CATEGORIES = {
    Redaction.Category.NAME,
    Redaction.Category.RELATIVE,
    Redaction.Category.PLACE,
    Redaction.Category.ORGANISATION,
    Redaction.Category.CONTACT,
}
DEFAULT_VISIBLE_FROM = Tier.STAFF


@dataclass(frozen=True)
class EntityKey:
    entity_id: int
    kind: str
    has_generalisation: bool


def archive_gazetteer() -> list[GazetteerName]:
    """Every name the archive already knows: entities with their aliases, and the text of approved span
    redactions of names, places, organisations and contacts."""
    names: list[GazetteerName] = []
    for entity in Entity.objects.prefetch_related("aliases"):
        key = EntityKey(entity.pk, entity.kind, bool(entity.generalisation))
        category = CATEGORY_FOR_KIND.get(entity.kind, Redaction.Category.OTHER)
        names.append(GazetteerName(entity.raw_name, category, key))
        names.extend(GazetteerName(alias.raw_alias, category, key) for alias in entity.aliases.all())
        if entity.kind == Entity.Kind.PERSON:
            # The same person written in the other script (طارق منصور ~ Tarek Mansour).
            names.extend(GazetteerName(alias, category, key) for alias in cross_script_aliases(entity.raw_name))
    confirmed = Redaction.objects.filter(
        kind=Redaction.Kind.SPAN, status=Redaction.Status.APPROVED, category__in=GAZETTEER_CATEGORIES
    ).select_related("segment")
    seen: set[str] = set()
    for redaction in confirmed:
        start, end = redaction.span_range()
        phrase = redaction.span_segment().raw_text[start:end].strip()
        if len(phrase) >= 3 and phrase not in seen:
            seen.add(phrase)
            names.append(GazetteerName(phrase, redaction.category, None))
    return names


def _covered(start: int, end: int, intervals: Iterable[tuple[int, int, Any]]) -> bool:
    """True when [start, end) lies inside the union of the intervals (they are sorted and merged)."""
    cursor = start
    for s, e, _rule in intervals:
        if s > cursor:
            break
        cursor = max(cursor, e)
        if cursor >= end:
            return True
    return cursor >= end


def _heard_at(suggestion: Suggestion) -> str:
    """Where the words are heard, so that an editor can listen before deciding."""
    if suggestion.start_time is None or suggestion.end_time is None:
        return ""
    return f", heard at {suggestion.start_time:.2f}-{suggestion.end_time:.2f} s"


def _row(segment: Segment, interview: Interview, suggestion: Suggestion, now: Any) -> Redaction:
    """A suggested span; a contact detail (a phone number, an email address) is applied at once at
    custodian visibility, as imports do: nothing waits on a decision before it stops being published."""
    if suggestion.category == Redaction.Category.CONTACT:
        return Redaction(
            kind=Redaction.Kind.SPAN,
            interview=interview,
            segment=segment,
            start_char=suggestion.start,
            end_char=suggestion.end,
            category=Redaction.Category.CONTACT,
            visible_from=Tier.CUSTODIAN,
            status=Redaction.Status.APPROVED,
            source=suggestion.source[:30],
            reason=(
                f"contact detail found by {suggestion.source}; applied at custodian visibility{_heard_at(suggestion)}"
            ),
            created_at=now,
            decided_at=now,
        )
    replacement_kind = Redaction.ReplacementKind.LABEL
    entity_id = None
    if isinstance(suggestion.key, EntityKey):
        entity_id = suggestion.key.entity_id
        if suggestion.key.kind == Entity.Kind.PERSON:
            replacement_kind = Redaction.ReplacementKind.PSEUDONYM
        elif suggestion.key.has_generalisation:
            replacement_kind = Redaction.ReplacementKind.GENERALISATION
    return Redaction(
        kind=Redaction.Kind.SPAN,
        interview=interview,
        segment=segment,
        start_char=suggestion.start,
        end_char=suggestion.end,
        entity_id=entity_id,
        category=suggestion.category,
        visible_from=DEFAULT_VISIBLE_FROM,
        replacement_kind=replacement_kind,
        status=Redaction.Status.SUGGESTED,
        source=suggestion.source[:30],
        reason=f"suggested by {suggestion.source} (score {suggestion.score:.2f}){_heard_at(suggestion)}",
        created_at=now,
    )


@transaction.atomic
def suggestions_generate(
    *, interview: Interview, actor: Any = None, suggester: Suggester | None = None
) -> list[Redaction]:
    """Store suggested span redactions for the interview's current transcript; return the new ones.

    Skips a suggestion that overlaps any existing span redaction of the segment (suggested, approved or
    rejected: an editor already looked there) and one that is already hidden at every tier below staff
    by an approved redaction or a narrator's identity."""
    inputs = load_inputs(interview)
    if inputs.transcript is None or not inputs.segments:
        return []
    suggester = suggester or Suggester(archive_gazetteer(), default_detector())
    public = TierRedactor(inputs, Tier.PUBLIC)
    existing: dict[int, list[tuple[int, int]]] = {}
    spans = Redaction.objects.filter(kind=Redaction.Kind.SPAN, segment__transcript=inputs.transcript)
    for segment_id, start, end in spans.values_list("segment_id", "start_char", "end_char"):
        assert start is not None and end is not None, "a span redaction has its range (redaction_span_has_range)"
        existing.setdefault(segment_id, []).append((start, end))
    now = timezone.now()
    rows: list[Redaction] = []
    for segment in inputs.segments:
        text = segment.raw_text
        words = inputs.words_unchanged(segment)
        found = suggester.suggest(text, segment.language or inputs.transcript.language, words)
        if not found:
            continue
        hidden = public.intervals(text, segment.pk)
        taken = existing.setdefault(segment.pk, [])
        for suggestion in found:
            if any(suggestion.start < e and s < suggestion.end for s, e in taken):
                continue
            if _covered(suggestion.start, suggestion.end, hidden):
                continue
            taken.append((suggestion.start, suggestion.end))
            rows.append(_row(segment, interview, suggestion, now))
    Redaction.objects.bulk_create(rows, batch_size=500)
    if any(row.status == Redaction.Status.APPROVED for row in rows):
        interview_touch(interview)
    by_source: dict[str, int] = {}
    for row in rows:
        by_source[row.source] = by_source.get(row.source, 0) + 1
    audit_log(
        actor=actor,
        action="suggestions_generate",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"count": len(rows), "by_source": by_source},
    )
    return rows
