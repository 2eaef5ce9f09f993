"""Access requests: a reader asks for a higher tier for one interview or one collection, stating a
purpose; a custodian grants it with terms until an end date, or refuses. Grants end on their date, and
are revoked when the interview's consent is withdrawn or the interview is purged. An interview whose
narrators' consent does not allow research access, or which is embargoed (policy.grant_refusals),
cannot be granted, and a grant counts for no such interview while it stays so. A grant never lets a
reader hear a voice its narrators did not release (policy.hears). Every step audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..gate import policy
from ..grants import REQUESTABLE_TIERS
from ..models import TIER_ORDER, AccessRequest, Collection, Interview
from .audit import audit_log
from .base import write

PURPOSE_MAX = 2000
TERMS_MAX = 2000


class RequestRefused(ValueError):
    """The request or decision cannot be made as asked; the message says why, in words for the caller."""


class GrantRefusedByConsent(RequestRefused):
    """The narrators' consent or an embargo lets no grant reveal this interview (policy.grant_refusals):
    `reasons`."""

    def __init__(self, reasons: list[str]):
        super().__init__(f"This interview cannot be granted: {'; '.join(reasons)}.")
        self.reasons = reasons


def _requested_interview(request: AccessRequest) -> Interview | None:
    """The interview asked for; None when the request is for a collection."""
    return request.interview if request.interview_id else None


def _requested_collection(request: AccessRequest) -> Collection:
    """The collection asked for, where the request is not for an interview."""
    collection = request.collection
    assert collection is not None, "a request is for one interview or one collection (access_request_one_target)"
    return collection


def _target(request: AccessRequest) -> tuple[str, str]:
    interview = _requested_interview(request)
    if interview is not None:
        return "interview", str(interview.public_id)
    return "collection", str(_requested_collection(request).public_id)


def request_collection(request: AccessRequest) -> Collection:
    interview = _requested_interview(request)
    return interview.collection if interview is not None else _requested_collection(request)


@write
def access_request_create(
    *,
    requester: User,
    tier: str,
    purpose: str,
    interview: Interview | None = None,
    collection: Collection | None = None,
    current_tier: str,
) -> AccessRequest:
    """`current_tier`: the tier the requester sees the interview or collection at today (the caller
    looked it up through the gate, so the requester may know the target exists)."""
    if (interview is None) == (collection is None):
        raise RequestRefused("Ask for one interview or one collection.")
    if tier not in REQUESTABLE_TIERS:
        raise RequestRefused(f"A tier can be requested up to staff; asked for {tier}.")
    if TIER_ORDER[tier] <= TIER_ORDER[current_tier]:
        raise RequestRefused(f"You already see this at the {current_tier} tier.")
    purpose = purpose.strip()
    if not purpose:
        raise RequestRefused("State the purpose of the request.")
    if len(purpose) > PURPOSE_MAX:
        raise RequestRefused(f"The purpose is longer than {PURPOSE_MAX} characters.")
    pending = AccessRequest.objects.filter(
        requester=requester, interview=interview, collection=collection, status=AccessRequest.Status.PENDING
    )
    if pending.exists():
        raise RequestRefused("A request of yours for this is already waiting for a decision.")
    request = AccessRequest(requester=requester, interview=interview, collection=collection, tier=tier, purpose=purpose)
    request.full_clean()
    request.save()
    target_type, target_id = _target(request)
    audit_log(
        actor=requester,
        action="access_request",
        target_type=target_type,
        target_id=target_id,
        tier=current_tier,
        detail={"request": str(request.public_id), "tier": tier},
    )
    return request


@write
def access_request_decide(
    *, request: AccessRequest, grant: bool, actor: User, terms: str = "", ends_on: date | None = None
) -> AccessRequest:
    """A custodian's decision (the caller checked grants.can_decide). A grant needs terms and an end
    date after today; a refusal may give terms as its reason."""
    request = AccessRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != AccessRequest.Status.PENDING:
        raise RequestRefused(f"This request was already decided ({request.status}).")
    if request.requester_id == actor.pk:
        raise RequestRefused("A request is decided by someone other than the person who made it.")
    terms = terms.strip()
    if len(terms) > TERMS_MAX:
        raise RequestRefused(f"The terms are longer than {TERMS_MAX} characters.")
    if grant:
        if not terms:
            raise RequestRefused("A grant states its terms.")
        if ends_on is None or ends_on <= timezone.localdate():
            raise RequestRefused("A grant ends on a date after today.")
        interview = _requested_interview(request)
        if interview is not None and interview.withdrawn_at is not None:
            raise RequestRefused("Consent for this interview was withdrawn.")
        # A grant on a collection needs no such check: the policy leaves out of it every interview
        # whose consent lets no grant count.
        refusals = policy.interview_grant_refusals(interview) if interview is not None else []
        if refusals:
            raise GrantRefusedByConsent(refusals)
    request.status = AccessRequest.Status.GRANTED if grant else AccessRequest.Status.REFUSED
    request.terms = terms
    request.ends_on = ends_on if grant else None
    request.decided_by = actor
    request.decided_at = timezone.now()
    try:
        request.full_clean()
    except ValidationError as error:
        raise RequestRefused("; ".join(error.messages)) from None
    request.save()
    target_type, target_id = _target(request)
    audit_log(
        actor=actor,
        action="access_grant" if grant else "access_refuse",
        target_type=target_type,
        target_id=target_id,
        tier=request.tier,
        detail={
            "request": str(request.public_id),
            "requester": request.requester_id,
            "ends_on": ends_on.isoformat() if grant and ends_on else None,
        },
    )
    return request


@write
def access_grants_revoke(*, interview: Interview, reason: str, actor: Any = None) -> int:
    """Revoke every grant for this interview, and refuse what is pending (consent withdrawn, or the
    interview purged). Grants for its collection need no change: a withdrawn or purged interview is
    custodian-only, above anything a grant gives."""
    now = timezone.now()
    rows = AccessRequest.objects.filter(interview=interview)
    revoked = rows.filter(status=AccessRequest.Status.GRANTED).update(
        status=AccessRequest.Status.REVOKED, revoked_at=now, revoked_reason=reason[:40]
    )
    refused = rows.filter(status=AccessRequest.Status.PENDING).update(
        status=AccessRequest.Status.REFUSED, decided_at=now, revoked_reason=reason[:40]
    )
    if revoked or refused:
        audit_log(
            actor=actor,
            action="access_grants_revoke",
            target_type="interview",
            target_id=str(interview.public_id),
            detail={"revoked": revoked, "refused": refused, "reason": reason[:40]},
        )
    return revoked


@write
def access_grant_revoke(*, request: AccessRequest, actor: User) -> AccessRequest:
    """A custodian ends one grant before its date."""
    request = AccessRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != AccessRequest.Status.GRANTED:
        raise RequestRefused("Only a grant in force can be revoked.")
    request.status = AccessRequest.Status.REVOKED
    request.revoked_at = timezone.now()
    request.revoked_reason = "custodian"
    request.save(update_fields=["status", "revoked_at", "revoked_reason"])
    target_type, target_id = _target(request)
    audit_log(
        actor=actor,
        action="access_grant_revoke",
        target_type=target_type,
        target_id=target_id,
        detail={"request": str(request.public_id)},
    )
    return request


def current_tier_for_collection(user: User, collection: Collection) -> str:
    return policy.collection_tier(user, collection)
