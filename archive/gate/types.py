"""What leaves the gate: a tier's Rendering of an interview, its segments, words and audio parts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload

from django.http import Http404

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


def words_from_raw(raw: Iterable[dict[str, Any]] | None) -> tuple[RenderedWord, ...]:
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
            self._words = words_from_raw(json.loads(self.source or "[]"))
        return self._words

    @overload
    def __getitem__(self, index: int) -> RenderedWord: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[RenderedWord, ...]: ...
    def __getitem__(self, index: int | slice) -> RenderedWord | tuple[RenderedWord, ...]:
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

    # A field named like tuple.index is what a named tuple allows (it shadows the method, which nothing
    # here calls); mypy reads it as an incompatible override of that method.
    index: int  # type: ignore[assignment]
    start: float
    end: float
    speaker: str
    text: str
    language: str = ""
    words: Sequence[RenderedWord] = ()
    # When the chat message or email was sent, at the tier's precision (render.sent_for_tier); "" for speech.
    sent_at: str = ""


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
