"""Editors' API: interview fields and status, narrators' anonymity, revoking a redaction.

Whoever may not edit an interview gets the same 404 as for a missing one. Someone who may edit it but
not make this change (a field researcher changing the access level) gets a 403 saying why: they
already know the interview exists. Answers are the caller's own rendering, never raw rows.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..gate import policy as access
from ..gate import reader_rendering
from ..gate.editors import editor_tier
from ..models import TIER_ORDER, Interview, Narrator, Redaction, Tier
from ..services.editorial import (
    SETTABLE_STATUSES,
    InvalidChange,
    NotAllowed,
    interview_edit,
    interview_set_status,
    redaction_interview,
    redaction_revoke,
)
from ..services.interviews import PublicationBlocked
from ..services.narrators import narrator_by_reference, narrator_update, narrator_view, narrators_for_editing
from . import serializers as read_serializers
from . import views


def _signed_in(request: Request) -> None:
    if not request.user or not request.user.is_authenticated:
        raise access.Http404  # the same 404 as for a missing interview: nothing confirmed to a stranger


def editable_interview(request: Request, public_id: object, *, redact: bool = False) -> tuple[Interview, str]:
    """(interview, the tier the caller works at) for someone who may edit it (with `redact`: make
    redaction and anonymity decisions on it); 404 for everyone else, as for a missing id."""
    _signed_in(request)
    interview, tier = access.interview_for(request.user, public_id)
    allowed = access.can_redact(request.user, interview) if redact else access.can_edit(request.user, interview)
    if not allowed:
        raise access.Http404
    return interview, editor_tier(tier)


def _refused(error: Exception) -> Exception:
    if isinstance(error, NotAllowed):
        return PermissionDenied(str(error))
    return ValidationError({"detail": str(error)})


# Interview fields ----------------------------------------------------------------------------------


class InterviewPatchSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=300)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    place = serializers.CharField(required=False, allow_blank=True, max_length=200)
    place_general = serializers.CharField(required=False, allow_blank=True, max_length=200)
    recorded_on = serializers.DateField(required=False, allow_null=True)
    embargo_until = serializers.DateField(required=False, allow_null=True)
    mode = serializers.ChoiceField(required=False, choices=Interview.Mode.values)
    topics = serializers.ListField(required=False, child=serializers.CharField(max_length=100), max_length=50)
    languages = serializers.ListField(required=False, child=serializers.CharField(max_length=16), max_length=20)
    access_level = serializers.ChoiceField(required=False, choices=Tier.values)
    interviewer_label = serializers.CharField(required=False, allow_blank=True, max_length=120)


class InterviewDetail(views.InterviewDetail):
    """GET: the caller's rendering. PATCH: change fields (descriptive ones for whoever may edit the
    interview, access level, generalised place and embargo for editors); answers the new rendering."""

    @extend_schema(
        request=InterviewPatchSerializer,
        responses={
            200: read_serializers.InterviewDetailSerializer,
            400: OpenApiResponse(description="a field is malformed"),
            403: OpenApiResponse(description="the caller may edit the interview but not these fields"),
            404: OpenApiResponse(description="missing, or not editable by the caller"),
        },
    )
    def patch(self, request: Request, public_id: str) -> Response:
        interview, tier = editable_interview(request, public_id)
        unknown = set(request.data) - set(InterviewPatchSerializer().fields)
        if unknown:
            raise ValidationError({"detail": f"Not editable: {', '.join(sorted(unknown))}."})
        body = InterviewPatchSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            interview = interview_edit(interview=interview, actor=request.user, changes=body.validated_data)
        except (NotAllowed, InvalidChange) as error:
            raise _refused(error) from None
        # The caller's tier may have changed with the access level: look it up again.
        interview, tier = access.interview_for(request.user, interview.public_id)
        rendering = reader_rendering(request.user, interview, tier)
        return Response(read_serializers.InterviewDetailSerializer(rendering).data)


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[str(s) for s in SETTABLE_STATUSES])


class StatusAnswerSerializer(serializers.Serializer):
    status = serializers.CharField()


class RefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())


class InterviewStatus(APIView):
    @extend_schema(
        request=StatusSerializer,
        responses={
            200: StatusAnswerSerializer,
            400: OpenApiResponse(description="a status this interview cannot move to"),
            403: OpenApiResponse(description="the caller may edit the interview but not make this move"),
            404: OpenApiResponse(description="missing, or not editable by the caller"),
            409: OpenApiResponse(RefusedSerializer, description="publication refused, with every reason"),
        },
    )
    def post(self, request: Request, public_id: str) -> Response:
        interview, _tier = editable_interview(request, public_id)
        body = StatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            interview = interview_set_status(
                interview=interview, status=body.validated_data["status"], actor=request.user
            )
        except PublicationBlocked as blocked:
            data = {"detail": "Publication refused.", "reasons": blocked.reasons}
            return Response(RefusedSerializer(data).data, status=status.HTTP_409_CONFLICT)
        except (NotAllowed, InvalidChange) as error:
            raise _refused(error) from None
        return Response(StatusAnswerSerializer({"status": interview.status}).data)


# Narrators -----------------------------------------------------------------------------------------


class NarratorEditSerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="the narrator as the caller's tier refers to them")
    anonymity = serializers.CharField()
    pseudonym = serializers.CharField(allow_null=True, help_text="null where the caller's tier may not link it")
    descriptor = serializers.CharField(allow_blank=True)


class NarratorListSerializer(serializers.Serializer):
    tier = serializers.CharField()
    narrators = NarratorEditSerializer(many=True)


class NarratorPatchSerializer(serializers.Serializer):
    anonymity = serializers.ChoiceField(required=False, choices=Narrator.Anonymity.values)
    pseudonym = serializers.CharField(required=False, max_length=120)
    descriptor = serializers.CharField(required=False, allow_blank=True, max_length=200)


class InterviewNarrators(APIView):
    @extend_schema(responses={200: NarratorListSerializer, 404: OpenApiResponse(description="not an editor")})
    def get(self, request: Request, public_id: str) -> Response:
        interview, tier = editable_interview(request, public_id, redact=True)
        rows = narrators_for_editing(interview=interview, tier=tier)
        return Response(NarratorListSerializer({"tier": tier, "narrators": rows}).data)


class InterviewNarrator(APIView):
    @extend_schema(
        request=NarratorPatchSerializer,
        responses={
            200: NarratorEditSerializer,
            400: OpenApiResponse(description="a field is malformed"),
            403: OpenApiResponse(description="only custodians make a narrator named"),
            404: OpenApiResponse(description="missing, not an editor, or a narrator the caller's tier does not list"),
        },
    )
    def patch(self, request: Request, public_id: str, reference: str) -> Response:
        interview, tier = editable_interview(request, public_id, redact=True)
        narrator = narrator_by_reference(interview=interview, tier=tier, reference=reference)
        if narrator is None:
            raise access.Http404
        body = NarratorPatchSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        changes: dict[str, Any] = dict(body.validated_data)
        try:
            narrator = narrator_update(narrator=narrator, actor=request.user, tier=tier, **changes)
        except (NotAllowed, InvalidChange) as error:
            raise _refused(error) from None
        return Response(NarratorEditSerializer(narrator_view(interview=interview, narrator=narrator, tier=tier)).data)


# Redactions ----------------------------------------------------------------------------------------


class RedactionDetail(APIView):
    @extend_schema(
        request=None,
        responses={
            204: OpenApiResponse(description="revoked"),
            400: OpenApiResponse(description="already revoked or rejected"),
            403: OpenApiResponse(description="the redaction also hides a name in collections the caller does not edit"),
            404: OpenApiResponse(description="missing, or not the caller's to revoke"),
        },
    )
    def delete(self, request: Request, redaction_id: str) -> Response:
        _signed_in(request)
        redaction = (
            Redaction.objects.select_related("interview", "segment__transcript__interview", "entity")
            .filter(public_id=redaction_id)
            .first()
        )
        interview = redaction_interview(redaction) if redaction is not None else None
        if interview is None:
            if redaction is None or not request.user.is_superuser:
                raise access.Http404
            tier = Tier.CUSTODIAN
        else:
            _interview, tier = editable_interview(request, interview.public_id, redact=True)
        if TIER_ORDER[redaction.visible_from] > TIER_ORDER[tier]:
            raise access.Http404  # hides text the caller cannot see: not theirs to know of
        try:
            redaction_revoke(redaction=redaction, actor=request.user, tier=tier)
        except (NotAllowed, InvalidChange) as error:
            raise _refused(error) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
