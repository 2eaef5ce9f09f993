"""Deleting an interview on purpose: a failed upload, a test item, something that should never have
been gathered. Unlike a processing failure (which always keeps the original), a purge is a custodian's
deliberate, audited act, like a withdrawal but further: originals, transcripts, attachments, plans and
quarantined metadata are destroyed, the data keys of narrators who appear nowhere else are destroyed
(crypto-shredding), grants end, and only a tombstone remains: the interview's id, its collection, and
the audit trail saying who deleted it and when.
"""

from __future__ import annotations

import shutil

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from ..models import (
    Attachment,
    ConsentRecord,
    Interview,
    InterviewPlan,
    Membership,
    Narrator,
    NarratorKey,
    QuarantinedMetadata,
    Recording,
    Transcript,
)
from .access_requests import access_grants_revoke
from .audit import audit_log
from .base import write
from .people import interview_touch
from .withdrawal import export_cache_dir

TOMBSTONE_TITLE = "Deleted interview"


class PurgeRefused(PermissionError):
    pass


def can_purge(user: User, interview: Interview) -> bool:
    """The collection's custodians (not whoever gathered it: they archive their own items instead)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return (
        user.is_superuser
        or Membership.objects.filter(
            user=user, collection_id=interview.collection_id, role=Membership.Role.CUSTODIAN
        ).exists()
    )


def _delete_files_on_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(delete)


@write
def interview_purge(*, interview: Interview, actor: User, reason: str = "") -> Interview:
    if not can_purge(actor, interview):
        raise PurgeRefused("Only the collection's custodians delete an interview.")
    interview = Interview.objects.select_for_update().get(pk=interview.pk)
    if interview.status == Interview.Status.DELETED:
        raise PurgeRefused("This interview was already deleted.")
    files = [name for name in Recording.objects.filter(interview=interview).values_list("original", flat=True) if name]
    files += [name for name in Attachment.objects.filter(interview=interview).values_list("file", flat=True) if name]
    consents = ConsentRecord.objects.filter(interview=interview).exclude(form_file="")
    files += [name for name in consents.values_list("form_file", flat=True) if name]
    consents.update(form_file="")
    transcripts = Transcript.objects.filter(interview=interview).count()
    Transcript.objects.filter(interview=interview).delete()  # segments and their span redactions go with them
    recordings = Recording.objects.filter(interview=interview).count()
    Recording.objects.filter(interview=interview).delete()
    Attachment.objects.filter(interview=interview).delete()
    QuarantinedMetadata.objects.filter(interview=interview).delete()
    InterviewPlan.objects.filter(interview=interview).delete()
    destroyed = _shred_lone_narrators(interview)
    interview.title = TOMBSTONE_TITLE
    interview.summary = interview.place = interview.place_general = ""
    interview.topics, interview.languages = [], []
    interview.interviewer_label = "Interviewer"
    interview.status = Interview.Status.DELETED
    interview.save()
    access_grants_revoke(interview=interview, reason="purged", actor=actor)
    cache = export_cache_dir(interview)
    shutil.rmtree(cache, ignore_errors=True)
    transaction.on_commit(lambda: shutil.rmtree(cache, ignore_errors=True))
    _delete_files_on_commit(files)
    audit_log(
        actor=actor,
        action="interview_purged",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={
            "tombstone": True,
            "recordings": recordings,
            "transcripts": transcripts,
            "files": len(files),
            "narrator_keys_destroyed": destroyed,
            "reason_given": bool(reason.strip()),
        },
    )
    interview_touch(interview)
    return interview


def _shred_lone_narrators(interview: Interview) -> int:
    """Destroy the data keys of the interview's narrators who appear in no other interview, and
    drop their ciphertexts and blind index; narrators of other interviews are only detached."""
    destroyed = 0
    for narrator in list(interview.narrators.all()):
        elsewhere = narrator.interviews.exclude(pk=interview.pk).exclude(status=Interview.Status.DELETED).exists()
        if not elsewhere:
            NarratorKey.objects.filter(narrator=narrator).update(wrapped_key="", destroyed_at=timezone.now())
            Narrator.objects.filter(pk=narrator.pk).update(
                legal_name_ciphertext="",
                contacts_ciphertext="",
                location_ciphertext="",
                aliases_ciphertext="",
                legal_name_blind_index="",
            )
            destroyed += 1
    interview.narrators.clear()
    return destroyed
