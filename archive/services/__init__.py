"""Every write goes through a service named <entity>_<verb>; each rebuilds the renderings it changes."""

from .audit import audit_log, audit_verify
from .interviews import (
    SegmentInput,
    interview_create,
    interview_set_people,
    interview_update,
    segment_assign_speaker,
    segment_edit,
    transcript_store,
)
from .people import (
    collection_get_or_create,
    consent_record,
    interview_touch,
    kek_rotate,
    membership_add,
    narrator_create,
    narrator_forget,
    narrator_identity,
    narrator_set_anonymity,
    narrator_update_identity,
)
from .quarantine import quarantine_read, quarantine_store
from .redactions import (
    entity_add_alias,
    entity_create,
    redact_phrase,
    redaction_add_entity,
    redaction_add_phrase_span,
    redaction_add_span,
    redaction_decide,
    redactions_bulk_decide,
)
from .withdrawal import export_cache_dir, interview_withdraw

__all__ = [
    "SegmentInput",
    "audit_log",
    "audit_verify",
    "collection_get_or_create",
    "consent_record",
    "entity_add_alias",
    "entity_create",
    "export_cache_dir",
    "interview_create",
    "interview_set_people",
    "interview_touch",
    "interview_update",
    "interview_withdraw",
    "kek_rotate",
    "membership_add",
    "narrator_create",
    "narrator_forget",
    "narrator_identity",
    "narrator_set_anonymity",
    "narrator_update_identity",
    "quarantine_read",
    "quarantine_store",
    "redact_phrase",
    "redaction_add_entity",
    "redaction_add_phrase_span",
    "redaction_add_span",
    "redaction_decide",
    "redactions_bulk_decide",
    "segment_assign_speaker",
    "segment_edit",
    "transcript_store",
]
