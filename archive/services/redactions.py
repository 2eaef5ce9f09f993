"""Writes for entities and redactions. Approving or changing a redaction rebuilds, in the same
transaction, the renderings of every interview it touches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from ..models import TIER_ORDER, Entity, EntityAlias, Interview, Redaction, Segment, Tier
from ..textnorm import Gazetteer, is_arabic, normalise
from .audit import audit_log
from .base import rules_changed, write
from .people import interview_touch

KIND_FOR_CATEGORY: dict[str, str] = {
    Redaction.Category.NAME: Entity.Kind.PERSON,
    Redaction.Category.RELATIVE: Entity.Kind.PERSON,
    Redaction.Category.PLACE: Entity.Kind.PLACE,
    Redaction.Category.ORGANISATION: Entity.Kind.ORGANISATION,
    Redaction.Category.EVENT: Entity.Kind.EVENT,
}
PSEUDONYM_PREFIX: dict[str, str] = {
    Entity.Kind.PERSON: "Person",
    Entity.Kind.PLACE: "Place",
    Entity.Kind.ORGANISATION: "Organisation",
    Entity.Kind.EVENT: "Event",
    Entity.Kind.OTHER: "Detail",
}


def _letters(n: int) -> str:
    label = ""
    n += 1
    while n:
        n, remainder = divmod(n - 1, 26)
        label = chr(65 + remainder) + label
    return label


def _next_pseudonym(kind: str) -> str:
    prefix = PSEUDONYM_PREFIX.get(kind, "Detail")
    taken = set(Entity.objects.filter(pseudonym__startswith=prefix).values_list("pseudonym", flat=True))
    n = 0
    while f"{prefix} {_letters(n)}" in taken:
        n += 1
    return f"{prefix} {_letters(n)}"


def _alias_script(alias: str) -> str:
    return EntityAlias.Script.ARABIC if is_arabic(alias) else EntityAlias.Script.LATIN


@write
def entity_create(
    *,
    kind: str,
    name: str,
    aliases: Iterable[str] = (),
    pseudonym: str = "",
    generalisation: str = "",
    actor: Any = None,
) -> Entity:
    entity = Entity(
        kind=kind, raw_name=name.strip(), pseudonym=pseudonym or _next_pseudonym(kind), generalisation=generalisation
    )
    entity.full_clean()
    entity.save()
    for alias in aliases:
        entity_add_alias(entity=entity, alias=alias, rebuild=False)
    audit_log(actor=actor, action="entity_create", target_type="entity", target_id=str(entity.public_id))
    return entity


def entity_find(name: str, *, caller_tier: str = Tier.CUSTODIAN) -> Entity | None:
    """The entity named `name` (or with it as an alias) that someone at `caller_tier` may know of.

    An entity redacted above that tier is not found: linking a guessed name to it would tell the
    caller which hidden entity (which pseudonym) the name belongs to."""
    key = normalise(name).strip()
    candidates = [entity for entity in Entity.objects.all() if normalise(entity.raw_name).strip() == key]
    candidates += [alias.entity for alias in EntityAlias.objects.filter(normalised=key).select_related("entity")]
    if not candidates:
        return None
    above = {
        entity_id
        for entity_id, visible_from in Redaction.objects.filter(entity__in=candidates)
        .exclude(status=Redaction.Status.REJECTED)
        .values_list("entity_id", "visible_from")
        if TIER_ORDER[visible_from] > TIER_ORDER[caller_tier]
    }
    return next((entity for entity in candidates if entity.pk not in above), None)


@write
def entity_add_alias(*, entity: Entity, alias: str, rebuild: bool = True, actor: Any = None) -> EntityAlias:
    row, _created = EntityAlias.objects.get_or_create(
        entity=entity,
        normalised=normalise(alias).strip(),
        defaults={"raw_alias": alias.strip(), "script": _alias_script(alias)},
    )
    if rebuild and entity.redactions.filter(status=Redaction.Status.APPROVED).exists():
        rebuild_interviews_mentioning([entity.raw_name, alias], actor=actor)
    return row


def rebuild_interviews_mentioning(names: Iterable[str], *, actor: Any = None) -> list[Interview]:
    """The entity rules changed for these names: see rendering.rules_changed."""
    return rules_changed(names)


def _entity_names(entity: Entity) -> list[str]:
    return [entity.raw_name, *entity.aliases.values_list("raw_alias", flat=True)]


def _redaction_save(redaction: Redaction, *, target: tuple[str, str], actor: Any, **fields: Any) -> Redaction:
    """Fill in the decision fields shared by every kind of redaction, validate, save, audit."""
    for name, value in fields.items():
        setattr(redaction, name, value)
    redaction.author = actor if getattr(actor, "is_authenticated", False) else None
    redaction.decided_at = timezone.now() if redaction.status != Redaction.Status.SUGGESTED else None
    redaction.full_clean()
    redaction.save()
    audit_log(
        actor=actor,
        action="redaction_add",
        target_type=target[0],
        target_id=target[1],
        detail={
            "redaction": str(redaction.public_id),
            "kind": redaction.kind,
            "status": redaction.status,
            "visible_from": redaction.visible_from,
            "category": redaction.category,
        },
    )
    return redaction


@write
def redaction_add_span(
    *,
    segment: Segment,
    start_char: int,
    end_char: int,
    category: str = Redaction.Category.NAME,
    visible_from: str = "staff",
    replacement_kind: str = Redaction.ReplacementKind.LABEL,
    replacement: str = "",
    status: str = Redaction.Status.APPROVED,
    source: str = "manual",
    reason: str = "",
    actor: Any = None,
) -> Redaction:
    interview = segment.transcript.interview
    if not 0 <= start_char < end_char <= len(segment.raw_text):
        raise ValueError("The span lies outside the segment text.")
    redaction = _redaction_save(
        Redaction(
            kind=Redaction.Kind.SPAN, interview=interview, segment=segment, start_char=start_char, end_char=end_char
        ),
        target=("interview", str(interview.public_id)),
        category=category,
        visible_from=visible_from,
        replacement_kind=replacement_kind,
        replacement=replacement,
        status=status,
        source=source,
        reason=reason,
        actor=actor,
    )
    if status == Redaction.Status.APPROVED:
        interview_touch(interview)
    return redaction


@write
def redaction_add_entity(
    *,
    entity: Entity,
    category: str = Redaction.Category.NAME,
    visible_from: str = "staff",
    replacement_kind: str = Redaction.ReplacementKind.PSEUDONYM,
    replacement: str = "",
    status: str = Redaction.Status.APPROVED,
    interview: Interview | None = None,
    source: str = "manual",
    reason: str = "",
    actor: Any = None,
) -> Redaction:
    redaction = _redaction_save(
        Redaction(kind=Redaction.Kind.ENTITY, entity=entity, interview=interview),
        target=("entity", str(entity.public_id)),
        category=category,
        visible_from=visible_from,
        replacement_kind=replacement_kind,
        replacement=replacement,
        status=status,
        source=source,
        reason=reason,
        actor=actor,
    )
    if status == Redaction.Status.APPROVED:
        rebuild_interviews_mentioning(_entity_names(entity), actor=actor)
    return redaction


@write
def redact_phrase(
    *,
    phrase: str,
    category: str,
    visible_from: str,
    replacement: str = "",
    interview: Interview | None = None,
    caller_tier: str = Tier.CUSTODIAN,
    actor: Any = None,
) -> Redaction:
    """Approved entity redaction of every occurrence of a phrase, in every interview. The phrase joins
    an existing entity only when that entity is not redacted above `caller_tier` (the tier of whoever
    asks; operators and scripts work as custodians); otherwise it becomes a new entity, exactly as a
    name that matches nothing does."""
    phrase = phrase.strip()
    if not phrase:
        raise ValueError("The phrase to redact is empty.")
    entity = entity_find(phrase, caller_tier=caller_tier) or entity_create(
        kind=KIND_FOR_CATEGORY.get(category, Entity.Kind.OTHER), name=phrase, actor=actor
    )
    replacement_kind = Redaction.ReplacementKind.GENERALISATION if replacement else Redaction.ReplacementKind.LABEL
    return redaction_add_entity(
        entity=entity,
        category=category,
        visible_from=visible_from,
        replacement_kind=replacement_kind,
        replacement=replacement,
        interview=interview,
        actor=actor,
    )


@write
def redaction_decide(
    *, redaction: Redaction, approve: bool, actor: Any = None, visible_from: str | None = None
) -> Redaction:
    redaction.status = Redaction.Status.APPROVED if approve else Redaction.Status.REJECTED
    if visible_from:
        redaction.visible_from = visible_from
    redaction.decided_at = timezone.now()
    redaction.author = actor if getattr(actor, "is_authenticated", False) else redaction.author
    redaction.full_clean()
    redaction.save()
    target = redaction.interview or (redaction.segment.transcript.interview if redaction.segment else None)
    audit_log(
        actor=actor,
        action="redaction_decide",
        target_type="interview" if target else "entity",
        target_id=str(target.public_id) if target else str(redaction.hidden_entity().public_id),
        detail={"redaction": str(redaction.public_id), "status": redaction.status},
    )
    _rebuild_for(redaction, actor)
    return redaction


@write
def redaction_remove(*, redaction: Redaction, actor: Any = None) -> None:
    """Reject (never delete) a redaction: the decision stays in the record."""
    redaction_decide(redaction=redaction, approve=False, actor=actor)


def _rebuild_for(redaction: Redaction, actor: Any) -> None:
    if redaction.kind == Redaction.Kind.ENTITY:
        rebuild_interviews_mentioning(_entity_names(redaction.hidden_entity()), actor=actor)
    elif (segment := redaction.segment) is not None:
        interview_touch(segment.transcript.interview)


@write
def redactions_bulk_decide(*, redactions: Iterable[Redaction], approve: bool, actor: Any = None) -> int:
    count = 0
    touched: dict[int, Interview] = {}
    entity_names: list[str] = []
    for redaction in redactions:
        redaction.status = Redaction.Status.APPROVED if approve else Redaction.Status.REJECTED
        redaction.decided_at = timezone.now()
        redaction.save(update_fields=["status", "decided_at"])
        count += 1
        if redaction.kind == Redaction.Kind.ENTITY:
            entity_names.extend(_entity_names(redaction.hidden_entity()))
        elif (segment := redaction.segment) is not None:
            interview = segment.transcript.interview
            touched[interview.pk] = interview
    audit_log(actor=actor, action="redaction_bulk_decide", detail={"count": count, "approve": approve})
    for interview in touched.values():
        interview_touch(interview)
    if entity_names:
        rebuild_interviews_mentioning(entity_names, actor=actor)
    return count


@write
def redaction_add_phrase_span(*, interview: Interview, phrase: str, occurrence: int = 0, **options: Any) -> Redaction:
    """A span redaction over the n-th occurrence of a phrase in the interview's current transcript."""
    seen = 0
    segments = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True).order_by("index")
    for segment in segments:
        start = segment.raw_text.find(phrase)
        while start >= 0:
            if seen == occurrence:
                return redaction_add_span(segment=segment, start_char=start, end_char=start + len(phrase), **options)
            seen += 1
            start = segment.raw_text.find(phrase, start + 1)
    raise ValueError("The phrase does not occur in the interview's transcript.")


