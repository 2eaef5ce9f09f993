"""Redaction endpoints for editors: list suggestions and redactions, create span or entity redactions,
accept or reject suggestions, run the detectors.

Only editors and custodians of the interview's collection reach these; for anyone else the interview
does not exist (404, the same body as every other 404). Offsets are Unicode code points into the segment
text *as the caller's tier renders it* (the `text` of the interview detail endpoint); text hidden at that
tier counts as its replacement and is taken whole. No response carries hidden text or its length.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..gate import policy as access
from ..gate.editors import VISIBLE_FROM_CHOICES, SelectionError, editor_tier, redactions_for, workbench_view
from ..models import Interview, Redaction
from ..services.redactions import redact_phrase
from ..services.suggestions import suggestions_generate
from ..services.workbench import redaction_add_selection, suggestions_decide


def editable(request: Request, public_id: object) -> tuple[Interview, str]:
    if not request.user or not request.user.is_authenticated:
        # The same 404 as for a missing interview: nothing is confirmed to a stranger.
        raise access.Http404
    interview, tier = access.interview_for(request.user, public_id)
    if not access.can_redact(request.user, interview):
        raise access.Http404
    return interview, editor_tier(tier)


class SuggestionSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    segment = serializers.IntegerField(source="segment_index")
    category = serializers.CharField()
    source = serializers.CharField()
    text = serializers.CharField(help_text="the suggested words as the caller's tier shows them")
    visible_from = serializers.CharField()
    replacement_kind = serializers.CharField()


class RedactionSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    category = serializers.CharField()
    visible_from = serializers.CharField()
    replacement_kind = serializers.CharField()
    source = serializers.CharField()
    segment = serializers.IntegerField(allow_null=True)
    entity = serializers.CharField(allow_null=True)
    entity_pseudonym = serializers.CharField(allow_null=True)


class RedactionListSerializer(serializers.Serializer):
    tier = serializers.CharField()
    suggestions = SuggestionSerializer(many=True)
    redactions = RedactionSerializer(many=True)


class RedactionCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["span", "entity"])
    segment = serializers.IntegerField(required=False, min_value=0, help_text="span: segment index")
    start = serializers.IntegerField(required=False, min_value=0, help_text="span: offset in the rendered text")
    end = serializers.IntegerField(required=False, min_value=1)
    everywhere = serializers.BooleanField(required=False, default=False, help_text="span: redact the words everywhere")
    text = serializers.CharField(required=False, max_length=200, help_text="entity: the phrase to redact everywhere")
    category = serializers.ChoiceField(choices=Redaction.Category.values)
    visible_from = serializers.ChoiceField(choices=[str(t) for t in VISIBLE_FROM_CHOICES])
    replacement = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class CreatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    visible_from = serializers.CharField()


class DecideSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.CharField(max_length=40), max_length=5000)
    approve = serializers.BooleanField()
    visible_from = serializers.ChoiceField(choices=[str(t) for t in VISIBLE_FROM_CHOICES], required=False)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class InterviewRedactions(APIView):
    @extend_schema(responses=RedactionListSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        interview, tier = editable(request, public_id)
        view = workbench_view(interview=interview, tier=tier)
        data = {"tier": tier, "suggestions": view.suggestions, "redactions": redactions_for(interview)}
        return Response(RedactionListSerializer(data).data)

    @extend_schema(request=RedactionCreateSerializer, responses={201: CreatedSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        interview, tier = editable(request, public_id)
        body = RedactionCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            if data["kind"] == "entity":
                if not data.get("text", "").strip():
                    raise SelectionError("An entity redaction needs the text to redact.")
                redaction = redact_phrase(
                    phrase=data["text"],
                    category=data["category"],
                    visible_from=data["visible_from"],
                    replacement=data["replacement"],
                    interview=interview,
                    caller_tier=tier,
                    actor=request.user,
                )
            else:
                if data.get("segment") is None or data.get("start") is None or data.get("end") is None:
                    raise SelectionError("A span redaction needs segment, start and end.")
                redaction = redaction_add_selection(
                    interview=interview,
                    tier=tier,
                    segment_index=data["segment"],
                    start=data["start"],
                    end=data["end"],
                    category=data["category"],
                    visible_from=data["visible_from"],
                    replacement=data["replacement"],
                    everywhere=data["everywhere"],
                    actor=request.user,
                )
        except (SelectionError, ValueError) as error:
            raise ValidationError({"detail": str(error)}) from None
        out = {
            "id": str(redaction.public_id),
            "kind": redaction.kind,
            "status": redaction.status,
            "visible_from": redaction.visible_from,
        }
        return Response(CreatedSerializer(out).data, status=status.HTTP_201_CREATED)


class InterviewRedactionsDecide(APIView):
    @extend_schema(request=DecideSerializer, responses=CountSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        interview, _tier = editable(request, public_id)
        body = DecideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            count = suggestions_decide(
                interview=interview,
                ids=body.validated_data["ids"],
                approve=body.validated_data["approve"],
                visible_from=body.validated_data.get("visible_from"),
                actor=request.user,
            )
        except SelectionError as error:
            raise ValidationError({"detail": str(error)}) from None
        return Response(CountSerializer({"count": count}).data)


class InterviewRedactionsSuggest(APIView):
    @extend_schema(request=None, responses=CountSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        interview, _tier = editable(request, public_id)
        rows = suggestions_generate(interview=interview, actor=request.user)
        return Response(CountSerializer({"count": len(rows)}).data)
