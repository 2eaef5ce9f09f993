"""The single gate: `render(interview, tier)` is the only producer of outgoing text.

HTML views, the API, search indexing, exporters, audio redaction and management commands all consume a
`Rendering`; none reads raw transcript text or identity fields. Renderings are materialised per tier by
`materialise()` (called from services whenever an input changes) and stamped with a policy version;
`rendering_for()` never serves a stale one.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.http import Http404

from . import access, crypto
from .models import (
    TIER_ORDER,
    TIERS,
    Alert,
    Entity,
    Interview,
    Narrator,
    PolicyClock,
    Recording,
    Redaction,
    RenderedInterview,
    RenderedSegment,
    Segment,
    Tier,
    Transcript,
)
from .placeholders import localised
from .textnorm import Gazetteer, normalise_with_map

logger = logging.getLogger(__name__)

# Bump when the rendering rules in this module change: every stored rendering becomes stale.
POLICY_CODE_VERSION = 6
AUDIO_PAD_SECONDS = 0.15
# How far a hidden interval may reach past its recording's decoded end (word padding, rounding).
AUDIO_MAP_TOLERANCE = AUDIO_PAD_SECONDS + 0.05

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
WITHHELD_NARRATOR = "[narrator withheld]"
WITHHELD_TITLE = "[title withheld]"


class RenderedWord(NamedTuple):
    """One outgoing word (a named tuple: a rebuild makes tens of thousands)."""

    text: str
    start: float | None
    end: float | None
    probability: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"w": self.text, "s": self.start, "e": self.end, "p": self.probability}


def _words_from_raw(raw: Iterable[dict]) -> tuple[RenderedWord, ...]:
    return tuple(RenderedWord(str(w.get("w", "")), w.get("s"), w.get("e"), w.get("p")) for w in raw or ())


class SourceWords(Sequence[RenderedWord]):
    """A segment's words passing through a tier unchanged, decoded from the transcript's stored JSON
    only when read. Most segments pass through every tier; when a rebuild finds their stored rows
    current (see row_digest) their words are never decoded at all."""

    __slots__ = ("_words", "source")

    def __init__(self, source: str):
        self.source = source  # the segment's raw words as JSON text
        self._words: tuple[RenderedWord, ...] | None = None

    def _decoded(self) -> tuple[RenderedWord, ...]:
        if self._words is None:
            self._words = _words_from_raw(json.loads(self.source or "[]"))
        return self._words

    def __getitem__(self, index):  # type: ignore[override]
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self._decoded())

    def __iter__(self) -> Iterator[RenderedWord]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SourceWords | tuple):
            return self._decoded() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._decoded())

    def __repr__(self) -> str:
        return f"SourceWords({self._decoded()!r})"


class SegmentRendering(NamedTuple):
    """One outgoing segment (a named tuple: a rebuild makes one per segment and tier)."""

    index: int
    start: float
    end: float
    speaker: str
    text: str
    language: str = ""
    words: Sequence[RenderedWord] = ()


@dataclass(frozen=True)
class AudioPart:
    """One recording of the tier's audio: the spans to silence on that recording's own timeline."""

    recording_id: str
    duration: float
    spans: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class NarratorRendering:
    public_id: str
    display_name: str
    anonymity: str


@dataclass(frozen=True)
class Rendering:
    """What one tier may see of one interview. Everything outgoing is built from this."""

    interview_id: str
    tier: str
    policy_version: str
    consent_version: str
    collection_slug: str
    collection_title: str
    title: str
    summary: str
    mode: str
    recorded_on: str  # ISO date, or "YYYY-MM" at public tier, or ""
    place: str
    languages: tuple[str, ...]
    topics: tuple[str, ...]
    narrators: tuple[NarratorRendering, ...]
    interviewer: str
    status: str
    duration_seconds: float | None
    audio_allowed: bool
    audio_spans: tuple[tuple[float, float], ...]  # seconds to silence, on the interview's timeline
    redaction_categories: tuple[str, ...]
    segments: tuple[SegmentRendering, ...] = field(default=())
    # The tier's audio part by part (recordings in timeline order, voice notes back to back).
    audio_parts: tuple[AudioPart, ...] = field(default=())
    # A hidden interval did not map onto the media its segment refers to: no audio at this tier.
    audio_unmapped: bool = False

    @property
    def text(self) -> str:
        return "\n".join(segment.text for segment in self.segments)


class NotVisible(Http404):
    """The interview has no rendering at this tier: for that tier it does not exist (404, never 403)."""


def rules_clock() -> int:
    """The version of the archive-wide entity rules (one row, made on first use)."""
    clock = PolicyClock.objects.filter(pk=1).values_list("entity_rules", flat=True).first()
    if clock is None:
        clock = PolicyClock.objects.get_or_create(pk=1)[0].entity_rules
    return clock


def stamp_of(policy_version: int, clock: int) -> str:
    """The stamp of a rendering built from an interview at `policy_version` under entity rules `clock`:
    it covers the rendering code, every input of the interview and the archive-wide rules."""
    return f"{POLICY_CODE_VERSION}.{policy_version}.{clock}"


def policy_stamp(interview: Interview, clock: int | None = None) -> str:
    return stamp_of(interview.policy_version, rules_clock() if clock is None else clock)


# Narrator identity ---------------------------------------------------------------------------------


@dataclass
class NarratorIdentity:
    narrator: Narrator
    legal_name: str
    aliases: list[str]


def _identity(narrator: Narrator) -> NarratorIdentity:
    try:
        key = narrator.data_key
        dek = crypto.unwrap_data_key(key.kek_id, key.wrapped_key, str(narrator.public_id))
    except (Narrator.data_key.RelatedObjectDoesNotExist, crypto.KeyDestroyed):
        return NarratorIdentity(narrator, "", [])
    legal = crypto.decrypt_field(dek, str(narrator.public_id), "legal_name", narrator.legal_name_ciphertext)
    aliases_text = crypto.decrypt_field(dek, str(narrator.public_id), "aliases", narrator.aliases_ciphertext)
    contacts = crypto.decrypt_field(dek, str(narrator.public_id), "contacts", narrator.contacts_ciphertext)
    # Contacts (phone numbers, addresses) are hidden wherever they occur in text, like the name.
    aliases = [a.strip() for a in re.split(r"[\n,;]", f"{aliases_text}\n{contacts}") if len(a.strip()) > 2]
    return NarratorIdentity(narrator, legal, aliases)


IDENTITY_REF = re.compile(r"\u27e6narrator:([0-9a-f-]{36})\u27e7")


def identity_ref(narrator: Narrator) -> str:
    """What a stored custodian rendering holds in place of a decrypted name (resolved on reading)."""
    return f"\u27e6narrator:{narrator.public_id}\u27e7"


def narrator_display(identity: NarratorIdentity, tier: str, *, references: bool = False) -> str:
    """How the narrator is named at `tier`. With `references`, a real name that only custodians may
    see is given as a reference (identity_ref): renderings and indexes at rest never hold it."""
    narrator = identity.narrator
    if references and tier == Tier.CUSTODIAN and narrator.anonymity != Narrator.Anonymity.NAMED and identity.legal_name:
        return identity_ref(narrator)
    fallback = narrator.pseudonym or narrator.descriptor or "Narrator"
    if narrator.anonymity == Narrator.Anonymity.NAMED:
        return identity.legal_name or fallback
    if tier == Tier.CUSTODIAN:
        return identity.legal_name or fallback
    if narrator.anonymity == Narrator.Anonymity.PSEUDONYMOUS:
        return narrator.pseudonym or "Narrator"
    if narrator.anonymity == Narrator.Anonymity.ANONYMOUS:
        return narrator.descriptor or "Anonymous narrator"
    return WITHHELD_NARRATOR


# Redaction rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    visible_from: str
    replacement: str
    category: str


def replacement_for(redaction: Redaction) -> str:
    kind = redaction.replacement_kind
    if kind == Redaction.ReplacementKind.PSEUDONYM and redaction.entity_id and redaction.entity.pseudonym:
        return redaction.entity.pseudonym
    if redaction.replacement_kind == Redaction.ReplacementKind.GENERALISATION:
        if redaction.replacement:
            return redaction.replacement
        if redaction.entity_id and redaction.entity.generalisation:
            return redaction.entity.generalisation
    if redaction.replacement and redaction.replacement_kind != Redaction.ReplacementKind.LABEL:
        return redaction.replacement
    return CATEGORY_LABELS.get(redaction.category, CATEGORY_LABELS[Redaction.Category.OTHER])


@dataclass
class Inputs:
    """Everything the renderer reads for one interview, fetched once."""

    interview: Interview
    transcript: Transcript | None
    segments: list[Segment]
    span_rules: dict[int, list[tuple[int, int, Rule]]]
    entity_names: list[tuple[str, Rule]]
    identities: dict[int, NarratorIdentity]
    duration: float | None
    recordings: dict[int, Recording] = field(default_factory=dict)
    # Normalised segment texts, computed once and shared by every tier's redactor.
    normalised: dict[int, tuple[str, list[int]]] = field(default_factory=dict)

    passthrough: dict[int, SourceWords] = field(default_factory=dict)
    # Whether any name hidden at some tier may occur in a segment (see may_name).
    name_hints: dict[int, bool] = field(default_factory=dict)
    # (segment, hidden intervals and replacements) → (text, words, audio spans): see redacted_segment.
    redacted: dict[tuple, tuple[str, tuple[RenderedWord, ...], tuple[tuple[float, float], ...]]] = field(
        default_factory=dict
    )
    # id(words) → (words, digest) for _store_segments; holding the words keeps each id unique.
    word_digests: dict[int, tuple[object, str]] = field(default_factory=dict)
    any_name: Gazetteer | None = None

    def words_unchanged(self, segment: Segment) -> SourceWords:
        """The segment's words where nothing in it is hidden: one object shared by every tier."""
        cached = self.passthrough.get(segment.pk)
        if cached is None:
            cached = self.passthrough[segment.pk] = SourceWords(segment.words_source)
        return cached

    def normalised_text(self, segment: Segment) -> tuple[str, list[int]]:
        cached = self.normalised.get(segment.pk)
        if cached is None:
            cached = self.normalised[segment.pk] = normalise_with_map(segment.raw_text)
        return cached

    def redacted_segment(
        self, segment: Segment, intervals: list[tuple[int, int, Rule]]
    ) -> tuple[str, tuple[RenderedWord, ...], tuple[tuple[float, float], ...]]:
        """_redacted(), computed once for all tiers that hide the same intervals with the same
        replacements. The words' digest is that of what they are computed from (words JSON, text and
        intervals), so storing them needs no JSON encoding."""
        hidden = tuple((start, end, rule.replacement) for start, end, rule in intervals)
        key = (segment.pk, hidden)
        redacted = self.redacted.get(key)
        if redacted is None:
            words = self.words_unchanged(segment)
            redacted = self.redacted[key] = _redacted(segment, words, intervals)
            words_out = redacted[1]
            if words_out:  # () is one shared object; its digest is that of its (empty) content
                origin = "\x1f".join(("derived", words.source, segment.raw_text, repr(hidden)))
                self.word_digests[id(words_out)] = (words_out, _digest(origin))
        return redacted

    def may_name(self, segment: Segment) -> bool:
        """False when no name hidden at any tier occurs in the segment. Each tier searches a subset of
        these names, so a segment ruled out here needs no tier's search: one pass instead of four."""
        cached = self.name_hints.get(segment.pk)
        if cached is None:
            if self.any_name is None:
                names = [name for name, _rule in self.entity_names]
                names += [name for _identity, name in identity_names(self)]
                self.any_name = Gazetteer((name, None) for name in names)
            found = bool(self.any_name) and self.any_name.occurs_in(self.normalised_text(segment)[0])
            cached = self.name_hints[segment.pk] = found
        return cached


