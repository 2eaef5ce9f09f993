"""Editors' transcript corrections from the transcript page: corrections that keep span redactions on the
words they hide, and speaker assignment. What the edit forms are filled with is the gate's
(gate.editors.transcript).

Why a layer over `segment_edit`: a span redaction is a character range of one segment. An edit that
inserts or removes text before it would move the range onto other words and uncover the redacted ones
at lower tiers, so ranges are re-anchored on the text they covered, and an edit that changes redacted
text itself is refused (fail closed). And below custodian a correction is refused when anything in the
segment is hidden at the editor's tier (gate.editors.transcript.editable), as the form was never offered.
"""

from __future__ import annotations

from typing import Any

from ..gate import rendering_for
from ..gate.editors.transcript import NOT_EDITABLE_REASON, editable
from ..gate.identity import narrator_refs
from ..models import Interview, Narrator, Redaction, Segment, Tier
from .audit import audit_log
from .base import write
from .interviews import segment_assign_speaker, segment_edit
from .redactions import occurrences

CHANGED_REASON = "The transcript changed since the page was loaded (a voice note or a new version); reload it."


def _same_place(segment: Segment, expected_start: float | None) -> bool:
    # Forms name a segment by index; a voice note inserted meanwhile shifts indexes, so the form also
    # carries the segment's start time and a mismatch is refused rather than applied to another segment.
    return expected_start is None or abs(segment.start - expected_start) < 0.0005


class SegmentEditRefused(Exception):
    """The correction was not saved; `reason` says why in words fit for the editor."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@write
def segment_correct(
    *, interview: Interview, index: int, text: str, tier: str, actor: Any, expected_start: float | None = None
) -> Segment:
    """Save an editor's correction of segment `index` of the current transcript. Raises
    SegmentEditRefused (nothing saved) when the tier may not see the whole segment, or when the edit
    changes text that a span redaction hides."""
    if tier not in (Tier.STAFF, Tier.CUSTODIAN):
        raise SegmentEditRefused("Only staff can correct transcripts.")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise SegmentEditRefused("A segment cannot be empty.")
    if len(text) > 20_000:
        raise SegmentEditRefused("That text is too long for one segment.")
    segment = (
        Segment.objects.select_for_update()
        .filter(transcript__interview=interview, transcript__is_current=True, index=index)
        .first()
    )
    if segment is None or not _same_place(segment, expected_start):
        raise SegmentEditRefused(CHANGED_REASON)
    rendered = {s.index: s.text for s in rendering_for(interview, tier).segments}
    if not editable(segment, rendered.get(index, ""), tier):
        raise SegmentEditRefused(NOT_EDITABLE_REASON)
    old = segment.raw_text
    if text == old:
        return segment
    spans = list(Redaction.objects.select_for_update().filter(kind=Redaction.Kind.SPAN, segment=segment))
    moved: list[Redaction] = []
    for redaction in spans:
        # The same matcher that moves the span (redactions.spans_follow_edit) decides whether it can move.
        if not occurrences(text, old[redaction.start_char : redaction.end_char]):
            if redaction.status == Redaction.Status.REJECTED:
                continue
            raise SegmentEditRefused(
                "This correction changes words that are redacted. Change or remove the redaction in the "
                "workbench first; nothing was saved."
            )
        moved.append(redaction)
    # segment_edit moves each span onto its phrase in the new text (checked above to be there).
    if moved:
        audit_log(
            actor=actor,
            action="redaction_reanchor",
            target_type="interview",
            target_id=str(interview.public_id),
            detail={"segment": index, "redactions": len(moved)},
        )
    return segment_edit(segment=segment, text=text, actor=actor)


@write
def segment_speaker_set(
    *,
    interview: Interview,
    index: int,
    role: str,
    narrator_id: str = "",
    all_with_same_label: bool,
    actor: Any,
    expected_start: float | None = None,
) -> int:
    """Assign segment `index` (and, if asked, every segment with the same original label) to a
    narrator of this interview, the interviewer, or nobody in particular. Returns segments changed."""
    if role not in Segment.SpeakerRole.values:
        raise SegmentEditRefused("Choose narrator, interviewer or other.")
    segment = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True, index=index).first()
    if segment is None or not _same_place(segment, expected_start):
        raise SegmentEditRefused(CHANGED_REASON)
    narrator: Narrator | None = None
    if role == Segment.SpeakerRole.NARRATOR:
        narrators = list(interview.narrators.all())
        if narrator_id:
            # The form names a narrator as the editor's rendering does (an interview-local id for an
            # anonymous narrator below custodian); both tiers that edit are accepted.
            names = {tier: narrator_refs(narrators, tier) for tier in (Tier.STAFF, Tier.CUSTODIAN)}
            narrator = next(
                (
                    n
                    for n in narrators
                    if narrator_id in (names[Tier.STAFF][n.public_id], names[Tier.CUSTODIAN][n.public_id])
                ),
                None,
            )
        elif len(narrators) == 1:
            narrator = narrators[0]
        if narrator is None:
            raise SegmentEditRefused("Choose which narrator is speaking.")
    return segment_assign_speaker(
        segment=segment, role=role, narrator=narrator, actor=actor, all_with_same_label=all_with_same_label
    )
