"""Turning parsed imports (archive/importers) into one interview, in one transaction.

* Segments: messages, emails or cues in order; the sender label goes only to Segment.raw_speaker
  (the renderer shows the narrator's display name, the interviewer label or "Speaker N" below
  custodian). Voice notes in a chat export are stored as Recordings and transcribed in place: their
  segments sit at the message's time in the same transcript.
* Contact details found in any segment text (phone numbers, email addresses, shared locations) get
  approved span redactions visible only to custodians; contact names found in the text get
  suggested name redactions for an editor to decide.
* The quarantine (phone numbers, contact names, addresses, IPs, devices, file names, headers) is
  sealed with crypto.seal_json into QuarantinedMetadata.
* Everything hostile is refused by the parsers before anything is written; if a later step fails,
  the transaction rolls back and the files already written to storage are deleted.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import CommandError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from .. import media, transcription
from ..gate import policy as access
from ..importers import BulkItem, ImportRefused, ParsedImport, detect_kind, parse_bulk, parse_file
from ..importers.base import ParsedAttachment
from ..importers.channels import select_conversations, to_parsed
from ..importers.detect import CHANNEL_KINDS
from ..importers.messenger import parse_messenger_conversations
from ..importers.sensitive import find_name_spans, sensitive_spans
from ..importers.skype import parse_skype_conversations
from ..importers.telegram import parse_telegram_conversations
from ..models import Attachment, Interview, Narrator, Recording, Redaction, Segment, Transcript, TranscriptionJob
from .audit import audit_log
from .interviews import SegmentInput, interview_create, interview_update, transcript_store
from .people import ConsentScopes, collection_get_or_create, consent_record, interview_touch, narrator_create
from .quarantine import quarantine_store
from .recordings import recorded_interview_create, recording_store, transcription_job_create
from .suggestions import suggestions_generate

logger = logging.getLogger(__name__)

SOURCE_FOR = {"whatsapp": "chat", "messenger": "chat", "skype": "chat", "telegram": "chat", "email": "email"}
MODE_FOR = {
    "whatsapp": Interview.Mode.MESSAGING,
    "messenger": Interview.Mode.SOCIAL_MEDIA,
    "skype": Interview.Mode.MESSAGING,
    "telegram": Interview.Mode.MESSAGING,
    "email": Interview.Mode.EMAIL,
}
CHANNEL_PARSERS = {
    "messenger": parse_messenger_conversations,
    "skype": parse_skype_conversations,
    "telegram": parse_telegram_conversations,
}
# Chats and email threads whose senders carry the roles: their narrator is settled, never guessed.
NAMED_KINDS = ("whatsapp", "eml", "mbox")
VOICE_PENDING = "[voice note awaiting transcription]"
VOICE_FAILED = "[voice note could not be transcribed]"


@dataclass
class ImportOutcome:
    interview: Interview
    transcript: Transcript
    segments: int = 0
    voice_segments: int = 0
    recordings: list[Recording] = field(default_factory=list)
    attachments: int = 0
    approved_redactions: int = 0
    suggested_redactions: int = 0
    jobs: list[TranscriptionJob] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@contextmanager
def _cleanup_on_failure(written: list[str] | None = None) -> Iterator[list[str]]:
    """Storage writes are not transactional: remember them and delete them if the import fails.
    Pass the list of an enclosing import (a bulk zip) so that its failure removes these files too."""
    written = [] if written is None else written
    try:
        yield written
    except BaseException:
        for name in written:
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("could not delete a file left by a failed import")
        raise


def _row_narrator_name(item: BulkItem, default: str) -> str:
    """The real name stored for a bulk row's narrator: its narrator column; for a chat or an email
    thread, else the narrator's sender name there, as for a Messenger, Skype or Telegram import (never
    the name given for the whole zip, which is no sender's of this row)."""
    meta = item.metadata
    if meta.get("narrator"):
        return meta["narrator"]
    if item.parsed is not None and item.parsed.source in SOURCE_FOR:
        speaker = next((s.speaker for s in item.parsed.segments if s.role == "narrator"), "")
        return speaker or meta.get("narrator_label") or default
    return default


