"""Editors' decisions on an interview: its fields, its workflow status, revoking a redaction.

Who may do what is decided here, once, so that the pages and the API behave alike:
- descriptive fields (title, summary, exact place, date, mode, topics, languages, interviewer label):
  whoever may edit the interview (its editors and custodians, and the interviewer who gathered it);
- editorial fields (access level, the generalised place shown below staff, embargo): editors and
  custodians only (policy.can_redact);
- status: the interviewer may move their own interview between draft and review and set it aside;
  publishing, and taking a published interview back to review, is for editors;
- revoking a redaction: editors, for a redaction they can see at their own tier.
Every change is audited and re-rendered through the gate (services.interviews.interview_update).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from ..gate import policy
from ..gate.store import interviews_mentioning
from ..models import TIER_ORDER, Interview, Redaction, Tier
from .audit import audit_log
from .base import write
from .interviews import PublicationBlocked, interview_update, publication_blockers
from .people import interview_touch
from .redactions import rebuild_interviews_mentioning

DESCRIPTIVE_FIELDS = ("title", "summary", "place", "recorded_on", "mode", "topics", "languages", "interviewer_label")
EDITORIAL_FIELDS = ("access_level", "place_general", "embargo_until")
LIST_LIMITS = {"topics": (50, 100), "languages": (20, 16)}  # (items, characters per item)

Status = Interview.Status
# Where an interview may go from each status. Sealed (withdrawn consent) and deleted (purged) are
# reached only through their own services and never left from here.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.PLANNED: (Status.DRAFT, Status.ARCHIVED),
    Status.DRAFT: (Status.REVIEW, Status.ARCHIVED),
    Status.TRANSCRIBING: (Status.DRAFT, Status.REVIEW, Status.ARCHIVED),
    Status.REVIEW: (Status.DRAFT, Status.PUBLISHED, Status.ARCHIVED),
    Status.PUBLISHED: (Status.REVIEW,),
    Status.ARCHIVED: (Status.DRAFT,),
    Status.SEALED: (),
    Status.DELETED: (),
}
SETTABLE_STATUSES = (Status.DRAFT, Status.REVIEW, Status.PUBLISHED, Status.ARCHIVED)


class NotAllowed(PermissionError):
    """The user may see the interview but not make this change; the message says why."""


class InvalidChange(ValueError):
    """The change itself is malformed (a field, a value, a transition); the message says which."""


def _check_list(name: str, value: Any) -> list[str]:
    items, chars = LIST_LIMITS[name]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidChange(f"{name}: a list of strings.")
    cleaned = [v.strip() for v in value if v.strip()]
    if len(cleaned) > items or any(len(v) > chars for v in cleaned):
        raise InvalidChange(f"{name}: at most {items} items of at most {chars} characters.")
    return list(dict.fromkeys(cleaned))


@write
def interview_edit(*, interview: Interview, actor: User, changes: Mapping[str, Any]) -> Interview:
    """Change an interview's fields as `actor` may (see the module docstring)."""
    if interview.status == Status.DELETED:
        raise InvalidChange("A deleted interview is kept as a tombstone and cannot be edited.")
    unknown = set(changes) - set(DESCRIPTIVE_FIELDS) - set(EDITORIAL_FIELDS)
    if unknown:
        raise InvalidChange(f"Not editable: {', '.join(sorted(unknown))}.")
    if not policy.can_edit(actor, interview):
        raise NotAllowed("Only the interview's editors and its interviewer edit it.")
    editorial = sorted(set(changes) & set(EDITORIAL_FIELDS))
    if editorial and not policy.can_redact(actor, interview):
        raise NotAllowed(f"Only editors and custodians change {', '.join(editorial)}.")
    cleaned = dict(changes)
    for name in LIST_LIMITS:
        if name in cleaned:
            cleaned[name] = _check_list(name, cleaned[name])
    if "title" in cleaned and not str(cleaned["title"] or "").strip():
        raise InvalidChange("title: may not be empty.")
    for name in ("recorded_on", "embargo_until"):
        if isinstance(cleaned.get(name), str):
            try:
                cleaned[name] = date.fromisoformat(cleaned[name]) if cleaned[name] else None
            except ValueError:
                raise InvalidChange(f"{name}: a date as YYYY-MM-DD.") from None
    if not cleaned:
        return interview
    try:
        return interview_update(interview=interview, actor=actor, **cleaned)
    except ValidationError as error:
        raise InvalidChange("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())) from None


def publication_reasons(interview: Interview) -> list[str]:
    """Every reason the interview cannot be published now, in words an editor acts on: suggestions
    pending (contact details named apart), redactions held after a change of the transcript, and
    consent that is missing, withdrawn or does not cover the access level."""
    reasons = list(publication_blockers(interview))
    contacts = Redaction.objects.filter(
        kind=Redaction.Kind.SPAN,
        segment__transcript__interview=interview,
        segment__transcript__is_current=True,
        status=Redaction.Status.SUGGESTED,
        category=Redaction.Category.CONTACT,
    ).count()
    if contacts:
        reasons.append(f"{contacts} contact detail(s) found in the transcript are not redacted yet.")
    narrators = set(interview.narrators.values_list("pk", flat=True))
    consents = policy.current_consents(interview)
    missing = len(narrators - {c.narrator_id for c in consents})
    if not narrators:
        reasons.append("No narrator is recorded for this interview.")
    if missing:
        reasons.append(f"{missing} narrator(s) have no consent on record.")
    caps = policy.consent_caps(interview)
    if caps.withdrawn:
        reasons.append("Consent was withdrawn.")
    elif consents and TIER_ORDER[caps.floor] > TIER_ORDER[interview.access_level]:
        reasons.append(
            f"Consent does not cover the access level: it allows the interview from {caps.floor}, "
            f"the access level is {interview.access_level}."
        )
    return reasons


@write
def interview_set_status(*, interview: Interview, status: str, actor: User) -> Interview:
    """Move the interview along its workflow; publishing is refused with every reason at once
    (PublicationBlocked)."""
    if status not in SETTABLE_STATUSES:
        raise InvalidChange(f"status: one of {', '.join(SETTABLE_STATUSES)}.")
    interview = Interview.objects.select_for_update().get(pk=interview.pk)
    if status == interview.status:
        return interview
    if status not in TRANSITIONS.get(interview.status, ()):
        raise InvalidChange(f"An interview in {interview.status} cannot move to {status}.")
    if not policy.can_edit(actor, interview):
        raise NotAllowed("Only the interview's editors and its interviewer change its status.")
    editors_only = status == Status.PUBLISHED or interview.status == Status.PUBLISHED
    if editors_only and not policy.can_redact(actor, interview):
        raise NotAllowed("Only editors and custodians publish an interview or take it back to review.")
    if status == Status.PUBLISHED:
        reasons = publication_reasons(interview)
        if reasons:
            raise PublicationBlocked(reasons)
    previous = interview.status
    interview = interview_update(interview=interview, actor=actor, status=status)
    audit_log(
        actor=actor,
        action="interview_status",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"from": previous, "to": status},
    )
    return interview


