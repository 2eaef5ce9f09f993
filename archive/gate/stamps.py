"""Policy stamps: a stored rendering is current only while its stamp equals the one computed now,
which covers the rendering code, every input of the interview and the archive-wide entity rules.
"""

from __future__ import annotations

from ..models import (
    Interview,
    PolicyClock,
)

# Bump when the rendering rules in this module change: every stored rendering becomes stale.
POLICY_CODE_VERSION = 10


def rules_clock() -> int:
    """The version of the archive-wide entity rules (one row, made on first use)."""
    clock = PolicyClock.objects.filter(pk=1).values_list("entity_rules", flat=True).first()
    if clock is None:
        clock = PolicyClock.objects.get_or_create(pk=1)[0].entity_rules
    return clock


def stamp_of(policy_version: int, clock: int) -> str:
    """The stamp of a rendering built from an interview at `policy_version` under entity rules `clock`:
    it covers the rendering code, every input of the interview and the archive-wide rules."""
    return f"{POLICY_CODE_VERSION}.{policy_version}.{clock}"


def policy_stamp(interview: Interview, clock: int | None = None) -> str:
    return stamp_of(interview.policy_version, rules_clock() if clock is None else clock)
