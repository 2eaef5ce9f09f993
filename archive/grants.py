"""Access granted on request: which tier a custodian granted a reader, for one interview or one
collection, until an end date. Read by the gate's policy when it computes a user's tier; written only
by services/access_requests.py.

A grant never reaches custodian (real identities are never granted on request), and never lowers a
tier: the user's tier is the higher of their memberships and their grants.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from .models import AccessRequest, Collection, Membership, Tier

# Tiers a reader may ask for: custodian means real identities, which are never granted on request.
REQUESTABLE_TIERS: tuple[str, ...] = (Tier.RESEARCHER, Tier.STAFF)


@dataclass(frozen=True)
class Grant:
    interview_id: int | None
    collection_id: int | None
    tier: str


def active_grants(user: User | AnonymousUser | None) -> list[Grant]:
    """The user's grants in force today (one query; none for a stranger)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    rows = AccessRequest.objects.filter(
        requester_id=user.pk, status=AccessRequest.Status.GRANTED, ends_on__gte=timezone.localdate()
    ).values_list("interview_id", "collection_id", "tier")
    return [Grant(interview_id, collection_id, tier) for interview_id, collection_id, tier in rows]


def granted_tiers(grants: list[Grant], interview_id: int | None, collection_id: int) -> list[str]:
    """The tiers these grants give for one interview of one collection."""
    return [
        g.tier
        for g in grants
        if (g.interview_id is not None and g.interview_id == interview_id) or g.collection_id == collection_id
    ]


def can_decide(user: User | AnonymousUser | None, collection: Collection) -> bool:
    """Access requests are decided by the collection's custodians."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.memberships.filter(collection=collection, role=Membership.Role.CUSTODIAN).exists()
