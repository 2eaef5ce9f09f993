"""The editors' workbench, read side: the transcript as the editor's tier sees it, cut into pieces that a
selection can be mapped back from, the pending suggestions and held redactions marked on it.

Coordinates: a selection is given as character offsets (Unicode code points) into the segment text *as
rendered at the editor's tier*. Text hidden at that tier appears as one atomic replacement piece; a
selection that touches it takes all of it. No raw offset, raw length or hidden text leaves the gate:
`map_selection` hands the raw offsets only to the write that redacts them (services.workbench).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ...models import TIER_ORDER, Interview, Redaction, Segment, Tier
from ...placeholders import localised
from .. import policy as access
from ..inputs import Inputs, load_inputs, span_offsets
from ..redactor import TierRedactor
from ..rules import CATEGORY_LABELS
from ..stamps import policy_stamp
from ..tiers import max_tier

# The tiers from which a redaction may let its words be seen.
VISIBLE_FROM_CHOICES = (Tier.RESEARCHER, Tier.STAFF, Tier.CUSTODIAN)


class SelectionError(ValueError):
    """The selection cannot be mapped (stale page, empty, or outside the segment)."""


@dataclass
class Piece:
    text: str
    hidden: bool  # hidden at the editor's tier: `text` is the replacement
    raw_start: int
    raw_end: int
    below: str = ""  # the replacement lower tiers see here, when some lower tier hides it
    suggestions: list[str] = field(default_factory=list)  # public ids of suggestions over this piece


@dataclass
class SegmentView:
    index: int
    start: float
    end: float
    pieces: list[Piece]
    fingerprint: str

    @property
    def text(self) -> str:
        return "".join(piece.text for piece in self.pieces)


@dataclass
class SuggestionView:
    public_id: str
    segment_index: int
    category: str
    category_label: str
    source: str
    reason: str
    text: str  # the suggested words as the editor's tier shows them
    visible_from: str
    replacement_kind: str


@dataclass(frozen=True)
class HeldView:
    """A span redaction that did not follow the transcript into a new version or a correction: it
    withholds the interview below its tier until an editor decides. No text is shown (the editor's
    tier may be below the redaction's); the editor redacts the words again in the current transcript."""

    public_id: str
    category_label: str
    visible_from: str
    version: int
    start: float
    reason: str


@dataclass(frozen=True)
class WorkbenchView:
    tier: str
    segments: list[SegmentView]
    suggestions: list[SuggestionView]
    counts: dict[str, int]
    held: list[HeldView] = field(default_factory=list)


def _fingerprint(stamp: str, pieces: list[Piece]) -> str:
    """Identifies what the editor saw: the rendered text and where the atomic pieces are (however the
    plain text is cut for display)."""
    parts: list[str] = []
    for piece in pieces:
        if piece.hidden or not parts or parts[-1].startswith("\x02"):
            parts.append(("\x02" if piece.hidden else "") + piece.text)
        else:
            parts[-1] += piece.text
    body = stamp + "\x00" + "\x01".join(parts)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def _segment_pieces(
    segment: Segment,
    here: TierRedactor,
    lowest: TierRedactor | None,
    suggestions: list[tuple[int, int, str]],
) -> list[Piece]:
    raw = segment.raw_text
    # Labels as the rendering writes them (in the segment's language), so offsets agree with it.
    hidden = localised(raw, here.intervals(raw, segment.pk), segment.language)
    below = localised(raw, lowest.intervals(raw, segment.pk), segment.language) if lowest is not None else []
    cuts = {0, len(raw)}
    for start, end, _rule in below:
        cuts.update((start, end))
    for start, end, _id in suggestions:
        cuts.update((max(0, start), min(len(raw), end)))
    pieces: list[Piece] = []
    cursor = 0

    def plain(start: int, end: int) -> None:
        points = sorted(c for c in cuts if start < c < end)
        for s, e in zip([start, *points], [*points, end], strict=True):
            replacement = next((rule.replacement for bs, be, rule in below if bs <= s and e <= be), "")
            pieces.append(Piece(raw[s:e], False, s, e, below=replacement))

    for start, end, rule in hidden:
        if start > cursor:
            plain(cursor, start)
        pieces.append(Piece(rule.replacement, True, start, end, below=rule.replacement))
        cursor = end
    if cursor < len(raw):
        plain(cursor, len(raw))
    for piece in pieces:
        piece.suggestions = [sid for s, e, sid in suggestions if s < piece.raw_end and piece.raw_start < e]
    return pieces


def _suggestion_rows(interview: Interview, transcript_id: int | None) -> list[Redaction]:
    if transcript_id is None:
        return []
    return list(
        Redaction.objects.filter(
            kind=Redaction.Kind.SPAN, status=Redaction.Status.SUGGESTED, segment__transcript_id=transcript_id
        )
        .select_related("segment")
        .order_by("segment__index", "start_char")
    )


def _span_segment(row: Redaction) -> Segment:
    if row.segment is None:  # a span redaction always has its segment
        raise ValueError(f"span redaction {row.public_id} has no segment")
    return row.segment


def _lowest_visible_below(interview: Interview, tier: str) -> str | None:
    tiers = [t for t in access.visible_tiers(interview) if TIER_ORDER[t] < TIER_ORDER[tier]]
    return tiers[0] if tiers else None


def workbench_view(*, interview: Interview, tier: str, inputs: Inputs | None = None) -> WorkbenchView:
    """The transcript at `tier`, in pieces, with the pending suggestions marked on it."""
    inputs = inputs or load_inputs(interview)
    here = TierRedactor(inputs, tier)
    lowest_tier = _lowest_visible_below(interview, tier)
    lowest = TierRedactor(inputs, lowest_tier) if lowest_tier else None
    rows = _suggestion_rows(interview, inputs.transcript.pk if inputs.transcript else None)
    per_segment: dict[int, list[tuple[int, int, str]]] = {}
    for row in rows:
        segment_id, start, end = span_offsets(row)
        per_segment.setdefault(segment_id, []).append((start, end, str(row.public_id)))
    stamp = policy_stamp(interview)
    segments: list[SegmentView] = []
    texts: dict[str, str] = {}
    for segment in inputs.segments:
        pieces = _segment_pieces(segment, here, lowest, per_segment.get(segment.pk, []))
        segments.append(SegmentView(segment.index, segment.start, segment.end, pieces, _fingerprint(stamp, pieces)))
        for piece in pieces:
            for sid in piece.suggestions:
                texts[sid] = texts.get(sid, "") + piece.text
    suggestions = [
        SuggestionView(
            public_id=str(row.public_id),
            segment_index=_span_segment(row).index,
            category=row.category,
            category_label=dict(Redaction.Category.choices).get(row.category, row.category),
            source=row.source,
            reason=row.reason,
            text=texts.get(str(row.public_id), "").strip(),
            visible_from=row.visible_from,
            replacement_kind=row.replacement_kind,
        )
        for row in rows
    ]
    counts: dict[str, int] = {
        status: Redaction.objects.filter(interview=interview, status=status).count()
        for status in (Redaction.Status.SUGGESTED, Redaction.Status.APPROVED, Redaction.Status.REJECTED)
    }
    held = [
        HeldView(
            public_id=str(row.public_id),
            category_label=dict(Redaction.Category.choices).get(row.category, row.category),
            visible_from=row.visible_from,
            version=_span_segment(row).transcript.version,
            start=_span_segment(row).start,
            reason=row.reason,
        )
        for row in Redaction.objects.filter(
            kind=Redaction.Kind.SPAN,
            status=Redaction.Status.APPROVED,
            held=True,
            segment__transcript__interview=interview,
        ).select_related("segment__transcript")
    ]
    return WorkbenchView(tier=tier, segments=segments, suggestions=suggestions, counts=counts, held=held)


def map_selection(
    *, interview: Interview, tier: str, segment_index: int, start: int, end: int, fingerprint: str = ""
) -> tuple[Segment, int, int, bool]:
    """Map [start, end) in the tier's rendered segment text to raw offsets: (segment, raw_start, raw_end,
    touches_hidden). Whitespace at either end is dropped. Raises SelectionError."""
    inputs = load_inputs(interview)
    segment = next((s for s in inputs.segments if s.index == segment_index), None)
    if segment is None:
        raise SelectionError("No such segment.")
    here = TierRedactor(inputs, tier)
    pieces = _segment_pieces(segment, here, None, [])
    if fingerprint and _fingerprint(policy_stamp(interview), pieces) != fingerprint:
        raise SelectionError("The transcript changed since the page was loaded; reload and select again.")
    total = sum(len(p.text) for p in pieces)
    if not 0 <= start < end <= total:
        raise SelectionError("The selection lies outside the segment text.")
    raw_start = raw_end = None
    touches_hidden = False
    offset = 0
    for piece in pieces:
        p_start, p_end = offset, offset + len(piece.text)
        offset = p_end
        if p_end <= start or p_start >= end:
            continue
        if piece.hidden:
            touches_hidden = True
            s, e = piece.raw_start, piece.raw_end
        else:
            s = piece.raw_start + max(0, start - p_start)
            e = piece.raw_start + min(len(piece.text), end - p_start)
        raw_start = s if raw_start is None else min(raw_start, s)
        raw_end = e if raw_end is None else max(raw_end, e)
    if raw_start is None or raw_end is None:
        raise SelectionError("The selection is empty.")
    raw = segment.raw_text
    while raw_start < raw_end and raw[raw_start].isspace():
        raw_start += 1
    while raw_end > raw_start and raw[raw_end - 1].isspace():
        raw_end -= 1
    if raw_end <= raw_start:
        raise SelectionError("The selection is empty.")
    return segment, raw_start, raw_end, touches_hidden


def category_choices() -> list[tuple[str, str, str]]:
    """(value, label, the fixed-width replacement label) for every category."""
    return [(value, label, CATEGORY_LABELS[value]) for value, label in Redaction.Category.choices]


def redactions_for(interview: Interview) -> list[dict[str, Any]]:
    """Every redaction touching this interview, described without any hidden text."""
    rows = Redaction.objects.filter(interview=interview).select_related("segment", "entity").order_by("created_at")
    out: list[dict[str, Any]] = []
    for row in rows:
        out.append(
            {
                "id": str(row.public_id),
                "kind": row.kind,
                "status": row.status,
                "category": row.category,
                "visible_from": row.visible_from,
                "replacement_kind": row.replacement_kind,
                "source": row.source,
                "segment": row.segment.index if row.segment is not None else None,
                "entity": str(row.entity.public_id) if row.entity is not None else None,
                "entity_pseudonym": row.entity.pseudonym if row.entity is not None else None,
            }
        )
    return out


def editor_tier(tier: str) -> Tier:
    """Editors work at their own tier; nobody below staff edits."""
    return max_tier(tier, Tier.STAFF)
