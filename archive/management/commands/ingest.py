"""`manage.py ingest PATH --collection SLUG --title T --narrator NAME --anonymity LEVEL --access TIER
[--draft] [--language xx] [--wait]`: audio/video → recording + transcription job; other files go to the
import service (``archive.services.imports.ingest_dispatch``). The interview's public id is
printed on the LAST line of output. ``--wait`` blocks until the job ends; non-zero exit if it failed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from archive import media, services
from archive.importers import CHANNEL_KINDS, ImportRefused, ZipLimits, detect_kind
from archive.management.jobs import wait_for_job
from archive.models import Interview, Narrator, Tier, TranscriptionJob
from archive.services.imports import import_file, ingest_dispatch
from archive.services.people import ConsentScopes
from archive.services.recordings import (
    AUDIO_VIDEO_EXTENSIONS,
    recorded_interview_create,
    recording_store,
    transcription_job_create,
)


def consent_for_access(access: str, *, voice: bool) -> ConsentScopes:
    """The consent the operator asserts by choosing an access level on the command line (recorded as
    a consent version like any other, and amendable by an editor in the consent ledger)."""
    return {
        "research_access": access in (Tier.PUBLIC, Tier.RESEARCHER),
        "publication": access == Tier.PUBLIC,
        "public_web": access == Tier.PUBLIC,
        "voice_release": voice,
    }


def folder_as_zip(folder: Path) -> bytes:
    """The regular files under `folder` as an in-memory zip, so a folder is checked exactly as an
    uploaded export is (archive/importers/safezip.py). Links and special files are refused."""
    limits = ZipLimits()
    buffer = io.BytesIO()
    count = total = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_symlink():
                raise CommandError("Import refused: the folder contains a symbolic link, which is not allowed.")
            if item.is_dir():
                continue
            if not item.is_file():
                raise CommandError("Import refused: the folder contains a device, pipe or other special file.")
            count += 1
            total += item.stat().st_size
            if count > limits.max_members or total > limits.max_total_bytes:
                raise CommandError("Import refused: the folder holds more files or data than one export may.")
            archive.write(item, f"{folder.name}/{item.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def is_audio_or_video(path: Path) -> bool:
    if path.suffix.lower() in AUDIO_VIDEO_EXTENSIONS:
        return True
    try:
        media.probe(path)
    except media.MediaError:
        return False
    return True


def _status(opts: dict[str, Any]) -> str:
    """`--access TIER` publishes the interview at that tier, as it always has; `--draft` keeps it a
    draft, seen only by the collection's staff until an editor publishes it."""
    return Interview.Status.DRAFT if opts.get("draft") else Interview.Status.PUBLISHED


