"""Stored renderings: materialised per tier by the services that change an input (`materialise`),
read by everything outgoing (`rendering_for`), never served stale and never rebuilt by a read.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.celery import app

from ..models import (
    Alert,
    Interview,
    Narrator,
    PolicyClock,
    RenderedInterview,
    RenderedSegment,
    Segment,
    Tier,
)
from ..textnorm import Gazetteer, normalise_with_map
from . import policy as access
from .digests import inputs_digest
from .identity import IDENTITY_REF, decode_identity, narrator_display
from .inputs import load_inputs
from .render import raw_rendered_texts, render
from .rules import Rule, digest
from .stamps import POLICY_CODE_VERSION, policy_stamp, rules_clock, stamp_of
from .types import (
    WITHHELD_NARRATOR,
    AudioPart,
    NarratorRendering,
    NotVisible,
    RenderedWord,
    Rendering,
    SegmentRendering,
    SourceWords,
)

logger = logging.getLogger(__name__)


def interviews_mentioning(names: Iterable[str]) -> list[Interview]:
    """Interviews in which any of the names occurs in a field render() redacts: the current
    transcript's segments or any of raw_rendered_texts (the same matcher as the redactor)."""
    gazetteer = Gazetteer((name, name) for name in names if name)
    if not gazetteer:
        return []
    found: set[int] = set()
    segments = (
        Segment.objects.filter(transcript__is_current=True)
        .order_by("transcript__interview_id", "index")
        .values_list("transcript__interview_id", "pk", "raw_text")
    )
    previous: tuple[int, int, str] | None = None
    for interview_id, pk, text in segments.iterator(chunk_size=5000):
        if interview_id not in found and gazetteer.occurs_in(normalise_with_map(text)[0]):
            found.add(interview_id)
        # A name split by the boundary of two segments is hidden too (TierRedactor uses Gazetteer.across).
        if (
            previous is not None
            and previous[0] == interview_id
            and interview_id not in found
            and any(True for _ in gazetteer.across([(previous[1], previous[2]), (pk, text)]))
        ):
            found.add(interview_id)
        previous = (interview_id, pk, text)
    fields = ("pk", "title", "summary", "place", "place_general", "topics", "interviewer_label")
    for interview in Interview.objects.exclude(pk__in=found).only(*fields):
        if any(gazetteer.occurs_in(normalise_with_map(text)[0]) for text in raw_rendered_texts(interview)):
            found.add(interview.pk)
    return list(Interview.objects.filter(pk__in=found))


def advance_rules_clock() -> int:
    """Move the archive-wide entity rules clock on (every stored rendering's stamp is now stale) and
    return the clock before."""
    clock_row, _created = PolicyClock.objects.select_for_update().get_or_create(pk=1)
    old_clock = clock_row.entity_rules
    clock_row.entity_rules = old_clock + 1
    clock_row.save(update_fields=["entity_rules"])
    return old_clock


def restamp_unaffected(old_clock: int, rebuilt: Iterable[int]) -> list[tuple[int, str, str]]:
    """After advance_rules_clock: every rendering that was current under `old_clock` and belongs to an
    interview not in `rebuilt` (shown unaffected by the change, see interviews_mentioning) takes the
    new stamp unchanged. Returns (interview id, old stamp, new stamp) for the search documents."""
    restamped: list[tuple[int, str, str]] = []
    rows = RenderedInterview.objects.exclude(interview_id__in=list(rebuilt)).values_list(
        "pk", "interview_id", "policy_version", "interview__policy_version"
    )
    updates: list[RenderedInterview] = []
    for pk, interview_id, stamp, version in rows.iterator(2000):
        if stamp != stamp_of(version, old_clock):
            continue  # already stale: stays stale (never served, rebuilt before use)
        fresh = stamp_of(version, old_clock + 1)
        updates.append(RenderedInterview(pk=pk, policy_version=fresh))
        restamped.append((interview_id, stamp, fresh))
    RenderedInterview.objects.bulk_update(updates, ["policy_version"], batch_size=1000)
    return restamped


