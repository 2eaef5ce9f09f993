"""Redaction-aware search over per-tier renderings (issue 5). Index maintenance entry point."""

from __future__ import annotations

from collections.abc import Iterable

from .models import Interview


def index_interview(interview: Interview, tiers: Iterable[str]) -> None:
    """Replace the interview's search documents with those of its current renderings.
    Called by rendering.materialise inside the writer's transaction."""
    # Filled in by the search work (issue 5); until then there is no index to maintain.
    return None
