"""Writes for collections, memberships, narrators (identity encrypted at rest) and consent."""

from __future__ import annotations

import string
from datetime import date
from typing import Any, TypedDict

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .. import crypto
from ..gate import identity as identities
from ..gate.policy import current_consents
from ..models import (
    Collection,
    ConsentRecord,
    Interview,
    Membership,
    Narrator,
    NarratorKey,
    QuarantinedMetadata,
    Redaction,
    SecondFactor,
    Segment,
)
from ..textnorm import Gazetteer
from .audit import audit_log
from .base import touch, write
from .withdrawal import interview_withdraw


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


def _encrypt_identity(
    narrator: Narrator, dek: bytes, *, legal_name: str, contacts: str, location: str, aliases: list[str]
) -> None:
    pid = str(narrator.public_id)
    narrator.legal_name_ciphertext = crypto.encrypt_field(dek, pid, "legal_name", legal_name)
    narrator.contacts_ciphertext = crypto.encrypt_field(dek, pid, "contacts", contacts)
    narrator.location_ciphertext = crypto.encrypt_field(dek, pid, "location", location)
    narrator.aliases_ciphertext = crypto.encrypt_field(dek, pid, "aliases", "\n".join(aliases))
    narrator.legal_name_blind_index = crypto.blind_index(legal_name)


@write
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


@write
def narrator_update_identity(
    *,
    narrator: Narrator,
    legal_name: str,
    contacts: str = "",
    location: str = "",
    aliases: list[str] | None = None,
    actor: Any = None,
) -> Narrator:
    dek = _narrator_dek(narrator)
    _encrypt_identity(narrator, dek, legal_name=legal_name, contacts=contacts, location=location, aliases=aliases or [])
    narrator.save()
    audit_log(actor=actor, action="narrator_identity_change", target_type="narrator", target_id=str(narrator.public_id))
    _rebuild_narrator_interviews(narrator)
    return narrator


@write
def narrator_set_anonymity(*, narrator: Narrator, anonymity: str, actor: Any = None) -> Narrator:
    narrator.anonymity = anonymity
    narrator.full_clean()
    narrator.save(update_fields=["anonymity"])
    audit_log(
        actor=actor,
        action="narrator_anonymity",
        target_type="narrator",
        target_id=str(narrator.public_id),
        detail={"anonymity": anonymity},
    )
    _rebuild_narrator_interviews(narrator)
    return narrator


@write
def narrator_forget(*, narrator: Narrator, actor: Any = None) -> None:
    """Crypto-shredding: destroy the narrator's data key. Their identity fields become unreadable for
    good while the interviews keep rendering with the pseudonym or descriptor.

    The renderer hides a narrator's name and aliases in transcript text by decrypting them; once the
    key is gone it cannot. So, first, every occurrence in the current transcripts becomes a span
    redaction (offsets only, no name stored) visible to custodians alone."""
    narrator = Narrator.objects.select_for_update().get(pk=narrator.pk)
    spans = _pin_identity_spans(narrator, actor=actor)
    NarratorKey.objects.filter(narrator=narrator).update(wrapped_key="", destroyed_at=timezone.now())
    Narrator.objects.filter(pk=narrator.pk).update(legal_name_blind_index="")
    audit_log(
        actor=actor,
        action="narrator_key_destroyed",
        target_type="narrator",
        target_id=str(narrator.public_id),
        detail={"pinned_spans": spans},
    )
    narrator.refresh_from_db()
    _rebuild_narrator_interviews(narrator)


def _pin_identity_spans(narrator: Narrator, *, actor: Any) -> int:
    try:
        identity = narrator_identity_plain(narrator)
    except (NarratorKey.DoesNotExist, crypto.KeyDestroyed):
        return 0
    names = [identity["legal_name"], *identity["aliases"], *identity["contacts"].replace(";", "\n").split("\n")]
    names = [n.strip() for n in names if n and len(n.strip()) > 2]
    if not names:
        return 0
    gazetteer = Gazetteer([(name, None) for name in names])
    # What readers below custodian see for this narrator once no name can be decrypted.
    replacement = identities.narrator_display(identities.NarratorIdentity(narrator, "", []), "researcher")
    segments = Segment.objects.filter(transcript__is_current=True, transcript__interview__narrators=narrator).distinct()
    created = 0
    for segment in segments.select_related("transcript__interview"):
        existing = {
            (r.start_char, r.end_char)
            for r in Redaction.objects.filter(
                segment=segment, kind=Redaction.Kind.SPAN, status=Redaction.Status.APPROVED
            )
        }
        for match in gazetteer.find(segment.raw_text):
            if (match.start, match.end) in existing:
                continue
            Redaction.objects.create(
                kind=Redaction.Kind.SPAN,
                interview=segment.transcript.interview,
                segment=segment,
                start_char=match.start,
                end_char=match.end,
                category=Redaction.Category.NAME,
                visible_from="custodian",
                replacement_kind=Redaction.ReplacementKind.GENERALISATION,
                replacement=replacement,
                status=Redaction.Status.APPROVED,
                source="forget",
                author=actor if getattr(actor, "is_authenticated", False) else None,
                decided_at=timezone.now(),
            )
            created += 1
    return created


def narrator_identity_plain(narrator: Narrator) -> dict[str, Any]:
    """Decrypted identity for services' own use (never returned to a user; not audited as a reveal)."""
    dek = _narrator_dek(narrator)
    pid = str(narrator.public_id)
    return {
        "legal_name": crypto.decrypt_field(dek, pid, "legal_name", narrator.legal_name_ciphertext),
        "contacts": crypto.decrypt_field(dek, pid, "contacts", narrator.contacts_ciphertext),
        "location": crypto.decrypt_field(dek, pid, "location", narrator.location_ciphertext),
        "aliases": [a for a in crypto.decrypt_field(dek, pid, "aliases", narrator.aliases_ciphertext).split("\n") if a],
    }


