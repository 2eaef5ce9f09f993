"""BagIt packages (RFC 8493) of one interview or a whole collection, at one tier.

The payload holds only what the tier's renderings hold: chosen formats, metadata JSON and, where the
tier may hear the voice, redacted audio. bag-info.txt records the audience, the policy and consent
versions relied on and the redaction categories applied — never the redacted content.

Payload files are written to disk one at a time and hashed from disk (constant memory); the bag
is written into a temporary directory beside the destination and moved into place (or zipped) only
after it validates, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import bagit

from ..audio_redaction import redact_part_audio
from ..gate import Rendering
from . import FORMATS
from .common import consent_basis, metadata

BAGIT_VERSION = "1.0"
SOURCE_ORGANIZATION = "Rawi oral-testimony archive"


class BagExportError(Exception):
    """The bag could not be written or did not validate; nothing was left at the destination."""


@dataclass(frozen=True)
class BagItem:
    rendering: Rendering
    # recording public id → its original file, for the audio format (one file per recording)
    audio_sources: Mapping[str, str | os.PathLike[str]] = field(default_factory=dict)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


class _BagBuilder:
    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.data.mkdir(parents=True)
        self.manifest: list[tuple[str, str]] = []
        self.octets = 0

    def add(self, relative: str, write: Callable[[BinaryIO], None]) -> None:
        path = self.data / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write(handle)
        digest, size = _hash_file(path)
        self.manifest.append((digest, f"data/{relative}"))
        self.octets += size

    def add_file(self, relative: str, produce: Callable[[Path], None]) -> None:
        """For producers that write a file by path (redacted audio)."""
        path = self.data / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        produce(path)
        digest, size = _hash_file(path)
        self.manifest.append((digest, f"data/{relative}"))
        self.octets += size

    def finish(self, info: list[tuple[str, str]]) -> None:
        def write_tag(name: str, lines: Iterable[str]) -> None:
            with (self.root / name).open("w", encoding="utf-8", newline="\n") as handle:
                for line in lines:
                    handle.write(line + "\n")

        write_tag("bagit.txt", [f"BagIt-Version: {BAGIT_VERSION}", "Tag-File-Character-Encoding: UTF-8"])
        write_tag(
            "manifest-sha256.txt", [f"{digest}  {path}" for digest, path in sorted(self.manifest, key=lambda m: m[1])]
        )
        info = [
            *info,
            ("Bagging-Date", datetime.datetime.now(tz=datetime.UTC).date().isoformat()),
            ("Payload-Oxum", f"{self.octets}.{len(self.manifest)}"),
        ]
        write_tag("bag-info.txt", [f"{key}: {' '.join(str(value).split())}" for key, value in info])
        tags = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
        write_tag("tagmanifest-sha256.txt", [f"{_hash_file(self.root / name)[0]}  {name}" for name in tags])


def _bag_info(items: Sequence[BagItem], tier: str, formats: Sequence[str], description: str) -> list[tuple[str, str]]:
    info: list[tuple[str, str]] = [
        ("Source-Organization", SOURCE_ORGANIZATION),
        ("External-Description", description),
        ("Bag-Group-Identifier", f"audience:{tier}"),
        ("Rawi-Audience", tier),
        ("Rawi-Formats", " ".join(formats)),
    ]
    categories: set[str] = set()
    for item in items:
        rendering = item.rendering
        info.append(("External-Identifier", rendering.interview_id))
        info.append(("Rawi-Policy-Version", f"{rendering.interview_id} {rendering.policy_version}"))
        info.append(("Rawi-Consent-Version", f"{rendering.interview_id} {consent_basis(rendering) or 'none'}"))
        info.append(
            (
                "Rawi-Redaction-Categories",
                f"{rendering.interview_id} {','.join(rendering.redaction_categories) or 'none'}",
            )
        )
        categories.update(rendering.redaction_categories)
    info.append(("Rawi-Redaction-Categories-Applied", ",".join(sorted(categories)) or "none"))
    return info


def write_bag(
    items: Iterable[BagItem],
    destination: str | os.PathLike[str],
    *,
    tier: str,
    formats: Sequence[str],
    name: str,
    description: str = "",
) -> Path:
    """Write a validated bag to `destination`: a directory, or a zip file when it ends in .zip.

    `formats` are exporter names (see archive.exports.FORMATS) except "bagit"; "audio" adds the redacted
    recordings (one file per recording) for items whose tier may hear them.
    """
    formats = [f for f in formats if f != "bagit"]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError("unknown export format")
    destination = Path(destination)
    if destination.exists():
        raise BagExportError("destination exists")
    destination.parent.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix=".bag-", dir=destination.parent))
    try:
        root = workspace / name
        builder = _BagBuilder(root)
        written: list[BagItem] = []
        for item in items:
            rendering = item.rendering
            if rendering.tier != tier:
                raise BagExportError("rendering for another tier")
            folder = rendering.interview_id
            builder.add(f"{folder}/metadata.json", lambda out, r=rendering: out.write(_metadata_bytes(r)))
            for fmt in formats:
                spec = FORMATS[fmt]
                if fmt == "audio":
                    # One file per recording of the tier's audio, each silenced on its own timeline.
                    if rendering.audio_allowed:
                        for number, part in enumerate(rendering.audio_parts, start=1):
                            source = item.audio_sources.get(part.recording_id)
                            if source is None:
                                raise BagExportError("a recording of this audio is not available")
                            builder.add_file(
                                f"{folder}/audio-{number:02d}.{spec.extension}",
                                lambda path, r=rendering, p=part.recording_id, s=source: redact_part_audio(
                                    r, p, s, path
                                ),
                            )
                    continue
                builder.add(f"{folder}/transcript.{spec.extension}", lambda out, r=rendering, s=spec: s.write(r, out))
            written.append(item)
        if not written:
            raise BagExportError("nothing to export")
        builder.finish(
            _bag_info(written, tier, formats, description or f"{len(written)} interview(s), {tier} audience")
        )
        try:
            bagit.Bag(str(root)).validate()
        except bagit.BagError as error:
            raise BagExportError("bag failed validation") from error
        if destination.suffix == ".zip":
            _zip_directory(root, workspace / "bag.zip", arcroot=name)
            os.replace(workspace / "bag.zip", destination)
        else:
            os.replace(root, destination)
        return destination
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _metadata_bytes(rendering: Rendering) -> bytes:
    return json.dumps(metadata(rendering), ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def _zip_directory(root: Path, target: Path, arcroot: str) -> None:
    """Zip the bag file by file (zipfile streams each member from disk)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for directory, _subdirs, files in sorted(os.walk(root)):
            for file_name in sorted(files):
                path = Path(directory) / file_name
                relative = path.relative_to(root).as_posix()
                archive.write(path, f"{arcroot}/{relative}")
