"""The transcript editor, read side: what each segment's edit form may be pre-filled with.

The form must never carry text the editor's tier may not see: below custodian, a segment is offered for
editing only when nothing in it is hidden at that tier (its rendering is the stored text itself).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...models import Interview, Segment, Tier
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
