"""What editors are shown while they work, beyond the rendering itself, each built from their tier's
redactor and never more:

- `workbench` — the transcript in pieces a selection maps back from, suggestions and held redactions;
- `transcript` — what each segment's correction form may be pre-filled with, and the corrections a new
  transcript version did not take over;
- `consent` — free text written about an interview (consent conditions, embargo events).

The writes these views lead to are the services' (services.workbench, services.transcript_edit).
"""

from .consent import free_text
from .transcript import (
    NOT_EDITABLE_REASON,
    EditableSegment,
    UncarriedCorrection,
    corrections_not_carried,
    editable,
    segments_for_editing,
)
from .workbench import (
    VISIBLE_FROM_CHOICES,
    HeldView,
    Piece,
    SegmentView,
    SelectionError,
    SuggestionView,
    WorkbenchView,
    category_choices,
    editor_tier,
    map_selection,
    redactions_for,
    workbench_view,
)

__all__ = [
    "NOT_EDITABLE_REASON",
    "VISIBLE_FROM_CHOICES",
    "EditableSegment",
    "HeldView",
    "Piece",
    "SegmentView",
    "SelectionError",
    "SuggestionView",
    "UncarriedCorrection",
    "WorkbenchView",
    "category_choices",
    "corrections_not_carried",
    "editable",
    "editor_tier",
    "free_text",
    "map_selection",
    "redactions_for",
    "segments_for_editing",
    "workbench_view",
]