# Span redactions follow the text they hide --------------------------------------------------------

REANCHOR_WINDOW_SECONDS = 3.0


def occurrences(text: str, phrase: str) -> list[tuple[int, int]]:
    """Where `phrase` occurs in `text`, by the redaction matcher (normalised, word-bounded), else as
    the same characters."""
    found = [(m.start, m.end) for m in Gazetteer([(phrase, None)]).find(text)]
    if found:
        return found
    spans, start = [], text.find(phrase)
    while start >= 0:
        spans.append((start, start + len(phrase)))
        start = text.find(phrase, start + 1)
    return spans


def _anchor(redaction: Redaction, old_text: str, candidates: Iterable[Segment]) -> tuple[Segment, int, int] | None:
    """The place in `candidates` (nearest first) holding the phrase the span hid in `old_text`: the
    same occurrence by order where the phrase occurs more than once."""
    start_char, end_char = redaction.span_range()
    phrase = old_text[start_char:end_char]
    if not phrase.strip():
        return None
    ordinal = sum(1 for start, _end in occurrences(old_text, phrase) if start < start_char)
    for segment in candidates:
        found = occurrences(segment.raw_text, phrase)
        if found:
            start, end = found[min(ordinal, len(found) - 1)]
            return segment, start, end
    return None


def _hold_or_drop(redaction: Redaction, reason: str) -> None:
    """A span that lost its text: an approved one is held (its tier and below wait for an editor); a
    suggestion is set aside as rejected, since nothing it pointed at is left."""
    if redaction.status == Redaction.Status.APPROVED:
        redaction.held = True
    else:
        redaction.status = Redaction.Status.REJECTED
        redaction.decided_at = timezone.now()
    redaction.reason = reason[:300]


