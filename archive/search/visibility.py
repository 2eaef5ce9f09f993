"""Which interviews a user (or a tier) sees at each tier, with the policy stamp their documents must carry."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from ..gate import policy as access
from ..gate.stamps import rules_clock, stamp_of
from ..models import Interview, Tier
from .schema import index_stamp


def _stamper():
    """policy version → the stamp the search rows of a rendering built at it carry now (stamp_of, with the
    index version: rows of an earlier index version are not served)."""
    clock = rules_clock()
    return lambda policy_version: index_stamp(stamp_of(policy_version, clock))


def visible_by_tier_for_user(user) -> dict[str, dict[int, str]]:
    """tier -> {interview pk: current policy stamp} of interviews the user sees at that tier."""
    result: dict[str, dict[int, str]] = {}
    _stamp = _stamper()
    if not getattr(user, "is_authenticated", False):
        # Signed out: exactly access.visible_interviews(AnonymousUser()), without loading every interview.
        rows = (
            Interview.objects.filter(floor_tier=Tier.PUBLIC)
            .filter(Q(embargo_effective__isnull=True) | Q(embargo_effective__lte=timezone.localdate()))
            .values_list("pk", "policy_version")
        )
        if rows:
            result[Tier.PUBLIC] = {pk: _stamp(version) for pk, version in rows}
        return result
    for pk, tier, version in access.visible_interview_versions(user):
        result.setdefault(tier, {})[pk] = _stamp(version)
    return result


def visible_by_tier_for_tier(tier: str) -> dict[str, dict[int, str]]:
    """What someone with `tier` in every collection sees: interviews whose floor is at or below it."""
    seen: dict[int, str] = {}
    _stamp = _stamper()
    for interview in Interview.objects.only("pk", "policy_version", "floor_tier", "embargo_effective"):
        if access.tier_at_least(tier, access.required_tier(interview)):
            seen[interview.pk] = _stamp(interview.policy_version)
    return {tier: seen} if seen else {}
