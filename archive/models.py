"""Rawi's data. Models hold data only: visibility lives in access.py, outgoing text in rendering.py,
writes in services/.

Raw sensitive values carry names that say so (`raw_text`, `*_ciphertext`) so the architecture test can
find every reader.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Tier(models.TextChoices):
    """Ordered clearance tiers: public < researcher < staff < custodian."""

    PUBLIC = "public", "Public"
    RESEARCHER = "researcher", "Researcher"
    STAFF = "staff", "Staff"
    CUSTODIAN = "custodian", "Custodian"


TIER_ORDER: dict[str, int] = {"public": 0, "researcher": 1, "staff": 2, "custodian": 3}
TIERS: tuple[str, ...] = ("public", "researcher", "staff", "custodian")


class Collection(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The lowest tier that may know the collection exists (its interviews have their own levels).
    access_level = models.CharField(max_length=12, choices=Tier.choices, default=Tier.PUBLIC)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    class Role(models.TextChoices):
        RESEARCHER = "researcher", "Researcher (approved reader)"
        FIELD_RESEARCHER = "field_researcher", "Field researcher"
        EDITOR = "editor", "Editor"
        ARCHIVIST = "archivist", "Archivist"
        CUSTODIAN = "custodian", "Custodian"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "collection", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return f"membership {self.pk}"


class Narrator(models.Model):
    class Anonymity(models.TextChoices):
        NAMED = "named", "Named"
        PSEUDONYMOUS = "pseudonymous", "Pseudonymous"
        ANONYMOUS = "anonymous", "Anonymous"
        SEALED = "sealed", "Sealed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="narrators")
    anonymity = models.CharField(max_length=14, choices=Anonymity.choices, default=Anonymity.ANONYMOUS)
    pseudonym = models.CharField(max_length=120, blank=True, help_text="Stable pseudonym, e.g. 'Resident B'.")
    descriptor = models.CharField(max_length=200, blank=True, help_text="Role descriptor, e.g. 'a resident'.")
    # Identity fields: AES-GCM under the narrator's own data key (archive/crypto.py). Never plaintext.
    legal_name_ciphertext = models.TextField(blank=True)
    contacts_ciphertext = models.TextField(blank=True)
    location_ciphertext = models.TextField(blank=True)
    aliases_ciphertext = models.TextField(blank=True)
    # HMAC of the normalised legal name, for exact-match deduplication without decryption.
    legal_name_blind_index = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"narrator {self.public_id}"


class NarratorKey(models.Model):
    """A narrator's data key, wrapped by a key-encryption key that lives outside the database.
    Destroying it (crypto-shredding) makes the narrator's identity fields unreadable for good."""

    narrator = models.OneToOneField(Narrator, on_delete=models.CASCADE, related_name="data_key")
    kek_id = models.CharField(max_length=40)
    wrapped_key = models.TextField(blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"key for narrator {self.narrator_id}"


class Interview(models.Model):
    class Mode(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        PHONE = "phone", "Phone call"
        VIDEO_CALL = "video_call", "Video call (Skype etc.)"
        WHATSAPP_VOICE = "whatsapp_voice", "WhatsApp voice"
        MESSAGING = "messaging", "Messaging (text)"
        EMAIL = "email", "Email"
        SOCIAL_MEDIA = "social_media", "Social media message"
        VOX_POP = "vox_pop", "Street vox-pop"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        TRANSCRIBING = "transcribing", "Transcribing"
        REVIEW = "review", "In review"
        PUBLISHED = "published", "Published"
        SEALED = "sealed", "Sealed"
        # Arranged but not yet held (see InterviewPlan); set aside (a failed or test item); purged by
        # a custodian, the row kept as a tombstone. Below staff none of them exists.
        PLANNED = "planned", "Planned"
        ARCHIVED = "archived", "Archived"
        DELETED = "deleted", "Deleted"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    collection = models.ForeignKey(Collection, on_delete=models.PROTECT, related_name="interviews")
    # Titles and summaries are rendered: a sealed interview's title never leaves below custodian.
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.IN_PERSON)
    recorded_on = models.DateField(null=True, blank=True)
    place = models.CharField(max_length=200, blank=True, help_text="Exact place, shown from staff.")
    place_general = models.CharField(max_length=200, blank=True, help_text="Generalised place, shown below staff.")
    languages = models.JSONField(default=list, blank=True)
    topics = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.DRAFT)
    access_level = models.CharField(max_length=12, choices=Tier.choices, default=Tier.STAFF)
    embargo_until = models.DateField(null=True, blank=True)
    narrators = models.ManyToManyField(Narrator, related_name="interviews", blank=True)
    interviewers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="gathered_interviews", blank=True)
    interviewer_label = models.CharField(max_length=120, blank=True, default="Interviewer")
    # Bumped by every service that changes an input of the rendering; renderings carry the value
    # they were built from and are never served when it differs.
    policy_version = models.PositiveIntegerField(default=1)
    # Derived by the rendering service from access level, status and current consent (never edited by
    # hand): the lowest tier that may know the interview exists, and the latest embargo in force.
    floor_tier = models.CharField(max_length=12, choices=Tier.choices, default=Tier.CUSTODIAN)
    voice_floor_tier = models.CharField(max_length=12, choices=Tier.choices, default=Tier.CUSTODIAN)
    embargo_effective = models.DateField(null=True, blank=True)
    consent_stamp = models.CharField(max_length=400, blank=True)
    # Withdrawal of consent seals the interview and purges lower-tier derivatives.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-recorded_on", "title"]

    def __str__(self) -> str:
        return f"interview {self.public_id}"