def spans_follow_version(
    *, previous: Any, rows: list[Segment], origins: dict[int, Segment], recording_map: dict[int, int], actor: Any = None
) -> dict[str, int]:
    """Move the previous version's span redactions onto the new version's rows: a row copied from an
    old one (`origins`: old pk → new row) keeps the span where the text is the same; otherwise the
    phrase is looked for by text near the same time in rows of the same media (`recording_map` maps a
    replaced recording to its replacement). What cannot be placed is held (approved) or set aside."""
    counts = {"moved": 0, "held": 0}
    if previous is None:
        return counts
    spans = Redaction.objects.filter(
        kind=Redaction.Kind.SPAN,
        segment__transcript=previous,
        status__in=[Redaction.Status.APPROVED, Redaction.Status.SUGGESTED],
        held=False,
    ).select_related("segment")
    for redaction in spans:
        old = redaction.span_segment()
        copy = origins.get(old.pk)
        if copy is not None and copy.raw_text == old.raw_text:
            start_char, end_char = redaction.span_range()
            placed: tuple[Segment, int, int] | None = (copy, start_char, end_char)
        else:
            media = recording_map.get(old.recording_id, old.recording_id) if old.recording_id else None
            nearby = [
                row
                for row in rows
                if row.recording_id == media
                and row.start < old.end + REANCHOR_WINDOW_SECONDS
                and row.end > old.start - REANCHOR_WINDOW_SECONDS
            ]
            nearby.sort(key=lambda row: abs(row.start - old.start))
            placed = _anchor(redaction, old.raw_text, nearby)
        if placed is None:
            _hold_or_drop(redaction, "The hidden text was not found in the new transcript version.")
            counts["held"] += redaction.held
        else:
            redaction.segment, redaction.start_char, redaction.end_char = placed
            counts["moved"] += 1
        redaction.save(update_fields=["segment", "start_char", "end_char", "held", "status", "decided_at", "reason"])
    if counts["held"]:
        audit_log(
            actor=actor,
            action="redaction_held",
            target_type="interview",
            target_id=str(previous.interview.public_id),
            detail={"count": counts["held"]},
        )
    return counts