class Command(BaseCommand):
    help = "Ingest a recording (or, through the importers, a transcript or export) into a collection."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--collection", required=True)
        parser.add_argument("--title", required=True)
        parser.add_argument("--narrator", required=True, help="The narrator's real name (stored encrypted).")
        parser.add_argument("--anonymity", default=Narrator.Anonymity.ANONYMOUS, choices=Narrator.Anonymity.values)
        parser.add_argument(
            "--access", default=Tier.STAFF, choices=Tier.values, help="Publish the interview at this tier."
        )
        parser.add_argument(
            "--draft",
            action="store_true",
            help="Keep it a draft (seen by the collection's staff only) until an editor publishes it.",
        )
        parser.add_argument("--language", default=None, help="Spoken language (ISO 639-1); detected if omitted.")
        parser.add_argument("--multilingual", action="store_true", help="Mixed-language speech.")
        parser.add_argument(
            "--per-channel", choices=["auto", "yes", "no"], default="auto", help="Transcribe stereo channels apart."
        )
        parser.add_argument(
            "--withhold-voice",
            action="store_true",
            help="Record that the narrator did not release their voice: no audio below staff.",
        )
        parser.add_argument("--wait", action="store_true", help="Block until transcription ends.")
        parser.add_argument("--timeout", type=float, default=6 * 3600, help="Seconds --wait waits at most.")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["path"])
        if path.is_dir() and not path.is_symlink():
            # A conversation folder of a Messenger, Skype or Telegram export, read as if zipped.
            for created in self._ingest_channel(path.name + ".zip", folder_as_zip(path), opts):
                self.stdout.write(str(created.public_id))
            return
        if not path.is_file():
            raise CommandError("The path is not a readable file.")
        channel = self._channel_kind(path)
        if channel:
            # One interview per conversation the narrator took part in: one id per line.
            for created in self._ingest_channel(path.name, path.read_bytes(), opts, kind=channel):
                self.stdout.write(str(created.public_id))
            return
        if is_audio_or_video(path):
            interview, job = self._ingest_media(path, opts)
        elif path.suffix.lower() == ".zip" and self._is_bulk(path):
            # A bulk zip (metadata CSV + files) makes one interview per row: one id per line.
            for created in self._ingest_bulk(path, opts):
                self.stdout.write(str(created.public_id))
            return
        else:
            interview, job = self._ingest_other(path, opts), None
        if job is not None:
            self.stdout.write(f"transcription job {job.public_id} queued")
            if opts["wait"]:
                job = self._wait(job, opts["timeout"])
                if job.state != TranscriptionJob.State.DONE:
                    self.stdout.write(f"transcription failed: {job.reason}")
                    self.stdout.write(str(interview.public_id))
                    raise SystemExit(1)
                segments = interview.transcripts.filter(is_current=True).first()
                count = segments.segments.count() if segments else 0
                self.stdout.write(
                    f"transcription done: {count} segments{' (' + job.reason + ')' if job.reason else ''}"
                )
        self.stdout.write(str(interview.public_id))

    def _create_interview(self, opts: dict[str, Any]) -> Interview:
        return recorded_interview_create(
            collection=services.collection_get_or_create(slug=opts["collection"]),
            title=opts["title"],
            narrator_name=opts["narrator"],
            anonymity=opts["anonymity"],
            access_level=opts["access"],
            language=opts["language"],
            consent_scopes=consent_for_access(opts["access"], voice=not opts["withhold_voice"]),
            status=_status(opts),
        )

    def _ingest_media(self, path: Path, opts: dict[str, Any]) -> tuple[Interview, TranscriptionJob]:
        per_channel = {"auto": None, "yes": True, "no": False}[opts["per_channel"]]
        with transaction.atomic():
            interview = self._create_interview(opts)
            with open(path, "rb") as handle:
                recording = recording_store(interview=interview, fileobj=handle, original_filename=path.name)
            job = transcription_job_create(
                recording=recording,
                options={
                    "language": opts["language"],
                    "multilingual": opts["multilingual"],
                    "per_channel": per_channel,
                },
            )
        return interview, job

    def _is_bulk(self, path: Path) -> bool:
        try:
            return detect_kind(path.name, path.read_bytes()) == "bulk"
        except ImportRefused:
            return False

    def _ingest_bulk(self, path: Path, opts: dict[str, Any]) -> list[Interview]:
        try:
            outcomes = import_file(
                data=path.read_bytes(),
                filename=path.name,
                collection_slug=opts["collection"],
                title=opts["title"],
                narrator_name=opts["narrator"],
                anonymity=opts["anonymity"],
                access=opts["access"],
                language=opts["language"] or "",
                voice_notes="now" if opts["wait"] else "queue",
                kind="bulk",
                status=_status(opts),
            )
        except ImportRefused as exc:
            raise CommandError(f"Import refused: {exc.reason}") from exc
        return [outcome.interview for outcome in outcomes]

    def _channel_kind(self, path: Path) -> str | None:
        if path.suffix.lower() not in (".zip", ".tar", ".json", ".html", ".htm"):
            return None
        try:
            kind = detect_kind(path.name, path.read_bytes())
        except ImportRefused:
            return None
        return kind if kind in CHANNEL_KINDS else None

    def _ingest_channel(self, name: str, data: bytes, opts: dict[str, Any], kind: str | None = None) -> list[Interview]:
        """--narrator must be one of the export's senders (by name or account id); otherwise the
        command refuses and lists them."""
        try:
            outcomes = import_file(
                data=data,
                filename=name,
                kind=kind,
                collection_slug=opts["collection"],
                title=opts["title"],
                narrator_name=opts["narrator"],
                anonymity=opts["anonymity"],
                access=opts["access"],
                language=opts["language"] or "",
                voice_notes="now" if opts["wait"] else "queue",
                strict=True,
                consent_scopes=consent_for_access(opts["access"], voice=not opts["withhold_voice"]),
                status=_status(opts),
            )
        except ImportRefused as exc:
            raise CommandError(f"Import refused: {exc.reason}") from exc
        for outcome in outcomes:
            for warning in outcome.warnings:
                self.stderr.write(warning)
        return [outcome.interview for outcome in outcomes]

    def _ingest_other(self, path: Path, opts: dict[str, Any]) -> Interview:
        with transaction.atomic():
            interview = self._create_interview(opts)
            ingest_dispatch(path, interview=interview, options=opts)
        return interview

    def _wait(self, job: TranscriptionJob, timeout: float) -> TranscriptionJob:
        return wait_for_job(job, timeout, self.stderr)