class ConsentRecord(models.Model):
    """Versioned consent ledger per narrator × interview. The latest version is current."""

    class Method(models.TextChoices):
        SIGNED_FORM = "signed_form", "Signed form"
        VERBAL_RECORDED = "verbal_recorded", "Recorded verbal consent"
        MESSAGE = "message", "Written message"
        OTHER = "other", "Other"

    narrator = models.ForeignKey(Narrator, on_delete=models.CASCADE, related_name="consents")
    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="consents")
    version = models.PositiveIntegerField()
    archive = models.BooleanField(default=True)
    research_access = models.BooleanField(default=False)
    publication = models.BooleanField(default=False)
    public_web = models.BooleanField(default=False)
    voice_release = models.BooleanField(default=False)
    processing = models.BooleanField(default=True, help_text="Machine processing (transcription) on our own workers.")
    method = models.CharField(max_length=20, choices=Method.choices, default=Method.MESSAGE)
    form_file = models.FileField(upload_to="consent/", blank=True)
    verbal_segment_start = models.FloatField(null=True, blank=True)
    verbal_segment_end = models.FloatField(null=True, blank=True)
    verbal_audio_sha256 = models.CharField(max_length=64, blank=True)
    conditions = models.TextField(blank=True)
    embargo_until = models.DateField(null=True, blank=True)
    embargo_event = models.CharField(max_length=300, blank=True)
    review_on = models.DateField(null=True, blank=True)
    withdrawn = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["interview_id", "narrator_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["narrator", "interview", "version"], name="consent_unique_version"),
        ]

    def __str__(self) -> str:
        return f"consent v{self.version} for interview {self.interview_id}"