def _row_refusal(row: int, exc: ValidationError | ImportRefused) -> ImportRefused:
    """A bulk row that could not be saved: its number and the reason, as a refusal (a 400)."""
    if isinstance(exc, ImportRefused):
        reason = exc.reason if exc.reason.startswith(f"Row {row}") else f"Row {row}: {exc.reason}"
        return ImportRefused(reason, code=exc.code)
    if hasattr(exc, "error_dict"):
        detail = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
    else:
        detail = " ".join(exc.messages)
    return ImportRefused(f"Row {row}: {detail}", code="format")


# Voice notes ---------------------------------------------------------------------------------


@dataclass
class VoiceResult:
    segments: list[SegmentInput]
    ok: bool
    reason: str = ""
    language: str = ""


def transcribe_voice_note(
    data: bytes,
    *,
    offset: float,
    speaker: str,
    role: str,
    narrator: Narrator | None,
    language: str = "",
    model: Any = None,
    model_spec: transcription.ModelSpec | None = None,
) -> VoiceResult:
    """Transcribe one voice note with the archive's Whisper boundary; segment times are shifted to the
    message's place in the chat."""
    suffix = ".opus"
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        try:
            options = transcription.TranscribeOptions.from_dict({"language": language or None, "per_channel": False})
            result = transcription.transcribe(Path(handle.name), options=options, model=model, model_spec=model_spec)
        except media.MediaError as exc:
            return VoiceResult([], False, exc.reason)
        except transcription.ModelError as exc:
            return VoiceResult([], False, f"The transcription model is unavailable: {exc}")
    return _note_result(result, offset, speaker, role, narrator)


def _note_result(
    result: transcription.Transcription, offset: float, speaker: str, role: str, narrator: Narrator | None
) -> VoiceResult:
    """A transcribed note's segments and words, shifted to its message's place in the chat."""
    segments = [
        SegmentInput(
            start=offset + s.start,
            end=offset + max(s.end, s.start),
            text=s.text.strip(),
            language=s.language,
            speaker=speaker,
            role=role,
            narrator=narrator,
            words=[
                {
                    **w,
                    "s": (w["s"] + offset) if w.get("s") is not None else None,
                    "e": (w["e"] + offset) if w.get("e") is not None else None,
                }
                for w in s.words_as_dicts()
            ],
        )
        for s in result.segments
        if s.text.strip()
    ]
    return VoiceResult(segments, True, "" if segments else "No speech was found in the voice note.", result.language)


def transcribe_voice_notes(
    notes: list[bytes],
    *,
    offsets: list[float],
    speakers: list[tuple[str, str, Narrator | None]],
    language: str = "",
    model: Any = None,
    model_spec: transcription.ModelSpec | None = None,
) -> list[VoiceResult]:
    """Transcribe a chat's voice notes together (transcription.transcribe_notes); each note's segments
    are shifted to its message's place in the chat. `speakers`: (label, role, narrator) per note."""
    if not notes:
        return []
    with tempfile.TemporaryDirectory() as folder:
        paths: list[media.Source] = []
        for number, data in enumerate(notes):
            path = Path(folder) / f"{number}.opus"
            path.write_bytes(data)
            paths.append(path)
        options = transcription.TranscribeOptions.from_dict({"language": language or None, "per_channel": False})
        try:
            results = transcription.transcribe_notes(paths, options=options, model=model, model_spec=model_spec)
        except transcription.ModelError as exc:
            return [VoiceResult([], False, f"The transcription model is unavailable: {exc}") for _ in notes]
    out = []
    for result, offset, (speaker, role, narrator) in zip(results, offsets, speakers, strict=True):
        if isinstance(result, media.MediaError):
            out.append(VoiceResult([], False, result.reason))
            continue
        out.append(_note_result(result, offset, speaker, role, narrator))
    return out


