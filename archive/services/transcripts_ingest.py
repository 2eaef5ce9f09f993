"""Run one transcription job: claim it, transcribe with heartbeats and progress, store a new
transcript version (editors' corrections carried over) and rebuild the renderings, exactly once.

Bad input ends the job as failed with a reason and is never retried; transient errors raise
``TransientJobError`` so the Celery task can retry with backoff, a bounded number of times.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from .. import media, transcription
from ..models import Interview, Recording, Segment, Transcript, TranscriptionJob
from . import recordings
from .audit import audit_log
from .imports import VOICE_FAILED, VOICE_PENDING
from .interviews import SegmentInput, interview_update, sent_in_utc, transcript_store
from .people import interview_touch
from .recordings import MAX_ATTEMPTS, job_claim, job_touch, recording_source
from .suggestions import suggestions_generate

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


class TransientJobError(Exception):
    """Worth retrying later (storage or database briefly unavailable)."""


class JobLost(Exception):
    """Another worker took the job over (the watchdog judged this one dead); stop quietly."""


def worker_label() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _fail(job_id: int, worker: str, reason: str) -> None:
    TranscriptionJob.objects.filter(pk=job_id, state=TranscriptionJob.State.RUNNING, worker=worker).update(
        state=TranscriptionJob.State.FAILED, reason=reason[:300], finished_at=timezone.now()
    )


def job_release_for_retry(job_id: int, *, worker: str, reason: str) -> bool:
    """running → queued before a retry, so the retried message can claim it again."""
    return bool(
        TranscriptionJob.objects.filter(pk=job_id, state=TranscriptionJob.State.RUNNING, worker=worker).update(
            state=TranscriptionJob.State.QUEUED, reason=reason[:300], heartbeat_at=timezone.now(), worker=""
        )
    )


class _Heartbeat(threading.Thread):
    """Writes heartbeat and progress every few seconds from its own database connection, and notices
    when the job has been taken over by another worker."""

    def __init__(self, job_id: int, worker: str, interval: float, *, others: list[int] | None = None) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.job_id, self.worker, self.interval = job_id, worker, interval
        self.others = list(others or [])  # voice notes transcribed with this job: kept alive with it
        self.progress = 0.0
        self.lost = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.interval):
                try:
                    if not job_touch(self.job_id, worker=self.worker, progress=self.progress):
                        self.lost = True
                        return
                    for other in self.others:
                        job_touch(other, worker=self.worker, progress=self.progress)
                except DatabaseError:
                    logger.warning("heartbeat for job %s failed; will try again", self.job_id)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def _segment_inputs(result: transcription.Transcription) -> list[SegmentInput]:
    return [
        SegmentInput(
            start=s.start,
            end=s.end,
            text=s.text,
            language=s.language,
            speaker=f"Speaker {s.channel + 1}" if s.channel is not None else "",
            channel=s.channel,
            words=s.words_as_dicts(),
        )
        for s in result.segments
    ]


def transcription_job_run(
    job_id: int, *, worker: str | None = None, heartbeat_seconds: float = HEARTBEAT_SECONDS
) -> str:
    """Returns the job's end state for this attempt: done, failed, skipped (someone else has it or it
    has ended). Raises TransientJobError after putting the job back in the queue."""
    worker = worker or worker_label()
    close_old_connections()
    if not job_claim(job_id, worker=worker):
        logger.info("transcription job %s not claimed (taken or finished)", job_id)
        return "skipped"
    job = TranscriptionJob.objects.select_related("recording__interview").get(pk=job_id)
    if job.attempts > MAX_ATTEMPTS:
        _fail(job_id, worker, f"The transcription was attempted {MAX_ATTEMPTS} times without finishing; not retried.")
        return "failed"
    recording = job.recording
    logger.info("transcription job %s claimed by %s (attempt %s)", job_id, worker, job.attempts)
    if (job.options or {}).get("in_place"):
        return _voice_notes_run(job, worker, heartbeat_seconds)

    heartbeat = _Heartbeat(job_id, worker, heartbeat_seconds)
    heartbeat.start()
    try:
        try:
            source = recording_source(recording)
        except OSError as exc:
            raise TransientJobError("storage unavailable") from exc
        try:
            options = transcription.TranscribeOptions.from_dict(job.options)
            spec = transcription.resolve_model()
            info = media.inspect(source)

            def progress(share: float) -> None:
                heartbeat.progress = share
                if heartbeat.lost:
                    raise JobLost()

            result = transcription.transcribe(
                source,
                options=options,
                model_spec=spec,
                threads=settings.RAWI_WHISPER_THREADS,
                progress=progress,
                info=info,
            )
        finally:
            if hasattr(source, "close"):
                source.close()
    except media.MediaError as exc:
        heartbeat.stop()
        _fail(job_id, worker, exc.reason)
        logger.info("transcription job %s failed: bad input (%s)", job_id, exc.code)
        return "failed"
    except transcription.ModelError as exc:
        heartbeat.stop()
        _fail(job_id, worker, f"The transcription model is unavailable on this worker: {exc}")
        logger.error("transcription job %s failed: model unavailable", job_id)
        return "failed"
    except JobLost:
        heartbeat.stop()
        logger.warning("transcription job %s was taken over by another worker; stopping", job_id)
        return "skipped"
    except (TransientJobError, OSError, DatabaseError) as exc:
        heartbeat.stop()
        job_release_for_retry(job_id, worker=worker, reason="Waiting to retry after a temporary error.")
        raise TransientJobError(type(exc).__name__) from exc
    except Exception as exc:
        heartbeat.stop()
        _fail(job_id, worker, f"The transcription failed unexpectedly ({type(exc).__name__}); an operator has the log.")
        logger.exception("transcription job %s failed unexpectedly", job_id)
        return "failed"
    heartbeat.stop()
    return _store(job_id, worker, result, info.decoded_duration)


# A chat's voice notes are transcribed together (transcription.transcribe_notes): the job that runs
# first claims the conversation's other queued voice-note jobs, up to this much audio, and stores each
# note's result under its own job, exactly as if each had run alone.
NOTES_PER_RUN_SECONDS = 1800.0
NOTES_PER_RUN = 300


def _same_run(options: dict[str, Any], other: dict[str, Any]) -> bool:
    ignored = ("offset",)
    return {k: v for k, v in options.items() if k not in ignored} == {
        k: v for k, v in other.items() if k not in ignored
    }


def _claim_notes(job: TranscriptionJob, worker: str) -> list[TranscriptionJob]:
    """The conversation's other queued voice-note jobs with the same options, claimed for this run."""
    budget = NOTES_PER_RUN_SECONDS - (job.recording.duration_seconds or 0.0)
    claimed: list[TranscriptionJob] = []
    waiting = (
        TranscriptionJob.objects.filter(
            recording__interview_id=job.recording.interview_id,
            state=TranscriptionJob.State.QUEUED,
            attempts__lt=MAX_ATTEMPTS,
        )
        .exclude(pk=job.pk)
        .select_related("recording__interview")
        .order_by("pk")
    )
    for other in waiting:
        if len(claimed) + 1 >= NOTES_PER_RUN:
            break
        options = other.options or {}
        if not options.get("in_place") or not _same_run(job.options or {}, options):
            continue
        length = other.recording.duration_seconds or 0.0
        if claimed and length > budget:
            break
        if job_claim(other.pk, worker=worker):
            budget -= length
            claimed.append(other)
    return claimed


