"""Recordings: stream an upload into private storage (constant memory, SHA-256 on the way), keep the
original unaltered under an opaque name, quarantine its file name and container metadata, and create
the transcription job (enqueued on commit; the message carries the job id only)."""

from __future__ import annotations

import hashlib
import importlib
import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from config.celery import app

from .. import crypto, media
from ..gate import policy
from ..importers import ImportRefused, detect_kind
from ..models import Interview, QuarantinedMetadata, Recording, Transcript, TranscriptionJob
from .audit import audit_log
from .base import write
from .interviews import interview_create
from .people import ConsentScopes, consent_record, narrator_create

logger = logging.getLogger(__name__)

AUDIO_VIDEO_EXTENSIONS = frozenset(
    {
        ".wav",
        ".flac",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".oga",
        ".opus",
        ".webm",
        ".mp4",
        ".mov",
        ".3gp",
        ".amr",
        ".mka",
        ".mkv",
    }
)
CHUNK_SIZE = 1024 * 1024
MAX_ATTEMPTS = 3


if TYPE_CHECKING:
    _BytesFile = File[bytes]  # File is generic in its types only, not at run time
else:
    _BytesFile = File


class HashingFile(_BytesFile):
    """Wraps an upload so that whatever the storage backend reads (chunks() or read()) is hashed
    on the way; a rewind starts the hash again, so it always covers exactly what was stored."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        super().__init__(file, name=name)
        self._reset()

    @property
    def _upload(self) -> IO[bytes]:
        """The wrapped upload (a File may hold none; this one is always made with one)."""
        assert self.file is not None, "a HashingFile wraps an upload"
        return self.file

    def _reset(self) -> None:
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset == 0 and whence == 0:
            self._reset()
        return self._upload.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        data = self._upload.read(size)
        self.digest.update(data)
        self.bytes_read += len(data)
        return data

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        if self._upload.seekable():
            self.seek(0)
        while data := self.read(chunk_size or CHUNK_SIZE):
            yield data

    @property
    def size(self) -> int:  # Django asks for the size; never read the whole file to learn it
        upload = self._upload
        position = upload.tell()
        upload.seek(0, 2)
        size = upload.tell()
        upload.seek(position)
        return size


def _extension(filename: str) -> str:
    ext = Path(filename).suffix.lower()
    return ext if ext.isascii() and ext[1:].isalnum() and len(ext) <= 6 else ""


def recording_source(recording: Recording) -> Any:
    """A local path when the storage has one (fast), else an open file object from the storage."""
    try:
        return default_storage.path(recording.original.name)
    except NotImplementedError:
        return default_storage.open(recording.original.name, "rb")


@write
def recording_store(
    *, interview: Interview, fileobj: IO[bytes], original_filename: str, actor: Any = None
) -> Recording:
    """Store the upload unaltered under an opaque name. The original file name and the container's
    tags (GPS, device, title, artist) go to the quarantine, sealed for custodians."""
    name = f"originals/{uuid.uuid4().hex}{_extension(original_filename)}"
    wrapped = HashingFile(fileobj, name=name)
    stored_name = default_storage.save(name, wrapped)
    recording = Recording(interview=interview, sha256=wrapped.digest.hexdigest(), size_bytes=wrapped.bytes_read)
    recording.original.name = stored_name
    quarantine: dict[str, Any] = {"original_filename": original_filename}
    source = recording_source(recording)
    try:
        info = media.probe(source)
        recording.duration_seconds = info.duration
        recording.container = info.container[:40]
        recording.codec = info.codec[:40]
        recording.channels = info.channels
        recording.sample_rate = info.sample_rate
        quarantine["container"] = media.container_metadata(source)
    except media.MediaError as exc:
        # The upload is kept; the transcription job will end with this reason.
        quarantine["probe_error"] = exc.code
    finally:
        if hasattr(source, "close"):
            source.close()
    recording.full_clean(exclude=["original", "fixity_ok"])
    recording.save()
    QuarantinedMetadata.objects.create(
        interview=interview,
        recording=recording,
        source="recording",
        payload_ciphertext=crypto.seal_json(quarantine, quarantine_context(interview)),
    )
    audit_log(
        actor=actor,
        action="recording_store",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"recording": str(recording.public_id), "size": recording.size_bytes},
    )
    return recording


def quarantine_context(interview: Interview) -> str:
    return f"quarantine:{interview.public_id}"


def _enqueue(job_id: int) -> None:
    """Send the job's id to the queue. A broker that is down loses nothing: the job row stays
    queued, the watchdog sends it again, and `ingest --wait` can run it in its own process."""
    name = "archive.tasks.transcribe_recording"
    try:
        # By name: services sit below the task layer (routed to the "transcribe" queue by settings). An
        # eager configuration runs the registered task here instead (send_task never runs eagerly).
        if app.conf.task_always_eager:
            importlib.import_module("archive.tasks")  # registers the task (a worker imports it itself)
            app.tasks[name].apply_async(args=[job_id])
        else:
            app.send_task(name, args=[job_id], retry=False)
    except Exception:  # kombu raises many connection error types; the job row is the truth
        logger.warning("transcription job %s could not be sent to the broker; it stays queued", job_id)


def workers_available(timeout: float = 2.0) -> bool:
    """Whether any Celery worker answers a ping over the broker."""
    try:
        # Fail fast when no broker listens at all (ping alone would retry the connection for seconds).
        with app.connection_for_write() as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0.1, interval_max=0.1, timeout=1
            )
        return bool(app.control.ping(timeout=timeout))
    except Exception:
        return False


@write
def transcription_job_create(
    *, recording: Recording, options: dict[str, Any] | None = None, actor: Any = None, send: bool = True
) -> TranscriptionJob:
    """Queue a transcription of the recording. The task is sent once the transaction commits; with
    `send` false it waits for the run of a job sent before it (a chat's later voice notes, which the
    first voice note's run transcribes with it) or, failing that, for the watchdog."""
    job = TranscriptionJob.objects.create(recording=recording, options=options or {}, heartbeat_at=timezone.now())
    audit_log(
        actor=actor,
        action="transcription_queue",
        target_type="interview",
        target_id=str(recording.interview.public_id),
        detail={"job": str(job.public_id)},
    )
    if send:
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def requeue_stale_jobs(*, now: Any = None) -> dict[str, int]:
    """Watchdog: a running job whose heartbeat stopped (worker killed, machine lost) is queued again,
    or failed once it has used its attempts; a queued job whose message may have been lost is sent
    again. The conditional updates make this safe to run on several machines at once."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.RAWI_JOB_HEARTBEAT_STALE_SECONDS)
    lost = now - timedelta(seconds=settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])
    failed = TranscriptionJob.objects.filter(
        state=TranscriptionJob.State.RUNNING, heartbeat_at__lt=stale, attempts__gte=MAX_ATTEMPTS
    ).update(
        state=TranscriptionJob.State.FAILED,
        reason=f"The transcription worker stopped {MAX_ATTEMPTS} times on this recording; it was not retried again.",
        finished_at=now,
    )
    candidates = list(
        TranscriptionJob.objects.filter(
            Q(state=TranscriptionJob.State.RUNNING, heartbeat_at__lt=stale)
            | Q(state=TranscriptionJob.State.QUEUED, heartbeat_at__lt=lost)
        ).values_list("pk", "state", "heartbeat_at")
    )
    requeued = 0
    for pk, state, heartbeat in candidates:
        claimed = TranscriptionJob.objects.filter(pk=pk, state=state, heartbeat_at=heartbeat).update(
            state=TranscriptionJob.State.QUEUED, heartbeat_at=now, worker="", reason=""
        )
        if claimed:
            requeued += 1
            logger.warning("requeued transcription job %s (was %s)", pk, state)
            transaction.on_commit(partial(_enqueue, pk))
    return {"requeued": requeued, "failed": failed}


def job_touch(job_id: int, *, worker: str, progress: float | None = None) -> bool:
    """Heartbeat (and progress) from the worker that owns the job. False: it no longer owns it."""
    changes: dict[str, Any] = {"heartbeat_at": timezone.now()}
    if progress is not None:
        changes["progress"] = round(max(0.0, min(1.0, progress)), 4)
    return bool(
        TranscriptionJob.objects.filter(pk=job_id, state=TranscriptionJob.State.RUNNING, worker=worker).update(
            **changes
        )
    )


def job_claim(job_id: int, *, worker: str) -> bool:
    """queued → running, as one conditional UPDATE: 0 rows means another worker has it (or it ended)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.RAWI_JOB_HEARTBEAT_STALE_SECONDS)
    return bool(
        TranscriptionJob.objects.filter(
            Q(state=TranscriptionJob.State.QUEUED) | Q(state=TranscriptionJob.State.RUNNING, heartbeat_at__lt=stale),
            pk=job_id,
        ).update(
            state=TranscriptionJob.State.RUNNING,
            attempts=F("attempts") + 1,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            reason="",
            progress=0.0,
        )
    )


