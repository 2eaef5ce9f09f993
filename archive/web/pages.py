"""Server-rendered pages. Thin: look up through access, read renderings, hand them to templates."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from ..gate import policy as access
from ..gate import reader_rendering, renderings_for
from ..models import Interview
from ..services import audit_log
from ..services.recordings import transcription_jobs
from .listing import collection_listing, interview_listing, listed, listed_interviews, query_without_empty


def _cards(user) -> list:
    return [rendering for _interview, rendering in renderings_for(access.visible_interviews(user))]


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "archive/home.html",
        {"collections": access.visible_collections(request.user), "interviews": _cards(request.user)[:20]},
    )


def _without_empty_fields(request: HttpRequest) -> HttpResponse | None:
    """A list's filter form sent with empty fields (`status=&language=`): the same list at the address
    holding only what was chosen. None when the address is already so."""
    query = query_without_empty(request.GET)
    if query is None:
        return None
    return HttpResponseRedirect(f"{request.path}?{query}" if query else request.path)


def collection_list(request: HttpRequest) -> HttpResponse:
    if tidy := _without_empty_fields(request):
        return tidy
    return render(request, "archive/collection_list.html", collection_listing(request.GET, request.user))


def collection_detail(request: HttpRequest, slug: str) -> HttpResponse:
    collection, interviews = access.collection_with_interviews(request.user, slug)
    if tidy := _without_empty_fields(request):
        return tidy
    items = listed(interviews)
    context = {
        "collection": collection,
        "can_upload": access.can_upload(request.user, collection),
        **interview_listing(request.GET, items),
    }
    return render(request, "archive/collection_detail.html", context)


def interview_list(request: HttpRequest) -> HttpResponse:
    if tidy := _without_empty_fields(request):
        return tidy
    context = interview_listing(request.GET, listed_interviews(request.user))
    return render(request, "archive/interview_list.html", context)


def interview_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = access.interview_for(request.user, public_id)
    rendering = reader_rendering(request.user, interview, tier)
    if tier != "public":
        audit_log(
            actor=request.user, action="view", target_type="interview", target_id=str(interview.public_id), tier=tier
        )
    rights = access.rights_on(request.user, interview)
    return render(
        request,
        "archive/interview_detail.html",
        {
            "rendering": rendering,
            "tier": tier,
            "can_edit": rights.edit,
            "can_redact": rights.redact,
            "public_id": str(interview.public_id),
            "transcription": _transcription_panel(interview, rights),
        },
    )


def _transcription_panel(interview: Interview, rights: access.Rights) -> dict[str, Any]:
    """The interview's transcription jobs and what the viewer may do, for those who may edit it or upload
    to its collection (state, progress and reason only: no names)."""
    can_edit, can_upload = rights.edit, rights.upload
    if not (can_edit or can_upload):
        return {"jobs": [], "can_edit": False, "can_upload": False}
    jobs = [
        {
            "public_id": str(job.public_id),
            "url": reverse("api:job-status", args=[job.public_id]),
            "state": job.state,
            "percent": round(job.progress * 100),
            "progress": job.progress,
            "reason": job.reason,
            "in_place": bool((job.options or {}).get("in_place")),
            "created_at": job.created_at,
            "active": job.state in ("queued", "running"),
        }
        for job in transcription_jobs(interview)
    ]
    has_recordings = can_edit and interview.recordings.exists()
    return {"jobs": jobs, "can_edit": can_edit, "can_upload": can_upload, "has_recordings": has_recordings}


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # One body for "missing" and "not yours": nothing about the id is echoed back.
    return render(request, "archive/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "archive/500.html", status=500)