def _send_next_note(interview_id: int) -> None:
    """Voice-note jobs still queued after a run (more than one run holds) get a message for the next."""
    waiting = (
        TranscriptionJob.objects.filter(recording__interview_id=interview_id, state=TranscriptionJob.State.QUEUED)
        .order_by("pk")
        .values_list("pk", "options")
    )
    following = next((pk for pk, options in waiting if (options or {}).get("in_place")), None)
    if following is not None:
        transaction.on_commit(lambda: recordings._enqueue(following))


def _voice_notes_run(job: TranscriptionJob, worker: str, heartbeat_seconds: float) -> str:  # noqa: C901 (claim, heartbeat, transcribe and store a group of voice notes)
    """Run a voice-note job together with the conversation's other queued voice notes: one heartbeat
    keeps them all alive, a temporary error puts them all back in the queue, a note that is bad input
    fails alone, and each note's segments are stored under its own job and recording."""
    group = [job, *_claim_notes(job, worker)]
    ids = [item.pk for item in group]
    heartbeat = _Heartbeat(job.pk, worker, heartbeat_seconds, others=ids[1:])
    heartbeat.start()
    sources: list[Any] = []

    def release_all(reason: str) -> None:
        for pk in ids:
            job_release_for_retry(pk, worker=worker, reason=reason)

    def fail_all(reason: str) -> None:
        for pk in ids:
            _fail(pk, worker, reason)

    try:
        try:
            try:
                sources = [recording_source(item.recording) for item in group]
            except OSError as exc:
                raise TransientJobError("storage unavailable") from exc
            options = transcription.TranscribeOptions.from_dict(job.options)
            spec = transcription.resolve_model()

            def progress(share: float) -> None:
                heartbeat.progress = share
                if heartbeat.lost:
                    raise JobLost()

            results = transcription.transcribe_notes(
                sources, options=options, model_spec=spec, threads=settings.RAWI_WHISPER_THREADS, progress=progress
            )
        finally:
            for source in sources:
                if hasattr(source, "close"):
                    source.close()
    except transcription.ModelError as exc:
        heartbeat.stop()
        fail_all(f"The transcription model is unavailable on this worker: {exc}")
        logger.error("voice-note jobs %s failed: model unavailable", ids)
        return "failed"
    except JobLost:
        heartbeat.stop()
        logger.warning("voice-note job %s was taken over by another worker; stopping", job.pk)
        return "skipped"
    except (TransientJobError, OSError, DatabaseError) as exc:
        heartbeat.stop()
        release_all("Waiting to retry after a temporary error.")
        raise TransientJobError(type(exc).__name__) from exc
    except Exception as exc:
        heartbeat.stop()
        fail_all(f"The transcription failed unexpectedly ({type(exc).__name__}); an operator has the log.")
        logger.exception("voice-note jobs %s failed unexpectedly", ids)
        return "failed"
    heartbeat.stop()
    outcome = "failed"
    for item, result in zip(group, results, strict=True):
        if isinstance(result, media.MediaError):
            _fail(item.pk, worker, result.reason)
            state = "failed"
        else:
            state = _store(item.pk, worker, result, result.duration)
        if item.pk == job.pk:
            outcome = state
    logger.info("transcribed %d voice notes together (job %s)", len(group), job.pk)
    with transaction.atomic():
        _send_next_note(job.recording.interview_id)
    return outcome