# The import ----------------------------------------------------------------------------------


def _role(role: str) -> str:
    return role if role in Segment.SpeakerRole.values else Segment.SpeakerRole.OTHER


def _store_attachment(interview: Interview, item: ParsedAttachment, written: list[str]) -> Attachment:
    suffix = PurePosixPath(item.name).suffix.lower()
    suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 6 else ""
    name = default_storage.save(f"attachments/{uuid.uuid4().hex}{suffix}", ContentFile(item.data))
    written.append(name)
    attachment = Attachment(
        interview=interview, sha256=item.sha256, size_bytes=item.size, content_type=item.content_type[:100]
    )
    attachment.file.name = name
    attachment.save()
    return attachment


def _redactions(transcript: Transcript, names: list[str]) -> tuple[int, int]:
    """Approved custodian-only spans for contact details; suggested spans for contact names."""
    rows: list[Redaction] = []
    approved = suggested = 0
    now = timezone.now()
    interview = transcript.interview
    name_parts = sorted(
        {part for name in names for part in [name, *name.split()] if len(part) >= 3}, key=len, reverse=True
    )
    for segment in transcript.segments.all().only("id", "raw_text"):
        text = segment.raw_text
        for span in sensitive_spans(text):
            rows.append(
                Redaction(
                    kind=Redaction.Kind.SPAN,
                    interview=interview,
                    segment=segment,
                    start_char=span.start,
                    end_char=span.end,
                    category=Redaction.Category.CONTACT if span.category == "contact" else Redaction.Category.PLACE,
                    visible_from="custodian",
                    status=Redaction.Status.APPROVED,
                    source=f"import-{span.kind}",
                    reason="Contact detail found by the importer.",
                    decided_at=now,
                )
            )
            approved += 1
        for start, end, _name in find_name_spans(text, name_parts) if name_parts else []:
            rows.append(
                Redaction(
                    kind=Redaction.Kind.SPAN,
                    interview=interview,
                    segment=segment,
                    start_char=start,
                    end_char=end,
                    category=Redaction.Category.NAME,
                    visible_from="staff",
                    status=Redaction.Status.SUGGESTED,
                    source="import-contact",
                    reason="A chat or email contact's name.",
                )
            )
            suggested += 1
    Redaction.objects.bulk_create(rows, batch_size=1000)
    return approved, suggested


