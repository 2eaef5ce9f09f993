"""Writes for interviews, transcripts and segments. Each rebuilds the renderings it invalidates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Max
from django.utils import timezone

from ..models import Collection, Interview, Narrator, Recording, Redaction, Segment, Transcript
from .audit import audit_log
from .base import write
from .people import interview_touch
from .redactions import spans_follow_edit, spans_follow_version


@dataclass
class SegmentInput:
    start: float
    end: float
    text: str
    language: str = ""
    speaker: str = ""
    role: str = Segment.SpeakerRole.OTHER
    narrator: Narrator | None = None
    channel: int | None = None
    words: list[dict[str, Any]] = field(default_factory=list)
    # Media provenance: the recording the times refer to and where its time 0 lies on the interview's
    # timeline (None: the recording's own timeline_offset). Without a recording, transcript_store
    # decides (see _provenance).
    recording: Recording | None = None
    media_offset: float | None = None
    # The row of the previous version this one copies unchanged (a part kept while another is replaced).
    origin: Segment | None = None
    # When the chat message or email was sent (see Segment.sent_at); None for speech.
    sent_at: datetime | None = None


def sent_in_utc(moment: datetime | None) -> datetime | None:
    """A message's time as stored: converted to UTC when it names a zone; a chat clock without one is
    kept as the export showed it (stored as if it were UTC, and shown as such)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@write
