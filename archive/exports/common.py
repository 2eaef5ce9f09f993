"""Helpers shared by the exporters. Everything here reads a `Rendering` only."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ..gate import Rendering, SegmentRendering
from ..gate.rules import CATEGORY_LABELS
from ..gate.types import WITHHELD_NARRATOR, WITHHELD_TITLE
from ..placeholders import ALL_LABELS

# Replacement labels the gate writes into text; exporters that can mark gaps (TEI) find them by value.
GAP_LABELS: tuple[str, ...] = tuple(
    sorted({*CATEGORY_LABELS.values(), WITHHELD_NARRATOR, WITHHELD_TITLE, *ALL_LABELS}, key=len, reverse=True)
)
GAP_PATTERN = re.compile("|".join(re.escape(label) for label in GAP_LABELS))

_RTL_BIDI = {"R", "AL"}


def clock(seconds: float | None) -> str:
    """hh:mm:ss, for human-readable timecodes."""
    total = max(0, int(seconds or 0))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def sent_label(segment: SegmentRendering) -> str:
    """When a chat message or email was sent, as the gate gave it for this tier ("2016-03-13 21:47:00"
    from staff up, "2016-03" below), for the human-readable exports; "" for speech. Never reads a raw
    row: the precision is the gate's (render.sent_for_tier), and the clock is shown as stored."""
    return segment.sent_at.replace("T", " ")


def line_mark(segment: SegmentRendering) -> str:
    """What goes in brackets before a transcript line: a message's date for chat and email (their
    place on the timeline is not a time on any recording), the media time for speech."""
    return sent_label(segment) or clock(segment.start)


def timecode(seconds: float | None, separator: str = ".") -> str:
    """hh:mm:ss.mmm (VTT, CSV) or hh:mm:ss,mmm (SRT)."""
    millis = max(0, round((seconds or 0.0) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def is_rtl(text: str, language: str = "") -> bool:
    """True when the first strong character is right-to-left (or the language says so)."""
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in _RTL_BIDI:
            return True
        if direction == "L":
            return False
    return language.split("-")[0] in {"ar", "fa", "he", "ur"}


def cue_times(segment: SegmentRendering, minimum: float = 0.001) -> tuple[float, float]:
    """Start and end with end > start, for formats that require it."""
    start = max(0.0, float(segment.start))
    end = max(float(segment.end), start + minimum)
    return start, end


def spoken_segments(rendering: Rendering) -> list[SegmentRendering]:
    """Segments in time order that have text, for caption formats."""
    segments = [s for s in rendering.segments if s.text.strip()]
    return sorted(segments, key=lambda s: (s.start, s.index))


def split_gaps(text: str) -> list[tuple[str, str | None]]:
    """[(plain text, None) | ("", label)] pieces: labels are the gate's replacement labels."""
    pieces: list[tuple[str, str | None]] = []
    cursor = 0
    for match in GAP_PATTERN.finditer(text):
        if match.start() > cursor:
            pieces.append((text[cursor : match.start()], None))
        pieces.append(("", match.group(0)))
        cursor = match.end()
    if cursor < len(text):
        pieces.append((text[cursor:], None))
    return pieces


def narrator_names(rendering: Rendering) -> list[str]:
    return [n.display_name for n in rendering.narrators if n.display_name]


def metadata(rendering: Rendering) -> dict[str, Any]:
    """Interview-level metadata as this tier sees it (no audio span times: they reveal lengths)."""
    return {
        "interview_id": rendering.interview_id,
        "tier": rendering.tier,
        "policy_version": rendering.policy_version,
        "consent_version": consent_basis(rendering),
        "collection": {"slug": rendering.collection_slug, "title": rendering.collection_title},
        "title": rendering.title,
        "summary": rendering.summary,
        "mode": rendering.mode,
        "recorded_on": rendering.recorded_on,
        "place": rendering.place,
        "languages": list(rendering.languages),
        "topics": list(rendering.topics),
        "narrators": [
            {"id": n.public_id, "name": n.display_name, "anonymity": n.anonymity} for n in rendering.narrators
        ],
        "interviewer": rendering.interviewer,
        "status": rendering.status,
        "duration_seconds": rendering.duration_seconds,
        "audio_available": rendering.audio_allowed,
        "redaction_categories": list(rendering.redaction_categories),
    }


def consent_basis(rendering: Rendering) -> str:
    """The consent versions relied on, naming only narrators this tier may know about.

    The gate's stamp is "narrator-id:vN,…"; a narrator absent from the rendering (sealed) is shown as
    "withheld:vN" so the export does not reveal who they are.
    """
    known = {n.public_id for n in rendering.narrators}
    parts: list[str] = []
    for item in filter(None, (p.strip() for p in rendering.consent_version.split(","))):
        narrator, _sep, version = item.rpartition(":")
        if narrator and narrator not in known:
            parts.append(f"withheld:{version}")
        else:
            parts.append(item)
    return ",".join(parts)


def base_name(rendering: Rendering) -> str:
    """File name stem: the opaque public id and tier, never a title or an upload name."""
    return f"rawi-{rendering.interview_id}-{rendering.tier}"