def kek_rotate(*, actor: Any = None, new_key: bool = False) -> int:
    """Re-wrap every live narrator data key (and re-seal quarantined metadata) under the active KEK.

    With `new_key`, a fresh local KEK is created and made active first. Each row is re-wrapped in its
    own short transaction while the old KEKs stay readable, so the archive keeps serving throughout.
    Data rows are untouched. Returns the number of data keys re-wrapped."""
    if new_key:
        crypto.create_local_kek()
    active = crypto.active_kek_id()
    count = 0
    for key_id in list(NarratorKey.objects.exclude(wrapped_key="").exclude(kek_id=active).values_list("pk", flat=True)):
        with transaction.atomic():
            key = NarratorKey.objects.select_for_update().select_related("narrator").get(pk=key_id)
            if not key.wrapped_key or key.kek_id == active:
                continue
            pid = str(key.narrator.public_id)
            dek = crypto.unwrap_data_key(key.kek_id, key.wrapped_key, pid)
            key.kek_id, key.wrapped_key = crypto.wrap_data_key(dek, pid)
            key.save(update_fields=["kek_id", "wrapped_key"])
            count += 1
    resealed = _reseal_quarantine(active) + _reseal_second_factors(active)
    audit_log(actor=actor, action="kek_rotate", detail={"keys": count, "quarantine": resealed, "kek": active})
    return count


def _reseal_quarantine(active: str) -> int:
    count = 0
    for row_id in list(
        QuarantinedMetadata.objects.exclude(payload_ciphertext__startswith=f"{active}.").values_list("pk", flat=True)
    ):
        with transaction.atomic():
            row = QuarantinedMetadata.objects.select_for_update().select_related("interview").get(pk=row_id)
            context = f"quarantine:{row.interview.public_id}"
            try:
                payload = crypto.open_json(row.payload_ciphertext, context)
            except Exception:  # noqa: S112 - sealed under another context: left as is, keeps its KEK
                continue
            row.payload_ciphertext = crypto.seal_json(payload, context)
            row.save(update_fields=["payload_ciphertext"])
            count += 1
    return count


def _reseal_second_factors(active: str) -> int:
    count = 0
    for row_id in list(
        SecondFactor.objects.exclude(secret_ciphertext__startswith=f"{active}.").values_list("pk", flat=True)
    ):
        with transaction.atomic():
            row = SecondFactor.objects.select_for_update().get(pk=row_id)
            context = f"totp:{row.user_id}"
            row.secret_ciphertext = crypto.seal_json(crypto.open_json(row.secret_ciphertext, context), context)
            row.save(update_fields=["secret_ciphertext"])
            count += 1
    return count


def kek_ids_in_use() -> set[str]:
    """KEK ids that still wrap a data key or seal quarantined metadata."""
    used = set(NarratorKey.objects.exclude(wrapped_key="").values_list("kek_id", flat=True))
    for token in QuarantinedMetadata.objects.values_list("payload_ciphertext", flat=True):
        used.add(token.partition(".")[0])
    for token in SecondFactor.objects.values_list("secret_ciphertext", flat=True):
        used.add(token.partition(".")[0])
    return used


def kek_retire_unused(*, actor: Any = None) -> list[str]:
    """Delete every local KEK that is neither active nor referenced. Returns the retired ids."""
    if not crypto.uses_key_files():
        return []
    active = crypto.active_kek_id()
    in_use = kek_ids_in_use()
    retired = []
    for kid in crypto.kek_ids():
        if kid != active and kid not in in_use:
            crypto.retire_local_kek(kid)
            retired.append(kid)
    if retired:
        audit_log(actor=actor, action="kek_retire", detail={"keks": retired})
    return retired


def _rebuild_narrator_interviews(narrator: Narrator) -> None:
    for interview in Interview.objects.filter(narrators=narrator):
        interview_touch(interview)


def interview_touch(interview: Interview) -> None:
    """The interview's rendering inputs changed: its renderings are rebuilt in the caller's transaction,
    once, at the end of the outermost write (services.base)."""
    touch(interview)


SCOPES = ("archive", "research_access", "publication", "public_web", "voice_release", "processing")


class ConsentScopes(TypedDict, total=False):
    """Scopes of consent_record given by name (SCOPES); one left out is not given."""

    archive: bool
    research_access: bool
    publication: bool
    public_web: bool
    voice_release: bool
    processing: bool


@write
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
        detail={
            "narrator": str(narrator.public_id),
            "version": record.version,
            **{s: getattr(record, s) for s in SCOPES},
        },
    )
    if withdrawn or not record.archive:
        interview_withdraw(interview=interview, actor=actor)
    else:
        if interview.withdrawn_at is not None and not any(c.withdrawn for c in _current(interview)):
            Interview.objects.filter(pk=interview.pk).update(withdrawn_at=None, status=Interview.Status.REVIEW)
        interview_touch(interview)
    return record


def _current(interview: Interview) -> list[ConsentRecord]:
    return current_consents(interview)


# Second factor secrets (sealed under the KEK; opened only here) ---------------------------------


def second_factor_seal(*, user_pk: int, secret: str) -> str:
    return crypto.seal_json({"secret": secret}, f"totp:{user_pk}")


def second_factor_secret(*, user_pk: int, sealed: str) -> str:
    secret: str = crypto.open_json(sealed, f"totp:{user_pk}")["secret"]
    return secret