def _store(job_id: int, worker: str, result: transcription.Transcription, decoded_duration: float | None) -> str:
    with transaction.atomic():
        # Exactly once: only the worker that still owns the running job may store its transcript.
        job = (
            TranscriptionJob.objects.select_for_update()
            .select_related("recording__interview")
            .filter(pk=job_id, state=TranscriptionJob.State.RUNNING, worker=worker)
            .first()
        )
        if job is None:
            logger.warning("transcription job %s lost before storing; discarded this attempt's result", job_id)
            return "skipped"
        recording = job.recording
        interview: Interview = recording.interview
        provenance = result.provenance
        options = job.options or {}
        if recording.duration_seconds is None and decoded_duration:
            recording.duration_seconds = decoded_duration
            type(recording).objects.filter(pk=recording.pk).update(duration_seconds=decoded_duration)
        note = {
            "engine": f"{provenance.engine} {provenance.engine_version}",
            "model": provenance.model_name,
            "model_sha256": provenance.model_sha256,
            "language": result.language,
        }
        if options.get("in_place") or options.get("part"):
            # A chat's voice note at its message time (its job is made with that offset), or a later part
            # after the parts before it: the rows of the current transcript stay as they are (corrections
            # and spans with them).
            offset = float(options["offset"] if options.get("in_place") else recording.timeline_offset or 0.0)
            note_insert(
                interview=interview,
                recording=recording,
                segments=_segment_inputs(result),
                offset=offset,
                provenance=note,
                part=bool(options.get("part")),
            )
            _languages_record(interview, result)
            suggestions_generate(interview=interview)
            empty = "No speech was found in the voice note." if options.get("in_place") else "No speech was found."
            return _finish(job, result, empty_reason=empty)
        version_options = {
            **provenance.options,
            "language_probability": result.language_probability,
            "input_sha256": recording.sha256,
            "channel_languages": {str(k): v for k, v in result.channel_languages.items()},
        }
        replaces = options.get("replaces")
        replaced = Recording.objects.filter(pk=replaces, interview=interview).first() if replaces is not None else None
        current = interview.transcripts.filter(is_current=True).first()
        others = current is not None and current.segments.exclude(recording=recording).exclude(recording=None).exists()
        if replaced is not None or options.get("retranscribe") or others:
            # A new version of this one recording's part: every other part's rows are kept.
            version_replacing(
                interview=interview,
                old=replaced or recording,
                new=recording,
                segments=_segment_inputs(result),
                language=result.language,
                provenance=note,
                options=version_options,
            )
        else:
            transcript_store(
                interview=interview,
                segments=_segment_inputs(result),
                source="whisper",
                recording=recording,
                language=result.language,
                engine=note["engine"],
                model_name=provenance.model_name,
                model_sha256=provenance.model_sha256,
                options=version_options,
            )
        _languages_record(interview, result)
        # Suggestions (names, numbers, places) wait for an editor's decision; nothing is applied.
        suggestions_generate(interview=interview)
        return _finish(job, result, empty_reason="No speech was found in the recording.")


