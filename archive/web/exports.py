"""The export dialog: choose a format and a tier (at most yours); the download is the API's file."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from ..exports import FORMATS
from ..gate import NotVisible, reader_rendering
from ..gate import policy as access
from ..models import TIER_ORDER, TIERS
from ..responses import file_response
from ..services.exports import ExportError, export_interview


def export_tiers(interview, user_tier: str) -> list[str]:
    """Tiers the user may export: at most their own, and only tiers at which the interview exists."""
    visible = set(access.visible_tiers(interview))
    return [t for t in TIERS if TIER_ORDER[t] <= TIER_ORDER[user_tier] and t in visible]


def export_dialog(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, user_tier = access.interview_for(request.user, public_id)
    tiers = export_tiers(interview, user_tier)
    if not tiers:
        raise Http404
    fmt = request.GET.get("format")
    tier = request.GET.get("tier") or user_tier
    error = ""
    if fmt:
        if fmt not in FORMATS or tier not in tiers:
            error = "Choose one of the formats and tiers listed."
        else:
            try:
                result = export_interview(
                    interview=interview,
                    fmt=fmt,
                    tier=tier,
                    requester_tier=user_tier,
                    actor=request.user,
                    hears=access.hears(request.user, interview, tier),
                )
                return file_response(result)
            except NotVisible:
                error = "That format is not available at this tier."
            except ExportError:
                error = "The export could not be produced. Nothing was downloaded."
    rendering = reader_rendering(request.user, interview, tiers[-1], with_segments=False)
    formats = [(spec.name, spec.label) for spec in FORMATS.values() if spec.name != "audio" or rendering.audio_allowed]
    return render(
        request,
        "archive/export_dialog.html",
        {
            "rendering": rendering,
            "public_id": str(interview.public_id),
            "formats": formats,
            "tiers": tiers,
            "selected_tier": tier if tier in tiers else tiers[-1],
            "selected_format": fmt if fmt in FORMATS else "txt",
            "error": error,
        },
        status=400 if error else 200,
    )
