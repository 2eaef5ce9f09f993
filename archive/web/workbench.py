"""The editors' redaction workbench: select text to redact, review suggestions, preview every tier.

Only editors and custodians of the interview's collection may use it; for everyone else it does not
exist (404, like any interview they may not see). Pages are server-rendered; workbench.js adds the
selection handling and keyboard shortcuts, and every change is an ordinary form POST to a service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ..gate import NotVisible, SegmentRendering, rendering_for
from ..gate import policy as access
from ..gate.editors import (
    VISIBLE_FROM_CHOICES,
    SegmentView,
    SelectionError,
    category_choices,
    editor_tier,
    workbench_view,
)
from ..models import Interview, Redaction
from ..services import audit_log
from ..services.redactions import redaction_resolve_held
from ..services.suggestions import suggestions_generate
from ..services.workbench import redaction_add_selection, suggestions_decide


def editable_interview(request: HttpRequest, public_id: object) -> tuple[Interview, str]:
    """(interview, the editor's tier), or 404 alike for missing, not visible and not an editor."""
    interview, tier = access.interview_for(request.user, public_id)
    if not access.can_redact(request.user, interview):
        raise Http404
    return interview, editor_tier(tier)


@dataclass
class Row:
    work: SegmentView
    speaker: str
    previews: list[tuple[str, SegmentRendering | None]]


def _back(interview: Interview, anchor: str = "") -> HttpResponseRedirect:
    url = reverse("archive:workbench", args=[interview.public_id])
    return HttpResponseRedirect(f"{url}#{anchor}" if anchor else url)


@require_GET
def workbench(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = editable_interview(request, public_id)
    view = workbench_view(interview=interview, tier=tier)
    preview_tiers = access.tiers_up_to(tier)
    previews: dict[str, dict[int, SegmentRendering] | None] = {}
    own = None
    for preview_tier in preview_tiers:
        try:
            rendering = rendering_for(interview, preview_tier)
        except NotVisible:
            previews[preview_tier] = None
            continue
        previews[preview_tier] = {segment.index: segment for segment in rendering.segments}
        if preview_tier == tier:
            own = rendering
    own_segments = previews.get(tier) or {}
    rows = []
    for segment in view.segments:
        mine = own_segments.get(segment.index)
        rows.append(
            Row(
                work=segment,
                speaker=mine.speaker if mine else "",
                previews=[(t, (previews[t] or {}).get(segment.index)) for t in preview_tiers],
            )
        )
    audit_log(
        actor=request.user,
        action="workbench_view",
        target_type="interview",
        target_id=str(interview.public_id),
        tier=tier,
    )
    return render(
        request,
        "archive/workbench.html",
        {
            "rendering": own,
            "public_id": str(interview.public_id),
            "tier": tier,
            "view": view,
            "rows": rows,
            "preview_tiers": preview_tiers,
            "hidden_tiers": [t for t in preview_tiers if previews[t] is None],
            "categories": category_choices(),
            "visible_from_choices": [str(t) for t in VISIBLE_FROM_CHOICES],
        },
    )


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise SelectionError("The selection was not understood.") from None


@require_POST
def workbench_redact(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = editable_interview(request, public_id)
    data = request.POST
    segment_index = _int(data.get("segment")) if data.get("segment", "").isdigit() else -1
    try:
        redaction = redaction_add_selection(
            interview=interview,
            tier=tier,
            segment_index=segment_index,
            start=_int(data.get("start")),
            end=_int(data.get("end")),
            category=data.get("category", Redaction.Category.NAME),
            visible_from=data.get("visible_from", "staff"),
            replacement=data.get("replacement", "")[:200],
            everywhere=data.get("everywhere") == "on",
            fingerprint=data.get("fingerprint", ""),
            actor=request.user,
        )
    except SelectionError as error:
        messages.error(request, str(error))
        return _back(interview, f"seg-{segment_index}" if segment_index >= 0 else "")
    scope = "everywhere it occurs" if redaction.kind == Redaction.Kind.ENTITY else "in this segment"
    messages.success(request, f"Redacted {scope}, hidden below {redaction.visible_from}.")
    return _back(interview, f"seg-{segment_index}")


@require_POST
def workbench_decide(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, _tier = editable_interview(request, public_id)
    action = request.POST.get("action")
    if action not in ("accept", "reject"):
        messages.error(request, "Choose accept or reject.")
        return _back(interview, "suggestions")
    ids = request.POST.getlist("ids")
    try:
        count = suggestions_decide(
            interview=interview,
            ids=ids,
            approve=action == "accept",
            visible_from=request.POST.get("visible_from") or None,
            actor=request.user,
        )
    except SelectionError as error:
        messages.error(request, str(error))
        return _back(interview, "suggestions")
    verb = "Accepted" if action == "accept" else "Rejected"
    messages.success(request, f"{verb} {count} suggestion{'s' if count != 1 else ''}.")
    return _back(interview, "suggestions")


@require_POST
def workbench_suggest(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, _tier = editable_interview(request, public_id)
    rows = suggestions_generate(interview=interview, actor=request.user)
    messages.success(request, f"{len(rows)} new suggestion{'s' if len(rows) != 1 else ''}.")
    return _back(interview, "suggestions")


@require_POST
def workbench_resolve_held(request: HttpRequest, public_id: str) -> HttpResponse:
    """Set aside held redactions (after redacting their words again in the current transcript)."""
    interview, _tier = editable_interview(request, public_id)
    ids = request.POST.getlist("ids")
    rows = Redaction.objects.filter(
        public_id__in=[i for i in ids if _is_uuid(i)], held=True, segment__transcript__interview=interview
    )
    count = 0
    for row in rows:
        redaction_resolve_held(redaction=row, actor=request.user)
        count += 1
    messages.success(request, f"Set aside {count} held redaction{'s' if count != 1 else ''}.")
    return _back(interview, "held")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