def _languages_record(interview: Interview, result: transcription.Transcription) -> None:
    """List every language heard on the interview, after the ones already listed (an editor's
    included): a bilingual interview is not tagged with the language of its longer half only."""
    listed = list(interview.languages or [])
    heard = result.languages or ([result.language] if result.language and result.segments else [])
    merged = listed + [language for language in heard if language not in listed]
    if merged != listed:
        interview_update(interview=interview, languages=merged)


def _finish(job: TranscriptionJob, result: transcription.Transcription, *, empty_reason: str) -> str:
    job.state = TranscriptionJob.State.DONE
    job.progress = 1.0
    job.reason = "" if result.segments else empty_reason
    job.finished_at = timezone.now()
    job.heartbeat_at = job.finished_at
    job.save(update_fields=["state", "progress", "reason", "finished_at", "heartbeat_at"])
    logger.info("transcription job %s done: %d segments", job.pk, len(result.segments))
    return "done"


NOTE_WITHOUT_SPEECH = "[voice note without speech]"
_PARKED = 1_000_000  # indexes are moved above this while a transcript is renumbered


def _placeholder_texts() -> tuple[str, ...]:
    return (VOICE_PENDING, VOICE_FAILED, NOTE_WITHOUT_SPEECH)


@transaction.atomic
def note_insert(
    *,
    interview: Interview,
    recording: Recording,
    segments: list[SegmentInput],
    offset: float,
    provenance: dict[str, Any],
    actor: Any = None,
    part: bool = False,
) -> Transcript:
    """Put a voice note's transcribed segments (or a later part's: `part`) into the current transcript
    at `offset` (seconds), in place: no new transcript version. Every other Segment row is kept as it
    is, so editors' corrections and span redactions (which point at Segment rows) still apply; only
    indexes move. The note's placeholder segment (left by the importer) is replaced and lends its
    speaker to the note's segments, unless an editor already typed the note in: then the editor's text
    is kept, and refers to the whole note (a redaction in it silences all of the note)."""
    Interview.objects.select_for_update().filter(pk=interview.pk).first()
    type(recording).objects.filter(pk=recording.pk).update(timeline_offset=offset, is_voice_note=not part)
    recording.timeline_offset, recording.is_voice_note = offset, not part
    transcript = interview.transcripts.filter(is_current=True).first()
    shifted = [_shift(item, offset, recording) for item in segments]
    if transcript is None:
        return transcript_store(
            interview=interview,
            segments=shifted,
            source=Transcript.Source.WHISPER,
            recording=recording,
            language=provenance.get("language", ""),
            engine=provenance.get("engine", ""),
            model_name=provenance.get("model", ""),
            model_sha256=provenance.get("model_sha256", ""),
            options={
                ("parts" if part else "in_place_notes"): [_note_record(recording, offset, provenance, len(shifted))]
            },
            actor=actor,
        )
    rows = list(transcript.segments.order_by("index"))
    placeholder = None
    typed = None
    if not part:
        placeholder = next(
            (r for r in rows if abs(r.start - offset) < 0.001 and r.raw_text in _placeholder_texts() and not r.edited),
            None,
        )
        typed = next((r for r in rows if abs(r.start - offset) < 0.001 and r.edited), None) if not placeholder else None
    record = _note_record(recording, offset, provenance, 0 if typed else len(shifted))
    if typed is not None:
        end = max(typed.end, offset + (recording.duration_seconds or 0.0))
        Segment.objects.filter(pk=typed.pk).update(recording=recording, media_offset=offset, end=end)
    else:
        _splice(transcript, rows, placeholder, shifted, offset)
    options = dict(transcript.options or {})
    key = "parts" if part else "in_place_notes"
    options[key] = [*options.get(key, []), record]
    Transcript.objects.filter(pk=transcript.pk).update(options=options)
    audit_log(
        actor=actor,
        action="transcript_note_insert",
        target_type="interview",
        target_id=str(interview.public_id),
        detail={"version": transcript.version, "segments": record["segments"]},
    )
    interview_touch(interview)
    return transcript