class Recording(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="recordings")
    # Stored under an opaque name in private storage; the uploaded file name is quarantined.
    original = models.FileField(upload_to="originals/", max_length=300)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    container = models.CharField(max_length=40, blank=True)
    codec = models.CharField(max_length=40, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    fixity_checked_at = models.DateTimeField(null=True, blank=True)
    fixity_ok = models.BooleanField(null=True)
    # Where the recording's own time 0 lies on the interview's timeline: 0 for the first part, the end
    # of the parts before it for a later part, the message time for a chat's voice note.
    timeline_offset = models.FloatField(default=0.0)
    is_voice_note = models.BooleanField(default=False)
    # A better copy of the same speech took this recording's place (a new transcript version).
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"recording {self.public_id}"


class QuarantinedMetadata(models.Model):
    """Container metadata (GPS, device, tags), upload file names, chat/email headers and contacts:
    stored encrypted for custodians, never served or indexed below."""

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="quarantine")
    recording = models.ForeignKey(Recording, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=40)
    payload_ciphertext = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"quarantine {self.pk}"


class Attachment(models.Model):
    """Non-audio files that arrive with an import (images, documents); kept privately."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/", max_length=300)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"attachment {self.public_id}"


class Transcript(models.Model):
    class Source(models.TextChoices):
        WHISPER = "whisper", "Whisper"
        IMPORT = "import", "Imported transcript"
        CHAT = "chat", "Chat export"
        EMAIL = "email", "Email export"
        MANUAL = "manual", "Typed by hand"

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="transcripts")
    recording = models.ForeignKey(Recording, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    language = models.CharField(max_length=16, blank=True)
    # Provenance: engine, model name, model checksum, options.
    engine = models.CharField(max_length=60, blank=True)
    model_name = models.CharField(max_length=120, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["interview", "version"], name="transcript_unique_version"),
            models.UniqueConstraint(fields=["interview"], condition=Q(is_current=True), name="transcript_one_current"),
        ]

    def __str__(self) -> str:
        return f"transcript v{self.version} of interview {self.interview_id}"


class Segment(models.Model):
    class SpeakerRole(models.TextChoices):
        NARRATOR = "narrator", "Narrator"
        INTERVIEWER = "interviewer", "Interviewer"
        OTHER = "other", "Other"

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    raw_text = models.TextField()
    language = models.CharField(max_length=16, blank=True)
    # The label as it came (a diarisation label, chat sender, email From); may hold a real name.
    raw_speaker = models.CharField(max_length=200, blank=True)
    speaker_role = models.CharField(max_length=12, choices=SpeakerRole.choices, default=SpeakerRole.OTHER)
    speaker_narrator = models.ForeignKey(Narrator, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.PositiveSmallIntegerField(null=True, blank=True)
    # Media provenance: the recording this segment's times refer to (None: text with no audio, such as
    # a chat message) and where that recording's time 0 lies on the interview's timeline.
    recording = models.ForeignKey(Recording, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    media_offset = models.FloatField(default=0.0)
    # Words: [{"w": text, "s": start, "e": end, "p": probability}], times may be null.
    raw_words = models.JSONField(default=list, blank=True)
    # When a chat message or email was sent, as its export gave it (UTC when the export named a zone,
    # otherwise the clock it showed); None for speech. Rendered at the precision each tier may see.
    sent_at = models.DateTimeField(null=True, blank=True)
    edited = models.BooleanField(default=False)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["transcript_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["transcript", "index"], name="segment_unique_index"),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="segment_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"segment {self.index} of transcript {self.transcript_id}"


class Entity(models.Model):
    """A person, place, organisation or event, redacted wherever it or an alias occurs."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        PLACE = "place", "Place"
        ORGANISATION = "organisation", "Organisation"
        EVENT = "event", "Event"
        OTHER = "other", "Other"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=14, choices=Kind.choices)
    raw_name = models.CharField(max_length=200)
    # One stable pseudonym across the whole archive, e.g. "Resident B", "Place C".
    pseudonym = models.CharField(max_length=120, unique=True)
    generalisation = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "entities"

    def __str__(self) -> str:
        return f"entity {self.public_id}"


