"""Exporters: every format is produced from one tier's `Rendering`, never from models.

`FORMATS[name].write(rendering, binary_file)` writes the document formats; "audio" writes a file by
path from the original recordings (`write_file`); "bagit" is assembled by `bag.write_bag` from the others.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from ..audio_redaction import redact_rendering_audio
from ..gate import Rendering
from . import documents, scholarly, text
from .common import base_name

# What the exporters write: moved on whenever a format's content changes (v2: chat and email messages
# carry their dates in every text format), so a file cached by older exporters is never served again.
EXPORTERS_VERSION = 2


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    content_type: str
    label: str
    write: Callable[[Rendering, BinaryIO], None] | None = None
    # "audio": (rendering, {recording public id: original file}, destination)
    write_file: Callable[[Rendering, Mapping[str, str | os.PathLike[str]], str | os.PathLike[str]], object] | None = (
        None
    )

    @property
    def is_document(self) -> bool:
        return self.write is not None


def _write_audio(
    rendering: Rendering, sources: Mapping[str, str | os.PathLike[str]], destination: str | os.PathLike[str]
):
    return redact_rendering_audio(rendering, sources, destination)


FORMATS: dict[str, Format] = {
    "txt": Format("txt", "txt", "text/plain; charset=utf-8", "Plain text with timestamps", text.write_txt),
    "vtt": Format("vtt", "vtt", "text/vtt; charset=utf-8", "WebVTT captions", text.write_vtt),
    "srt": Format("srt", "srt", "application/x-subrip; charset=utf-8", "SRT subtitles", text.write_srt),
    "docx": Format(
        "docx",
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word document",
        documents.write_docx,
    ),
    "pdf": Format("pdf", "pdf", "application/pdf", "PDF document", documents.write_pdf),
    "csv": Format("csv", "csv", "text/csv; charset=utf-8", "CSV (timecode, speaker, text)", text.write_csv),
    "json": Format("json", "json", "application/json", "JSON (segments and words)", text.write_json),
    "ohms": Format("ohms", "ohms.xml", "application/xml", "OHMS XML", scholarly.write_ohms),
    "tei": Format("tei", "tei.xml", "application/tei+xml", "TEI P5 transcription", scholarly.write_tei),
    "audio": Format("audio", "mp3", "audio/mpeg", "Redacted audio (MP3)", write_file=_write_audio),
    "bagit": Format("bagit", "zip", "application/zip", "BagIt package (zip)"),
}
DOCUMENT_FORMATS: tuple[str, ...] = tuple(name for name, spec in FORMATS.items() if spec.is_document)


def export_bytes(rendering: Rendering, fmt: str) -> bytes:
    """A document format in memory (small outputs only; audio and bags go to files)."""
    spec = FORMATS[fmt]
    if spec.write is None:
        raise ValueError("format is written to a file, not to memory")
    buffer = io.BytesIO()
    spec.write(rendering, buffer)
    return buffer.getvalue()


def file_name(rendering: Rendering, fmt: str) -> str:
    return f"{base_name(rendering)}.{FORMATS[fmt].extension}"


__all__ = ["DOCUMENT_FORMATS", "EXPORTERS_VERSION", "FORMATS", "Format", "export_bytes", "file_name"]
