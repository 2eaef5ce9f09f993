"""Email threads: one .eml message or an .mbox of several, ordered by date.

Each message's new text becomes one segment; what it quotes is trimmed: `>` lines, the attribution
line that introduces a quote ("On … wrote:", "Le … a écrit :", Arabic "في … كتب …:"), Outlook's
"-----Original Message-----" and "From: … Sent: …" blocks, and everything after them. Signatures
after "-- " are trimmed into quarantine (they are where phone numbers live). Headers that identify
people or machines (From/To/Cc addresses and display names, Received and X-Originating-IP
addresses, X-Mailer/User-Agent, Message-ID) go to quarantine. Attachments are kept as bytes.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

from .base import (
    ImportRefused,
    ParsedAttachment,
    ParsedImport,
    ParsedSegment,
    QuarantineBuilder,
    check_segment_count,
    decode_text,
    estimated_duration,
    strip_marks,
)
from .sensitive import find_emails, find_locations, find_phones
from .whatsapp import settled_roles

MAX_MESSAGES = 5_000
MAX_PARTS = 500
_MBOX_SEPARATOR = re.compile(rb"^From [^\r\n]*\r?\n", re.MULTILINE)
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]?", re.MULTILINE)
_QUOTE_INTRO = re.compile(
    r"^\s*(?:"
    r"On\b.{0,300}\bwrote:?\s*$"  # English (Gmail, Apple Mail, Thunderbird)
    r"|Le\b.{0,300}\ba écrit\s*:?\s*$"  # French
    r"|Am\b.{0,300}\bschrieb.{0,100}:\s*$"  # German
    r"|(?:في|بتاريخ)\b.{0,300}(?:كتب|كتبت)\b.{0,200}:?\s*$"  # Arabic: "في … كتب …:"
    r"|.{0,300}\b(?:كتب|كتبت)\s*:\s*$"
    r"|-{2,}\s*(?:Original Message|Forwarded message|الرسالة الأصلية|رسالة معاد توجيهها)\s*-{2,}\s*$"
    r"|_{10,}\s*$"
    r")",
    re.IGNORECASE,
)
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(?:From|De|Von|من)\s*:\*?\s.+$", re.IGNORECASE)
_OUTLOOK_FOLLOW = re.compile(r"^\s*\*?(?:Sent|Date|Envoyé|Gesendet|To|التاريخ|أرسل|إلى)\s*:", re.IGNORECASE)
_IP = re.compile(
    r"(?<![\w.:])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])|(?<![\w:])\[?(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\]?", re.IGNORECASE
)
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|tr|sv|رد|إعادة توجيه)\s*:\s*)+", re.IGNORECASE)


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        if tag == "blockquote":
            self.quote += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1
        if tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip and not self.quote:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))


def trim_quoted(text: str) -> tuple[str, str]:
    """(new text, trimmed signature). Drops quoted lines and everything after a quote introduction."""
    lines = text.split("\n")
    kept: list[str] = []
    signature: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = strip_marks(line).strip()
        if stripped.startswith(">"):
            index += 1
            continue
        if _QUOTE_INTRO.match(stripped):
            break
        # A two-line attribution: "On Tue, 3 Jan 2017, Name <a@b>\nwrote:" as mail clients wrap it.
        if stripped.lower().startswith(("on ", "في ")) and index + 1 < len(lines):
            joined = stripped + " " + strip_marks(lines[index + 1]).strip()
            if _QUOTE_INTRO.match(joined):
                break
        if _OUTLOOK_HEADER.match(stripped) and index + 1 < len(lines) and _OUTLOOK_FOLLOW.match(lines[index + 1]):
            break
        if line.rstrip("\n") in ("-- ", "--", "—"):
            signature = lines[index + 1 :]
            # The signature ends where a quote begins.
            for offset, rest in enumerate(signature):
                if strip_marks(rest).strip().startswith(">") or _QUOTE_INTRO.match(strip_marks(rest).strip()):
                    signature = signature[:offset]
                    break
            break
        kept.append(line)
        index += 1
    body = "\n".join(kept).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    return body, "\n".join(signature).strip()


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox file (mboxrd/mboxo: `>From ` unquoted one level)."""
    starts = [m for m in _MBOX_SEPARATOR.finditer(data) if m.start() == 0 or data[m.start() - 1 : m.start()] == b"\n"]
    if not starts or starts[0].start() != 0:
        if data.lstrip()[:5] != b"From ":
            raise ImportRefused(
                "This is not an mbox file: it does not begin with a “From ” separator line.", code="format"
            )
        return split_mbox(data.lstrip())
    messages: list[bytes] = []
    for current, following in zip(starts, [*starts[1:], None], strict=True):
        chunk = data[current.end() : following.start() if following else len(data)]
        chunk = re.sub(rb"^>(>*From )", rb"\1", chunk, flags=re.MULTILINE)
        if chunk.strip():
            messages.append(chunk)
    return messages


