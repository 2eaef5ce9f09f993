"""Everything the renderer reads for one interview, fetched once and shared by every tier."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import TextField
from django.db.models.functions import Cast

from ..models import (
    Interview,
    Narrator,
    Recording,
    Redaction,
    Segment,
    Transcript,
)
from ..textnorm import Gazetteer, normalise_with_map
from .identity import NarratorIdentity, decode_identity
from .rules import Rule, digest, entity_rules, hide_intervals, replacement_for
from .types import RenderedWord, SourceWords


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
    redacted: dict[tuple[object, ...], tuple[str, tuple[RenderedWord, ...], tuple[tuple[float, float], ...]]] = field(
        default_factory=dict
    )
    # id(words) → (words, digest) for _store_segments; holding the words keeps each id unique.
    word_digests: dict[int, tuple[object, str]] = field(default_factory=dict)
    any_name: Gazetteer[None] | None = None
    # Positions i in segments where a name may be split between segments i and i + 1 (see crossings).
    crossing: list[int] | None = None
    # The part of every tier's input digest that all tiers share (digests.inputs_digest).
    common_digest: bytes | None = None

    def words_unchanged(self, segment: Segment) -> SourceWords:
        """The segment's words where nothing in it is hidden: one object shared by every tier."""
        cached = self.passthrough.get(segment.pk)
        if cached is None:
            # load_inputs loads the words as JSON text (annotate(words_source=Cast(raw_words, TextField()))).
            source: str = segment.words_source  # type: ignore[attr-defined]
            cached = self.passthrough[segment.pk] = SourceWords(source)
        return cached

    def normalised_text(self, segment: Segment) -> tuple[str, list[int]]:
        cached = self.normalised.get(segment.pk)
        if cached is None:
            cached = self.normalised[segment.pk] = normalise_with_map(segment.raw_text)
        return cached

    def redacted_segment(
        self, segment: Segment, intervals: list[tuple[int, int, Rule]]
    ) -> tuple[str, tuple[RenderedWord, ...], tuple[tuple[float, float], ...]]:
        """rules.hide_intervals(), computed once for all tiers that hide the same intervals with the same
        replacements. The words' digest is that of what they are computed from (words JSON, text and
        intervals), so storing them needs no JSON encoding."""
        hidden = tuple((start, end, rule.replacement) for start, end, rule in intervals)
        key = (segment.pk, hidden)
        redacted = self.redacted.get(key)
        if redacted is None:
            words = self.words_unchanged(segment)
            redacted = self.redacted[key] = hide_intervals(segment, words, intervals)
            words_out = redacted[1]
            if words_out:  # () is one shared object; its digest is that of its (empty) content
                origin = "\x1f".join(("derived", words.source, segment.raw_text, repr(hidden)))
                self.word_digests[id(words_out)] = (words_out, digest(origin))
        return redacted

    def all_names(self) -> Gazetteer[None]:
        """Every name hidden at some tier: each tier's redactor searches a subset of these."""
        if self.any_name is None:
            names = [name for name, _rule in self.entity_names]
            names += [name for _identity, name in identity_names(self)]
            self.any_name = Gazetteer((name, None) for name in names)
        return self.any_name

    def may_name(self, segment: Segment) -> bool:
        """False when no name hidden at any tier occurs in the segment. Each tier searches a subset of
        these names, so a segment ruled out here needs no tier's search: one pass instead of four."""
        cached = self.name_hints.get(segment.pk)
        if cached is None:
            names = self.all_names()
            found = bool(names) and names.occurs_in(self.normalised_text(segment)[0])
            cached = self.name_hints[segment.pk] = found
        return cached

    def crossings(self) -> list[tuple[tuple[int, str], tuple[int, str]]]:
        """The pairs of consecutive segments ((pk, text), (pk, text)) between which a name hidden at
        some tier may be split; Gazetteer.across finds none between any other two, for any tier's
        subset of the names (Gazetteer.crossing_candidates). Found once for every tier."""
        if self.crossing is None:
            names = self.all_names()
            texts = [segment.raw_text for segment in self.segments]
            self.crossing = (
                names.crossing_candidates(texts, [self.normalised_text(segment) for segment in self.segments])
                if names and len(texts) > 1
                else []
            )
        pairs = []
        for position in self.crossing:
            left, right = self.segments[position], self.segments[position + 1]
            pairs.append(((left.pk, left.raw_text), (right.pk, right.raw_text)))
        return pairs


def identity_names(inputs: Inputs) -> Iterable[tuple[NarratorIdentity, str]]:
    """(identity, legal name or alias or contact) for every narrator who is not named openly."""
    for identity in inputs.identities.values():
        if identity.narrator.anonymity == Narrator.Anonymity.NAMED:
            continue
        for name in [identity.legal_name, *identity.aliases]:
            if name:
                yield identity, name


def span_offsets(redaction: Redaction) -> tuple[int, int, int]:
    """(segment id, start, end) of a span redaction; one without them cannot be applied and is refused
    (fail closed) rather than skipped."""
    if redaction.segment_id is None or redaction.start_char is None or redaction.end_char is None:
        raise ValueError(f"span redaction {redaction.public_id} has no segment offsets")
    return redaction.segment_id, redaction.start_char, redaction.end_char


def load_inputs(interview: Interview, entity_names: list[tuple[str, Rule]] | None = None) -> Inputs:
    transcript = interview.transcripts.filter(is_current=True).first()
    segments: list[Segment] = []
    if transcript:
        # Words stay JSON text until a tier needs them (SourceWords); most never need decoding.
        rows = transcript.segments.order_by("index").defer("raw_words")
        segments = list[Segment](rows.annotate(words_source=Cast("raw_words", output_field=TextField())))
    span_rules: dict[int, list[tuple[int, int, Rule]]] = {}
    if transcript:
        # A held span (it did not follow a new version or a correction) is not applied by offsets: it
        # withholds the lower tiers instead (access.computed_floor).
        spans = Redaction.objects.filter(
            kind=Redaction.Kind.SPAN, status=Redaction.Status.APPROVED, held=False, segment__transcript=transcript
        ).select_related("entity")
        for redaction in spans:
            rule = Rule(redaction.visible_from, replacement_for(redaction), redaction.category)
            segment_id, start, end = span_offsets(redaction)
            span_rules.setdefault(segment_id, []).append((start, end, rule))
    narrators = list(interview.narrators.select_related("data_key"))
    # A segment may be attributed to a narrator who is not (or no longer) one of the interview's.
    others = {s.speaker_narrator_id for s in segments if s.speaker_narrator_id} - {n.pk for n in narrators}
    if others:
        narrators.extend(Narrator.objects.filter(pk__in=others).select_related("data_key"))
    identities = {n.pk: decode_identity(n) for n in narrators}
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
