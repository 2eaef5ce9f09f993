"""GET /api/v1/search/?q=…: the caller's tier documents only; the same contract as the search page."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import search as engine

PARAMETERS = [
    OpenApiParameter("q", str, description='words, "phrases", prefix*, AND/OR/NOT'),
    OpenApiParameter("page", int),
    OpenApiParameter("per_page", int, description=f"at most {engine.MAX_PER_PAGE}"),
    *[
        OpenApiParameter(name, str)
        for name in ("collection", "language", "date_from", "date_to", "mode", "topic", "narrator")
    ],
]


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


class SearchView(APIView):
    @extend_schema(
        parameters=PARAMETERS,
        responses={
            200: inline_serializer(
                "SearchResults",
                {
                    "query": serializers.CharField(),
                    "total": serializers.IntegerField(),
                    "page": serializers.IntegerField(),
                    "per_page": serializers.IntegerField(),
                    "pages": serializers.IntegerField(),
                    "hits": serializers.ListField(child=serializers.DictField()),
                    "facets": serializers.DictField(),
                    "error": serializers.CharField(),
                },
            ),
            400: inline_serializer("SearchRefused", {"detail": serializers.CharField()}),
        },
    )
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        try:
            filters = engine.Filters.from_mapping(request.query_params)
            if query:
                engine.parse(query)  # a query it cannot read (too long, too deep, only NOT) is a 400
        except engine.QueryError as error:
            return Response({"detail": str(error)}, status=400)
        if not query:
            return Response(engine.Results(query="", error="Type a word to search for.").as_json())
        results = engine.search(
            request.user,
            query,
            filters=filters,
            page=max(1, _int(request.query_params.get("page"), 1)),
            per_page=max(1, _int(request.query_params.get("per_page"), 20)),
        )
        return Response(results.as_json())


class SuggestView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str)],
        responses=inline_serializer(
            "Suggestions", {"suggestions": serializers.ListField(child=serializers.CharField())}
        ),
    )
    def get(self, request: Request) -> Response:
        return Response({"suggestions": engine.suggest(request.user, request.query_params.get("q", "")[:100])})
