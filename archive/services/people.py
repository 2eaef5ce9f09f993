"""Writes for collections, memberships, narrators (identity encrypted at rest) and consent."""

from __future__ import annotations

import string
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from .. import crypto, rendering
from ..models import Collection, ConsentRecord, Interview, Membership, Narrator, NarratorKey
from .audit import audit_log


def collection_get_or_create(*, slug: str, title: str = "", description: str = "") -> Collection:
    collection, created = Collection.objects.get_or_create(
        slug=slug, defaults={"title": title or slug.replace("-", " ").title(), "description": description}
    )
    if created:
        collection.full_clean()
        audit_log(action="collection_create", target_type="collection", target_id=str(collection.public_id))
    return collection


def membership_add(*, user: User, collection: Collection, role: str, actor: Any = None) -> Membership:
    membership, created = Membership.objects.get_or_create(user=user, collection=collection, role=role)
    if created:
        audit_log(
            actor=actor,
            action="membership_add",
            target_type="collection",
            target_id=str(collection.public_id),
            detail={"user": user.pk, "role": role},
        )
    return membership


def _next_pseudonym(collection: Collection) -> str:
    taken = set(Narrator.objects.filter(collection=collection).values_list("pseudonym", flat=True))
    for letter in string.ascii_uppercase:
        candidate = f"Narrator {letter}"
        if candidate not in taken:
            return candidate
    return f"Narrator {len(taken) + 1}"


def _narrator_dek(narrator: Narrator) -> bytes:
    key = narrator.data_key
    return crypto.unwrap_data_key(key.kek_id, key.wrapped_key, str(narrator.public_id))


def _encrypt_identity(narrator: Narrator, dek: bytes, *, legal_name: str, contacts: str, location: str, aliases: list[str]) -> None:
    pid = str(narrator.public_id)
    narrator.legal_name_ciphertext = crypto.encrypt_field(dek, pid, "legal_name", legal_name)
    narrator.contacts_ciphertext = crypto.encrypt_field(dek, pid, "contacts", contacts)
    narrator.location_ciphertext = crypto.encrypt_field(dek, pid, "location", location)
    narrator.aliases_ciphertext = crypto.encrypt_field(dek, pid, "aliases", "\n".join(aliases))
    narrator.legal_name_blind_index = crypto.blind_index(legal_name)


@transaction.atomic
def narrator_create(
    *,
    collection: Collection,
    legal_name: str,
    anonymity: str = Narrator.Anonymity.ANONYMOUS,
    pseudonym: str = "",
    descriptor: str = "",
    contacts: str = "",
    location: str = "",
    aliases: list[str] | None = None,
    actor: Any = None,
) -> Narrator:
    narrator = Narrator(
        collection=collection,
        anonymity=anonymity,
        pseudonym=pseudonym or _next_pseudonym(collection),
        descriptor=descriptor,
    )
    kek_id, wrapped = crypto.new_wrapped_data_key(str(narrator.public_id))
    dek = crypto.unwrap_data_key(kek_id, wrapped, str(narrator.public_id))
    _encrypt_identity(narrator, dek, legal_name=legal_name, contacts=contacts, location=location, aliases=aliases or [])
    narrator.full_clean()
    narrator.save()
    NarratorKey.objects.create(narrator=narrator, kek_id=kek_id, wrapped_key=wrapped)
    audit_log(actor=actor, action="narrator_create", target_type="narrator", target_id=str(narrator.public_id))
    return narrator


def narrator_identity(*, narrator: Narrator, actor: Any, reason: str = "") -> dict[str, Any]:
    """Decrypt a narrator's identity for a custodian. Every call is an audited identity reveal."""
    audit_log(
        actor=actor,
        action="identity_reveal",
        target_type="narrator",
        target_id=str(narrator.public_id),
        tier="custodian",
        detail={"reason_given": bool(reason)},
    )
    try:
        dek = _narrator_dek(narrator)
    except (NarratorKey.DoesNotExist, crypto.KeyDestroyed):
        return {"legal_name": None, "contacts": None, "location": None, "aliases": None, "destroyed": True}
    pid = str(narrator.public_id)
    return {
        "legal_name": crypto.decrypt_field(dek, pid, "legal_name", narrator.legal_name_ciphertext),
        "contacts": crypto.decrypt_field(dek, pid, "contacts", narrator.contacts_ciphertext),
        "location": crypto.decrypt_field(dek, pid, "location", narrator.location_ciphertext),
        "aliases": crypto.decrypt_field(dek, pid, "aliases", narrator.aliases_ciphertext).split("\n"),
        "destroyed": False,
    }