def resolve_identities(rendering: Rendering) -> Rendering:
    """A custodian rendering with its identity references replaced by the decrypted names."""
    return resolve_all_identities([rendering])[0]


def resolve_all_identities(renderings: list[Rendering]) -> list[Rendering]:
    """Each custodian rendering with its identity references replaced by the decrypted names (one query
    for all); renderings of other tiers as they are."""
    ids = {
        match
        for rendering in renderings
        if rendering.tier == Tier.CUSTODIAN
        for label in [*(n.display_name for n in rendering.narrators), *(s.speaker for s in rendering.segments)]
        for match in IDENTITY_REF.findall(label)
    }
    if not ids:
        return renderings
    names: dict[str, str] = {}
    for narrator in Narrator.objects.filter(public_id__in=ids).select_related("data_key"):
        names[str(narrator.public_id)] = narrator_display(decode_identity(narrator), Tier.CUSTODIAN)

    def resolved(label: str) -> str:
        return IDENTITY_REF.sub(lambda m: names.get(m.group(1), WITHHELD_NARRATOR), label)

    def resolve(rendering: Rendering) -> Rendering:
        if rendering.tier != Tier.CUSTODIAN:
            return rendering
        narrators = tuple(
            NarratorRendering(n.public_id, resolved(n.display_name), n.anonymity) for n in rendering.narrators
        )
        segments = tuple(
            s._replace(speaker=resolved(s.speaker)) if IDENTITY_REF.search(s.speaker) else s for s in rendering.segments
        )
        return replace(rendering, narrators=narrators, segments=segments)

    return [resolve(rendering) for rendering in renderings]


# The metadata key of the digest of the inputs a stored tier was rendered from (not served).
INPUTS_KEY = "inputs_digest"


class Rebuilt(NamedTuple):
    tiers: list[Tier]  # the tiers that may see the interview, each with a stored rendering
    changes: dict[str, set[int]]  # per tier kept from before: indexes of segments whose rendering changed


def _metadata_json(rendering: Rendering) -> dict[str, Any]:
    return {
        "collection_slug": rendering.collection_slug,
        "collection_title": rendering.collection_title,
        "title": rendering.title,
        "summary": rendering.summary,
        "mode": rendering.mode,
        "recorded_on": rendering.recorded_on,
        "place": rendering.place,
        "languages": list(rendering.languages),
        "topics": list(rendering.topics),
        "narrators": [[n.public_id, n.display_name, n.anonymity] for n in rendering.narrators],
        "interviewer": rendering.interviewer,
        "status": rendering.status,
        "duration_seconds": rendering.duration_seconds,
        "audio_unmapped": rendering.audio_unmapped,
    }


