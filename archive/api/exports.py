"""Export endpoints: /api/v1/interviews/{id}/export?format=…&tier=… and /api/v1/interviews/{id}/audio.

Both answer 404 alike for a missing interview, one the caller may not see, a tier above the caller's
and audio the tier may not hear. Files are streamed from the export cache, never built in memory.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..exports import FORMATS
from ..gate import NotVisible
from ..gate import policy as access
from ..models import TIERS
from ..responses import file_response
from ..services.exports import ExportError, export_interview


class IgnoreFormatParameter(BaseContentNegotiation):
    """`?format=` names the export format here, not DRF's renderer override."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


def _export(request: Request, public_id: str, fmt: str, tier: str | None) -> FileResponse | Response:
    interview, user_tier = access.interview_for(request.user, public_id)
    try:
        tier = tier or user_tier
        result = export_interview(
            interview=interview,
            fmt=fmt,
            tier=tier,
            requester_tier=user_tier,
            actor=request.user,
            hears=access.hears(request.user, interview, tier),
        )
    except NotVisible:
        raise Http404 from None
    except ExportError:
        return Response({"detail": "The export could not be produced."}, status=503)
    return file_response(result)


class InterviewExport(APIView):
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=sorted(FORMATS), required=True, description="export format"),
            OpenApiParameter("tier", str, enum=list(TIERS), description="tier to export (default: yours)"),
        ],
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY), 404: None},
    )
    def get(self, request: Request, public_id: str):
        fmt = request.query_params.get("format", "")
        tier = request.query_params.get("tier") or None
        if fmt not in FORMATS:
            # Validate after the lookup, so an unknown id and a bad format are not told apart.
            access.interview_for(request.user, public_id)
            return Response({"detail": "Unknown format."}, status=400)
        if tier is not None and tier not in TIERS:
            access.interview_for(request.user, public_id)
            return Response({"detail": "Unknown tier."}, status=400)
        return _export(request, public_id, fmt, tier)


class InterviewAudio(APIView):
    """Redacted audio at the caller's tier (or a lower one), only where consent lets the voice be heard."""

    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        parameters=[OpenApiParameter("tier", str, enum=list(TIERS), description="tier (default: yours)")],
        responses={(200, "audio/mpeg"): OpenApiResponse(OpenApiTypes.BINARY), 404: None},
    )
    def get(self, request: Request, public_id: str):
        tier = request.query_params.get("tier") or None
        if tier is not None and tier not in TIERS:
            raise Http404
        return _export(request, public_id, "audio", tier)
