"""WhatsApp chat exports: a .zip (`_chat.txt` or `WhatsApp Chat with ….txt` plus media) or a bare .txt.

Line formats handled (with or without seconds, 12- or 24-hour clocks, `/`, `.` or `-` in dates,
Arabic-Indic digits and the Arabic ص/م for AM/PM, U+200E/U+200F marks, U+202F before AM/PM):

    Android  12/31/20, 9:41 PM - Name: text           31/12/2020, 21:41 - Name: text
    iOS      [31/12/2020, 21:41:05] Name: text        [12/31/20, 9:41:05 PM] Name: text

Day-first or month-first order is decided from the whole file: the order under which every date is
valid and the fewest messages go back in time; ties go to month-first only for 12-hour clocks.
Lines without a header continue the previous message. System notices (encryption banner, "added",
"left", security code changes) are not testimony: they are dropped from the segments and kept, with
any names in them, in quarantine. Attachment references (`<attached: 0001-AUDIO-….opus>`,
`PTT-….opus (file attached)`, `<Media omitted>`, `audio omitted`) become voice segments to be
transcribed in place, missing-media placeholders, or stored attachments.
"""

from __future__ import annotations

import itertools
import mimetypes
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from .base import (
    ImportRefused,
    ParsedAttachment,
    ParsedImport,
    ParsedSegment,
    QuarantineBuilder,
    check_segment_count,
    decode_text,
    strip_marks,
)
from .channels import NarratorUnknown
from .safezip import SafeZip, ZipBudget, ZipLimits
from .sensitive import find_emails, find_locations, find_phones, looks_like_phone, normalise_phone

_ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_DATE = r"(?P<d1>\d{1,4})[./\-](?P<d2>\d{1,2})[./\-](?P<d3>\d{1,4})"
_TIME = (
    r"(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
    r"(?:[\s\u00a0\u202f]*(?P<ampm>[AaPp]\.?\s?[Mm]\.?|ص|م))?"
)
_IOS = re.compile(r"^\[" + _DATE + r",?[\s\u00a0\u202f]+" + _TIME + r"\][\s\u00a0]*(?P<rest>.*)$", re.DOTALL)
_ANDROID = re.compile(
    r"^" + _DATE + r",?[\s\u00a0\u202f]+" + _TIME + r"[\s\u00a0]+[-–][\s\u00a0]+(?P<rest>.*)$", re.DOTALL
)
_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"

_ATTACHED_IOS = re.compile(r"^<attached:\s*(?P<name>[^<>]+?)>\s*(?P<caption>.*)$", re.DOTALL)
_ATTACHED_ANDROID = re.compile(
    r"^(?P<name>[^\n<>]+?\.[A-Za-z0-9]{2,5})\s+\(file attached\)\s*(?P<caption>.*)$", re.DOTALL
)
_OMITTED = re.compile(
    r"^(?:<Media omitted>|<الوسائط محذوفة>|<تم استبعاد الوسائط>"
    r"|(?:image|audio|video|sticker|GIF|document|Contact card) omitted)$",
    re.IGNORECASE,
)
_DELETED = re.compile(
    r"^(?:This message was deleted|You deleted this message|تم حذف هذه الرسالة|لقد حذفت هذه الرسالة)\.?$"
)
_EDITED = re.compile(r"\s*<This message was edited>$|\s*<تم تعديل هذه الرسالة>$")
_LOCATION = re.compile(r"^(?:location|live location shared|الموقع)\s*:", re.IGNORECASE)
_SYSTEM_PATTERNS = re.compile(
    r"end-to-end encrypted|security code (?:with .* )?changed|changed (?:the subject|this group|the group)|"
    r"\b(?:added|removed|left|joined using this group's invite link|created group|changed their phone number|"
    r"changed to|is a contact|blocked this contact|unblocked this contact)\b|"
    r"disappearing messages|مشفرة تمامًا|مشفرة تماما|أضاف|غادر|أنشأ المجموعة|تغير رمز الأمان",
    re.IGNORECASE,
)
_CALL = re.compile(
    r"^(?:Missed (?:voice|video) call|Voice call|Video call|مكالمة (?:صوتية|فيديو) فائتة)", re.IGNORECASE
)
_AUDIO_SUFFIXES = {".opus", ".ogg", ".m4a", ".aac", ".mp3", ".amr", ".wav", ".3gp"}
_VIDEO_SUFFIXES = {".mp4", ".mov", ".3gp", ".mkv", ".webm"}
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic"}
MAX_BACKWARD = timedelta(days=1)
_PROBE_CHARS = 64


