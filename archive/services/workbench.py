"""The editors' workbench, write side: redact a selection made in the editor's rendering, decide
suggestions. What the workbench shows is the gate's (gate.editors.workbench)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from ..gate.editors.workbench import VISIBLE_FROM_CHOICES, SelectionError, map_selection
from ..models import Interview, Redaction
from .redactions import redact_phrase, redaction_add_span, redactions_bulk_decide


def _check_options(category: str, visible_from: str, replacement_kind: str) -> None:
    if category not in Redaction.Category.values:
        raise SelectionError("Unknown category.")
    if visible_from not in VISIBLE_FROM_CHOICES:
        raise SelectionError("Choose the tier from which the text may be seen: researcher, staff or custodian.")
    if replacement_kind not in Redaction.ReplacementKind.values:
        raise SelectionError("Unknown replacement kind.")


@transaction.atomic
def redaction_add_selection(
    *,
    interview: Interview,
    tier: str,
    segment_index: int,
    start: int,
    end: int,
    category: str,
    visible_from: str,
    replacement: str = "",
    everywhere: bool = False,
    fingerprint: str = "",
    actor: Any = None,
) -> Redaction:
    """Redact a selection made in the editor's rendering: a span of the segment, or (everywhere=True)
    an approved entity redaction of the selected words in every interview."""
    replacement = replacement.strip()
    replacement_kind = Redaction.ReplacementKind.GENERALISATION if replacement else Redaction.ReplacementKind.LABEL
    _check_options(category, visible_from, replacement_kind)
    segment, raw_start, raw_end, touches_hidden = map_selection(
        interview=interview, tier=tier, segment_index=segment_index, start=start, end=end, fingerprint=fingerprint
    )
    if everywhere:
        if touches_hidden:
            raise SelectionError("A selection that includes withheld text can only be redacted here, not everywhere.")
        return redact_phrase(
            phrase=segment.raw_text[raw_start:raw_end],
            category=category,
            visible_from=visible_from,
            replacement=replacement,
            interview=interview,
            caller_tier=tier,
            actor=actor,
        )
    return redaction_add_span(
        segment=segment,
        start_char=raw_start,
        end_char=raw_end,
        category=category,
        visible_from=visible_from,
        replacement_kind=replacement_kind,
        replacement=replacement,
        actor=actor,
    )


@transaction.atomic
def suggestions_decide(
    *,
    interview: Interview,
    ids: Iterable[str],
    approve: bool,
    visible_from: str | None = None,
    category: str | None = None,
    actor: Any = None,
) -> int:
    """Accept or reject pending suggestions of this interview (others' ids are ignored)."""
    wanted = {str(i) for i in ids}
    rows = [
        row
        for row in Redaction.objects.filter(interview=interview, status=Redaction.Status.SUGGESTED).select_related(
            "segment__transcript__interview", "entity"
        )
        if str(row.public_id) in wanted
    ]
    if not rows:
        return 0
    if approve and (visible_from or category):
        for row in rows:
            if visible_from:
                if visible_from not in VISIBLE_FROM_CHOICES:
                    raise SelectionError("Choose researcher, staff or custodian.")
                row.visible_from = visible_from
            if category and category in Redaction.Category.values:
                row.category = category
            row.save(update_fields=["visible_from", "category"])
    return redactions_bulk_decide(redactions=rows, approve=approve, actor=actor)