def identity_names(inputs: Inputs) -> Iterable[tuple[NarratorIdentity, str]]:
    """(identity, legal name or alias or contact) for every narrator who is not named openly."""
    for identity in inputs.identities.values():
        if identity.narrator.anonymity == Narrator.Anonymity.NAMED:
            continue
        for name in [identity.legal_name, *identity.aliases]:
            if name:
                yield identity, name


def entity_rules() -> list[tuple[str, Rule]]:
    """(name or alias, rule) for every approved entity redaction in the archive."""
    names: list[tuple[str, Rule]] = []
    redactions = Redaction.objects.filter(kind=Redaction.Kind.ENTITY, status=Redaction.Status.APPROVED).select_related(
        "entity"
    )
    for redaction in redactions.prefetch_related("entity__aliases"):
        rule = Rule(redaction.visible_from, replacement_for(redaction), redaction.category)
        entity: Entity = redaction.entity
        names.append((entity.raw_name, rule))
        names.extend((alias.raw_alias, rule) for alias in entity.aliases.all())
    return names


def load_inputs(interview: Interview, entity_names: list[tuple[str, Rule]] | None = None) -> Inputs:
    transcript = interview.transcripts.filter(is_current=True).first()
    segments = []
    if transcript:
        # Words stay JSON text until a tier needs them (SourceWords); most never need decoding.
        rows = transcript.segments.order_by("index").defer("raw_words")
        segments = list(rows.annotate(words_source=Cast("raw_words", output_field=TextField())))
    span_rules: dict[int, list[tuple[int, int, Rule]]] = {}
    if transcript:
        # A held span (it did not follow a new version or a correction) is not applied by offsets: it
        # withholds the lower tiers instead (access.computed_floor).
        spans = Redaction.objects.filter(
            kind=Redaction.Kind.SPAN, status=Redaction.Status.APPROVED, held=False, segment__transcript=transcript
        ).select_related("entity")
        for redaction in spans:
            rule = Rule(redaction.visible_from, replacement_for(redaction), redaction.category)
            span_rules.setdefault(redaction.segment_id, []).append((redaction.start_char, redaction.end_char, rule))
    narrators = list(interview.narrators.select_related("data_key"))
    # A segment may be attributed to a narrator who is not (or no longer) one of the interview's.
    others = {s.speaker_narrator_id for s in segments if s.speaker_narrator_id} - {n.pk for n in narrators}
    if others:
        narrators.extend(Narrator.objects.filter(pk__in=others).select_related("data_key"))
    identities = {n.pk: _identity(n) for n in narrators}
    recordings = {r.pk: r for r in interview.recordings.all()}
    used = dict.fromkeys(s.recording_id for s in segments if s.recording_id in recordings)
    if used:
        total = sum(recordings[pk].duration_seconds or 0.0 for pk in used)
        duration = round(total, 3) if total else None
    else:
        durations = [r.duration_seconds for r in recordings.values() if r.duration_seconds]
        duration = max(durations) if durations else None
    return Inputs(
        interview=interview,
        transcript=transcript,
        segments=segments,
        span_rules=span_rules,
        entity_names=entity_rules() if entity_names is None else entity_names,
        identities=identities,
        duration=duration,
        recordings=recordings,
    )


