"""Shared pieces of the importers: the result dataclasses, the refusal exception and careful text
decoding. Everything here is pure: bytes in, values out, no ORM and no file system writes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

# Limits for one text document (a chat, an email body, a transcript).
MAX_TEXT_BYTES = 64 * 1024 * 1024
MAX_LINE_CHARS = 100_000
MAX_SEGMENTS = 200_000

# Invisible direction marks that chat apps sprinkle into exports; they carry no meaning for the
# archive and would otherwise hide inside speaker labels and confuse matching.
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"))

_MAGIC = (
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"OggS", "an Ogg audio file"),
    (b"ID3", "an MP3 audio file"),
    (b"RIFF", "a RIFF (WAV/AVI) media file"),
    (b"fLaC", "a FLAC audio file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"MZ", "a Windows program"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)


class ImportRefused(ValueError):
    """The input cannot be imported. `reason` is a sentence for the person who uploaded it; it never
    contains the file's name or content. `code` is a stable machine-readable word."""

    def __init__(self, reason: str, *, code: str = "malformed"):
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class ParsedSegment:
    """One message, email, cue or paragraph. Times are seconds (for chats and email: since the first
    message). `speaker` is the label exactly as the source gave it (it may be a real name or a phone
    number; it goes only to Segment.raw_speaker). `role` is a hint: narrator, interviewer or other."""

    start: float
    end: float
    speaker: str
    role: str
    text: str
    kind: str = "text"  # text | voice | media_missing
    attachment: str = ""  # for kind=voice: the attachment name to transcribe in place
    sent_at: datetime | None = None


@dataclass(frozen=True)
class ParsedAttachment:
    name: str
    data: bytes
    content_type: str
    kind: str  # audio | image | video | document | contact | other

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class ParsedImport:
    """What one importer found. `quarantine` holds identifying metadata (phone numbers, contact names,
    addresses, IPs, devices, file names): it is sealed for custodians and never rendered."""

    source: str  # whatsapp | email | vtt | srt | txt | docx | ohms
    segments: list[ParsedSegment]
    attachments: list[ParsedAttachment] = field(default_factory=list)
    quarantine: dict[str, list[str]] = field(default_factory=dict)
    started_at: datetime | None = None
    title_hint: str = ""
    language: str = ""
    warnings: list[str] = field(default_factory=list)
    timed: bool = True

    @property
    def speakers(self) -> list[str]:
        seen: dict[str, None] = {}
        for segment in self.segments:
            if segment.speaker:
                seen.setdefault(segment.speaker, None)
        return list(seen)

    def attachment(self, name: str) -> ParsedAttachment | None:
        for item in self.attachments:
            if item.name == name:
                return item
        return None


class QuarantineBuilder:
    """Collects identifying values into sorted, de-duplicated lists."""

    def __init__(self) -> None:
        self._values: dict[str, dict[str, None]] = {}

    def add(self, key: str, value: str | None) -> None:
        value = (value or "").strip()
        if value:
            self._values.setdefault(key, {})[value] = None

    def extend(self, key: str, values) -> None:
        for value in values:
            self.add(key, value)

    def build(self) -> dict[str, list[str]]:
        return {key: sorted(values) for key, values in sorted(self._values.items()) if values}


def strip_marks(text: str) -> str:
    return text.translate(_BIDI_MARKS)


def sniff_binary(data: bytes) -> str | None:
    """A description of what binary file `data` looks like, or None if it may be text."""
    for magic, description in _MAGIC:
        if data.startswith(magic):
            return description
    return None


def decode_text(
    data: bytes, *, what: str = "file", encoding: str | None = None, max_bytes: int = MAX_TEXT_BYTES
) -> str:
    """Decode an uploaded text document strictly: UTF-8 (with or without BOM) or UTF-16/32 with a BOM.
    Refuses empty input, binary files, other encodings and enormous lines with a clear reason.
    Newlines come back as \\n."""
    if not data or not data.strip(b" \t\r\n\x00"):
        raise ImportRefused(f"The {what} is empty.", code="empty")
    if len(data) > max_bytes:
        raise ImportRefused(
            f"The {what} is larger than {max_bytes // (1024 * 1024)} MiB, the limit for a text document.",
            code="too_large",
        )
    if encoding is None:
        description = sniff_binary(data)
        if description:
            raise ImportRefused(f"The {what} is {description}, not text.", code="binary")
        if data.startswith(b"\xef\xbb\xbf"):
            encoding, data = "utf-8", data[3:]
        elif data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
            encoding = "utf-32"
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            encoding = "utf-16"
        else:
            encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except LookupError as exc:
        raise ImportRefused("The requested text encoding is unknown.", code="encoding") from exc
    except UnicodeDecodeError as exc:
        if b"\x00" in data[:4096]:
            raise ImportRefused(
                f"The {what} looks like binary data or UTF-16 text without a byte-order mark; "
                "save it as UTF-8 and try again.",
                code="binary",
            ) from exc
        raise ImportRefused(
            f"The {what} is not valid UTF-8 text (byte 0x{data[exc.start]:02X} at offset {exc.start}); "
            "it may be in a legacy encoding such as Windows-1256 or Latin-1. Save it as UTF-8 and try again.",
            code="encoding",
        ) from exc
    if not text.strip("\ufeff \t\r\n\x00"):
        raise ImportRefused(f"The {what} is empty.", code="empty")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    control = sum(1 for char in text[:65536] if char < " " and char not in "\n\t\f\v")
    if "\x00" in text or control > max(8, len(text[:65536]) // 100):
        raise ImportRefused(f"The {what} contains binary data (control characters), not text.", code="binary")
    longest = max((len(line) for line in text.split("\n")), default=0)
    if longest > MAX_LINE_CHARS:
        line_number = next(i for i, line in enumerate(text.split("\n"), 1) if len(line) > MAX_LINE_CHARS)
        raise ImportRefused(
            f"Line {line_number} of the {what} is longer than {MAX_LINE_CHARS} characters; "
            "this is not a chat, email or transcript.",
            code="line_too_long",
        )
    return text


_WORDS = re.compile(r"\w+")


def estimated_duration(text: str) -> float:
    """Speaking time for text without timings: about 2.5 words a second, at least one second."""
    return max(1.0, round(len(_WORDS.findall(text)) / 2.5, 3))


def check_segment_count(count: int, what: str) -> None:
    if count > MAX_SEGMENTS:
        raise ImportRefused(
            f"The {what} has more than {MAX_SEGMENTS} entries, the limit for one interview.", code="too_large"
        )