def _shift(item: SegmentInput, offset: float, recording: Recording | None = None) -> SegmentInput:
    words = [
        {
            **w,
            "s": None if w.get("s") is None else round(w["s"] + offset, 3),
            "e": None if w.get("e") is None else round(w["e"] + offset, 3),
        }
        for w in item.words
    ]
    return SegmentInput(
        start=round(item.start + offset, 3),
        end=round(max(item.end, item.start) + offset, 3),
        text=item.text,
        language=item.language,
        speaker=item.speaker,
        role=item.role,
        narrator=item.narrator,
        channel=item.channel,
        words=words,
        recording=recording or item.recording,
        media_offset=offset if recording is not None else item.media_offset,
        sent_at=item.sent_at,
    )


def _note_record(recording: Recording, offset: float, provenance: dict[str, Any], count: int) -> dict[str, Any]:
    return {
        "recording": str(recording.public_id),
        "input_sha256": recording.sha256,
        "offset": offset,
        "segments": count,
        **{k: provenance.get(k, "") for k in ("engine", "model", "model_sha256", "language")},
    }


def _splice(
    transcript: Transcript, rows: list[Segment], placeholder: Segment | None, notes: list[SegmentInput], offset: float
) -> None:
    if not notes:
        if placeholder is not None:
            # Keep the row (and whatever points at it); say that the note held no speech.
            Segment.objects.filter(pk=placeholder.pk).update(raw_text=NOTE_WITHOUT_SPEECH, raw_words=[])
        return
    if placeholder is not None:
        position = rows.index(placeholder)
        speaker, role = placeholder.raw_speaker, placeholder.speaker_role
        narrator_id, language = placeholder.speaker_narrator_id, placeholder.language
        sent_at = placeholder.sent_at  # the voice note's message: its segments were sent when it was
        rows.remove(placeholder)
        placeholder.delete()
    else:
        position = next((i for i, r in enumerate(rows) if r.start > offset), len(rows))
        speaker, role, narrator_id, language = "", Segment.SpeakerRole.OTHER, None, ""
        sent_at = None
    # Park every index above the range in use, then write the final order in one pass, so the unique
    # (transcript, index) constraint holds after every statement on every backend.
    Segment.objects.filter(transcript=transcript).update(index=F("index") + _PARKED)
    new_rows = [
        Segment(
            transcript=transcript,
            index=2 * _PARKED + i,
            start=item.start,
            end=item.end,
            raw_text=item.text,
            language=item.language or language or transcript.language,
            raw_speaker=item.speaker or speaker,
            speaker_role=role if not item.speaker else item.role,
            speaker_narrator_id=narrator_id,
            channel=item.channel,
            raw_words=item.words,
            recording=item.recording,
            media_offset=item.media_offset or 0.0,
            sent_at=sent_in_utc(item.sent_at) or sent_at,
        )
        for i, item in enumerate(sorted(notes, key=lambda n: (n.start, n.end)))
    ]
    Segment.objects.bulk_create(new_rows)
    created = list(Segment.objects.filter(transcript=transcript, index__gte=2 * _PARKED).order_by("index"))
    ordered = rows[:position] + created + rows[position:]
    for index, row in enumerate(ordered):
        row.index = index
    Segment.objects.bulk_update(ordered, ["index"], batch_size=500)


