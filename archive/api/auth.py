"""API sign-in and tokens: the same door as the web sign-in (archive.accounts), tokens from
django-rest-knox (only a digest stored, each expiring), listed and revoked by their owner and by a
custodian, who may also reset someone's second factor. Every issue, failure and revocation is audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .. import accounts
from ..services.accounts import api_token_issue, api_token_revoke, api_tokens_of, second_factor_reset

VIA = "api"
BAD_CREDENTIALS = "Your username and password did not match."
BAD_CODE = "That code is not valid."
CODE_REQUIRED = "This account has a second factor: send its current code as `code`."
ENROL_FIRST = "This account must set up a second factor first: sign in on the web to enrol."


class ClientAddressThrottle(ScopedRateThrottle):
    """The scoped rate throttle keyed on the address the lockout uses (never a client-chosen header)."""

    def get_ident(self, request: Request) -> str:
        return accounts.client_ip(request._request) or ""


class SignInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    code = serializers.CharField(max_length=10, required=False, allow_blank=True)


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    id = serializers.CharField()
    expiry = serializers.DateTimeField()


class TokenSerializer(serializers.Serializer):
    id = serializers.CharField(source="token_key")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField()
    current = serializers.SerializerMethodField()

    def get_current(self, token: AuthToken) -> bool:
        auth = self.context.get("auth")
        return isinstance(auth, AuthToken) and auth.digest == token.digest


DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})


def _refused(message: str, code: int = status.HTTP_400_BAD_REQUEST, **extra) -> Response:
    return Response({"detail": message, **extra}, status=code)


class TokenView(APIView):
    """POST username, password (and `code` when the account has a second factor) → a token."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [ClientAddressThrottle]
    throttle_scope = "login"

    @extend_schema(
        request=SignInSerializer,
        responses={
            200: IssuedTokenSerializer,
            400: DETAIL,
            403: DETAIL,
            429: DETAIL,
        },
    )
    def post(self, request: Request) -> Response:
        form = SignInSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        username = form.validated_data["username"].strip()
        ip = accounts.client_ip(request._request)
        attempt = accounts.check_password(request._request, username, form.validated_data["password"], ip, via=VIA)
        if attempt.outcome is accounts.Outcome.LOCKED:
            return self._locked(attempt)
        if attempt.outcome is not accounts.Outcome.OK:
            return _refused(BAD_CREDENTIALS)
        user = attempt.user
        step = accounts.second_factor_step(user)
        if step is accounts.FactorStep.ENROL:
            return _refused(ENROL_FIRST, status.HTTP_403_FORBIDDEN, second_factor="enrol")
        if step is accounts.FactorStep.VERIFY:
            code = form.validated_data.get("code") or ""
            if not code:
                return _refused(CODE_REQUIRED, second_factor="required")
            attempt = accounts.check_code(user, code, ip, via=VIA)
            if attempt.outcome is accounts.Outcome.LOCKED:
                return self._locked(attempt)
            if attempt.outcome is not accounts.Outcome.OK:
                return _refused(BAD_CODE, second_factor="required")
        else:
            accounts.clear_failures(username, ip)
        instance, token = api_token_issue(user=user, via=VIA)
        return Response({"token": token, "id": instance.token_key, "expiry": instance.expiry})

    @staticmethod
    def _locked(attempt: accounts.Attempt) -> Response:
        response = _refused(accounts.locked_message(attempt.retry_after), status.HTTP_429_TOO_MANY_REQUESTS)
        response["Retry-After"] = str(attempt.retry_after)
        return response


def _token_of(user, token_id: str) -> AuthToken:
    token = AuthToken.objects.filter(user=user, token_key=token_id).first()
    if token is None:
        raise Http404
    return token


def _managed_user(actor, username: str):
    """The account a custodian may manage; 404 alike for a missing one and one that is not theirs."""
    target = get_user_model().objects.filter(username=username).first()
    if not accounts.can_manage_account(actor, target):
        raise Http404
    return target


class OwnTokenList(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: TokenSerializer(many=True)})
    def get(self, request: Request) -> Response:
        tokens = api_tokens_of(request.user)
        return Response(TokenSerializer(tokens, many=True, context={"auth": request.auth}).data)


class OwnTokenDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: DETAIL})
    def delete(self, request: Request, token_id: str) -> Response:
        api_token_revoke(actor=request.user, token=_token_of(request.user, token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserTokenList(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: TokenSerializer(many=True), 404: DETAIL})
    def get(self, request: Request, username: str) -> Response:
        target = _managed_user(request.user, username)
        return Response(TokenSerializer(api_tokens_of(target), many=True).data)


class UserTokenDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: DETAIL})
    def delete(self, request: Request, username: str, token_id: str) -> Response:
        target = _managed_user(request.user, username)
        api_token_revoke(actor=request.user, token=_token_of(target, token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserSecondFactor(APIView):
    """A custodian resets an account's second factor (lost phone): it enrols again at its next sign-in."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None, 404: OpenApiResponse(DETAIL)})
    def delete(self, request: Request, username: str) -> Response:
        second_factor_reset(actor=request.user, user=_managed_user(request.user, username))
        return Response(status=status.HTTP_204_NO_CONTENT)
