"""Choosing the importer for an uploaded file from its name and first bytes, and running it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from .base import ImportRefused, ParsedImport, decode_text, sniff_binary
from .mail import parse_eml, parse_mbox
from .safezip import SafeZip, ZipBudget, ZipLimits, is_zip
from .transcripts import parse_docx, parse_ohms, parse_srt, parse_txt, parse_vtt
from .whatsapp import looks_like_chat, parse_whatsapp

AUDIO_SUFFIXES = {
    ".opus",
    ".ogg",
    ".oga",
    ".m4a",
    ".aac",
    ".mp3",
    ".wav",
    ".flac",
    ".amr",
    ".3gp",
    ".webm",
    ".mp4",
    ".mkv",
    ".mov",
    ".avi",
    ".wma",
}
KINDS = ("whatsapp", "eml", "mbox", "vtt", "srt", "txt", "docx", "ohms", "bulk", "audio")

PARSERS: dict[str, Callable[..., ParsedImport]] = {
    "whatsapp": parse_whatsapp,
    "eml": parse_eml,
    "mbox": parse_mbox,
    "vtt": parse_vtt,
    "srt": parse_srt,
    "txt": parse_txt,
    "docx": parse_docx,
    "ohms": parse_ohms,
}


def _zip_kind(data: bytes) -> str:
    archive = SafeZip(data, limits=ZipLimits(allow_nested=True), budget=ZipBudget(ZipLimits().max_total_bytes))
    names = [m.name for m in archive.members]
    lowered = [n.lower() for n in names]
    if "word/document.xml" in lowered:
        return "docx"
    if any(n.endswith(".csv") for n in lowered):
        return "bulk"
    if any(n.endswith(".txt") for n in lowered):
        return "whatsapp"
    raise ImportRefused(
        "The zip archive is neither a WhatsApp export (no chat .txt) nor a bulk import (no metadata .csv).",
        code="format",
    )


def detect_kind(name: str, data: bytes) -> str:
    """One of KINDS, from the suffix first and the content where the suffix is ambiguous."""
    suffix = PurePosixPath(name or "").suffix.lower()
    if not data:
        raise ImportRefused("The file is empty.", code="empty")
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix == ".zip" or (suffix not in (".docx",) and is_zip(data)):
        return _zip_kind(data)
    if suffix == ".docx":
        return "docx"
    if suffix == ".eml":
        return "eml"
    if suffix in (".mbox", ".mbx"):
        return "mbox"
    if suffix == ".vtt":
        return "vtt"
    if suffix == ".srt":
        return "srt"
    if suffix == ".xml":
        return "ohms"
    if suffix in (".txt", ".text", ""):
        head = data
        if len(data) > 1_000_000:
            # Only the beginning decides the kind; cut at a line end so no character is split.
            cut = data.rfind(b"\n", 0, 1_000_000)
            head = data[: cut + 1] if cut > 0 else data
        text = decode_text(head, what="text file")
        if looks_like_chat(text):
            return "whatsapp"
        if text.startswith("WEBVTT"):
            return "vtt"
        if text.startswith("From "):
            return "mbox"
        return "txt"
    binary = sniff_binary(data)
    if binary:
        raise ImportRefused(f"Files of this type ({binary}) cannot be imported.", code="unsupported")
    raise ImportRefused(
        "Unsupported file type: import WhatsApp exports (.zip/.txt), emails (.eml/.mbox), transcripts "
        "(.vtt/.srt/.txt/.docx/OHMS .xml), audio, or a bulk .zip with a metadata .csv.",
        code="unsupported",
    )


def parse_file(name: str, data: bytes, *, kind: str | None = None, **options) -> ParsedImport:
    """Parse one non-audio, non-bulk file. Options unknown to a parser are ignored."""
    kind = kind or detect_kind(name, data)
    if kind not in PARSERS:
        raise ImportRefused(f"“{kind}” files are not parsed as text.", code="unsupported")
    allowed = {
        "whatsapp": {"interviewer", "narrator", "date_order", "encoding", "limits", "budget"},
        "eml": {"interviewer", "narrator"},
        "mbox": {"interviewer", "narrator"},
    }.get(kind, {"interviewer", "narrator", "encoding"})
    return PARSERS[kind](data, **{k: v for k, v in options.items() if k in allowed and v is not None})