def import_parsed(  # noqa: C901 (the steps of one import in one transaction)
    *,
    interview: Interview,
    parsed: ParsedImport,
    original_filename: str = "",
    actor: Any = None,
    language: str = "",
    voice_notes: str = "now",
    recording: Recording | None = None,
    written: list[str] | None = None,
) -> ImportOutcome:
    """Fill `interview` (already created, no transcript yet) from a parsed import. `voice_notes`:
    "now" transcribes them during the import; "queue" stores them with queued in-place jobs.
    `written` collects the storage names of the files saved (see _cleanup_on_failure)."""
    if voice_notes not in ("now", "queue"):
        raise ValueError("voice_notes must be 'now' or 'queue'")
    narrator: Narrator | None = interview.narrators.first()
    # Transcription is slow and touches no rows: do it before the transaction.
    voice: dict[int, VoiceResult] = {}
    notes = [s for s in parsed.segments if s.kind == "voice"]
    model = spec = None
    if voice_notes == "now" and notes:
        try:
            spec = transcription.resolve_model()
            model = transcription.load_model(spec)
        except transcription.ModelError as exc:
            reason = f"The transcription model is unavailable: {exc}"
            voice = {i: VoiceResult([], False, reason) for i, s in enumerate(parsed.segments) if s.kind == "voice"}
    if model is not None:
        wanted = [
            (position, segment, item)
            for position, segment in enumerate(parsed.segments)
            if segment.kind == "voice" and (item := parsed.attachment(segment.attachment)) is not None
        ]
        results = transcribe_voice_notes(
            [item.data for _, _, item in wanted],
            offsets=[segment.start for _, segment, _ in wanted],
            speakers=[
                (segment.speaker, _role(segment.role), narrator if segment.role == "narrator" else None)
                for _, segment, _ in wanted
            ],
            language=language,
            model=model,
            model_spec=spec,
        )
        voice.update({position: result for (position, _, _), result in zip(wanted, results, strict=True)})
    with _cleanup_on_failure(written) as written, transaction.atomic():
        inputs: list[SegmentInput] = []
        voice_recordings: list[tuple[int, ParsedAttachment]] = []
        stored_notes: dict[int, Recording] = {}
        for position, segment in enumerate(parsed.segments):
            if segment.kind == "voice" and (item := parsed.attachment(segment.attachment)) is not None:
                stored = recording_store(
                    interview=interview, fileobj=io.BytesIO(item.data), original_filename=item.name, actor=actor
                )
                written.append(stored.original.name)
                # A voice note's own time 0 is its message's time on the chat's timeline.
                Recording.objects.filter(pk=stored.pk).update(timeline_offset=segment.start, is_voice_note=True)
                stored.timeline_offset, stored.is_voice_note = segment.start, True
                stored_notes[position] = stored
        for position, segment in enumerate(parsed.segments):
            role = _role(segment.role)
            speaker_narrator = narrator if role == "narrator" else None
            if segment.kind == "voice":
                item = parsed.attachment(segment.attachment)
                assert item is not None
                voice_recordings.append((position, item))
                result = voice.get(position)
                if result and result.segments:
                    for note_segment in result.segments:
                        note_segment.recording, note_segment.media_offset = stored_notes[position], segment.start
                        note_segment.sent_at = segment.sent_at
                    inputs.extend(result.segments)
                else:
                    text = VOICE_FAILED if (result and not result.ok) else VOICE_PENDING
                    inputs.append(
                        SegmentInput(
                            start=segment.start,
                            end=segment.end,
                            text=text,
                            language=language,
                            speaker=segment.speaker,
                            role=role,
                            narrator=speaker_narrator,
                            sent_at=segment.sent_at,
                        )
                    )
                continue
            inputs.append(
                SegmentInput(
                    start=segment.start,
                    end=segment.end,
                    text=segment.text,
                    language=language,
                    speaker=segment.speaker,
                    role=role,
                    narrator=speaker_narrator,
                    sent_at=segment.sent_at,
                )
            )
        transcript = transcript_store(
            interview=interview,
            segments=inputs,
            source=SOURCE_FOR.get(parsed.source, Transcript.Source.IMPORT),
            recording=recording,
            language=language,
            engine=f"rawi-importer {parsed.source}",
            actor=actor,
            options={"importer": parsed.source, "timed": parsed.timed},
            rebuild=False,
        )
        outcome = ImportOutcome(
            interview=interview, transcript=transcript, segments=len(inputs), warnings=list(parsed.warnings)
        )
        for position, _item in voice_recordings:
            stored = stored_notes[position]
            outcome.recordings.append(stored)
            result = voice.get(position)
            segment = parsed.segments[position]
            job_options = {
                "in_place": True,
                "offset": segment.start,
                "language": language or None,
                "per_channel": False,
            }
            if result is not None:
                state = TranscriptionJob.State.DONE if result.ok else TranscriptionJob.State.FAILED
                job = TranscriptionJob.objects.create(
                    recording=stored,
                    state=state,
                    progress=1.0 if result.ok else 0.0,
                    reason=result.reason[:300],
                    options=job_options,
                    attempts=1,
                    started_at=timezone.now(),
                    finished_at=timezone.now(),
                    heartbeat_at=timezone.now(),
                )
                outcome.voice_segments += len(result.segments)
            else:
                # in_place: the runner inserts this note's segments into the chat transcript at the
                # offset (transcripts_ingest.note_insert) instead of replacing the transcript. Only the
                # first note's job is sent: its run transcribes the chat's notes together.
                job = transcription_job_create(
                    recording=stored, options=job_options, actor=actor, send=not outcome.jobs
                )
            outcome.jobs.append(job)
        voice_names = {item.name for _, item in voice_recordings}
        for item in parsed.attachments:
            if item.name in voice_names:
                continue
            _store_attachment(interview, item, written)
            outcome.attachments += 1
        quarantine = parsed.quarantine.get("contact_names", [])
        outcome.approved_redactions, outcome.suggested_redactions = _redactions(transcript, list(quarantine))
        payload: dict[str, Any] = {**parsed.quarantine, "importer": parsed.source}
        if original_filename:
            payload["original_filename"] = original_filename
        if parsed.title_hint:
            payload["title_hint"] = parsed.title_hint
        quarantine_store(interview=interview, source=f"import-{parsed.source}", payload=payload)
        changes: dict[str, Any] = {}
        if parsed.source in MODE_FOR and interview.mode == Interview.Mode.IN_PERSON:
            changes["mode"] = MODE_FOR[parsed.source]
        if parsed.started_at and not interview.recorded_on:
            changes["recorded_on"] = parsed.started_at.date()
        if language and not interview.languages:
            changes["languages"] = [language]
        if changes:
            interview_update(interview=interview, actor=actor, **changes)
        audit_log(
            actor=actor,
            action="import",
            target_type="interview",
            target_id=str(interview.public_id),
            detail={
                "importer": parsed.source,
                "segments": outcome.segments,
                "recordings": len(outcome.recordings),
                "attachments": outcome.attachments,
                "approved_redactions": outcome.approved_redactions,
                "suggested_redactions": outcome.suggested_redactions,
            },
        )
        interview_touch(interview)
        # The detectors' suggestions wait in the editors' workbench; nothing is applied.
        suggestions_generate(interview=interview, actor=actor)
    return outcome


