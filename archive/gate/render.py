"""`render(interview, tier)`: what one tier may see of one interview, computed from the raw inputs."""

from __future__ import annotations

from datetime import UTC, datetime

from ..models import (
    TIERS,
    Interview,
    Segment,
    Tier,
)
from ..placeholders import localised
from . import policy as access
from .identity import WITHHELD_REF, narrator_display, narrator_refs
from .inputs import Inputs, load_inputs
from .redactor import TierRedactor
from .rules import AUDIO_PAD_SECONDS, merge_spans
from .stamps import policy_stamp
from .types import WITHHELD_TITLE, AudioPart, NarratorRendering, Rendering, SegmentRendering

# How far a hidden interval may reach past its recording's decoded end (word padding, rounding).
AUDIO_MAP_TOLERANCE = AUDIO_PAD_SECONDS + 0.05


def sent_for_tier(sent_at: datetime | None, tier: str) -> str:
    """When a message was sent, at the precision `tier` may see: to the second from staff up
    ("2016-02-11T14:05:09"); below, the precision of an interview's public date ("2016-02"), since a
    message's day and time, with other details, can point to who sent it and where they were."""
    if sent_at is None:
        return ""
    moment = sent_at.astimezone(UTC) if sent_at.tzinfo is not None else sent_at
    if access.tier_at_least(tier, Tier.STAFF):
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.strftime("%Y-%m")


def _off_the_timeline(rendering: SegmentRendering, segment: Segment) -> SegmentRendering:
    """A chat message or e-mail as a tier below staff gets it: its times are those inside its own voice
    note (0 for a written message), not its place on the conversation's timeline, whose gaps between
    messages would tell to the second what the month-precision date (sent_for_tier) hides."""
    shift = segment.media_offset if segment.recording_id else segment.start

    def moved(value: float | None) -> float | None:
        return None if value is None else round(max(0.0, value - shift), 3)

    return rendering._replace(
        start=moved(rendering.start) or 0.0,
        end=moved(rendering.end) or 0.0,
        words=tuple(w._replace(start=moved(w.start), end=moved(w.end)) for w in rendering.words),
    )


def _segment_rendering(
    segment: Segment, redactor: TierRedactor, speaker: str
) -> tuple[SegmentRendering, tuple[tuple[float, float], ...]]:
    rendering, spans = _tier_segment(segment, redactor, speaker)
    if segment.sent_at is not None and not access.tier_at_least(redactor.tier, Tier.STAFF):
        rendering = _off_the_timeline(rendering, segment)
    return rendering, spans


def _tier_segment(
    segment: Segment, redactor: TierRedactor, speaker: str
) -> tuple[SegmentRendering, tuple[tuple[float, float], ...]]:
    raw = segment.raw_text
    inputs = redactor.inputs
    sent_at = sent_for_tier(segment.sent_at, redactor.tier)
    names = bool(redactor.gazetteer) and inputs.may_name(segment)
    intervals = []
    if names or redactor.span_rules.get(segment.pk):
        normalised = inputs.normalised_text(segment) if names else None
        intervals = redactor.intervals(raw, segment.pk, normalised, names=names)
    words = inputs.words_unchanged(segment)
    if not intervals:
        # Nothing hidden in this segment at this tier: text and words pass through unchanged.
        rendering = SegmentRendering(
            segment.index, segment.start, segment.end, speaker, raw, segment.language, words, sent_at
        )
        return rendering, ()
    redactor.categories.update(rule.category for _start, _end, rule in intervals)
    intervals = localised(raw, intervals, segment.language)  # labels in the segment's own language
    text, words_out, spans = inputs.redacted_segment(segment, intervals)
    rendering = SegmentRendering(
        segment.index, segment.start, segment.end, speaker, text, segment.language, words_out, sent_at
    )
    return rendering, spans


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
        parts.append(AudioPart(str(recording.public_id), round(duration, 3), merge_spans(mapped)))
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
        audio_spans=merge_spans(spans),
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
