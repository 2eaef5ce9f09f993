"""Access requests: a reader asks for a higher tier for an interview or a collection they can see;
a custodian of its collection grants it (terms, end date) or refuses.

Requests are listed to the person who made them and to the custodians who decide them; to anyone else
a request does not exist (404, the same body as every other 404).
"""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..gate import policy as access
from ..grants import REQUESTABLE_TIERS, can_decide
from ..models import AccessRequest, Membership
from ..services.access_requests import (
    GrantRefusedByConsent,
    RequestRefused,
    access_request_create,
    access_request_decide,
    request_collection,
)


class AccessRequestSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    status = serializers.CharField()
    tier = serializers.CharField()
    interview = serializers.SerializerMethodField()
    collection = serializers.SerializerMethodField()
    requester = serializers.CharField(source="requester.username")
    purpose = serializers.CharField()
    terms = serializers.CharField()
    ends_on = serializers.DateField(allow_null=True)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)

    def get_interview(self, obj: AccessRequest) -> str | None:
        return str(obj.interview.public_id) if obj.interview_id else None

    def get_collection(self, obj: AccessRequest) -> str | None:
        return request_collection(obj).slug


class AccessRequestListSerializer(serializers.Serializer):
    results = AccessRequestSerializer(many=True)


class AccessRequestCreateSerializer(serializers.Serializer):
    interview = serializers.UUIDField(required=False, help_text="the interview's id; or give a collection")
    collection = serializers.SlugField(required=False, help_text="a collection's slug; or give an interview")
    tier = serializers.ChoiceField(choices=[str(t) for t in REQUESTABLE_TIERS])
    purpose = serializers.CharField(max_length=2000)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["grant", "refuse"])
    terms = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)


def _signed_in(request: Request) -> None:
    if not request.user or not request.user.is_authenticated:
        raise access.Http404


def _requests_for(user) -> list[AccessRequest]:
    """The user's own requests, and those of collections they are custodian of."""
    rows = AccessRequest.objects.select_related("interview__collection", "collection", "requester")
    if user.is_superuser:
        return list(rows)
    custodian_of = Membership.objects.filter(user=user, role=Membership.Role.CUSTODIAN).values("collection_id")
    return list(
        rows.filter(
            Q(requester=user) | Q(interview__collection_id__in=custodian_of) | Q(collection_id__in=custodian_of)
        )
    )


class AccessRequestList(APIView):
    @extend_schema(responses={200: AccessRequestListSerializer})
    def get(self, request: Request) -> Response:
        _signed_in(request)
        return Response(AccessRequestListSerializer({"results": _requests_for(request.user)}).data)

    @extend_schema(
        request=AccessRequestCreateSerializer,
        responses={
            201: AccessRequestSerializer,
            400: OpenApiResponse(description="the request cannot be made as asked (the reason is given)"),
            404: OpenApiResponse(description="no such interview or collection visible to the caller"),
        },
    )
    def post(self, request: Request) -> Response:
        _signed_in(request)
        body = AccessRequestCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if ("interview" in data) == ("collection" in data):
            raise ValidationError({"detail": "Ask for one interview or one collection."})
        interview = collection = None
        if "interview" in data:
            interview, tier = access.interview_for(request.user, data["interview"])
        else:
            collection = access.collection_for(request.user, data["collection"])
            tier = access.collection_tier(request.user, collection)
        try:
            row = access_request_create(
                requester=request.user,
                tier=data["tier"],
                purpose=data["purpose"],
                interview=interview,
                collection=collection,
                current_tier=tier,
            )
        except RequestRefused as error:
            raise ValidationError({"detail": str(error)}) from None
        return Response(AccessRequestSerializer(row).data, status=status.HTTP_201_CREATED)


class AccessRequestDecision(APIView):
    @extend_schema(
        request=DecisionSerializer,
        responses={
            200: AccessRequestSerializer,
            400: OpenApiResponse(description="already decided, or a grant without terms or a future end date"),
            404: OpenApiResponse(description="missing, or not the caller's to decide"),
            409: OpenApiResponse(
                description="a grant the interview's consent does not allow (detail, and the consent's reasons)"
            ),
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        _signed_in(request)
        row = (
            AccessRequest.objects.select_related("interview__collection", "collection", "requester")
            .filter(public_id=request_id)
            .first()
        )
        if row is None or not can_decide(request.user, request_collection(row)):
            raise access.Http404
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            row = access_request_decide(
                request=row,
                grant=data["decision"] == "grant",
                actor=request.user,
                terms=data["terms"],
                ends_on=data["ends_on"],
            )
        except GrantRefusedByConsent as error:
            return Response({"detail": str(error), "reasons": error.reasons}, status=status.HTTP_409_CONFLICT)
        except RequestRefused as error:
            raise ValidationError({"detail": str(error)}) from None
        return Response(AccessRequestSerializer(row).data)