class TierRedactor:
    """Finds and replaces everything hidden at one tier."""

    def __init__(self, inputs: Inputs, tier: str):
        self.tier = tier
        self.inputs = inputs
        hidden_here = lambda rule: TIER_ORDER[rule.visible_from] > TIER_ORDER[tier]  # noqa: E731
        names = [(name, rule) for name, rule in inputs.entity_names if hidden_here(rule)]
        if tier != Tier.CUSTODIAN:
            rules: dict[int, Rule] = {}
            for identity, name in identity_names(inputs):
                rule = rules.get(identity.narrator.pk)
                if rule is None:
                    display = narrator_display(identity, tier)
                    rule = rules[identity.narrator.pk] = Rule(Tier.CUSTODIAN, display, Redaction.Category.NAME)
                names.append((name, rule))
        self.gazetteer = Gazetteer(names)
        self.span_rules = {
            segment_id: [(s, e, r) for s, e, r in rules if hidden_here(r)]
            for segment_id, rules in inputs.span_rules.items()
        }
        # A name split by a segment boundary ("Tareq" | "Mansour"): each side is hidden like a span.
        for segment_id, start, end, rule in self.gazetteer.across([(s.pk, s.raw_text) for s in inputs.segments]):
            self.span_rules.setdefault(segment_id, []).append((start, end, rule))
        self.categories: set[str] = set()

    def intervals(
        self,
        text: str,
        segment_id: int | None = None,
        normalised: tuple[str, list[int]] | None = None,
        *,
        names: bool = True,
    ) -> list[tuple[int, int, Rule]]:
        """Hidden intervals of `text`; names=False only when Inputs.may_name ruled names out."""
        found: list[tuple[int, int, Rule]] = []
        if segment_id is not None:
            for start, end, rule in self.span_rules.get(segment_id, []):
                found.append((max(0, start), min(len(text), end), rule))
        if names and self.gazetteer:
            found.extend((m.start, m.end, m.key) for m in self.gazetteer.find(text, normalised))
        if not found:
            return found
        found = [item for item in found if item[1] > item[0]]
        found.sort(key=lambda item: (item[0], -item[1]))
        merged: list[tuple[int, int, Rule]] = []
        for start, end, rule in found:
            if merged and start < merged[-1][1]:
                previous = merged[-1]
                merged[-1] = (previous[0], max(previous[1], end), previous[2])
            else:
                merged.append((start, end, rule))
        return merged

    def apply(self, text: str, intervals: list[tuple[int, int, Rule]]) -> str:
        self.categories.update(rule.category for _start, _end, rule in intervals)
        return _replaced(text, intervals)

    def text(self, text: str) -> str:
        return self.apply(text, self.intervals(text))