@transaction.atomic
def version_replacing(
    *,
    interview: Interview,
    old: Recording,
    new: Recording,
    segments: list[SegmentInput],
    language: str,
    provenance: dict[str, Any],
    options: dict[str, Any],
    actor: Any = None,
) -> Transcript:
    """A new transcript version in which the part (or voice note) recorded by `old` is transcribed from
    `new` (the same recording when it is re-transcribed, a better copy when it replaces it). Every other
    row is copied unchanged; a replacement of another length moves the later parts along the timeline.
    Corrections and span redactions follow (transcript_store)."""
    Interview.objects.select_for_update().filter(pk=interview.pk).first()
    current = interview.transcripts.filter(is_current=True).first()
    rows = list(current.segments.order_by("index").select_related("recording", "speaker_narrator")) if current else []
    mine = [r for r in rows if r.recording_id == old.pk]
    base = mine[0].media_offset if mine else old.timeline_offset
    delta = 0.0
    if new.pk != old.pk and not old.is_voice_note:
        delta = round((new.duration_seconds or 0.0) - (old.duration_seconds or 0.0), 3)
    if new.pk != old.pk:
        type(new).objects.filter(pk=new.pk).update(timeline_offset=base, is_voice_note=old.is_voice_note)
        type(old).objects.filter(pk=old.pk).update(replaced_by=new)
        new.timeline_offset, new.is_voice_note = base, old.is_voice_note
    if delta:
        later = interview.recordings.filter(is_voice_note=False, timeline_offset__gt=base + 0.0005).exclude(pk=new.pk)
        later.update(timeline_offset=F("timeline_offset") + delta)
    inputs: list[SegmentInput] = []
    for row in rows:
        if row.recording_id == old.pk:
            continue
        shift = delta if (delta and row.recording_id and row.media_offset > base + 0.0005) else 0.0
        inputs.append(
            _shift(
                SegmentInput(
                    start=row.start,
                    end=row.end,
                    text=row.raw_text,
                    language=row.language,
                    speaker=row.raw_speaker,
                    role=row.speaker_role,
                    narrator=row.speaker_narrator,
                    channel=row.channel,
                    words=row.raw_words,
                    recording=row.recording,
                    media_offset=row.media_offset + shift,
                    origin=row,
                    sent_at=row.sent_at,
                ),
                shift,
            )
        )
    # A voice note transcribed again was still sent when its message was.
    sent_at = mine[0].sent_at if mine else None
    for item in segments:
        shifted = _shift(item, base, new)
        shifted.sent_at = shifted.sent_at or sent_at
        inputs.append(shifted)
    return transcript_store(
        interview=interview,
        segments=inputs,
        source=Transcript.Source.WHISPER,
        language=language or (current.language if current else ""),
        engine=provenance.get("engine", ""),
        model_name=provenance.get("model", ""),
        model_sha256=provenance.get("model_sha256", ""),
        options={**options, "replaced": {"from": str(old.public_id), "to": str(new.public_id)}},
        actor=actor,
        recording_map={old.pk: new.pk},
    )