@dataclass
class _Header:
    line: int
    d1: str
    d2: str
    d3: str
    hour: int
    minute: int
    second: int
    ampm: str
    rest: str
    ios: bool


@dataclass
class _Message:
    header: _Header
    lines: list[str]
    sent_at: datetime | None = None


def _match_header(line: str) -> _Header | None:
    original = line.lstrip(_MARKS)
    # Match on a copy of the first characters with ASCII digits and without direction marks (Arabic
    # locales put RLM after each separator), then take the message from the untouched line.
    cleaned: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(original[:_PROBE_CHARS]):
        if char in _MARKS or char == "\u061c":
            continue
        cleaned.append(char.translate(_ARABIC_DIGITS))
        positions.append(index)
    probe = "".join(cleaned) + original[_PROBE_CHARS:]
    positions.extend(range(_PROBE_CHARS, len(original) + 1))
    ios = probe.startswith("[")
    match = (_IOS if ios else _ANDROID).match(probe)
    if not match:
        return None
    ampm = (match.group("ampm") or "").lower().replace(".", "").replace(" ", "")
    if ampm == "ص":
        ampm = "am"
    elif ampm == "م":
        ampm = "pm"
    return _Header(
        line=0,
        d1=match.group("d1"),
        d2=match.group("d2"),
        d3=match.group("d3"),
        hour=int(match.group("h")),
        minute=int(match.group("m")),
        second=int(match.group("s") or 0),
        ampm=ampm,
        rest=original[positions[match.start("rest")] :] if match.start("rest") < len(positions) else "",
        ios=ios,
    )


def looks_like_chat(text: str) -> bool:
    """Whether the first non-blank line of `text` is a WhatsApp message header."""
    for line in text.split("\n", 50)[:50]:
        if line.strip(" " + _MARKS):
            return _match_header(line) is not None
    return False


def _year(value: str) -> int:
    number = int(value)
    return 2000 + number if len(value) <= 2 else number


def _datetime(header: _Header, order: str) -> datetime:
    if order == "YMD":
        year, month, day = _year(header.d1), int(header.d2), int(header.d3)
    elif order == "MDY":
        month, day, year = int(header.d1), int(header.d2), _year(header.d3)
    else:
        day, month, year = int(header.d1), int(header.d2), _year(header.d3)
    hour = header.hour
    if header.ampm:
        if not 1 <= hour <= 12:
            raise ValueError("hour")
        hour = hour % 12 + (12 if header.ampm == "pm" else 0)
    return datetime(year, month, day, hour, header.minute, header.second)  # noqa: DTZ001 - chat clocks are local


def _choose_order(headers: list[_Header], requested: str | None) -> str:
    if requested:
        requested = requested.upper()
        if requested not in ("DMY", "MDY", "YMD"):
            raise ImportRefused("The date order must be DMY, MDY or YMD.", code="options")
        candidates = [requested]
    elif all(len(h.d1) == 4 for h in headers):
        candidates = ["YMD"]
    else:
        candidates = ["DMY", "MDY"]
    best: tuple[int, int, str] | None = None
    for order in candidates:
        try:
            times = [_datetime(h, order) for h in headers]
        except ValueError:
            continue
        backwards = sum(1 for a, b in itertools.pairwise(times) if b < a)
        twelve_hour = any(h.ampm for h in headers)
        preference = 0 if (order == "MDY") == twelve_hour else 1
        key = (backwards, preference, order)
        if best is None or key < best:
            best = key
    if best is None:
        bad = _first_invalid(headers, candidates)
        raise ImportRefused(
            f"The dates in the chat do not fit one date format (line {bad}): the export mixes day-first and "
            "month-first dates, or has an impossible date or time.",
            code="timestamps",
        )
    return best[2]