class EntityAlias(models.Model):
    class Script(models.TextChoices):
        LATIN = "latin", "Latin"
        ARABIC = "arabic", "Arabic"
        OTHER = "other", "Other"

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="aliases")
    raw_alias = models.CharField(max_length=200)
    script = models.CharField(max_length=8, choices=Script.choices, default=Script.LATIN)
    normalised = models.CharField(max_length=200, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entity", "normalised"], name="alias_unique_per_entity")]

    def __str__(self) -> str:
        return f"alias {self.pk} of entity {self.entity_id}"


class Redaction(models.Model):
    class Kind(models.TextChoices):
        SPAN = "span", "Span of a segment"
        ENTITY = "entity", "Entity wherever it occurs"
        SPEAKER = "speaker", "Speaker label"

    class Category(models.TextChoices):
        NAME = "name", "Name"
        RELATIVE = "relative", "Relative"
        PLACE = "place", "Place"
        CONTACT = "contact", "Contact detail"
        DATE = "date", "Date"
        IDENTIFIER = "identifier", "Identifying number"
        ORGANISATION = "organisation", "Organisation"
        EVENT = "event", "Event"
        OTHER = "other", "Other identifying detail"

    class ReplacementKind(models.TextChoices):
        LABEL = "label", "Category label"
        PSEUDONYM = "pseudonym", "Pseudonym"
        GENERALISATION = "generalisation", "Generalisation"

    class Status(models.TextChoices):
        SUGGESTED = "suggested", "Suggested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    interview = models.ForeignKey(Interview, null=True, blank=True, on_delete=models.CASCADE, related_name="redactions")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.CASCADE, related_name="redactions")
    start_char = models.PositiveIntegerField(null=True, blank=True)
    end_char = models.PositiveIntegerField(null=True, blank=True)
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.CASCADE, related_name="redactions")
    category = models.CharField(max_length=14, choices=Category.choices, default=Category.NAME)
    visible_from = models.CharField(max_length=12, choices=Tier.choices, default=Tier.STAFF)
    replacement_kind = models.CharField(max_length=16, choices=ReplacementKind.choices, default=ReplacementKind.LABEL)
    replacement = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUGGESTED)
    source = models.CharField(max_length=30, default="manual", help_text="manual, gazetteer, phone, email, …")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    # An approved span that could not be re-anchored onto a new transcript version or a corrected
    # segment: it withholds the interview below its tier until an editor decides (see rendering).
    held = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="span")
                | (Q(segment__isnull=False) & Q(start_char__isnull=False) & Q(end_char__gt=models.F("start_char"))),
                name="redaction_span_has_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind="entity") | Q(entity__isnull=False), name="redaction_entity_has_entity"
            ),
        ]

    def __str__(self) -> str:
        return f"redaction {self.public_id}"

    def hidden_entity(self) -> Entity:
        """The entity an entity redaction hides (the constraint redaction_entity_has_entity)."""
        entity = self.entity
        assert entity is not None, "an entity redaction hides an entity (redaction_entity_has_entity)"
        return entity

    def span_segment(self) -> Segment:
        """The segment a span redaction lies in (the constraint redaction_span_has_range)."""
        segment = self.segment
        assert segment is not None, "a span redaction lies in a segment (redaction_span_has_range)"
        return segment

    def span_range(self) -> tuple[int, int]:
        """A span redaction's start and end in its segment's text (the constraint redaction_span_has_range)."""
        start, end = self.start_char, self.end_char
        assert start is not None and end is not None, "a span redaction has its range (redaction_span_has_range)"
        return start, end


class PolicyClock(models.Model):
    """One row: the version of the archive-wide rendering inputs (entity rules and their aliases).
    Every stored rendering's stamp includes it, so a change of those rules leaves no rendering current
    unless the change was shown not to touch it (rendering.rules_changed)."""

    entity_rules = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"policy clock {self.entity_rules}"


