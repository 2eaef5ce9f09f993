"""The transcript editor, read side: what each segment's edit form may be pre-filled with, and which
corrections of the previous transcript version the current one did not take over.

The form must never carry text the editor's tier may not see: below custodian, a segment is offered for
editing only when nothing in it is hidden at that tier (its rendering is the stored text itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...models import Interview, Segment, Tier, Transcript
from ..identity import narrator_refs
from ..store import rendering_for

NOT_EDITABLE_REASON = (
    "Part of this segment is redacted at your tier. Only a custodian can correct it here, so that "
    "the hidden words are never sent to your browser."
)


@dataclass(frozen=True)
class EditableSegment:
    index: int
    start: float
    end: float
    speaker: str  # as the editor's tier renders it
    role: str
    narrator_id: str  # public id of the assigned narrator, or ""
    text: str  # the editor's tier rendering; the form's initial value only when `editable`
    language: str
    editable: bool
    reason: str = ""


def _current_segments(interview: Interview) -> dict[int, Segment]:
    segments = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True)
    return {s.index: s for s in segments.select_related("speaker_narrator")}


def editable(segment: Segment, rendered_text: str, tier: str) -> bool:
    """Whether `segment` may be corrected at `tier`, given the tier's rendering of it."""
    # Custodians see everything; below, the tier's rendering must be the text itself (nothing hidden).
    return tier == Tier.CUSTODIAN or rendered_text == segment.raw_text


def segments_for_editing(*, interview: Interview, tier: str) -> list[EditableSegment]:
    """Every segment of the current transcript as the edit forms may show it at `tier` (staff or above)."""
    if tier not in (Tier.STAFF, Tier.CUSTODIAN):
        raise ValueError("transcript editing is for staff and custodians")
    rendering = rendering_for(interview, tier)
    raw = _current_segments(interview)
    refs = narrator_refs(list(interview.narrators.all()), tier)  # as the rendering names them
    out: list[EditableSegment] = []
    for rendered in rendering.segments:
        segment = raw.get(rendered.index)
        may_edit = segment is not None and editable(segment, rendered.text, tier)
        out.append(
            EditableSegment(
                index=rendered.index,
                start=rendered.start,
                end=rendered.end,
                speaker=rendered.speaker,
                role=segment.speaker_role if segment else Segment.SpeakerRole.OTHER,
                narrator_id=refs.get(segment.speaker_narrator.public_id, "")
                if segment and segment.speaker_narrator
                else "",
                text=rendered.text,
                language=rendered.language,
                editable=may_edit,
                reason="" if may_edit else NOT_EDITABLE_REASON,
            )
        )
    return out


@dataclass(frozen=True)
class UncarriedCorrection:
    """A correction on the previous transcript version that no segment of the current one took over (no
    new segment covers the same stretch of speech). No text is shown (only the current version is
    rendered): the editor reads the current segments at that time and corrects them again."""

    version: int
    start: float
    end: float
    corrected_by: str
    corrected_at: datetime | None
    at_segment: int  # the index of the current segment that overlaps its time most


def corrections_not_carried(interview: Interview) -> list[UncarriedCorrection]:
    """Corrections of the version before the current one that the current version does not hold (a
    carried correction keeps its author and time: services.interviews.transcript_store)."""
    transcripts = Transcript.objects.filter(interview=interview).order_by("-version")
    current = transcripts.filter(is_current=True).first()
    previous = transcripts.filter(version__lt=current.version).first() if current is not None else None
    if current is None or previous is None:
        return []
    carried = set(current.segments.filter(edited=True).values_list("edited_at", "edited_by_id"))
    corrected = previous.segments.filter(edited=True).select_related("edited_by").order_by("start", "index")
    spans = list(current.segments.order_by("start", "index").values_list("start", "end", "index"))

    def overlapped_most(start: float, end: float) -> int:
        def overlap(span: tuple[float, float, int]) -> tuple[float, float]:
            return (min(end, span[1]) - max(start, span[0]), -abs(span[0] - start))

        return max(spans, key=overlap)[2] if spans else 0

    return [
        UncarriedCorrection(
            version=previous.version,
            start=segment.start,
            end=segment.end,
            corrected_by=segment.edited_by.username if segment.edited_by else "",
            corrected_at=segment.edited_at,
            at_segment=overlapped_most(segment.start, segment.end),
        )
        for segment in corrected
        if (segment.edited_at, segment.edited_by_id) not in carried
    ]
