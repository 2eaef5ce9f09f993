"""Clearance tiers as one ordered type: public < researcher < staff < custodian."""

from __future__ import annotations

from ..models import TIER_ORDER, TIERS, Tier

__all__ = ["TIERS", "TIER_ORDER", "Tier", "max_tier", "min_tier", "tier_at_least", "tiers_up_to"]


def tier_at_least(tier: str, floor: str) -> bool:
    return TIER_ORDER[tier] >= TIER_ORDER[floor]


def max_tier(*tiers: str) -> str:
    return max(tiers, key=TIER_ORDER.__getitem__)


def min_tier(*tiers: str) -> str:
    return min(tiers, key=TIER_ORDER.__getitem__)


def tiers_up_to(tier: str) -> list[str]:
    return [t for t in TIERS if TIER_ORDER[t] <= TIER_ORDER[tier]]