class RenderedInterview(models.Model):
    """The materialised rendering of one interview for one tier: metadata as that tier may see it."""

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="renderings")
    tier = models.CharField(max_length=12, choices=Tier.choices)
    policy_version = models.CharField(max_length=40)
    consent_version = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict)
    audio_allowed = models.BooleanField(default=False)
    audio_spans = models.JSONField(default=list, help_text="[[start, end], …] seconds to silence at this tier")
    # The tier's audio, part by part: [{"recording": public id, "duration": s, "spans": [[s, e], …]}],
    # spans on that recording's own timeline.
    audio_parts = models.JSONField(default=list)
    redaction_categories = models.JSONField(default=list)
    built_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["interview", "tier"], name="rendering_unique_tier")]

    def __str__(self) -> str:
        return f"rendering {self.tier} of interview {self.interview_id}"


class RenderedSegment(models.Model):
    rendering = models.ForeignKey(RenderedInterview, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    speaker = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    language = models.CharField(max_length=16, blank=True)
    words = models.JSONField(default=list)
    # When the message was sent, at the tier's precision ("2016-02-11T14:05:09" or "2016-02"); "" for speech.
    sent_at = models.CharField(max_length=20, blank=True, default="")
    # rendering.row_digest of this row's content: a rebuild compares digests, not rows.
    digest = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["rendering_id", "index"]
        constraints = [models.UniqueConstraint(fields=["rendering", "index"], name="rendered_segment_unique")]

    def __str__(self) -> str:
        return f"rendered segment {self.index}"


class TranscriptionJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="jobs")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    progress = models.FloatField(default=0.0, help_text="Share of the audio done, 0..1")
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"job {self.public_id} {self.state}"


class AuditEvent(models.Model):
    """Append-only, hash-chained. Details hold ids and tiers only, never text or names."""

    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, db_index=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    tier = models.CharField(max_length=12, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"audit {self.pk} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")


class Alert(models.Model):
    """Something custodians must see: a fixity mismatch, repeated denied access."""

    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=300)
    target_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"alert {self.kind}"


class SecondFactor(models.Model):
    """A user's TOTP second factor. The secret is sealed under the KEK (crypto.seal_json), never plain."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="second_factor")
    secret_ciphertext = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last accepted time step: a code is never accepted twice.
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"second factor of user {self.user_id}"


class LoginFailure(models.Model):
    """One failed sign-in (password or second factor), for throttling per username and address."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"login failure {self.pk}"


class InterviewPlan(models.Model):
    """What is agreed before a remote interview is held: the channel, when, the consent script to read,
    the questions and notes. Arranged over days through intermediaries, questions and notes may hold
    names and contacts, so they are sealed under the KEK (crypto.seal_json), never stored plain."""

    interview = models.OneToOneField(Interview, on_delete=models.CASCADE, related_name="plan")
    agreed_channel = models.CharField(max_length=20, choices=Interview.Mode.choices, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    consent_script = models.TextField(blank=True)
    # {"questions": str, "notes": str}, sealed with the context "plan:<interview public id>".
    payload_ciphertext = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"plan for interview {self.interview_id}"


class AccessRequest(models.Model):
    """A reader asks for a higher tier for one interview or one collection, stating a purpose; a
    custodian grants it with terms until an end date, or refuses. A grant raises the reader's tier for
    that interview or collection (access) until it ends or is revoked."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        GRANTED = "granted", "Granted"
        REFUSED = "refused", "Refused"
        REVOKED = "revoked", "Revoked"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests")
    interview = models.ForeignKey(
        Interview, null=True, blank=True, on_delete=models.CASCADE, related_name="access_requests"
    )
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.CASCADE, related_name="access_requests"
    )
    tier = models.CharField(max_length=12, choices=Tier.choices)
    purpose = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    terms = models.TextField(blank=True)
    ends_on = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(interview__isnull=True, collection__isnull=False)
                | Q(interview__isnull=False, collection__isnull=True),
                name="access_request_one_target",
            ),
            models.CheckConstraint(
                condition=~Q(status="granted") | Q(ends_on__isnull=False), name="access_grant_has_end"
            ),
        ]

    def __str__(self) -> str:
        return f"access request {self.public_id}"