def refresh_floor(interview: Interview) -> None:
    """Store the derived visibility floor, voice floor, embargo and consent stamp on the interview."""
    caps = access.consent_caps(interview)
    interview.floor_tier = access.computed_floor(interview, caps)
    interview.voice_floor_tier = access.max_tier(caps.voice_floor, interview.floor_tier)
    interview.embargo_effective = access.computed_embargo(interview, caps)
    interview.consent_stamp = caps.version_stamp
    Interview.objects.filter(pk=interview.pk).update(
        floor_tier=interview.floor_tier,
        voice_floor_tier=interview.voice_floor_tier,
        embargo_effective=interview.embargo_effective,
        consent_stamp=interview.consent_stamp,
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Rebuilding allocates tens of thousands of short-lived, acyclic objects; left on, the cyclic
    garbage collector rescans the whole heap several times per rebuild (a third of its time). Nothing
    here creates cycles that need collecting before the next pass after we return."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@transaction.atomic
def materialise(interview: Interview, entity_names: list[tuple[str, Rule]] | None = None) -> Rebuilt:
    """Rebuild every tier's stored rendering of the interview; remove tiers that may not see it.

    Called by services inside their transaction, so readers never see a half-built rendering; they
    then replace the search documents of what changed (services.base.rebuild).
    """
    with _collector_paused():
        return _materialise(interview, entity_names)


def _materialise(interview: Interview, entity_names: list[tuple[str, Rule]] | None) -> Rebuilt:
    refresh_floor(interview)
    tiers = access.visible_tiers(interview)
    RenderedInterview.objects.filter(interview=interview).exclude(tier__in=tiers).delete()
    inputs = load_inputs(interview, entity_names)
    stamp = policy_stamp(interview)
    changes: dict[str, set[int]] = {}  # per tier: segment indexes whose rendering changed
    unmapped = False
    # The digest of the inputs each stored tier was rendered from: a tier whose inputs are the same
    # again keeps its rendering as it is and takes the new stamp (see digests.inputs_digest).
    before = {
        tier: (pk, metadata)
        for pk, tier, metadata in RenderedInterview.objects.filter(interview=interview, tier__in=tiers).values_list(
            "pk", "tier", "metadata"
        )
    }
    for tier in tiers:
        inputs_key = inputs_digest(inputs, tier)
        kept = before.get(tier)
        if inputs_key is not None and kept is not None and kept[1].get(INPUTS_KEY) == inputs_key:
            RenderedInterview.objects.filter(pk=kept[0]).update(policy_version=stamp, built_at=timezone.now())
            unmapped = unmapped or bool(kept[1].get("audio_unmapped", False))
            changes[tier] = set()
            continue
        rendering = render(interview, tier, inputs, references=True)
        unmapped = unmapped or rendering.audio_unmapped
        metadata = _metadata_json(rendering)
        if inputs_key is not None:
            metadata[INPUTS_KEY] = inputs_key
        stored, created = RenderedInterview.objects.update_or_create(
            interview=interview,
            tier=tier,
            defaults={
                "policy_version": stamp,
                "consent_version": rendering.consent_version,
                "metadata": metadata,
                "audio_allowed": rendering.audio_allowed,
                "audio_spans": [list(span) for span in rendering.audio_spans],
                "audio_parts": [
                    {"recording": p.recording_id, "duration": p.duration, "spans": [list(x) for x in p.spans]}
                    for p in rendering.audio_parts
                ],
                "redaction_categories": list(rendering.redaction_categories),
            },
        )
        changed = _store_segments(stored, rendering.segments, inputs.word_digests)
        if not created:
            changes[tier] = changed
    if unmapped:
        _alert_unmapped_audio(interview)
    return Rebuilt(tiers, changes)


def _alert_unmapped_audio(interview: Interview) -> None:
    """Custodians learn that a tier's audio is withheld because a hidden interval fell outside the
    recording its segment refers to (ids only: no text)."""
    target = str(interview.public_id)
    if not Alert.objects.filter(kind="audio_unmapped", target_id=target, resolved_at__isnull=True).exists():
        Alert.objects.create(
            kind="audio_unmapped",
            message="A hidden interval does not lie inside its recording: that tier's audio is withheld.",
            target_id=target,
        )


def _words_key(words: Sequence[RenderedWord], cache: dict[int, tuple[object, str]]) -> str:
    """A digest of a segment's outgoing words. Words are digested as what they are a fixed function of
    at this POLICY_CODE_VERSION: passed-through words as the transcript's JSON text they are decoded
    from, redacted ones as that plus the text and intervals (Inputs.redacted_segment registers them),
    any others as the JSON that is stored. One word sequence is shared by every tier that renders it
    alike, so the cache (which keeps each object alive, so that its id stays its own) digests it once."""
    cached = cache.get(id(words))
    if cached is None:
        if isinstance(words, SourceWords):
            body = "source\x1f" + words.source
        else:
            body = "rendered\x1f" + json.dumps([w.as_json() for w in words])
        cached = cache[id(words)] = (words, digest(body))
    return cached[1]


def row_digest(segment: SegmentRendering, words_key: str) -> str:
    """Digest of everything a stored segment row holds, compared instead of the row itself."""
    parts = [str(POLICY_CODE_VERSION), repr(segment.start), repr(segment.end), words_key]
    parts += [f"{len(value)}:{value}" for value in (segment.speaker, segment.text, segment.language, segment.sent_at)]
    return digest("\x1f".join(parts))


def _store_segments(
    stored: RenderedInterview,
    segments: tuple[SegmentRendering, ...],
    words_cache: dict[int, tuple[object, str]],
) -> set[int]:
    """Write the tier's segments, touching only rows whose digest differs; returns the changed indexes.

    After one edit most rows are unchanged, so rows are compared by digest (no model instances, no
    words read or decoded) and only those that differ are written."""
    fields = ("start", "end", "speaker", "text", "language", "sent_at")
    rows = RenderedSegment.objects.filter(rendering=stored).values_list("index", "pk", "digest")
    existing = {index: (pk, digest) for index, pk, digest in rows.iterator(2000)}
    to_create: list[RenderedSegment] = []
    to_update: list[RenderedSegment] = []
    for segment in segments:
        digest = row_digest(segment, _words_key(segment.words, words_cache))
        row = existing.pop(segment.index, None)
        if row is not None and row[1] == digest:
            continue
        fresh = RenderedSegment(
            pk=row[0] if row else None,
            rendering=stored,
            index=segment.index,
            words=[w.as_json() for w in segment.words],
            digest=digest,
            **{name: getattr(segment, name) for name in fields},
        )
        (to_create if row is None else to_update).append(fresh)
    if existing:
        RenderedSegment.objects.filter(pk__in=[pk for pk, digest in existing.values()]).delete()
    RenderedSegment.objects.bulk_create(to_create, batch_size=500)
    RenderedSegment.objects.bulk_update(to_update, [*fields, "words", "digest"], batch_size=500)
    return {row.index for row in to_create} | {row.index for row in to_update} | set(existing)


def rendering_for(interview: Interview, tier: str, *, with_segments: bool = True) -> Rendering:
    """The stored rendering of `interview` at `tier`. Raises NotVisible when the tier may not know the
    interview exists, and when the stored rendering is stale (a rebuild is then requested)."""
    if tier not in access.visible_tiers(interview):
        raise NotVisible
    stored = RenderedInterview.objects.filter(interview=interview, tier=tier).first()
    if stored is None or stored.policy_version != policy_stamp(interview):
        # Perhaps a copy of the interview loaded before its last change: look at it as it is now.
        interview.refresh_from_db()
        if tier not in access.visible_tiers(interview):
            raise NotVisible
        stored = RenderedInterview.objects.filter(interview=interview, tier=tier).first()
        if stored is None or stored.policy_version != policy_stamp(interview):
            # Reads never write: a stale rendering is never served; the interview answers as if this
            # tier could not see it, and a rebuild is asked for (see request_rebuild).
            request_rebuild(interview)
            raise NotVisible
    stored.interview = interview
    return resolve_identities(rendering_from_stored(stored, with_segments=with_segments))


def reader_rendering(user: Any, interview: Interview, tier: str, *, with_segments: bool = True) -> Rendering:
    """rendering_for as one reader receives it: without the audio where the tier hears it but the reader
    may not (policy.hears: a reader let in by a grant, and a voice its narrators did not release)."""
    rendering = rendering_for(interview, tier, with_segments=with_segments)
    if rendering.audio_allowed and not access.hears(user, interview, tier):
        return voiceless(rendering)
    return rendering


def voiceless(rendering: Rendering) -> Rendering:
    """The rendering without its audio (the text and its times are the tier's)."""
    return replace(rendering, audio_allowed=False, audio_spans=(), audio_parts=())


def renderings_for(pairs: Iterable[tuple[Interview, str]]) -> list[tuple[Interview, Rendering]]:
    """Many interviews, each with its stored rendering (without segments) at the tier paired with it, in
    their order: what `rendering_for` gives each, read in a few queries for a whole list. An interview
    whose rendering at its tier is missing or stale is left out, as `rendering_for` refuses it."""
    pairs = [(interview, tier) for interview, tier in pairs if tier in access.visible_tiers(interview)]
    if not pairs:
        return []
    clock = rules_clock()
    by_tier: dict[str, list[int]] = {}
    for interview, tier in pairs:
        by_tier.setdefault(tier, []).append(interview.pk)
    wanted = Q()
    for tier, pks in by_tier.items():
        wanted |= Q(tier=tier, interview_id__in=pks)
    stored = {(row.interview_id, row.tier): row for row in RenderedInterview.objects.filter(wanted)}
    found: list[tuple[Interview, Rendering]] = []
    for interview, tier in pairs:
        row = stored.get((interview.pk, tier))
        if row is not None and row.policy_version == stamp_of(interview.policy_version, clock):
            row.interview = interview
            found.append((interview, rendering_from_stored(row, with_segments=False)))
            continue
        try:  # not current as loaded: rendering_for looks again, and asks for a rebuild if still stale
            found.append((interview, rendering_for(interview, tier, with_segments=False)))
        except NotVisible:
            continue
    resolved = resolve_all_identities([rendering for _interview, rendering in found])
    return [(interview, rendering) for (interview, _old), rendering in zip(found, resolved, strict=True)]


REBUILD_TASK = "archive.tasks.rebuild_renderings"


def request_rebuild(interview: Interview) -> None:
    """Ask a worker to rebuild a stale interview's renderings (by task name: the gate does not import
    the task layer). Lost when no broker answers: the beat job `rebuild_stale` and `reindex` catch up."""

    def send() -> None:
        try:
            app.send_task(REBUILD_TASK, args=[interview.pk], retry=False)
        except Exception:  # kombu raises many connection error types; nothing here may fail a read
            logger.warning("rebuild of interview %s could not be queued; the beat job will do it", interview.pk)

    transaction.on_commit(send)


def stale_interviews() -> list[int]:
    """Interviews whose stored renderings are not exactly their visible tiers at the current stamp."""
    clock = rules_clock()
    stored: dict[int, dict[str, str]] = {}
    for interview_id, tier, stamp in RenderedInterview.objects.values_list("interview_id", "tier", "policy_version"):
        stored.setdefault(interview_id, {})[tier] = stamp
    stale = []
    for interview in Interview.objects.only("pk", "policy_version", "floor_tier", "embargo_effective"):
        tiers = stored.get(interview.pk, {})
        current = stamp_of(interview.policy_version, clock)
        if set(tiers) != set(access.visible_tiers(interview)) or any(s != current for s in tiers.values()):
            stale.append(interview.pk)
    return stale


def rendering_from_stored(stored: RenderedInterview, *, with_segments: bool = True) -> Rendering:
    meta = stored.metadata
    segments: tuple[SegmentRendering, ...] = ()
    if with_segments:
        segments = tuple(
            SegmentRendering(
                row.index,
                row.start,
                row.end,
                row.speaker,
                row.text,
                row.language,
                tuple(RenderedWord(w["w"], w.get("s"), w.get("e"), w.get("p")) for w in row.words),
                row.sent_at,
            )
            for row in stored.segments.order_by("index")
        )
    return Rendering(
        interview_id=str(stored.interview.public_id),
        tier=stored.tier,
        policy_version=stored.policy_version,
        consent_version=stored.consent_version,
        collection_slug=meta["collection_slug"],
        collection_title=meta["collection_title"],
        title=meta["title"],
        summary=meta["summary"],
        mode=meta["mode"],
        recorded_on=meta["recorded_on"],
        place=meta["place"],
        languages=tuple(meta["languages"]),
        topics=tuple(meta["topics"]),
        narrators=tuple(NarratorRendering(*n) for n in meta["narrators"]),
        interviewer=meta["interviewer"],
        status=meta["status"],
        duration_seconds=meta["duration_seconds"],
        audio_allowed=stored.audio_allowed,
        audio_spans=tuple((float(s), float(e)) for s, e in stored.audio_spans),
        redaction_categories=tuple(stored.redaction_categories),
        segments=segments,
        audio_parts=tuple(
            AudioPart(p["recording"], float(p["duration"]), tuple((float(a), float(b)) for a, b in p["spans"]))
            for p in stored.audio_parts or ()
        ),
        audio_unmapped=bool(meta.get("audio_unmapped", False)),
    )
