"""Writes for interviews, transcripts and segments. Each rebuilds the renderings it invalidates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..models import Collection, Interview, Narrator, Recording, Segment, Transcript
from .audit import audit_log
from .people import interview_touch


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


@transaction.atomic
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


@transaction.atomic
def interview_update(*, interview: Interview, actor: Any = None, **changes: Any) -> Interview:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
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


@transaction.atomic
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


@transaction.atomic
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
) -> Transcript:
    """Store a new transcript version and make it current. Segments that editors corrected in the
    previous version are carried over (matched by time overlap) instead of being lost."""
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
    corrected = list(previous.segments.filter(edited=True)) if (previous and keep_corrections) else []
    rows = []
    for index, item in enumerate(sorted(segments, key=lambda s: (s.start, s.end))):
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
        )
        for old in corrected:
            if old.start < row.end and old.end > row.start and abs(old.start - row.start) < 1.0:
                row.raw_text, row.raw_words, row.edited = old.raw_text, [], True
                row.edited_by_id, row.edited_at = old.edited_by_id, old.edited_at
                row.speaker_role, row.speaker_narrator_id = old.speaker_role, old.speaker_narrator_id
                break
        rows.append(row)
    Segment.objects.bulk_create(rows, batch_size=1000)
    audit_log(
        actor=actor,
        action="transcript_store",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"version": version, "segments": len(rows), "source": source},
    )
    if rebuild:
        interview_touch(interview)
    return transcript


@transaction.atomic
def segment_edit(*, segment: Segment, text: str, actor: Any) -> Segment:
    """An editor's correction. Word times no longer match the text, so they are dropped: redactions
    in this segment then silence the whole segment in audio (fail closed)."""
    segment.raw_text = text
    segment.raw_words = []
    segment.edited = True
    segment.edited_by = actor if getattr(actor, "is_authenticated", False) else None
    segment.edited_at = timezone.now()
    segment.save(update_fields=["raw_text", "raw_words", "edited", "edited_by", "edited_at"])
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


@transaction.atomic
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