def _check_message_bytes(raw: bytes, number: int) -> None:
    if not raw.strip():
        raise ImportRefused(f"Message {number} of the email file is empty.", code="empty")
    head = raw[:8192]
    if not _HEADER_LINE.match(head.lstrip(b"\r\n")):
        raise ImportRefused(f"Message {number} has no email headers; this is not an email file.", code="format")


def _body(message: EmailMessage) -> tuple[str, list[ParsedAttachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[ParsedAttachment] = []
    parts = list(message.walk())
    if len(parts) > MAX_PARTS:
        raise ImportRefused(f"An email has more than {MAX_PARTS} parts.", code="too_large")
    for part in parts:
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        content_type = part.get_content_type()
        filename = part.get_filename()
        if disposition == "attachment" or filename or not content_type.startswith("text/"):
            try:
                payload = part.get_payload(decode=True) or b""
            except Exception as exc:
                raise ImportRefused("An email attachment is encoded wrongly.", code="format") from exc
            kind = content_type.split("/")[0]
            attachments.append(
                ParsedAttachment(
                    name=strip_marks(filename or f"attachment-{len(attachments) + 1}"),
                    data=payload,
                    content_type=content_type,
                    kind={"audio": "audio", "image": "image", "video": "video"}.get(kind, "document"),
                )
            )
            continue
        content = _decode_part(part)
        if "\x00" in content:
            raise ImportRefused("An email body contains binary data.", code="binary")
        (html if content_type == "text/html" else plain).append(content)
    text = "\n".join(plain) if plain else "\n".join(html_to_text(h) for h in html)
    return text.replace("\r\n", "\n").replace("\r", "\n"), attachments


def _decode_part(part: EmailMessage) -> str:
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception as exc:
        raise ImportRefused("An email body is encoded wrongly.", code="format") from exc
    charset = part.get_content_charset()
    if not charset or charset in ("us-ascii", "ascii"):
        # Undeclared 8-bit bodies are UTF-8 in practice; anything else is refused, not guessed.
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportRefused(
                "An email body has no declared character set and is not UTF-8.", code="encoding"
            ) from exc
    try:
        return payload.decode(charset)
    except LookupError as exc:
        raise ImportRefused("An email body declares an unknown character set.", code="encoding") from exc
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            "An email body is not valid text in the character set it declares.", code="encoding"
        ) from exc


def _quarantine_headers(message: EmailMessage, quarantine: QuarantineBuilder) -> None:
    for header in ("From", "To", "Cc", "Bcc", "Reply-To", "Sender", "Delivered-To", "Return-Path"):
        values = [str(v) for v in message.get_all(header, [])]
        for name, address in getaddresses(values):
            quarantine.add("email_addresses", address.lower())
            quarantine.add("contact_names", strip_marks(name))
    for header in ("Received", "X-Originating-IP", "X-Sender-IP", "X-Forwarded-For", "X-Real-IP"):
        for value in message.get_all(header, []):
            for match in _IP.finditer(str(value)):
                candidate = match.group().strip("[]")
                try:
                    ipaddress.ip_address(candidate)
                except ValueError:
                    continue
                quarantine.add("ip_addresses", candidate)
    for header in ("X-Mailer", "User-Agent", "X-MimeOLE", "X-Originating-Client"):
        for value in message.get_all(header, []):
            quarantine.add("devices", str(value))
    for header in ("Message-ID", "In-Reply-To"):
        quarantine.add("message_ids", str(message.get(header, "") or ""))
    quarantine.add("subjects", str(message.get("Subject", "") or ""))


def _sender(message: EmailMessage) -> tuple[str, str]:
    values = [str(v) for v in message.get_all("From", [])]
    pairs = getaddresses(values)
    if not pairs or not (pairs[0][0] or pairs[0][1]):
        return "", ""
    name, address = pairs[0]
    return strip_marks(name).strip() or address, address.lower()


def _date(message: EmailMessage, number: int) -> datetime | None:
    value = message.get("Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError) as exc:
        raise ImportRefused(f"Message {number} has an unreadable Date header.", code="timestamps") from exc
    if parsed is None:
        raise ImportRefused(f"Message {number} has an unreadable Date header.", code="timestamps")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1990 <= parsed.year <= 2100:
        raise ImportRefused(f"Message {number} is dated {parsed.year}, which cannot be right.", code="timestamps")
    return parsed


def parse_email_messages(  # noqa: C901 (one pass over a mailbox's messages and their parts)
    raws: list[bytes],
    *,
    interviewer: str | list[str] | None = None,
    narrator: str | list[str] | None = None,
    strict: bool = False,
) -> ParsedImport:
    """`strict`: the narrator must follow from the labels (a sender's name or address) or the thread
    has one sender; otherwise NarratorUnknown lists the senders instead of a guess."""
    if not raws:
        raise ImportRefused("The email file contains no messages.", code="empty")
    if len(raws) > MAX_MESSAGES:
        raise ImportRefused(f"The email file has more than {MAX_MESSAGES} messages.", code="too_large")
    quarantine = QuarantineBuilder()
    items: list[tuple[datetime | None, int, str, str, str, list[ParsedAttachment]]] = []
    subject = ""
    for number, raw in enumerate(raws, 1):
        _check_message_bytes(raw, number)
        if max((len(line) for line in raw.split(b"\n")), default=0) > 1_000_000:
            raise ImportRefused(f"Message {number} has a line longer than a million bytes.", code="line_too_long")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if message.defects and not message.keys():
            raise ImportRefused(f"Message {number} is not a readable email.", code="format")
        _quarantine_headers(message, quarantine)
        name, address = _sender(message)
        if not (name or address):
            raise ImportRefused(f"Message {number} has no sender (From header).", code="format")
        subject = subject or _SUBJECT_PREFIX.sub("", str(message.get("Subject", "") or "")).strip()
        text, attachments = _body(message)
        body, signature = trim_quoted(text)
        if signature:
            quarantine.add("signatures", signature)
            for span in find_phones(signature):
                quarantine.add("phone_numbers", span.value)
        for span in find_phones(body):
            quarantine.add("phone_numbers", span.value)
        for span in find_emails(body):
            quarantine.add("email_addresses", span.value)
        for span in find_locations(body):
            quarantine.add("addresses", span.value)
        quarantine.extend("file_names", [a.name for a in attachments])
        items.append((_date(message, number), number, name, address, body, attachments))
    dated = [item for item in items if item[0] is not None]
    if dated and len(dated) != len(items):
        raise ImportRefused("Some messages in the thread have a Date header and some do not.", code="timestamps")
    if dated:
        items.sort(key=lambda item: (item[0], item[1]))
    check_segment_count(len(items), "email thread")
    first = items[0][0]
    senders = [item[3] or item[2] for item in items]
    if strict:
        _settle(items, interviewer, narrator)
    roles = _roles(senders, items, interviewer, narrator)
    segments: list[ParsedSegment] = []
    all_attachments: list[ParsedAttachment] = []
    warnings: list[str] = []
    for position, (sent_at, _number, name, address, body, attachments) in enumerate(items):
        start = (sent_at - first).total_seconds() if sent_at and first else float(position)
        if not body:
            body = "[no new text]" if not attachments else "[attachment only]"
        segments.append(
            ParsedSegment(
                start=start,
                end=start + (estimated_duration(body) if not sent_at else 0.0),
                speaker=name or address,
                role=roles[address or name],
                text=body,
                sent_at=sent_at,
            )
        )
        all_attachments.extend(attachments)
    if not dated:
        warnings.append("The messages have no dates; they are kept in file order.")
    result = ParsedImport(
        source="email",
        segments=segments,
        attachments=all_attachments,
        started_at=first.replace(tzinfo=None) if first else None,
        title_hint=subject,
        warnings=warnings,
        timed=bool(dated),
    )
    result.quarantine = quarantine.build()
    return result


def _labels(value) -> set[str]:
    if not value:
        return set()
    return {v.strip().casefold() for v in ([value] if isinstance(value, str) else value) if v.strip()}


def _settle(items, interviewer, narrator) -> None:
    interviewers, narrators = _labels(interviewer), _labels(narrator)
    names = {item[3] or item[2]: item[2] for item in items}  # address (or name) -> display name

    def matched(key: str, labels: set[str]) -> bool:
        return key.casefold() in labels or names[key].casefold() in labels

    # Each sender under one label (its display name, else its address), with its matches carried over.
    shown = {key: (names[key] or key) for key in names}
    settled_roles(
        list(dict.fromkeys(shown.values())),
        {shown[key].casefold() for key in names if matched(key, interviewers)},
        {shown[key].casefold() for key in names if matched(key, narrators)} | (narrators - set()),
    )


def _roles(senders: list[str], items, interviewer, narrator) -> dict[str, str]:
    def labels(value):
        if not value:
            return set()
        return {v.strip().casefold() for v in ([value] if isinstance(value, str) else value) if v.strip()}

    interviewers, narrators = labels(interviewer), labels(narrator)
    names = {item[3] or item[2]: item[2] for item in items}
    roles: dict[str, str] = {}
    for key, display in names.items():
        if key.casefold() in interviewers or display.casefold() in interviewers:
            roles[key] = "interviewer"
        elif key.casefold() in narrators or display.casefold() in narrators:
            roles[key] = "narrator"
    ordered = list(dict.fromkeys(senders))
    if not roles:
        roles[ordered[0]] = "interviewer"
    unassigned = [s for s in ordered if s not in roles]
    if unassigned and "narrator" not in roles.values():
        roles[max(unassigned, key=lambda s: sum(len(i[4]) for i in items if (i[3] or i[2]) == s))] = "narrator"
    if len(ordered) == 1 and not (interviewers or narrators):
        roles[ordered[0]] = "narrator"
    return {s: roles.get(s, "other") for s in ordered}


def parse_eml(data: bytes, **options) -> ParsedImport:
    _refuse_binary(data, "email file")
    return parse_email_messages([_strip_bom(data)], **options)


def parse_mbox(data: bytes, **options) -> ParsedImport:
    _refuse_binary(data, "mbox file")
    return parse_email_messages(split_mbox(_strip_bom(data)), **options)


def _strip_bom(data: bytes) -> bytes:
    if not data.strip():
        raise ImportRefused("The email file is empty.", code="empty")
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _refuse_binary(data: bytes, what: str) -> None:
    if _looks_binary(data):
        decode_text(data[:65536], what=what)  # raises with the precise reason (empty, binary, …)
        raise ImportRefused(f"The {what} contains binary data, not email.", code="binary")
    if len(data) > 512 * 1024**2:
        raise ImportRefused(f"The {what} is larger than 512 MiB.", code="too_large")


def _looks_binary(data: bytes) -> bool:
    head = data[:65536]
    return not head.strip() or b"\x00" in head or sum(1 for b in head if b < 9 or 13 < b < 32) > len(head) // 100 + 4