# Revoking a redaction ------------------------------------------------------------------------------


def redaction_interview(redaction: Redaction) -> Interview | None:
    if redaction.interview_id:
        return redaction.interview
    segment = redaction.segment
    if segment is not None:
        return segment.transcript.interview
    return None


def _entity_names(redaction: Redaction) -> list[str]:
    entity = redaction.hidden_entity()
    return [entity.raw_name, *entity.aliases.values_list("raw_alias", flat=True)]


@write
def redaction_revoke(*, redaction: Redaction, actor: User, tier: str) -> Redaction:
    """Revoke a redaction: it stops hiding anything (status rejected, kept on record with who made it).
    `tier`: the tier the editor works at; a redaction hiding text above it is not theirs to revoke
    (they could not see what it hides). An entity redaction hides a name in every interview that
    mentions it, so its revocation needs edit rights on each of them."""
    redaction = Redaction.objects.select_for_update().get(pk=redaction.pk)
    if redaction.status == Redaction.Status.REJECTED:
        raise InvalidChange("This redaction is already revoked or was rejected.")
    if TIER_ORDER[redaction.visible_from] > TIER_ORDER[tier] and tier != Tier.CUSTODIAN:
        raise NotAllowed("This redaction hides text above your tier.")
    mentioning: list[Interview] = []
    if redaction.kind == Redaction.Kind.ENTITY:
        mentioning = interviews_mentioning(_entity_names(redaction))
        if any(not policy.can_redact(actor, other) for other in mentioning):
            raise NotAllowed("This name is redacted in interviews of other collections too; ask their editors.")
    previous = redaction.status
    redaction.status = Redaction.Status.REJECTED
    redaction.held = False
    redaction.decided_at = timezone.now()
    redaction.save(update_fields=["status", "held", "decided_at"])
    interview = redaction_interview(redaction)
    audit_log(
        actor=actor,
        action="redaction_revoke",
        target_type="interview" if interview else "entity",
        target_id=str(interview.public_id) if interview else str(redaction.hidden_entity().public_id),
        detail={"redaction": str(redaction.public_id), "previous": previous, "kind": redaction.kind},
    )
    if redaction.kind == Redaction.Kind.ENTITY:
        rebuild_interviews_mentioning(_entity_names(redaction), actor=actor)
    elif interview is not None:
        interview_touch(interview)
    return redaction
