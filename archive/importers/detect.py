"""Choosing the importer for an uploaded file from its name and first bytes, and running it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

from .base import ImportRefused, ParsedImport, decode_text, sniff_binary
from .mail import parse_eml, parse_mbox
from .messenger import looks_like_messenger_html, parse_messenger
from .safetar import SafeTar, is_tar
from .safezip import SafeZip, ZipBudget, ZipLimits, is_zip
from .skype import parse_skype
from .telegram import parse_telegram
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
KINDS = (
    "whatsapp",
    "messenger",
    "skype",
    "telegram",
    "eml",
    "mbox",
    "vtt",
    "srt",
    "txt",
    "docx",
    "ohms",
    "bulk",
    "audio",
)
# Exports that may hold several conversations: one interview each (archive/importers/channels.py).
CHANNEL_KINDS = ("messenger", "skype", "telegram")

PARSERS: dict[str, Callable[..., ParsedImport]] = {
    "whatsapp": parse_whatsapp,
    "messenger": parse_messenger,
    "skype": parse_skype,
    "telegram": parse_telegram,
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
    channel = _channel_kind(lowered)
    # A metadata .csv at the root makes a bulk zip, whatever else it carries.
    if channel and not any(n.endswith(".csv") and "/" not in n for n in lowered):
        return channel
    if any(n.endswith(".csv") for n in lowered):
        return "bulk"
    if any(n.endswith(".txt") for n in lowered):
        return "whatsapp"
    raise ImportRefused(
        "The zip archive is neither a WhatsApp export (no chat .txt) nor a bulk import (no metadata .csv).",
        code="format",
    )


_MESSENGER_FILE = re.compile(r"(?:^|/)message_\d+\.(?:json|html)$")


def _channel_kind(lowered: list[str]) -> str | None:
    """Messenger, Skype or Telegram, from the member names of an export archive."""
    basenames = {PurePosixPath(n).name for n in lowered}
    if any(_MESSENGER_FILE.search(n) for n in lowered):
        return "messenger"
    if "result.json" in basenames:
        return "telegram"
    if "messages.json" in basenames:
        return "skype"
    if "messages.html" in basenames and any(n.endswith(("js/script.js", "css/style.css")) for n in lowered):
        return "telegram"  # the HTML form, refused by the parser with the way to get the JSON one
    return None


def _json_kind(name: str, data: bytes) -> str:
    lowered = (name or "").lower()
    channel = _channel_kind([PurePosixPath(lowered).name])
    if channel:
        return channel
    head = data[:65536].decode("utf-8", "ignore")
    if '"participants"' in head and ('"messages"' in head or '"sender_name"' in head or '"senderName"' in head):
        return "messenger"
    if '"userId"' in head and '"conversations"' in head:
        return "skype"
    if '"chats"' in head or ('"messages"' in head and '"date"' in head and '"from_id"' in head):
        return "telegram"
    raise ImportRefused(
        "This JSON file is not a Messenger, Instagram, Skype or Telegram export this archive can read.",
        code="unsupported",
    )


def detect_kind(name: str, data: bytes) -> str:  # noqa: C901 (every supported format's sniffing order, kept in one place)
    """One of KINDS, from the suffix first and the content where the suffix is ambiguous."""
    suffix = PurePosixPath(name or "").suffix.lower()
    if not data:
        raise ImportRefused("The file is empty.", code="empty")
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix == ".zip" or (suffix not in (".docx",) and is_zip(data)):
        return _zip_kind(data)
    if is_tar(data):
        if _channel_kind([member.name.lower() for member in SafeTar(data).members]) == "skype":
            return "skype"
        raise ImportRefused("The tar archive is not a Skype export (no messages.json).", code="format")
    if suffix == ".json":
        return _json_kind(name, data)
    if suffix in (".html", ".htm"):
        if looks_like_messenger_html(data[:1_000_000].decode("utf-8", "ignore")):
            return "messenger"
        raise ImportRefused(
            "This HTML file is not a Messenger or Instagram conversation; Telegram exports must be JSON.",
            code="unsupported",
        )
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
        "whatsapp": {"interviewer", "narrator", "strict", "date_order", "encoding", "limits", "budget"},
        "eml": {"interviewer", "narrator", "strict"},
        "mbox": {"interviewer", "narrator", "strict"},
    }.get(kind, {"interviewer", "narrator", "encoding"})
    if kind in CHANNEL_KINDS:
        allowed = {"interviewer", "narrator", "strict", "limits", "budget", "filename"}
        options = {**options, "filename": name}
    return PARSERS[kind](data, **{k: v for k, v in options.items() if k in allowed and v is not None})