@write
def recorded_interview_create(
    *,
    collection: Any,
    title: str,
    narrator_name: str,
    anonymity: str,
    access_level: str,
    language: str | None = None,
    mode: str | None = None,
    interviewer: Any = None,
    actor: Any = None,
    consent_scopes: ConsentScopes | None = None,
    status: str = Interview.Status.DRAFT,
    details: dict[str, Any] | None = None,
) -> Interview:
    """An interview with its narrator (real name sealed under the narrator's own key) and the default
    consent (archiving and machine processing on our own workers; wider use is recorded later by an
    editor), ready for a recording. `interviewer`: the user who gathered it. Shared by
    `manage.py ingest` and the upload page. `status`: a draft unless the caller publishes it at once
    (only published interviews are seen below staff); `details`: further fields of interview_create
    (recorded_on, place, place_general, summary, topics, interviewer_label)."""
    narrator = narrator_create(collection=collection, legal_name=narrator_name, anonymity=anonymity, actor=actor)
    extra: dict[str, Any] = {"mode": mode} if mode else {}
    interview = interview_create(
        collection=collection,
        title=title,
        narrators=[narrator],
        access_level=access_level,
        languages=[language] if language else [],
        # Whoever gathered the interview sees it at custodian tier (access.user_tier).
        interviewers=[interviewer] if interviewer is not None else [],
        actor=actor,
        status=status,
        **extra,
        **(details or {}),
    )
    scopes: ConsentScopes = {"archive": True, "processing": True, **(consent_scopes or {})}
    consent_record(narrator=narrator, interview=interview, actor=actor, **scopes)
    return interview