def _first_invalid(headers: list[_Header], candidates: list[str]) -> int:
    for header in headers:
        for order in candidates:
            try:
                _datetime(header, order)
            except ValueError:
                return header.line
    return headers[0].line if headers else 1


def _attachment_kind(name: str) -> tuple[str, str]:
    suffix = PurePosixPath(name).suffix.lower()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if suffix == ".opus":
        content_type = "audio/ogg"
    if suffix in _AUDIO_SUFFIXES or "-AUDIO-" in name.upper() or name.upper().startswith(("PTT-", "AUD-")):
        return "audio", content_type
    if suffix in _VIDEO_SUFFIXES:
        return "video", content_type
    if suffix in _IMAGE_SUFFIXES:
        return "image", content_type
    if suffix == ".vcf":
        return "contact", "text/vcard"
    return "document", content_type


def _split_sender(header: _Header) -> tuple[str | None, str, bool]:
    """(sender or None for a system notice, text, whether the text began with an LRM mark)."""
    rest = header.rest
    if header.ios:
        sender, sep, text = rest.partition(": ")
        if not sep:
            return None, rest, False
        marked = text.startswith("\u200e")
        return sender, text, marked
    sender, sep, text = rest.partition(": ")
    if not sep or len(sender) > 80 or "\n" in sender:
        return None, rest, False
    return sender, text, text.startswith("\u200e")


def _clean(text: str) -> str:
    return strip_marks(text).strip()