def _replaced(text: str, intervals: list[tuple[int, int, Rule]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end, rule in intervals:
        pieces.append(text[cursor:start])
        pieces.append(rule.replacement)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _word_offsets(text: str, words: Sequence[RenderedWord]) -> list[tuple[int, int]] | None:
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


def _segment_rendering(
    segment: Segment, redactor: TierRedactor, speaker: str
) -> tuple[SegmentRendering, tuple[tuple[float, float], ...]]:
    raw = segment.raw_text
    inputs = redactor.inputs
    names = bool(redactor.gazetteer) and inputs.may_name(segment)
    intervals = []
    if names or redactor.span_rules.get(segment.pk):
        normalised = inputs.normalised_text(segment) if names else None
        intervals = redactor.intervals(raw, segment.pk, normalised, names=names)
    words = inputs.words_unchanged(segment)
    if not intervals:
        # Nothing hidden in this segment at this tier: text and words pass through unchanged.
        return SegmentRendering(segment.index, segment.start, segment.end, speaker, raw, segment.language, words), ()
    redactor.categories.update(rule.category for _start, _end, rule in intervals)
    intervals = localised(raw, intervals, segment.language)  # labels in the segment's own language
    text, words_out, spans = inputs.redacted_segment(segment, intervals)
    rendering = SegmentRendering(segment.index, segment.start, segment.end, speaker, text, segment.language, words_out)
    return rendering, spans


def _redacted(
    segment: Segment, words: Sequence[RenderedWord], intervals: list[tuple[int, int, Rule]]
) -> tuple[str, tuple[RenderedWord, ...], tuple[tuple[float, float], ...]]:
    """The segment's text, words and audio spans to silence with `intervals` hidden."""
    raw = segment.raw_text
    text = _replaced(raw, intervals)
    offsets = _word_offsets(raw, words) if words else None
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


def _merge_spans(spans: Iterable[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((round(s, 3), round(e, 3)) for s, e in merged)


def _speaker_label(
    segment: Segment, inputs: Inputs, tier: str, others: dict[str, int], references: bool = False
) -> str:
    if segment.speaker_role == Segment.SpeakerRole.NARRATOR and segment.speaker_narrator_id in inputs.identities:
        return narrator_display(inputs.identities[segment.speaker_narrator_id], tier, references=references)
    if segment.speaker_role == Segment.SpeakerRole.INTERVIEWER:
        if tier == Tier.CUSTODIAN and segment.raw_speaker:
            return segment.raw_speaker
        return inputs.interview.interviewer_label or "Interviewer"
    if not segment.raw_speaker:
        return ""
    if tier == Tier.CUSTODIAN:
        return segment.raw_speaker
    number = others.setdefault(segment.raw_speaker, len(others) + 1)
    return f"Speaker {number}"


WITHHELD_REF = "withheld"


def narrator_refs(narrators: list[Narrator], tier: str) -> dict[object, str]:
    """How each narrator is referred to at a tier. Below custodian an anonymous narrator gets an
    identifier local to the interview, so their interviews cannot be linked by id; a sealed one none."""
    refs: dict[object, str] = {}
    for ordinal, narrator in enumerate(sorted(narrators, key=lambda n: n.pk), start=1):
        if tier == Tier.CUSTODIAN or narrator.anonymity in (Narrator.Anonymity.NAMED, Narrator.Anonymity.PSEUDONYMOUS):
            refs[narrator.public_id] = str(narrator.public_id)
        elif narrator.anonymity == Narrator.Anonymity.ANONYMOUS:
            refs[narrator.public_id] = f"narrator-{ordinal}"
        else:
            refs[narrator.public_id] = WITHHELD_REF
    return refs


def _consent_for_tier(stamp: str, refs: dict[object, str]) -> str:
    """The consent versions relied on ("narrator:vN,…"), naming narrators as this tier knows them."""
    by_id = {str(key): value for key, value in refs.items()}
    parts = []
    for item in filter(None, (p.strip() for p in stamp.split(","))):
        narrator, _sep, version = item.rpartition(":")
        parts.append(f"{by_id.get(narrator, WITHHELD_REF)}:{version}")
    return ",".join(parts)


def _audio_parts(inputs: Inputs, spans: dict[int, list[tuple[float, float]]]) -> tuple[tuple[AudioPart, ...], bool]:
    """The tier's audio: every recording the current transcript's segments refer to, in timeline order,
    with its hidden intervals on its own timeline. Every interval must lie inside its recording;
    (parts, unmapped): unmapped is True when one does not, and then the tier gets no audio at all."""
    parts: list[AudioPart] = []
    unmapped = False
    for recording_id in dict.fromkeys(s.recording_id for s in inputs.segments if s.recording_id):
        recording = inputs.recordings.get(recording_id)
        hidden = spans.get(recording_id, [])
        duration = recording.duration_seconds if recording is not None else None
        if recording is None or not recording.original or not duration:
            unmapped = unmapped or bool(hidden)
            continue
        mapped: list[tuple[float, float]] = []
        for start, end in hidden:
            if start < -AUDIO_MAP_TOLERANCE or end > duration + AUDIO_MAP_TOLERANCE or end < start:
                unmapped = True
            mapped.append((max(0.0, start), min(end, duration)))
        parts.append(AudioPart(str(recording.public_id), round(duration, 3), _merge_spans(mapped)))
    return tuple(parts), unmapped


def render(interview: Interview, tier: str, inputs: Inputs | None = None, *, references: bool = False) -> Rendering:
    """Compute what `tier` may see of `interview`, from the raw inputs. With `references` (how
    renderings are stored), a custodian's rendering names hidden narrators by reference only; a
    stored rendering is resolved on reading (resolve_identities) to exactly what this returns without."""
    if tier not in TIERS:
        raise ValueError("unknown tier")
    inputs = inputs or load_inputs(interview)
    redactor = TierRedactor(inputs, tier)
    others: dict[str, int] = {}
    segments: list[SegmentRendering] = []
    spans: list[tuple[float, float]] = []
    by_recording: dict[int, list[tuple[float, float]]] = {}
    labels: dict[tuple[str, int | None, str], str] = {}
    for segment in inputs.segments:
        key = (segment.speaker_role, segment.speaker_narrator_id, segment.raw_speaker)
        speaker = labels.get(key)
        if speaker is None:
            speaker = labels[key] = _speaker_label(segment, inputs, tier, others, references)
        rendered, segment_spans = _segment_rendering(segment, redactor, speaker)
        segments.append(rendered)
        spans.extend(segment_spans)
        if segment_spans and segment.recording_id:
            # Interview timeline → the segment's own recording's timeline.
            offset = segment.media_offset or 0.0
            by_recording.setdefault(segment.recording_id, []).extend((s - offset, e - offset) for s, e in segment_spans)
    own = set(interview.narrators.values_list("pk", flat=True))
    refs = narrator_refs([i.narrator for i in inputs.identities.values() if i.narrator.pk in own], tier)
    narrators = tuple(
        NarratorRendering(
            refs[identity.narrator.public_id],
            narrator_display(identity, tier, references=references),
            identity.narrator.anonymity,
        )
        for narrator_id, identity in inputs.identities.items()
        if narrator_id in own and refs[identity.narrator.public_id] != WITHHELD_REF
    )
    sealed = interview.status == Interview.Status.SEALED or interview.withdrawn_at is not None
    title = redactor.text(interview.title)
    if sealed and tier != Tier.CUSTODIAN:
        title = WITHHELD_TITLE
    recorded_on = ""
    if interview.recorded_on:
        recorded_on = interview.recorded_on.isoformat()
        if tier == Tier.PUBLIC:
            recorded_on = recorded_on[:7]
    place = interview.place if access.tier_at_least(tier, Tier.STAFF) else interview.place_general
    parts, unmapped = _audio_parts(inputs, by_recording)
    audio_allowed = access.tier_at_least(tier, interview.voice_floor_tier) and bool(parts) and not unmapped
    return Rendering(
        interview_id=str(interview.public_id),
        tier=tier,
        policy_version=policy_stamp(interview),
        consent_version=_consent_for_tier(interview.consent_stamp, refs),
        collection_slug=interview.collection.slug,
        collection_title=interview.collection.title,
        title=title,
        summary=redactor.text(interview.summary),
        mode=interview.mode,
        recorded_on=recorded_on,
        place=redactor.text(place),
        languages=tuple(interview.languages or ()),
        topics=tuple(redactor.text(topic) for topic in interview.topics or ()),
        narrators=narrators,
        interviewer=redactor.text(interview.interviewer_label or "Interviewer"),
        status=interview.status,
        duration_seconds=inputs.duration,
        audio_allowed=audio_allowed,
        audio_spans=_merge_spans(spans),
        redaction_categories=tuple(sorted(redactor.categories)),
        segments=tuple(segments),
        audio_parts=parts if audio_allowed else (),
        audio_unmapped=unmapped,
    )


def raw_rendered_texts(interview: Interview) -> list[str]:
    """Every raw free-text field of the interview that render() passes through a tier's redactor,
    besides segment text: a change of entity rules must look at all of them (rules_changed)."""
    texts = [interview.title, interview.summary, interview.place, interview.place_general]
    texts += [str(topic) for topic in interview.topics or ()]
    texts.append(interview.interviewer_label or "")
    return [text for text in texts if text]


def interviews_mentioning(names: Iterable[str]) -> list[Interview]:
    """Interviews in which any of the names occurs in a field render() redacts: the current
    transcript's segments or any of raw_rendered_texts (the same matcher as the redactor)."""
    gazetteer = Gazetteer((name, name) for name in names if name)
    if not gazetteer:
        return []
    found: set[int] = set()
    segments = Segment.objects.filter(transcript__is_current=True).values_list("transcript__interview_id", "raw_text")
    for interview_id, text in segments.iterator(chunk_size=5000):
        if interview_id not in found and gazetteer.occurs_in(normalise_with_map(text)[0]):
            found.add(interview_id)
    fields = ("pk", "title", "summary", "place", "place_general", "topics", "interviewer_label")
    for interview in Interview.objects.exclude(pk__in=found).only(*fields):
        if any(gazetteer.occurs_in(normalise_with_map(text)[0]) for text in raw_rendered_texts(interview)):
            found.add(interview.pk)
    return list(Interview.objects.filter(pk__in=found))


@transaction.atomic
def rules_changed(names: Iterable[str]) -> list[Interview]:
    """The archive-wide entity rules changed for `names` (a redaction of an entity approved, rejected or
    changed, an alias added). The rules clock moves on, so every stored rendering is stale; each
    interview in which a name occurs is rebuilt, and every other one, shown unaffected by the same
    matcher the redactor uses, takes the new stamp unchanged. Returns the interviews rebuilt."""
    clock_row, _created = PolicyClock.objects.select_for_update().get_or_create(pk=1)
    old_clock = clock_row.entity_rules
    clock_row.entity_rules = old_clock + 1
    clock_row.save(update_fields=["entity_rules"])
    affected = interviews_mentioning(names)
    rules = entity_rules()
    for interview in affected:
        Interview.objects.filter(pk=interview.pk).update(policy_version=F("policy_version") + 1)
        interview.refresh_from_db()
        materialise(interview, rules)
    restamped: list[tuple[int, str, str]] = []
    rows = RenderedInterview.objects.exclude(interview_id__in=[i.pk for i in affected]).values_list(
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
    from . import search  # search indexes renderings; imported here to keep the gate's imports minimal

    search.restamp(restamped)
    return affected


def resolve_identities(rendering: Rendering) -> Rendering:
    """A custodian rendering with its identity references replaced by the decrypted names."""
    if rendering.tier != Tier.CUSTODIAN:
        return rendering
    labels = [n.display_name for n in rendering.narrators] + [s.speaker for s in rendering.segments]
    ids = {match for label in labels for match in IDENTITY_REF.findall(label)}
    if not ids:
        return rendering
    names: dict[str, str] = {}
    for narrator in Narrator.objects.filter(public_id__in=ids).select_related("data_key"):
        names[str(narrator.public_id)] = narrator_display(_identity(narrator), Tier.CUSTODIAN)

    def resolved(label: str) -> str:
        return IDENTITY_REF.sub(lambda m: names.get(m.group(1), WITHHELD_NARRATOR), label)

    narrators = tuple(
        NarratorRendering(n.public_id, resolved(n.display_name), n.anonymity) for n in rendering.narrators
    )
    segments = tuple(
        s._replace(speaker=resolved(s.speaker)) if IDENTITY_REF.search(s.speaker) else s for s in rendering.segments
    )
    return replace(rendering, narrators=narrators, segments=segments)


# Materialisation ---------------------------------------------------------------------------------


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
def _collector_paused():
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
def materialise(interview: Interview, entity_names: list[tuple[str, Rule]] | None = None) -> list[str]:
    """Rebuild every tier's stored rendering of the interview; remove tiers that may not see it.

    Called by services inside their transaction, so readers never see a half-built rendering.
    Returns the tiers built.
    """
    with _collector_paused():
        return _materialise(interview, entity_names)


def _materialise(interview: Interview, entity_names: list[tuple[str, Rule]] | None) -> list[str]:
    refresh_floor(interview)
    tiers = access.visible_tiers(interview)
    RenderedInterview.objects.filter(interview=interview).exclude(tier__in=tiers).delete()
    inputs = load_inputs(interview, entity_names)
    stamp = policy_stamp(interview)
    changes: dict[str, set[int]] = {}  # per tier: segment indexes whose rendering changed
    unmapped = False
    for tier in tiers:
        rendering = render(interview, tier, inputs, references=True)
        unmapped = unmapped or rendering.audio_unmapped
        stored, created = RenderedInterview.objects.update_or_create(
            interview=interview,
            tier=tier,
            defaults={
                "policy_version": stamp,
                "consent_version": rendering.consent_version,
                "metadata": _metadata_json(rendering),
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
    from . import search  # search indexes renderings; imported here to keep the gate's imports minimal

    search.index_interview(interview, tiers, changes)
    return tiers


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


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


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
        cached = cache[id(words)] = (words, _digest(body))
    return cached[1]


def row_digest(segment: SegmentRendering, words_key: str) -> str:
    """Digest of everything a stored segment row holds, compared instead of the row itself."""
    parts = [str(POLICY_CODE_VERSION), repr(segment.start), repr(segment.end), words_key]
    parts += [f"{len(value)}:{value}" for value in (segment.speaker, segment.text, segment.language)]
    return _digest("\x1f".join(parts))


def _store_segments(
    stored: RenderedInterview,
    segments: tuple[SegmentRendering, ...],
    words_cache: dict[int, tuple[object, str]],
) -> set[int]:
    """Write the tier's segments, touching only rows whose digest differs; returns the changed indexes.

    After one edit most rows are unchanged, so rows are compared by digest (no model instances, no
    words read or decoded) and only those that differ are written."""
    fields = ("start", "end", "speaker", "text", "language")
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
        RenderedSegment.objects.filter(pk__in=[pk for pk, _digest in existing.values()]).delete()
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
    return resolve_identities(rendering_from_stored(stored, with_segments=with_segments))


REBUILD_TASK = "archive.tasks.rebuild_renderings"


def request_rebuild(interview: Interview) -> None:
    """Ask a worker to rebuild a stale interview's renderings (by task name: the gate does not import
    the task layer). Lost when no broker answers: the beat job `rebuild_stale` and `reindex` catch up."""
    from config.celery import app

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
