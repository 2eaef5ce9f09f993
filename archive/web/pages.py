"""Server-rendered pages. Thin: look up through access, read renderings, hand them to templates."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from ..gate import NotVisible, rendering_for
from ..gate import policy as access
from ..models import Interview
from ..services import audit_log
from .listing import collection_listing, interview_listing, listed_interviews, query_without_empty


def _cards(user) -> list:
    cards = []
    for interview, tier in access.visible_interviews(user):
        try:
            cards.append(rendering_for(interview, tier, with_segments=False))
        except NotVisible:
            continue
    return cards


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
    collection = access.collection_for(request.user, slug)
    if tidy := _without_empty_fields(request):
        return tidy
    items = listed_interviews(request.user, Interview.objects.filter(collection=collection))
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
    rendering = rendering_for(interview, tier)
    if tier != "public":
        audit_log(
            actor=request.user, action="view", target_type="interview", target_id=str(interview.public_id), tier=tier
        )
    return render(
        request,
        "archive/interview_detail.html",
        {
            "rendering": rendering,
            "tier": tier,
            "can_edit": access.can_edit(request.user, interview),
            "can_redact": access.can_redact(request.user, interview),
            "public_id": str(interview.public_id),
        },
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # One body for "missing" and "not yours": nothing about the id is echoed back.
    return render(request, "archive/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "archive/500.html", status=500)