def parse_chat_text(  # noqa: C901 (the line-by-line state machine of WhatsApp's text format)
    text: str,
    *,
    attachments: dict[str, ParsedAttachment] | None = None,
    interviewer: str | list[str] | None = None,
    narrator: str | list[str] | None = None,
    date_order: str | None = None,
    quarantine: QuarantineBuilder | None = None,
    strict: bool = False,
) -> ParsedImport:
    """Parse decoded chat text. `attachments` maps the exported media names to their bytes. `strict`:
    who is the narrator must follow from the labels given (or the chat has one sender); otherwise
    NarratorUnknown lists the senders to choose from, instead of a guess."""
    attachments = attachments or {}
    quarantine = quarantine or QuarantineBuilder()
    messages: list[_Message] = []
    for number, line in enumerate(text.split("\n"), 1):
        header = _match_header(line)
        if header is not None:
            header.line = number
            messages.append(_Message(header=header, lines=[]))
            continue
        if not messages:
            if line.strip(" \t" + _MARKS):
                raise ImportRefused(
                    f"This is not a WhatsApp chat export: line {number} should start with a date and time "
                    "like “31/12/2020, 21:41 - ” or “[31/12/2020, 21:41:05]”.",
                    code="format",
                )
            continue
        messages[-1].lines.append(line)
    if not messages:
        raise ImportRefused("The chat export contains no messages.", code="empty")
    check_segment_count(len(messages), "chat")
    headers = [m.header for m in messages]
    order = _choose_order(headers, date_order)
    for message in messages:
        message.sent_at = _datetime(message.header, order)

    interviewers = _labels(interviewer)
    narrators = _labels(narrator)
    raw: list[tuple[datetime, str, str, str, str]] = []  # (time, sender, kind, text, attachment)
    referenced: set[str] = set()
    missing = 0
    omitted = 0
    deleted = 0
    system = 0
    previous: datetime | None = None
    for message in messages:
        header = message.header
        assert message.sent_at is not None
        sent_at = message.sent_at
        if previous is not None and previous - sent_at > MAX_BACKWARD:
            raise ImportRefused(
                f"The timestamps in the chat go back in time by more than a day at line {header.line}; "
                "the export is damaged or two exports were joined.",
                code="timestamps",
            )
        previous = max(previous, sent_at) if previous else sent_at
        sender, body, marked = _split_sender(header)
        body = "\n".join([body, *message.lines]) if message.lines else body
        if sender is not None:
            sender = _clean(sender)
        content = _clean(body)
        if (
            sender is None
            or (marked and _SYSTEM_PATTERNS.search(content))
            or (
                not header.ios
                and sender is not None
                and _SYSTEM_PATTERNS.search(header.rest)
                and ": " not in header.rest
            )
        ):
            system += 1
            quarantine.add("system_messages", _clean(header.rest))
            _quarantine_text(quarantine, _clean(header.rest))
            continue
        if not sender:
            raise ImportRefused(f"The message at line {header.line} has an empty sender name.", code="format")
        _quarantine_sender(quarantine, sender)
        content = _EDITED.sub("", content)
        if _DELETED.match(content):
            deleted += 1
            continue
        if _CALL.match(content):
            continue
        attached = _ATTACHED_IOS.match(content) or _ATTACHED_ANDROID.match(content)
        if attached:
            name = _clean(attached.group("name"))
            caption = _clean(attached.group("caption"))
            referenced.add(name)
            kind, _ = _attachment_kind(name)
            if kind == "contact":
                quarantine.add("contact_names", PurePosixPath(name).stem.split("-", 1)[-1])
            if name not in attachments:
                missing += 1
                raw.append((sent_at, sender, "media_missing", "[attachment not included in the export]", ""))
            elif kind == "audio":
                raw.append((sent_at, sender, "voice", "", name))
            else:
                raw.append((sent_at, sender, "attachment", f"[{kind} attached]", name))
            if caption:
                raw.append((sent_at, sender, "text", caption, ""))
                _quarantine_text(quarantine, caption)
            continue
        if _OMITTED.match(content):
            omitted += 1
            raw.append((sent_at, sender, "media_missing", "[media not included in the export]", ""))
            continue
        if _LOCATION.match(content):
            quarantine.add("addresses", content)
        if not content:
            continue
        _quarantine_text(quarantine, content)
        raw.append((sent_at, sender, "text", content, ""))

    if not raw:
        raise ImportRefused("The chat export contains only system notices, no messages.", code="empty")
    senders = [sender for _, sender, *_ in raw]
    if strict:
        settled_roles(list(dict.fromkeys(senders)), interviewers, narrators)
    roles = _roles(senders, [text for *_, text, _ in raw], interviewers, narrators)
    first = raw[0][0]
    segments: list[ParsedSegment] = []
    last_start = 0.0
    for sent_at, sender, kind, content, attachment in raw:
        # Messages queued offline can carry a slightly earlier clock; keep the export's order.
        start = max(last_start, (sent_at - first).total_seconds())
        last_start = start
        segments.append(
            ParsedSegment(
                start=start,
                end=start,
                speaker=sender,
                role=roles.get(sender, "other"),
                text=content,
                kind="text" if kind == "attachment" else kind,
                attachment=attachment,
                sent_at=sent_at,
            )
        )
    warnings: list[str] = []
    if missing:
        warnings.append(f"{missing} attachment(s) referenced in the chat are not in the export.")
    if omitted:
        warnings.append(f"{omitted} media message(s) were exported without their media.")
    if deleted:
        warnings.append(f"{deleted} deleted message(s) were skipped.")
    if system:
        warnings.append(f"{system} system notice(s) were moved to quarantine.")
    unreferenced = sorted(set(attachments) - referenced)
    if unreferenced:
        warnings.append(f"{len(unreferenced)} file(s) in the export are not referenced by any message; stored anyway.")
    quarantine.extend("file_names", attachments)
    result = ParsedImport(
        source="whatsapp",
        segments=segments,
        attachments=list(attachments.values()),
        started_at=first,
        warnings=warnings,
    )
    result.quarantine = quarantine.build()
    return result


def _labels(value: str | list[str] | None) -> set[str]:
    if not value:
        return set()
    values = [value] if isinstance(value, str) else value
    return {_clean(v).casefold() for v in values if _clean(v)}


def settled_roles(senders: list[str], interviewers: set[str], narrators: set[str]) -> None:
    """Refuse with NarratorUnknown unless the narrator follows from the labels (casefolded) without a
    guess: a sender named as the narrator; or, with the interviewer named, the one other sender; or
    the only sender of the conversation."""
    folded = {sender: sender.casefold() for sender in senders}
    if any(f in narrators for f in folded.values()):
        return
    others = [s for s, f in folded.items() if f not in interviewers]
    if len(others) == 1 and (len(senders) == 1 or any(f in interviewers for f in folded.values())):
        return
    if narrators:
        reason = "No sender of the conversation has the narrator's name as given."
    elif interviewers:
        reason = "The interviewer is named, but more than one other person wrote; which of them is the narrator?"
    else:
        reason = "The export does not say which sender is the narrator."
    raise NarratorUnknown(reason, senders=senders)


