"""Editors' work on an interview's narrators: anonymity level, pseudonym and public descriptor.

Narrators are named as the editor's tier renders them (gate.identity.narrator_refs): below custodian an
anonymous narrator is known by a reference local to the interview, so that editors at staff cannot link
their interviews, and a sealed narrator is not listed at all. For the same reason an anonymous
narrator's stable pseudonym is shown to custodians only. Making a narrator `named` publishes their real
name, which only custodians may read, so only custodians decide it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from ..gate.identity import WITHHELD_REF, narrator_refs
from ..models import Interview, Narrator, Tier
from .audit import audit_log
from .base import write
from .editorial import InvalidChange, NotAllowed
from .people import interview_touch, narrator_set_anonymity

PSEUDONYM_MAX = 120
DESCRIPTOR_MAX = 200


@dataclass(frozen=True)
class NarratorView:
    reference: str
    anonymity: str
    pseudonym: str | None
    descriptor: str


def _view(narrator: Narrator, reference: str, tier: str) -> NarratorView:
    show_pseudonym = tier == Tier.CUSTODIAN or narrator.anonymity != Narrator.Anonymity.ANONYMOUS
    return NarratorView(
        reference=reference,
        anonymity=narrator.anonymity,
        pseudonym=narrator.pseudonym if show_pseudonym else None,
        descriptor=narrator.descriptor,
    )


def _refs(interview: Interview, tier: str) -> list[tuple[Narrator, str]]:
    narrators = sorted(interview.narrators.all(), key=lambda n: n.pk)
    refs = narrator_refs(narrators, tier)
    return [(n, refs[n.public_id]) for n in narrators if refs[n.public_id] != WITHHELD_REF]


def narrators_for_editing(*, interview: Interview, tier: str) -> list[NarratorView]:
    """The interview's narrators as an editor at `tier` may see them."""
    return [_view(narrator, ref, tier) for narrator, ref in _refs(interview, tier)]


def narrator_by_reference(*, interview: Interview, tier: str, reference: str) -> Narrator | None:
    for narrator, ref in _refs(interview, tier):
        if ref == reference:
            return narrator
    return None


def narrator_view(*, interview: Interview, narrator: Narrator, tier: str) -> NarratorView:
    """The narrator as `tier` now sees them (after a change, perhaps withheld)."""
    for candidate, ref in _refs(interview, tier):
        if candidate.pk == narrator.pk:
            return _view(candidate, ref, tier)
    return NarratorView(reference=WITHHELD_REF, anonymity=narrator.anonymity, pseudonym=None, descriptor="")


@write
def narrator_update(
    *,
    narrator: Narrator,
    actor: User,
    tier: str,
    anonymity: str | None = None,
    pseudonym: str | None = None,
    descriptor: str | None = None,
) -> Narrator:
    """Change how the narrator is shown. `tier`: the tier the editor works at (the caller checked
    that they may make redaction decisions on an interview of this narrator)."""
    narrator = Narrator.objects.select_for_update().get(pk=narrator.pk)
    if anonymity is not None and anonymity not in Narrator.Anonymity.values:
        raise InvalidChange(f"anonymity: one of {', '.join(Narrator.Anonymity.values)}.")
    if anonymity == Narrator.Anonymity.NAMED and narrator.anonymity != anonymity and tier != Tier.CUSTODIAN:
        raise NotAllowed("Only custodians make a narrator named: it shows their real name.")
    changed: list[str] = []
    if pseudonym is not None:
        pseudonym = pseudonym.strip()
        if not pseudonym or len(pseudonym) > PSEUDONYM_MAX:
            raise InvalidChange(f"pseudonym: 1 to {PSEUDONYM_MAX} characters.")
        if pseudonym != narrator.pseudonym:
            narrator.pseudonym = pseudonym
            changed.append("pseudonym")
    if descriptor is not None:
        descriptor = descriptor.strip()
        if len(descriptor) > DESCRIPTOR_MAX:
            raise InvalidChange(f"descriptor: at most {DESCRIPTOR_MAX} characters.")
        if descriptor != narrator.descriptor:
            narrator.descriptor = descriptor
            changed.append("descriptor")
    if changed:
        try:
            narrator.full_clean()
        except ValidationError as error:
            raise InvalidChange("; ".join(error.messages)) from None
        narrator.save(update_fields=changed)
        audit_log(
            actor=actor,
            action="narrator_update",
            target_type="narrator",
            target_id=str(narrator.public_id),
            tier=tier,
            detail={"fields": changed},
        )
        for interview in Interview.objects.filter(narrators=narrator):
            interview_touch(interview)
    if anonymity is not None and anonymity != narrator.anonymity:
        narrator = narrator_set_anonymity(narrator=narrator, anonymity=anonymity, actor=actor)
    return narrator