def transcription_jobs(interview: Interview) -> list[TranscriptionJob]:
    """The interview's transcription jobs, newest first (state, progress and reason only; no names)."""
    return list(
        TranscriptionJob.objects.filter(recording__interview=interview)
        .only("public_id", "state", "progress", "reason", "attempts", "created_at", "finished_at", "options")
        .order_by("-created_at", "-pk")
    )


class RecordingRefused(ValueError):
    """The recording cannot be added as asked (the reason is fit to show)."""


@write
def recording_add(
    *,
    interview: Interview,
    fileobj: IO[bytes],
    original_filename: str,
    actor: Any = None,
    replaces: Recording | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[Recording, TranscriptionJob]:
    """Add a recording to an interview and queue its transcription. Remote calls drop and resume, so
    a recording added to an interview that already has one is a new *part*: it follows the parts
    before it on the interview's timeline and nothing of theirs changes. With `replaces`, it is a
    better copy of that recording's speech: its transcription makes a new transcript version of that
    part (redactions carried over or held for a decision)."""
    if replaces is not None and (replaces.interview_id != interview.pk or replaces.replaced_by_id is not None):
        raise RecordingRefused("Only a current recording of this interview can be replaced.")
    parts = list(
        interview.recordings.filter(is_voice_note=False, replaced_by__isnull=True).order_by("timeline_offset", "pk")
    )
    current = interview.transcripts.filter(is_current=True).first()
    current_end = 0.0
    if current is not None and current.source in (Transcript.Source.CHAT, Transcript.Source.EMAIL):
        # A recording added to a chat or email thread follows its last message; a recording added to a
        # typed or imported transcript of the same speech becomes that transcript's media (a new version).
        current_end = current.segments.aggregate(end=Max("end"))["end"] or 0.0
    recording = recording_store(interview=interview, fileobj=fileobj, original_filename=original_filename, actor=actor)
    job_options = dict(options or {})
    if replaces is not None:
        job_options["replaces"] = replaces.pk
        recording.timeline_offset = replaces.timeline_offset
    elif parts or current_end > 0:
        # A later part starts where the interview's timeline ends: after the parts before it, and after
        # the last message of a chat (so its segments never interleave with what is there).
        job_options["part"] = True
        ends = [p.timeline_offset + (p.duration_seconds or 0.0) for p in parts]
        recording.timeline_offset = round(max([*ends, current_end]), 3)
    Recording.objects.filter(pk=recording.pk).update(timeline_offset=recording.timeline_offset)
    job = transcription_job_create(recording=recording, options=job_options, actor=actor)
    return recording, job


@write
def interview_retranscribe(
    *, interview: Interview, actor: Any = None, language: str | None = None
) -> list[TranscriptionJob]:
    """Transcribe every recorded part (and voice note) of the current transcript again, as new
    transcript versions: editors' corrections are kept, span redactions carried over or held."""
    current = interview.transcripts.filter(is_current=True).first()
    used = []
    if current is not None:
        used = list(
            dict.fromkeys(
                current.segments.exclude(recording=None).order_by("index").values_list("recording", flat=True)
            )
        )
    if not used:
        used = list(
            interview.recordings.filter(replaced_by__isnull=True)
            .order_by("timeline_offset", "pk")
            .values_list("pk", flat=True)
        )
    if not used:
        raise RecordingRefused("The interview has no recording to transcribe.")
    jobs = []
    for recording in Recording.objects.filter(pk__in=used).order_by("timeline_offset", "pk"):
        options = {"retranscribe": True, "language": language or None}
        jobs.append(transcription_job_create(recording=recording, options=options, actor=actor))
    audit_log(
        actor=actor,
        action="interview_retranscribe",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"jobs": len(jobs)},
    )
    return jobs