def interview_create(
    *,
    collection: Collection,
    title: str,
    actor: Any = None,
    narrators: Sequence[Narrator] = (),
    interviewers: Sequence[User] = (),
    mode: str = Interview.Mode.IN_PERSON,
    recorded_on: date | None = None,
    place: str = "",
    place_general: str = "",
    languages: Sequence[str] = (),
    topics: Sequence[str] = (),
    summary: str = "",
    access_level: str = "staff",
    embargo_until: date | None = None,
    status: str = Interview.Status.DRAFT,
    interviewer_label: str = "Interviewer",
) -> Interview:
    interview = Interview(
        collection=collection,
        title=title,
        mode=mode,
        recorded_on=recorded_on,
        place=place,
        place_general=place_general,
        languages=list(languages),
        topics=list(topics),
        summary=summary,
        access_level=access_level,
        embargo_until=embargo_until,
        status=status,
        interviewer_label=interviewer_label,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    interview.full_clean()
    interview.save()
    interview.narrators.set(narrators)
    interview.interviewers.set(interviewers)
    audit_log(actor=actor, action="interview_create", target_type="interview", target_id=str(interview.public_id))
    interview_touch(interview)
    return interview


EDITABLE_FIELDS = {
    "title",
    "summary",
    "mode",
    "recorded_on",
    "place",
    "place_general",
    "languages",
    "topics",
    "status",
    "access_level",
    "embargo_until",
    "interviewer_label",
}


class PublicationBlocked(ValueError):
    """The interview cannot be published yet; `reasons` say what an editor must decide first."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def publication_blockers(interview: Interview) -> list[str]:
    """What must be decided before the interview is published: suggested redactions of its current
    transcript still waiting, and redactions held after the transcript changed."""
    spans = Redaction.objects.filter(kind=Redaction.Kind.SPAN, segment__transcript__interview=interview)
    pending = spans.filter(status=Redaction.Status.SUGGESTED, segment__transcript__is_current=True).count()
    held = spans.filter(status=Redaction.Status.APPROVED, held=True).count()
    reasons = []
    if pending:
        reasons.append(f"{pending} suggested redaction(s) wait for a decision.")
    if held:
        reasons.append(f"{held} redaction(s) no longer match the transcript and wait for a decision.")
    return reasons


@write
def interview_update(*, interview: Interview, actor: Any = None, **changes: Any) -> Interview:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if changes.get("status") == Interview.Status.PUBLISHED and interview.status != Interview.Status.PUBLISHED:
        reasons = publication_blockers(interview)
        if reasons:
            raise PublicationBlocked(reasons)
    for name, value in changes.items():
        setattr(interview, name, value)
    interview.full_clean()
    interview.save()
    audit_log(
        actor=actor,
        action="interview_update",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"fields": sorted(changes)},
    )
    interview_touch(interview)
    return interview


@write
def interview_set_people(
    *,
    interview: Interview,
    narrators: Iterable[Narrator] | None = None,
    interviewers: Iterable[User] | None = None,
    actor: Any = None,
) -> None:
    if narrators is not None:
        interview.narrators.set(narrators)
    if interviewers is not None:
        interview.interviewers.set(interviewers)
    audit_log(actor=actor, action="interview_people", target_type="interview", target_id=str(interview.public_id))
    interview_touch(interview)


def _parts(interview: Interview) -> list[Recording]:
    """The interview's recorded parts laid end to end on its timeline (not voice notes, not replaced)."""
    return list(
        interview.recordings.filter(is_voice_note=False, replaced_by__isnull=True, duration_seconds__isnull=False)
        .exclude(original="")
        .order_by("timeline_offset", "pk")
    )


def _provenance(
    item: SegmentInput, recording: Recording | None, parts: list[Recording]
) -> tuple[Recording | None, float]:
    """Which recording a new segment's times refer to, and where that recording starts: the segment's
    own, else the transcript's, else the part whose span of the timeline holds the segment's start."""
    if item.origin is not None:  # a row kept from the previous version keeps its media
        return item.recording, item.media_offset or 0.0
    chosen = item.recording or recording
    if chosen is not None:
        return chosen, chosen.timeline_offset if item.media_offset is None else item.media_offset
    for part in parts:
        if part.timeline_offset <= item.start < part.timeline_offset + (part.duration_seconds or 0.0):
            return part, part.timeline_offset
    return None, 0.0


@write
def transcript_store(
    *,
    interview: Interview,
    segments: Sequence[SegmentInput],
    source: str,
    recording: Recording | None = None,
    language: str = "",
    engine: str = "",
    model_name: str = "",
    model_sha256: str = "",
    options: dict[str, Any] | None = None,
    actor: Any = None,
    keep_corrections: bool = True,
    rebuild: bool = True,
    recording_map: dict[int, int] | None = None,
) -> Transcript:
    """Store a new transcript version and make it current. Every segment records the media its times
    refer to. Segments that editors corrected in the previous version are carried over (matched by
    time overlap on the same media) instead of being lost, and the previous version's span redactions
    follow their text onto the new rows (redactions.spans_follow_version); one that cannot is held.
    `recording_map`: old recording pk → the recording that replaces it in this version."""
    Interview.objects.select_for_update().filter(pk=interview.pk).first()
    previous = interview.transcripts.filter(is_current=True).first()
    version = (interview.transcripts.aggregate(v=Max("version"))["v"] or 0) + 1
    interview.transcripts.filter(is_current=True).update(is_current=False)
    transcript = Transcript.objects.create(
        interview=interview,
        recording=recording,
        version=version,
        is_current=True,
        source=source,
        language=language,
        engine=engine,
        model_name=model_name,
        model_sha256=model_sha256,
        options=options or {},
    )
    recording_map = recording_map or {}
    corrected = list(previous.segments.filter(edited=True)) if (previous and keep_corrections) else []
    parts = [] if recording is not None else _parts(interview)
    rows: list[Segment] = []
    origins: dict[int, Segment] = {}
    carried_corrections: set[int] = set()
    for index, item in enumerate(sorted(segments, key=lambda s: (s.start, s.end))):
        media, offset = _provenance(item, recording, parts)
        row = Segment(
            transcript=transcript,
            index=index,
            start=float(item.start),
            end=float(max(item.end, item.start)),
            raw_text=item.text,
            language=item.language or language,
            raw_speaker=item.speaker,
            speaker_role=item.role,
            speaker_narrator=item.narrator,
            channel=item.channel,
            raw_words=item.words,
            recording=media,
            media_offset=offset,
            sent_at=sent_in_utc(item.sent_at),
        )
        if item.origin is not None:
            origins[item.origin.pk] = row
            row.edited, row.edited_by_id, row.edited_at = (
                item.origin.edited,
                item.origin.edited_by_id,
                item.origin.edited_at,
            )
        else:
            for old in corrected:
                old_media = (
                    recording_map.get(old.recording_id, old.recording_id) if old.recording_id is not None else None
                )
                same_media = old_media == row.recording_id
                # Only onto a segment of the same stretch of speech: a new segment that also holds other
                # speech would lose it under the corrected text (and its words, so nothing there could be
                # found to hide in audio). A correction that fits no new segment is not carried.
                if same_media and _same_stretch(old.start, old.end, row.start, row.end):
                    row.raw_text, row.raw_words, row.edited = old.raw_text, [], True
                    row.edited_by_id, row.edited_at = old.edited_by_id, old.edited_at
                    row.speaker_role, row.speaker_narrator_id = old.speaker_role, old.speaker_narrator_id
                    carried_corrections.add(old.pk)
                    break
        rows.append(row)
    Segment.objects.bulk_create(rows, batch_size=1000)
    carried = spans_follow_version(
        previous=previous, rows=rows, origins=origins, recording_map=recording_map, actor=actor
    )
    audit_log(
        actor=actor,
        action="transcript_store",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={
            "version": version,
            "segments": len(rows),
            "source": source,
            "corrections_not_carried": len([c for c in corrected if c.pk not in carried_corrections | set(origins)]),
            **carried,
        },
    )
    if rebuild:
        interview_touch(interview)
    return transcript


# How far a new version may move a stretch of speech (a replacement recording starts a little earlier or
# later) and how much its length may change, and still be the stretch a correction was made on.
CARRY_SHIFT_SECONDS = 1.0
CARRY_LENGTH_SECONDS = 0.25


def _same_stretch(old_start: float, old_end: float, new_start: float, new_end: float) -> bool:
    """Whether a new segment covers the same stretch of speech as a corrected one: both ends within a
    second (the shift of a replacement recording) and the same length within a quarter of a second, so
    that a short correction is never carried onto a longer segment holding other speech as well (the
    ends of a 0.3 s segment can each lie within a second of a 2 s one's)."""
    return (
        abs(old_start - new_start) < CARRY_SHIFT_SECONDS
        and abs(old_end - new_end) < CARRY_SHIFT_SECONDS
        and abs((old_end - old_start) - (new_end - new_start)) <= CARRY_LENGTH_SECONDS
    )


@write
def segment_edit(*, segment: Segment, text: str, actor: Any) -> Segment:
    """An editor's correction. Word times no longer match the text, so they are dropped: redactions
    in this segment then silence the whole segment in audio (fail closed). Span redactions follow their
    phrase into the corrected text; one whose phrase is gone holds the lower tiers."""
    old_text = segment.raw_text
    segment.raw_text = text
    segment.raw_words = []
    segment.edited = True
    segment.edited_by = actor if getattr(actor, "is_authenticated", False) else None
    segment.edited_at = timezone.now()
    segment.save(update_fields=["raw_text", "raw_words", "edited", "edited_by", "edited_at"])
    spans_follow_edit(segment=segment, old_text=old_text, actor=actor)
    interview = segment.transcript.interview
    audit_log(
        actor=actor,
        action="segment_edit",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"segment": segment.index},
    )
    interview_touch(interview)
    return segment


@write
def segment_assign_speaker(
    *,
    segment: Segment,
    role: str,
    narrator: Narrator | None = None,
    actor: Any = None,
    all_with_same_label: bool = True,
) -> int:
    """Assign a speaker (narrator or interviewer) to a segment, or to every segment with its label."""
    segments = Segment.objects.filter(pk=segment.pk)
    if all_with_same_label and segment.raw_speaker:
        segments = Segment.objects.filter(transcript=segment.transcript, raw_speaker=segment.raw_speaker)
    count = segments.update(speaker_role=role, speaker_narrator=narrator)
    interview = segment.transcript.interview
    audit_log(
        actor=actor,
        action="speaker_assign",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"segments": count, "role": role},
    )
    interview_touch(interview)
    return count
