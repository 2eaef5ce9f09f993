"""Clearance tiers as one ordered type: public < researcher < staff < custodian.

`Tier` (a text choice stored as its value) is the type every annotation uses; `TIER_ORDER` is its order.
Helpers take any tier value (a stored string or a `Tier`) and answer with `Tier`.
"""

from __future__ import annotations

from ..models import TIER_ORDER, TIERS, Tier

__all__ = ["TIERS", "TIER_ORDER", "Tier", "as_tier", "max_tier", "min_tier", "tier_at_least", "tiers_up_to"]


def as_tier(value: str) -> Tier:
    """The `Tier` of a stored value (ValueError for anything else)."""
    return Tier(value)


def tier_at_least(tier: str, floor: str) -> bool:
    return TIER_ORDER[tier] >= TIER_ORDER[floor]


def max_tier(*tiers: str) -> Tier:
    return Tier(max(tiers, key=TIER_ORDER.__getitem__))


def min_tier(*tiers: str) -> Tier:
    return Tier(min(tiers, key=TIER_ORDER.__getitem__))


def tiers_up_to(tier: str) -> list[Tier]:
    return [Tier(t) for t in TIERS if TIER_ORDER[t] <= TIER_ORDER[tier]]