# Checking an upload before anything is created ------------------------------------------------------

HEAD_BYTES = 4 * 1024 * 1024  # what the upload page sends ahead of a resumable upload to be checked

# Transcript and export formats the import page reads, named for the person who chose the wrong page.
IMPORT_KIND_NAMES = {
    "whatsapp": "a WhatsApp chat export",
    "messenger": "a Messenger or Instagram export",
    "skype": "a Skype export",
    "telegram": "a Telegram export",
    "eml": "an email",
    "mbox": "a mailbox",
    "vtt": "a WebVTT transcript",
    "srt": "an SRT transcript",
    "txt": "a text transcript",
    "docx": "a Word transcript",
    "ohms": "an OHMS transcript",
    "bulk": "a bulk import",
}


class UploadRefused(ValueError):
    """The file is not a recording this archive can take; the reason is fit to show. Nothing was made."""

    def __init__(self, reason: str, *, kind: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # an import kind when the file is a transcript or export, else ""


def _is_iso_media(head: bytes) -> bool:
    """An MP4/M4A/MOV/3GP file: its index may sit at the end, so a head alone cannot be probed."""
    return len(head) >= 12 and head[4:8] == b"ftyp"


def upload_check(fileobj: IO[bytes], filename: str, *, head_only: bool = False) -> media.MediaInfo | None:
    """Check an uploaded file before any interview is made for it: it must open as audio or video with
    an audio track. A transcript or chat export is named (it belongs on the import page); anything else
    is refused with the probe's reason. `head_only`: `fileobj` is the first HEAD_BYTES of a file that
    follows by resumable upload; an MP4-family head, whose index may be at the end, is accepted on its
    signature (the whole file is probed again when stored). Returns what the probe read, if it could."""
    fileobj.seek(0)
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(0)
    if not head:
        raise UploadRefused("The file is empty (0 bytes). Nothing was created.")
    try:
        return media.probe(fileobj)
    except media.MediaError as exc:
        if head_only and exc.code == "not_media" and _is_iso_media(head):
            return None
        probe_reason = exc.reason
    finally:
        fileobj.seek(0)
    kind = ""
    if head_only or len(head) < HEAD_BYTES:
        try:
            kind = detect_kind(filename, head)
        except ImportRefused:
            kind = ""
    if kind in IMPORT_KIND_NAMES:
        raise UploadRefused(
            f"This file looks like {IMPORT_KIND_NAMES[kind]}, not a recording: add it with the import page. "
            "Nothing was created.",
            kind=kind,
        )
    raise UploadRefused(f"{probe_reason} Nothing was created.")


class UploaderCannotSee(PermissionError):
    """The interview as asked would be hidden from the person uploading it: nothing is kept."""


UPLOAD_DETAILS = ("recorded_on", "place", "place_general", "summary", "topics", "interviewer_label")


@write
def recording_upload(
    *,
    collection: Any,
    actor: Any,
    title: str,
    narrator_name: str,
    anonymity: str,
    access_level: str,
    fileobj: IO[bytes] | None,
    filename: str = "",
    head_only: bool = False,
    gathered: bool = True,
    language: str | None = None,
    mode: str | None = None,
    details: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> tuple[Interview, TranscriptionJob | None]:
    """The upload page: check the file first (upload_check; UploadRefused creates nothing), then make
    the interview as a draft with its narrator and default consent, and, for a whole file, store it
    and queue its transcription. `head_only`: the file follows by resumable upload (no recording yet).
    `gathered`: the uploader conducted it and becomes its interviewer; otherwise they must be able to
    see the draft by their role (UploaderCannotSee, rolled back)."""
    if fileobj is None:
        raise UploadRefused("Choose the recording to upload.")
    upload_check(fileobj, filename, head_only=head_only)
    unknown = set(details or {}) - set(UPLOAD_DETAILS)
    if unknown:
        raise ValueError(f"not upload details: {sorted(unknown)}")
    interview = recorded_interview_create(
        collection=collection,
        title=title,
        narrator_name=narrator_name,
        anonymity=anonymity,
        access_level=access_level,
        language=language,
        mode=mode,
        interviewer=actor if gathered else None,
        actor=actor,
        status=Interview.Status.DRAFT,
        details={k: v for k, v in (details or {}).items() if v not in (None, "", [])},
    )
    # Its renderings (and stored floor) are built when this write ends: ask the policy directly.
    if not policy.tier_at_least(policy.user_tier(actor, interview), policy.computed_floor(interview)):
        raise UploaderCannotSee
    job = None
    if not head_only:
        recording = recording_store(interview=interview, fileobj=fileobj, original_filename=filename, actor=actor)
        job = transcription_job_create(recording=recording, options=options, actor=actor)
    return interview, job
