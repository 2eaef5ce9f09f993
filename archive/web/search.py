"""The search page: the caller's tier documents only (archive/search.py); snippets are escaped there."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .. import search as engine
from ..models import Interview
from ..templatetags.rawi import code_label

FILTER_NAMES = ("collection", "language", "date_from", "date_to", "mode", "topic", "narrator")


def _page(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 10_000))
    except ValueError:
        return 1


def search_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    context: dict = {"query": query[: engine.MAX_QUERY_CHARS], "filters": {}, "results": None, "error": ""}
    try:
        filters = engine.Filters.from_mapping(request.GET)
    except engine.QueryError as error:
        filters = engine.Filters()
        context["error"] = str(error)
    context["filters"] = {name: getattr(filters, name) for name in FILTER_NAMES}
    # The modes as people read them (the filter takes the code or its label).
    context["modes"] = sorted(((code, code_label(code, "mode")) for code in Interview.Mode.values), key=lambda p: p[1])
    if query and not context["error"]:
        try:
            engine.parse(query)
        except engine.QueryError as error:
            # Too long or too deep to search: the same page, with the reason, as a client error.
            context["error"] = str(error)
            return render(request, "archive/search.html", context, status=400)
    if query and not context["error"]:
        results = engine.search(request.user, query, filters=filters, page=_page(request.GET.get("page")))
        context["results"] = results
        context["error"] = results.error
        base = {"q": query, **{k: v for k, v in context["filters"].items() if v}}
        context["facet_links"] = {
            name: [
                {**item, "href": "?" + urlencode({**base, _facet_param(name): item["value"]})}
                for item in results.facets.get(name, [])
            ]
            for name in engine.FACETS
        }
        if results.page > 1:
            context["prev_href"] = "?" + urlencode({**base, "page": results.page - 1})
        if results.page < results.pages:
            context["next_href"] = "?" + urlencode({**base, "page": results.page + 1})
    return render(request, "archive/search.html", context)


def _facet_param(name: str) -> str:
    return {"year": "date_from"}.get(name, name)


def suggest_view(request: HttpRequest) -> JsonResponse:
    prefix = request.GET.get("q", "")[:100]
    return JsonResponse({"suggestions": engine.suggest(request.user, prefix)})
