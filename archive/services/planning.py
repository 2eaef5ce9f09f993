"""Planned interviews: the remote interviews this archive exists for are arranged over days through
intermediaries. A plan is an interview in the `planned` state (known to its collection's staff and
the person arranging it, never below) with the agreed channel, when, the consent script to read,
the questions and notes. Questions and notes are sealed (they often hold names and numbers) and are
opened only for whoever may edit the interview, audited. Holding the interview moves it to draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from .. import crypto
from ..gate import policy
from ..models import Collection, Interview, InterviewPlan, Narrator, Tier
from .audit import audit_log
from .base import write
from .interviews import interview_create
from .people import narrator_create

TEXT_MAX = 20000


@dataclass(frozen=True)
class PlanView:
    agreed_channel: str
    scheduled_for: datetime | None
    consent_script: str
    questions: str
    notes: str


def _context(interview: Interview) -> str:
    return f"plan:{interview.public_id}"


def _seal(interview: Interview, questions: str, notes: str) -> str:
    return crypto.seal_json({"questions": questions, "notes": notes}, _context(interview))


def _check(**texts: str) -> None:
    for name, text in texts.items():
        if len(text) > TEXT_MAX:
            raise ValueError(f"{name}: at most {TEXT_MAX} characters.")


@write
def interview_plan(
    *,
    collection: Collection,
    title: str,
    actor: User,
    agreed_channel: str = "",
    scheduled_for: datetime | None = None,
    consent_script: str = "",
    questions: str = "",
    notes: str = "",
    narrator_name: str = "",
    anonymity: str = Narrator.Anonymity.ANONYMOUS,
) -> Interview:
    """A planned interview, gathered by `actor` (who sees it as its custodian). The narrator's real
    name, when known, is sealed under their own key like any narrator's."""
    _check(consent_script=consent_script, questions=questions, notes=notes)
    narrators = []
    if narrator_name.strip():
        narrators.append(
            narrator_create(collection=collection, legal_name=narrator_name.strip(), anonymity=anonymity, actor=actor)
        )
    interview = interview_create(
        collection=collection,
        title=title,
        actor=actor,
        narrators=narrators,
        interviewers=[actor],
        mode=agreed_channel or Interview.Mode.WHATSAPP_VOICE,
        access_level=Tier.STAFF,
        status=Interview.Status.PLANNED,
    )
    plan = InterviewPlan(
        interview=interview,
        agreed_channel=agreed_channel,
        scheduled_for=scheduled_for,
        consent_script=consent_script,
        payload_ciphertext=_seal(interview, questions, notes),
    )
    plan.full_clean()
    plan.save()
    audit_log(actor=actor, action="interview_plan", target_type="interview", target_id=str(interview.public_id))
    return interview


@write
def plan_update(
    *,
    interview: Interview,
    actor: User,
    agreed_channel: str,
    scheduled_for: datetime | None,
    consent_script: str,
    questions: str,
    notes: str,
) -> InterviewPlan:
    _check(consent_script=consent_script, questions=questions, notes=notes)
    plan, _created = InterviewPlan.objects.select_for_update().get_or_create(interview=interview)
    plan.agreed_channel = agreed_channel
    plan.scheduled_for = scheduled_for
    plan.consent_script = consent_script
    plan.payload_ciphertext = _seal(interview, questions, notes)
    plan.full_clean()
    plan.save()
    audit_log(actor=actor, action="plan_update", target_type="interview", target_id=str(interview.public_id))
    return plan


def plan_read(*, interview: Interview, actor: Any) -> PlanView | None:
    """The plan, opened for someone who may edit the interview (the caller checked). Audited: the
    notes may name people."""
    plan = InterviewPlan.objects.filter(interview=interview).first()
    if plan is None:
        return None
    payload: dict[str, str] = {"questions": "", "notes": ""}
    if plan.payload_ciphertext:
        payload = crypto.open_json(plan.payload_ciphertext, _context(interview))
    audit_log(actor=actor, action="plan_view", target_type="interview", target_id=str(interview.public_id))
    return PlanView(
        agreed_channel=plan.agreed_channel,
        scheduled_for=plan.scheduled_for,
        consent_script=plan.consent_script,
        questions=payload.get("questions", ""),
        notes=payload.get("notes", ""),
    )


def planned_interviews(*, user: User) -> list[Interview]:
    """Planned interviews the user arranged or edits (the caller shows them through the gate)."""
    planned = Interview.objects.filter(status=Interview.Status.PLANNED)
    return [i for i, _tier in policy.visible_interviews(user, planned) if policy.can_edit(user, i)]