@transaction.atomic
def narrator_update_identity(
    *, narrator: Narrator, legal_name: str, contacts: str = "", location: str = "", aliases: list[str] | None = None, actor: Any = None
) -> Narrator:
    dek = _narrator_dek(narrator)
    _encrypt_identity(narrator, dek, legal_name=legal_name, contacts=contacts, location=location, aliases=aliases or [])
    narrator.save()
    audit_log(actor=actor, action="narrator_identity_change", target_type="narrator", target_id=str(narrator.public_id))
    _rebuild_narrator_interviews(narrator)
    return narrator


@transaction.atomic
def narrator_set_anonymity(*, narrator: Narrator, anonymity: str, actor: Any = None) -> Narrator:
    narrator.anonymity = anonymity
    narrator.full_clean()
    narrator.save(update_fields=["anonymity"])
    audit_log(
        actor=actor, action="narrator_anonymity", target_type="narrator", target_id=str(narrator.public_id),
        detail={"anonymity": anonymity},
    )
    _rebuild_narrator_interviews(narrator)
    return narrator


@transaction.atomic
def narrator_forget(*, narrator: Narrator, actor: Any = None) -> None:
    """Crypto-shredding: destroy the narrator's data key. Their identity fields become unreadable for
    good while the interviews keep rendering with the pseudonym or descriptor."""
    NarratorKey.objects.filter(narrator=narrator).update(wrapped_key="", destroyed_at=timezone.now())
    Narrator.objects.filter(pk=narrator.pk).update(legal_name_blind_index="")
    audit_log(actor=actor, action="narrator_key_destroyed", target_type="narrator", target_id=str(narrator.public_id))
    narrator.refresh_from_db()
    _rebuild_narrator_interviews(narrator)


def kek_rotate(*, actor: Any = None) -> int:
    """Re-wrap every live narrator data key under the newest KEK. Data rows are untouched."""
    count = 0
    for key in NarratorKey.objects.exclude(wrapped_key="").select_related("narrator"):
        pid = str(key.narrator.public_id)
        dek = crypto.unwrap_data_key(key.kek_id, key.wrapped_key, pid)
        key.kek_id, key.wrapped_key = crypto.wrap_data_key(dek, pid)
        key.save(update_fields=["kek_id", "wrapped_key"])
        count += 1
    audit_log(actor=actor, action="kek_rotate", detail={"keys": count})
    return count


def _rebuild_narrator_interviews(narrator: Narrator) -> None:
    for interview in Interview.objects.filter(narrators=narrator):
        interview_touch(interview)


def interview_touch(interview: Interview) -> None:
    """Mark the interview's renderings stale and rebuild them (inside the caller's transaction)."""
    Interview.objects.filter(pk=interview.pk).update(policy_version=F("policy_version") + 1)
    interview.refresh_from_db()
    rendering.materialise(interview)


SCOPES = ("archive", "research_access", "publication", "public_web", "voice_release", "processing")


@transaction.atomic
def consent_record(
    *,
    narrator: Narrator,
    interview: Interview,
    actor: Any = None,
    method: str = ConsentRecord.Method.MESSAGE,
    conditions: str = "",
    embargo_until: date | None = None,
    embargo_event: str = "",
    review_on: date | None = None,
    withdrawn: bool = False,
    verbal_segment_start: float | None = None,
    verbal_segment_end: float | None = None,
    verbal_audio_sha256: str = "",
    form_file: Any = None,
    **scopes: bool,
) -> ConsentRecord:
    """Append a new consent version; the gate derives caps from the latest one."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown consent scopes: {sorted(unknown)}")
    Interview.objects.select_for_update().filter(pk=interview.pk).first()
    latest = ConsentRecord.objects.filter(narrator=narrator, interview=interview).aggregate(v=Max("version"))["v"] or 0
    record = ConsentRecord(
        narrator=narrator,
        interview=interview,
        version=latest + 1,
        method=method,
        conditions=conditions,
        embargo_until=embargo_until,
        embargo_event=embargo_event,
        review_on=review_on,
        withdrawn=withdrawn,
        verbal_segment_start=verbal_segment_start,
        verbal_segment_end=verbal_segment_end,
        verbal_audio_sha256=verbal_audio_sha256,
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        **scopes,
    )
    if form_file is not None:
        record.form_file = form_file
    record.full_clean()
    record.save()
    audit_log(
        actor=actor,
        action="consent_withdraw" if withdrawn else "consent_record",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"narrator": str(narrator.public_id), "version": record.version, **{s: getattr(record, s) for s in SCOPES}},
    )
    if withdrawn or not record.archive:
        from .withdrawal import interview_withdraw

        interview_withdraw(interview=interview, actor=actor)
    else:
        if interview.withdrawn_at is not None and not any(c.withdrawn for c in _current(interview)):
            Interview.objects.filter(pk=interview.pk).update(withdrawn_at=None, status=Interview.Status.REVIEW)
        interview_touch(interview)
    return record


def _current(interview: Interview) -> list[ConsentRecord]:
    from ..access import current_consents

    return current_consents(interview)
