"""What every write shares: one transaction, and the renderings it invalidates rebuilt once, at its end.

A service that changes an input of an interview's rendering calls `touch(interview)`. Inside an outer
write (`@write`, nested any depth) the interview is only noted; when the outermost write ends, still
inside its transaction, each noted interview's policy version is bumped and its renderings and search
documents are rebuilt once. Readers never see a half-built rendering, and an import that adds a
transcript, redactions and suggestions rebuilds every tier once instead of once per step.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from django.db import transaction
from django.db.models import F

from .. import search
from ..gate import store
from ..gate.rules import Rule, entity_rules
from ..models import Interview

P = ParamSpec("P")
R = TypeVar("R")

_state = threading.local()


def rebuild(interview: Interview, entity_names: list[tuple[str, Rule]] | None = None) -> None:
    """Rebuild the interview's renderings at its current inputs, then its search documents."""
    rebuilt = store.materialise(interview, entity_names)
    search.index_interview(interview, rebuilt.tiers, rebuilt.changes)


def _rebuild(interview: Interview) -> None:
    Interview.objects.filter(pk=interview.pk).update(policy_version=F("policy_version") + 1)
    interview.refresh_from_db()
    rebuild(interview)


@contextmanager
def rebuild_once() -> Iterator[None]:
    """Collect touches inside; rebuild each touched interview once when the outermost block ends."""
    if getattr(_state, "pending", None) is not None:
        yield
        return
    _state.pending = {}
    try:
        yield
        while _state.pending:
            _pk, interview = _state.pending.popitem()
            _rebuild(interview)
    finally:
        _state.pending = None


def touch(interview: Interview) -> None:
    """The interview's rendering inputs changed: rebuild now, or at the end of the outer write."""
    pending = getattr(_state, "pending", None)
    if pending is None:
        _rebuild(interview)
    else:
        pending[interview.pk] = interview


def write(func: Callable[P, R]) -> Callable[P, R]:
    """A service: one transaction, renderings rebuilt once at the end of the outermost one."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with transaction.atomic(), rebuild_once():
            return func(*args, **kwargs)

    return wrapper


def renderings_rebuild(interview_id: int) -> bool:
    """Rebuild one interview's renderings at the current stamp (a stale read asked for it)."""
    with transaction.atomic():
        interview = Interview.objects.select_for_update().filter(pk=interview_id).first()
        if interview is None:
            return False
        rebuild(interview)
    return True


def renderings_rebuild_stale() -> int:
    """Rebuild every interview whose renderings are stale (after a change of the rendering rules, or a
    rebuild request lost with its broker). Returns how many were rebuilt."""
    stale = store.stale_interviews()
    for interview_id in stale:
        renderings_rebuild(interview_id)
    return len(stale)


@write
def rules_changed(names: Iterable[str]) -> list[Interview]:
    """The archive-wide entity rules changed for `names` (a redaction of an entity approved, rejected or
    changed, an alias added). The rules clock moves on, so every stored rendering is stale; each
    interview in which a name occurs is rebuilt, and every other one, shown unaffected by the same
    matcher the redactor uses, takes the new stamp unchanged. Returns the interviews rebuilt."""
    old_clock = store.advance_rules_clock()
    affected = store.interviews_mentioning(names)
    rules = entity_rules()
    for interview in affected:
        Interview.objects.filter(pk=interview.pk).update(policy_version=F("policy_version") + 1)
        interview.refresh_from_db()
        rebuild(interview, rules)
    search.restamp(store.restamp_unaffected(old_clock, [i.pk for i in affected]))
    return affected
