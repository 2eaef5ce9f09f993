"""Responses shared by the web pages and the API (which do not import each other)."""

from __future__ import annotations

from django.http import FileResponse

from .services.exports import ExportResult


def file_response(result: ExportResult) -> FileResponse:
    response = FileResponse(
        result.open(), content_type=result.content_type, as_attachment=True, filename=result.file_name
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