def spans_follow_edit(*, segment: Segment, old_text: str, actor: Any = None) -> int:
    """After a correction of `segment`, its span redactions follow their phrase into the new text;
    those whose phrase is gone are held. Returns how many were held."""
    held = 0
    spans = Redaction.objects.filter(
        kind=Redaction.Kind.SPAN,
        segment=segment,
        status__in=[Redaction.Status.APPROVED, Redaction.Status.SUGGESTED],
        held=False,
    )
    for redaction in spans:
        placed = _anchor(redaction, old_text, [segment])
        if placed is None:
            _hold_or_drop(redaction, "The hidden text was changed by a correction.")
            held += redaction.held
        else:
            _segment, redaction.start_char, redaction.end_char = placed
        redaction.save(update_fields=["start_char", "end_char", "held", "status", "decided_at", "reason"])
    if held:
        audit_log(
            actor=actor,
            action="redaction_held",
            target_type="interview",
            target_id=str(segment.transcript.interview.public_id),
            detail={"count": held},
        )
    return held


@write
def redaction_resolve_held(
    *, redaction: Redaction, actor: Any = None, segment: Segment | None = None, start_char: int = 0, end_char: int = 0
) -> Redaction:
    """An editor's decision on a held span: place it on a current segment (`segment`, offsets), or,
    without a segment, set it aside (rejected). Either way the lower tiers are released."""
    if not redaction.held:
        raise ValueError("The redaction is not waiting for a decision.")
    interview = redaction.span_segment().transcript.interview  # only a span is ever held
    if segment is not None:
        if segment.transcript.interview_id != interview.pk or not segment.transcript.is_current:
            raise ValueError("The segment is not in the interview's current transcript.")
        if not 0 <= start_char < end_char <= len(segment.raw_text):
            raise ValueError("The span lies outside the segment text.")
        redaction.segment, redaction.start_char, redaction.end_char = segment, start_char, end_char
    else:
        redaction.status = Redaction.Status.REJECTED
    redaction.held = False
    redaction.decided_at = timezone.now()
    redaction.save(update_fields=["segment", "start_char", "end_char", "held", "status", "decided_at"])
    audit_log(
        actor=actor,
        action="redaction_resolve",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"redaction": str(redaction.public_id), "status": redaction.status},
    )
    interview_touch(interview)
    return redaction