def import_file(
    *,
    data: bytes,
    filename: str,
    collection_slug: str,
    title: str,
    narrator_name: str,
    anonymity: str = Narrator.Anonymity.ANONYMOUS,
    access: str = "staff",
    language: str = "",
    actor: Any = None,
    voice_notes: str = "now",
    kind: str | None = None,
    interviewer: str | None = None,
    narrator_label: str | None = None,
    strict: bool = False,
    consent_scopes: ConsentScopes | None = None,
    status: str = Interview.Status.DRAFT,
) -> list[ImportOutcome]:
    """Parse an upload and create its interview(s): one for most files, one per row for a bulk zip,
    one per conversation for a Messenger, Skype or Telegram export. Raises ImportRefused (nothing
    written) for hostile or malformed input, NarratorUnknown when the narrator must be chosen.
    `status`: the interviews start as drafts (seen by staff and whoever gathered them) unless the
    caller publishes them at once (`manage.py ingest` without --draft)."""
    kind = kind or detect_kind(filename, data)
    if kind == "audio":
        raise ImportRefused("Audio and video go through the recording upload, not the importer.", code="unsupported")
    if kind in CHANNEL_KINDS:
        return channel_import(
            data=data,
            filename=filename,
            kind=kind,
            collection_slug=collection_slug,
            title=title,
            narrator_name=narrator_name,
            narrator_label=narrator_label,
            interviewer=interviewer,
            anonymity=anonymity,
            access=access,
            language=language,
            actor=actor,
            voice_notes=voice_notes,
            strict=strict,
            consent_scopes=consent_scopes,
            status=status,
        )
    if kind == "bulk":
        # Every row is parsed and checked before anything is written; all rows then go in one
        # transaction, and a row that still fails takes every row's stored files with it. A chat's or
        # thread's narrator comes from its own row, never a guess (RowNarratorUnknown otherwise).
        bulk = parse_bulk(data, strict=True)
        outcomes = []
        with _cleanup_on_failure() as written, transaction.atomic():
            for item in bulk.items:
                meta = item.metadata
                try:
                    outcomes += _create_and_import(
                        parsed=item.parsed,
                        media=item.media,
                        collection_slug=collection_slug,
                        title=meta["title"],
                        narrator_name=_row_narrator_name(item, narrator_name),
                        anonymity=meta.get("anonymity") or anonymity,
                        access=meta.get("access") or access,
                        language=meta.get("language") or language,
                        actor=actor,
                        voice_notes=voice_notes,
                        filename=meta["file"],
                        written=written,
                        status=status,
                    )
                except (ValidationError, ImportRefused) as exc:
                    raise _row_refusal(item.row, exc) from exc
        return outcomes
    options: dict[str, Any] = {"interviewer": interviewer}
    if kind in NAMED_KINDS:
        # Who is the narrator is never guessed: the sender chosen (`narrator_label`), else the one
        # whose label is the narrator's name, else the only sender besides the interviewer; otherwise
        # NarratorUnknown lists the senders, for the page to ask and the API to answer with.
        options.update(narrator=narrator_label or narrator_name or None, strict=True)
    parsed = parse_file(filename, data, kind=kind, **options)
    return _create_and_import(
        parsed=parsed,
        media=None,
        collection_slug=collection_slug,
        title=title,
        narrator_name=narrator_name,
        anonymity=anonymity,
        access=access,
        language=language,
        actor=actor,
        voice_notes=voice_notes,
        filename=filename,
        status=status,
    )


