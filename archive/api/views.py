"""Read endpoints. Row scoping lives in the access module; output is the caller's rendering."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from ..gate import policy as access
from ..gate import reader_rendering, renderings_for, voiceless
from ..models import Interview
from ..services import audit_log
from . import serializers


class CollectionList(generics.ListAPIView):
    serializer_class = serializers.CollectionSerializer

    def get(self, request: Request) -> Response:
        rows = [
            {"slug": c.slug, "title": c.title, "description": c.description, "interview_count": count}
            for c, count in access.visible_collections(request.user)
        ]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class CollectionDetail(generics.GenericAPIView):
    serializer_class = serializers.CollectionSerializer

    def get(self, request: Request, slug: str) -> Response:
        for collection, count in access.visible_collections(request.user):
            if collection.slug == slug:
                data = {
                    "slug": collection.slug,
                    "title": collection.title,
                    "description": collection.description,
                    "interview_count": count,
                }
                return Response(self.get_serializer(data).data)
        raise access.Http404


class InterviewList(generics.ListAPIView):
    serializer_class = serializers.InterviewSummarySerializer

    @extend_schema(parameters=[OpenApiParameter("collection", str, description="collection slug")])
    def get(self, request: Request) -> Response:
        queryset = Interview.objects.all()
        slug = request.query_params.get("collection")
        if slug:
            queryset = queryset.filter(collection__slug=slug)
        visible = access.visible_interviews(request.user, queryset)
        unheard = access.unheard(request.user, visible)
        renderings = [voiceless(r) if i.pk in unheard else r for i, r in renderings_for(visible)]
        page = self.paginate_queryset(renderings)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class InterviewDetail(generics.GenericAPIView):
    serializer_class = serializers.InterviewDetailSerializer

    def get(self, request: Request, public_id: str) -> Response:
        interview, tier = access.interview_for(request.user, public_id)
        rendering = reader_rendering(request.user, interview, tier)
        if tier != "public":
            audit_log(
                actor=request.user,
                action="view",
                target_type="interview",
                target_id=str(interview.public_id),
                tier=tier,
            )
        return Response(self.get_serializer(rendering).data)