def _roles(senders: list[str], texts: list[str], interviewers: set[str], narrators: set[str]) -> dict[str, str]:
    """Role hints. Explicit labels win; otherwise whoever opens the chat is taken as the interviewer
    (researchers initiate) and the other participant who wrote most as the narrator."""
    order: dict[str, int] = {}
    volume: dict[str, int] = {}
    for sender, text in zip(senders, texts, strict=True):
        order.setdefault(sender, len(order))
        volume[sender] = volume.get(sender, 0) + len(text) + 1
    roles: dict[str, str] = {}
    for sender in order:
        folded = sender.casefold()
        if folded in interviewers:
            roles[sender] = "interviewer"
        elif folded in narrators:
            roles[sender] = "narrator"
    if interviewers or narrators:
        unassigned = [s for s in order if s not in roles]
        if "narrator" not in roles.values() and unassigned:
            roles[max(unassigned, key=lambda s: volume[s])] = "narrator"
        elif "interviewer" not in roles.values() and unassigned:
            roles[min(unassigned, key=lambda s: order[s])] = "interviewer"
    else:
        ranked = sorted(order, key=lambda s: order[s])
        roles[ranked[0]] = "interviewer"
        rest = ranked[1:]
        if rest:
            roles[max(rest, key=lambda s: volume[s])] = "narrator"
        elif len(ranked) == 1:
            roles[ranked[0]] = "narrator"
    return {sender: roles.get(sender, "other") for sender in order}


def _quarantine_sender(quarantine: QuarantineBuilder, sender: str) -> None:
    if looks_like_phone(sender):
        quarantine.add("phone_numbers", normalise_phone(sender))
    else:
        quarantine.add("contact_names", sender)


def _quarantine_text(quarantine: QuarantineBuilder, text: str) -> None:
    for span in find_phones(text):
        quarantine.add("phone_numbers", span.value)
    for span in find_emails(text):
        quarantine.add("email_addresses", span.value)
    for span in find_locations(text):
        quarantine.add("addresses", span.value)


_CHAT_NAME = re.compile(r"(^|/)(_chat\.txt|WhatsApp Chat.*\.txt|.*chat.*\.txt)$", re.IGNORECASE)


def parse_whatsapp_zip(
    data: bytes,
    *,
    limits: ZipLimits | None = None,
    budget: ZipBudget | None = None,
    **options,
) -> ParsedImport:
    archive = SafeZip(data, limits=limits, budget=budget)
    texts = [m for m in archive.members if m.suffix == ".txt"]
    chats = [m for m in texts if _CHAT_NAME.search(m.name)] or texts
    if not chats:
        raise ImportRefused(
            "The zip archive holds no chat text (`_chat.txt` or `WhatsApp Chat with ….txt`).", code="format"
        )
    if len(chats) > 1:
        raise ImportRefused("The zip archive holds more than one chat text; export one chat at a time.", code="format")
    chat = chats[0]
    quarantine = QuarantineBuilder()
    # The Android export's own file name ("WhatsApp Chat with Abu Khaled.txt") names the contact.
    quarantine.add("file_names", chat.basename)
    text = decode_text(archive.read(chat), what="chat text")
    media: dict[str, ParsedAttachment] = {}
    for member in archive.members:
        if member is chat:
            continue
        name = member.basename
        if name.startswith(".") or member.name.startswith("__MACOSX/"):
            continue
        if name in media:
            raise ImportRefused("The zip archive holds two media files with the same name.", code="zip_duplicate")
        kind, content_type = _attachment_kind(name)
        media[name] = ParsedAttachment(name=name, data=archive.read(member), content_type=content_type, kind=kind)
    return parse_chat_text(text, attachments=media, quarantine=quarantine, **options)


def parse_whatsapp(data: bytes, **options) -> ParsedImport:
    """A WhatsApp export as uploaded: zip or bare text."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return parse_whatsapp_zip(data, **options)
    options.pop("limits", None)
    options.pop("budget", None)
    encoding = options.pop("encoding", None)
    return parse_chat_text(decode_text(data, what="chat text", encoding=encoding), **options)