def channel_import(
    *,
    data: bytes,
    filename: str,
    kind: str,
    collection_slug: str,
    title: str,
    narrator_name: str,
    narrator_label: str | None = None,
    interviewer: str | None = None,
    anonymity: str = Narrator.Anonymity.ANONYMOUS,
    access: str = "staff",
    language: str = "",
    actor: Any = None,
    voice_notes: str = "now",
    strict: bool = False,
    consent_scopes: ConsentScopes | None = None,
    status: str = Interview.Status.DRAFT,
) -> list[ImportOutcome]:
    """A Messenger, Skype or Telegram export: one interview per conversation the narrator sent messages
    in (the only one, for an export of one conversation). The narrator is the sender named by
    `narrator_label`, else by `narrator_name` when it is one of the senders; `strict` (the command
    line) refuses a `narrator_name` that is not. Every conversation is parsed before anything is
    written. The person importing becomes the interviews' interviewer, so they keep seeing them."""
    conversations, export = CHANNEL_PARSERS[kind](data, filename=filename)
    wanted = narrator_label or narrator_name or None
    chosen = select_conversations(conversations, narrator=wanted, strict=strict)
    parsed_items = [
        to_parsed(item, export, narrator=wanted, interviewer=interviewer, strict=strict or bool(narrator_label))
        for item in chosen
    ]
    gatherer = actor if getattr(actor, "is_authenticated", False) else None
    outcomes: list[ImportOutcome] = []
    with _cleanup_on_failure() as written, transaction.atomic():
        collection = collection_get_or_create(slug=collection_slug)
        for number, parsed in enumerate(parsed_items, 1):
            speaker = next((s.speaker for s in parsed.segments if s.role == "narrator"), "")
            interview = recorded_interview_create(
                collection=collection,
                title=title if len(parsed_items) == 1 else f"{title} ({number} of {len(parsed_items)})",
                narrator_name=narrator_name or speaker or "Unnamed narrator",
                anonymity=anonymity,
                access_level=access,
                language=language or None,
                mode=MODE_FOR[kind],
                interviewer=gatherer,
                actor=actor,
                consent_scopes=consent_scopes,
                status=status,
            )
            outcome = import_parsed(
                interview=interview,
                parsed=parsed,
                original_filename=filename,
                actor=actor,
                language=language,
                voice_notes=voice_notes,
            )
            # A later conversation that fails rolls this one back: its stored files must go too.
            written.extend(recording.original.name for recording in outcome.recordings)
            written.extend(Attachment.objects.filter(interview=interview).values_list("file", flat=True))
            outcomes.append(outcome)
    return outcomes


def _create_and_import(
    *,
    parsed: ParsedImport | None,
    media: ParsedAttachment | None,
    collection_slug: str,
    title: str,
    narrator_name: str,
    anonymity: str,
    access: str,
    language: str,
    actor: Any,
    voice_notes: str,
    filename: str,
    written: list[str] | None = None,
    status: str = Interview.Status.DRAFT,
) -> list[ImportOutcome]:
    with _cleanup_on_failure(written) as written, transaction.atomic():
        collection = collection_get_or_create(slug=collection_slug)
        narrator = narrator_create(
            collection=collection, legal_name=narrator_name or "Unnamed narrator", anonymity=anonymity, actor=actor
        )
        interview = interview_create(
            collection=collection,
            title=title,
            narrators=[narrator],
            access_level=access,
            languages=[language] if language else [],
            # The person importing becomes its interviewer, so they keep seeing their draft.
            interviewers=[actor] if getattr(actor, "is_authenticated", False) else [],
            actor=actor,
            status=status,
        )
        consent_record(narrator=narrator, interview=interview, archive=True, processing=True)
        recording = None
        if media is not None:
            recording = recording_store(
                interview=interview, fileobj=io.BytesIO(media.data), original_filename=media.name, actor=actor
            )
            written.append(recording.original.name)
        if parsed is None:
            assert recording is not None, "only a bulk row of audio or video comes without a transcript"
            transcription_job_create(recording=recording, options={"language": language or None}, actor=actor)
            return []
        return [
            import_parsed(
                interview=interview,
                parsed=parsed,
                original_filename=filename,
                actor=actor,
                language=language,
                voice_notes=voice_notes,
                recording=recording,
                written=written,
            )
        ]


def ingest_dispatch(path: Path, *, interview: Interview, options: dict[str, Any]) -> ImportOutcome:
    """The hook `manage.py ingest` calls for files that are not audio or video, inside its transaction
    and after it created the interview. Refusals become CommandError with the importer's reason."""
    try:
        data = Path(path).read_bytes()
        kind = detect_kind(Path(path).name, data)
        if kind == "bulk":
            raise ImportRefused(
                "Bulk zips create one interview per row; import them with the bulk upload.", code="unsupported"
            )
        # --narrator must be one of a chat's or thread's senders (by name or address); otherwise the
        # command refuses, listing them, and nothing is created (the caller's transaction rolls back).
        parsed = parse_file(
            Path(path).name,
            data,
            kind=kind,
            interviewer=options.get("interviewer"),
            narrator=options.get("narrator"),
            strict=True,
        )
        return import_parsed(
            interview=interview,
            parsed=parsed,
            original_filename=Path(path).name,
            language=options.get("language") or "",
            voice_notes="now" if options.get("wait") else "queue",
        )
    except ImportRefused as exc:
        raise CommandError(f"Import refused: {exc.reason}") from exc


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def import_uploaded(*, user: Any, slug: str, data: dict[str, Any]) -> list[str]:
    """An import uploaded through the API or the import page, by `user` into collection `slug`; returns
    the public ids made. Raises Http404 (no such collection for them, or no right to upload there) or
    ImportRefused."""
    collection = access.collection_for(user, slug)
    if not access.can_upload(user, collection):
        raise Http404
    upload = data["file"]
    if upload.size > MAX_UPLOAD_BYTES:
        raise ImportRefused("The upload is larger than 512 MiB.", code="too_large")
    outcomes = import_file(
        data=upload.read(),
        filename=upload.name or "",
        collection_slug=collection.slug,
        title=data["title"],
        narrator_name=data.get("narrator") or "",
        anonymity=data["anonymity"],
        access=data["access"],
        language=data.get("language") or "",
        actor=user,
        voice_notes="queue",
        interviewer=data.get("interviewer") or None,
        narrator_label=data.get("narrator_label") or None,
    )
    return [str(outcome.interview.public_id) for outcome in outcomes]
