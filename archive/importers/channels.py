"""What the Messenger, Skype and Telegram importers share: opening the export (zip, tar, folder packed
as a zip, or one bare file), reading its JSON carefully, and turning one conversation into a
ParsedImport exactly as the WhatsApp importer does: one segment per message at its real time, voice
messages to be transcribed in place, attachments kept, contact details and names quarantined.

Who is the narrator: these exports name their senders, and often know which account made the export
(the researcher) and, for a one-to-one conversation, who the other person is. Roles come from, in
order: the labels the importer was given; the export's own knowledge (the exporting account is the
interviewer, the other person of a one-to-one conversation the narrator). Where neither settles it,
the import is refused with NarratorUnknown, which lists the senders to choose from: never a guess.
"""

from __future__ import annotations

import json
import mimetypes
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

from .base import (
    ImportRefused,
    ParsedAttachment,
    ParsedImport,
    ParsedSegment,
    QuarantineBuilder,
    check_segment_count,
    sniff_binary,
    strip_marks,
)
from .safetar import SafeTar, is_tar
from .safezip import SafeZip, ZipLimits, is_zip
from .sensitive import find_emails, find_locations, find_phones, looks_like_phone, normalise_phone

# A Telegram "all chats" export is one JSON file; beyond this size, export the one chat instead.
MAX_JSON_BYTES = 256 * 1024 * 1024
MAX_CONVERSATIONS = 20_000
# One import makes at most this many interviews (one per conversation the narrator took part in).
MAX_INTERVIEWS = 50
MAX_LISTED_SENDERS = 40
EARLIEST = datetime(1995, 1, 1)  # noqa: DTZ001 - naive like every chat clock here
LATEST = datetime(2100, 1, 1)  # noqa: DTZ001

_AUDIO = {".opus", ".ogg", ".oga", ".m4a", ".aac", ".mp3", ".amr", ".wav", ".3gp", ".weba"}
_VIDEO = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
# Messenger keeps voice clips as .mp4 in these folders; Telegram its voice messages as .ogg.
_AUDIO_FOLDERS = {"audio_files", "audio", "voice_messages"}
_IMAGE = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".bmp", ".tgs"}


class NarratorUnknown(ImportRefused):
    """Who the narrator is cannot be told from the export and the labels given. `senders` are the
    conversation's sender labels to choose from; the reason lists them (it is shown only to the person
    who uploaded the export, who can read it anyway)."""

    def __init__(self, reason: str, *, senders: list[str]):
        listed = senders[:MAX_LISTED_SENDERS]
        more = f" and {len(senders) - len(listed)} more" if len(senders) > len(listed) else ""
        self.senders_sentence = f"The senders are: {', '.join(listed)}{more}."
        super().__init__(f"{reason} {self.senders_sentence}", code="narrator_unknown")
        self.senders = senders
        self.question = reason  # the reason without the list, for a page that shows the senders itself


# Reading the upload ---------------------------------------------------------------------------


class ExportFiles:
    """Uniform, size-checked read access to an uploaded export: a zip, a tar, or one bare file."""

    def __init__(self, data: bytes, filename: str = "", *, limits: ZipLimits | None = None, budget=None):
        self._single: tuple[str, bytes] | None = None
        self._archive: SafeZip | SafeTar | None = None
        self._members: dict[str, object] = {}
        if is_zip(data):
            self._archive = SafeZip(data, limits=limits, budget=budget)
        elif is_tar(data):
            self._archive = SafeTar(data, limits=limits, budget=budget)
        else:
            self._single = (PurePosixPath(filename or "export").name, data)
        if self._archive is not None:
            self._members = {member.name: member for member in self._archive.members}

    @property
    def is_archive(self) -> bool:
        return self._archive is not None

    def names(self) -> list[str]:
        if self._single is not None:
            return [self._single[0]]
        return list(self._members)

    def size(self, name: str) -> int:
        if self._single is not None:
            return len(self._single[1])
        return self._members[name].size  # type: ignore[attr-defined]

    def read(self, name: str) -> bytes:
        if self._single is not None:
            if name != self._single[0]:
                raise ImportRefused("A file the export refers to is missing from it.", code="zip_missing")
            return self._single[1]
        member = self._members.get(name)
        if member is None:
            raise ImportRefused("A file the export refers to is missing from it.", code="zip_missing")
        return self._archive.read(member)  # type: ignore[union-attr,arg-type]


def open_export(data: bytes, filename: str = "", **options) -> ExportFiles:
    if not data:
        raise ImportRefused("The file is empty.", code="empty")
    return ExportFiles(data, filename, limits=options.get("limits"), budget=options.get("budget"))


def load_json(data: bytes, *, what: str) -> object:
    """Strict UTF-8 JSON (a BOM is allowed), with the refusals of decode_text."""
    if not data or not data.strip(b" \t\r\n\x00"):
        raise ImportRefused(f"The {what} is empty.", code="empty")
    if len(data) > MAX_JSON_BYTES:
        raise ImportRefused(
            f"The {what} is larger than {MAX_JSON_BYTES // (1024 * 1024)} MiB; export one conversation at a time.",
            code="too_large",
        )
    description = sniff_binary(data)
    if description:
        raise ImportRefused(f"The {what} is {description}, not JSON.", code="binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"The {what} is not valid UTF-8 text.", code="encoding") from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ImportRefused(f"The {what} is nested too deeply to be an export.", code="malformed") from exc
    except ValueError as exc:
        raise ImportRefused(f"The {what} is not valid JSON (it may be truncated).", code="malformed") from exc


def fix_mojibake(text: str) -> str:
    """Facebook writes each UTF-8 byte of its JSON text as its own escaped code point (Arabic "م" as
    "\\u00d9\\u0085"). Text made only of such code points that re-reads as UTF-8 is put back;
    anything else (already proper text, or Latin-1 that is not UTF-8) is left as it is."""
    if not text or text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def fix_mojibake_deep(value: object) -> object:
    """fix_mojibake on every string (keys too) of a decoded JSON value."""
    stack: list[object] = [value]
    root: list[object] = [value]
    if isinstance(value, str):
        return fix_mojibake(value)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in list(item):
                child = item.pop(key)
                fixed_key = fix_mojibake(key) if isinstance(key, str) else key
                if isinstance(child, str):
                    child = fix_mojibake(child)
                elif isinstance(child, (dict, list)):
                    stack.append(child)
                item[fixed_key] = child
        elif isinstance(item, list):
            for index, child in enumerate(item):
                if isinstance(child, str):
                    item[index] = fix_mojibake(child)
                elif isinstance(child, (dict, list)):
                    stack.append(child)
    return root[0]


def clean_label(value: object) -> str:
    """A sender or conversation label: text, direction marks removed, whitespace collapsed."""
    if not isinstance(value, str):
        return ""
    return " ".join(strip_marks(unicodedata.normalize("NFC", value)).split())[:200]


def fold(value: str) -> str:
    return clean_label(value).casefold()


def check_time(value: datetime, what: str) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ImportRefused(f"A {what} has an impossible date; the export is damaged.", code="timestamps")
    return value


def from_epoch_ms(value: object, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ImportRefused(f"A {what} has no valid time.", code="timestamps")
    try:
        seconds = float(value) / 1000
        moment = datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError) as exc:
        raise ImportRefused(f"A {what} has no valid time.", code="timestamps") from exc
    return check_time(moment, what)


def from_iso(value: object, what: str) -> datetime:
    """An ISO 8601 time; with an offset it becomes naive UTC, without one it stays as the export wrote it."""
    if not isinstance(value, str) or not value:
        raise ImportRefused(f"A {what} has no valid time.", code="timestamps")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ImportRefused(f"A {what} has no valid time.", code="timestamps") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return check_time(moment, what)


def media_kind(name: str, hint: str = "") -> tuple[str, str]:
    """(audio | video | image | document | contact, content type) for an exported file."""
    suffix = PurePosixPath(name).suffix.lower()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if suffix in (".opus", ".oga"):
        content_type = "audio/ogg"
    folders = {part.casefold() for part in PurePosixPath(name).parts[:-1]}
    if not hint and folders & _AUDIO_FOLDERS:
        hint = "audio"
    if hint == "audio" and content_type.startswith("video/"):
        content_type = "audio/" + content_type.split("/", 1)[1]
    if hint in ("audio", "video", "image"):
        return hint, content_type
    if suffix in _AUDIO:
        return "audio", content_type
    if suffix in _VIDEO:
        return "video", content_type
    if suffix in _IMAGE:
        return "image", content_type
    if suffix == ".vcf":
        return "contact", "text/vcard"
    return "document", content_type


# One conversation -----------------------------------------------------------------------------


@dataclass
class ChannelMessage:
    """One message as read from an export. `kind`: text, voice (a spoken message to transcribe in
    place), attachment (a kept file), media_missing, or note (a call or other record worth keeping)."""

    sent_at: datetime
    sender: str
    text: str = ""
    kind: str = "text"
    attachment: str = ""
    sender_id: str = ""
    order: int = 0


@dataclass
class Conversation:
    source: str  # messenger | skype | telegram
    label: str  # the conversation's title in the export (identifying: quarantined, never rendered)
    messages: list[ChannelMessage] = field(default_factory=list)
    # Files this conversation may keep: the name used in its segments -> the path in the export.
    files: dict[str, str] = field(default_factory=dict)
    owner_id: str = ""  # the account that made the export, as the export identifies senders
    owner_name: str = ""
    partner_id: str = ""  # the other person of a one-to-one conversation, when the export says so
    partner_name: str = ""
    group: bool = False
    quarantine: QuarantineBuilder = field(default_factory=QuarantineBuilder)
    counts: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def add(self, message: ChannelMessage) -> None:
        message.order = len(self.messages)
        self.messages.append(message)

    @property
    def senders(self) -> list[str]:
        return list(dict.fromkeys(m.sender for m in self.messages if m.sender))

    def sender_ids(self) -> dict[str, set[str]]:
        ids: dict[str, set[str]] = {}
        for message in self.messages:
            if message.sender:
                ids.setdefault(message.sender, set())
                if message.sender_id:
                    ids[message.sender].add(message.sender_id)
        return ids


def _matches(wanted: str, senders: list[str], ids: dict[str, set[str]]) -> list[str]:
    target = fold(wanted)
    if not target:
        return []
    return [s for s in senders if fold(s) == target or any(fold(i) == target for i in ids.get(s, ()))]


def _the_one(wanted: str, found: list[str], senders: list[str], who: str) -> str:
    if len(found) > 1:
        raise NarratorUnknown(
            f"More than one sender is called “{clean_label(wanted)}”; name the {who} by the account id instead.",
            senders=senders,
        )
    return found[0]


def resolve_roles(
    conversation: Conversation,
    *,
    narrator: str | None = None,
    interviewer: str | None = None,
    strict: bool = False,
) -> dict[str, str]:
    """sender label -> narrator | interviewer | other. `strict`: `narrator` must match a sender (the
    command line); otherwise a narrator name that matches no sender is taken to be a real name that
    differs from the chat label, and the export's own knowledge decides."""
    senders = conversation.senders
    ids = conversation.sender_ids()
    if not senders:
        raise ImportRefused("The conversation has no messages from anyone.", code="empty")
    narrator_label = interviewer_label = ""
    if interviewer:
        found = _matches(interviewer, senders, ids)
        if not found:
            raise NarratorUnknown(
                f"No sender in the conversation matches the interviewer “{clean_label(interviewer)}”.", senders=senders
            )
        interviewer_label = _the_one(interviewer, found, senders, "interviewer")
    if narrator:
        found = _matches(narrator, senders, ids)
        if found:
            narrator_label = _the_one(narrator, found, senders, "narrator")
        elif strict:
            raise NarratorUnknown(
                f"No sender in the conversation matches the narrator “{clean_label(narrator)}”.", senders=senders
            )
    owner = _known(conversation.owner_id, conversation.owner_name, senders, ids)
    partner = _known(conversation.partner_id, conversation.partner_name, senders, ids) if not conversation.group else ""
    if not interviewer_label and owner and owner != narrator_label:
        interviewer_label = owner
    if not narrator_label:
        if partner and partner != interviewer_label:
            narrator_label = partner
        elif interviewer_label and len(senders) == 2 and not conversation.group:
            narrator_label = next(s for s in senders if s != interviewer_label)
        else:
            raise NarratorUnknown("The export does not say which sender is the narrator; choose one.", senders=senders)
    if narrator_label == interviewer_label:
        raise NarratorUnknown("The narrator and the interviewer cannot be the same sender.", senders=senders)
    if not interviewer_label and len(senders) == 2 and not conversation.group:
        interviewer_label = next(s for s in senders if s != narrator_label)
    roles = dict.fromkeys(senders, "other")
    roles[narrator_label] = "narrator"
    if interviewer_label:
        roles[interviewer_label] = "interviewer"
    return roles


def _known(account_id: str, name: str, senders: list[str], ids: dict[str, set[str]]) -> str:
    if account_id:
        found = [s for s in senders if account_id in ids.get(s, ())]
        if len(found) == 1:
            return found[0]
    if name:
        found = _matches(name, senders, ids)
        if len(found) == 1:
            return found[0]
    return ""


def quarantine_text(quarantine: QuarantineBuilder, text: str) -> None:
    for span in find_phones(text):
        quarantine.add("phone_numbers", span.value)
    for span in find_emails(text):
        quarantine.add("email_addresses", span.value)
    for span in find_locations(text):
        quarantine.add("addresses", span.value)


def quarantine_name(quarantine: QuarantineBuilder, name: str) -> None:
    name = clean_label(name)
    if not name:
        return
    if looks_like_phone(name):
        quarantine.add("phone_numbers", normalise_phone(name))
    else:
        quarantine.add("contact_names", name)


def to_parsed(  # noqa: C901 (one branch per kind of message, attachment and call)
    conversation: Conversation,
    export: ExportFiles,
    *,
    narrator: str | None = None,
    interviewer: str | None = None,
    strict: bool = False,
) -> ParsedImport:
    """One conversation as a ParsedImport, its files read from `export`."""
    if not conversation.messages:
        raise ImportRefused("The conversation holds no messages.", code="empty")
    check_segment_count(len(conversation.messages), "conversation")
    roles = resolve_roles(conversation, narrator=narrator, interviewer=interviewer, strict=strict)
    quarantine = conversation.quarantine
    quarantine.add("conversation_titles", clean_label(conversation.label))
    for sender in roles:
        quarantine_name(quarantine, sender)
    messages = sorted(conversation.messages, key=lambda m: (m.sent_at, m.order))
    attachments: dict[str, ParsedAttachment] = {}
    for name, path in conversation.files.items():
        kind, content_type = media_kind(name)
        attachments[name] = ParsedAttachment(name=name, data=export.read(path), content_type=content_type, kind=kind)
    quarantine.extend("file_names", (PurePosixPath(name).name for name in attachments))
    first = messages[0].sent_at
    segments: list[ParsedSegment] = []
    last_start = 0.0
    referenced: set[str] = set()
    missing = 0
    for message in messages:
        kind, text, attachment = message.kind, message.text, message.attachment
        if kind in ("voice", "attachment"):
            if attachment not in attachments:
                kind, text, attachment = "media_missing", "[attachment not included in the export]", ""
                missing += 1
            else:
                referenced.add(attachment)
        if kind == "attachment":
            text = f"[{attachments[attachment].kind} attached]"
        if kind not in ("voice", "media_missing"):
            kind = "text"
        if kind == "text":
            if not text.strip():
                continue
            quarantine_text(quarantine, text)
        start = max(last_start, (message.sent_at - first).total_seconds())
        last_start = start
        segments.append(
            ParsedSegment(
                start=start,
                end=start,
                speaker=message.sender,
                role=roles.get(message.sender, "other"),
                text=text,
                kind=kind,
                attachment=attachment,
                sent_at=message.sent_at,
            )
        )
    if not segments:
        raise ImportRefused("The conversation holds only notices, no messages.", code="empty")
    warnings = list(conversation.warnings)
    counts = conversation.counts
    if missing:
        warnings.append(f"{missing} attachment(s) referenced in the conversation are not in the export.")
    for key, sentence in (
        ("unsent", "{} unsent or deleted message(s) were skipped."),
        ("edited", "{} message(s) were edited after sending; the last text is kept and marked [edited]."),
        ("reactions", "{} reaction(s) were left out; who reacted is kept in quarantine."),
        ("system", "{} system notice(s) were moved to quarantine."),
        ("stickers", "{} sticker(s) were left out."),
    ):
        if counts.get(key):
            warnings.append(sentence.format(counts[key]))
    unreferenced = sorted(set(attachments) - referenced)
    if unreferenced:
        warnings.append(f"{len(unreferenced)} file(s) in the conversation are not referenced by any message.")
    result = ParsedImport(
        source=conversation.source,
        segments=segments,
        attachments=list(attachments.values()),
        started_at=first,
        title_hint=clean_label(conversation.label),
        warnings=warnings,
    )
    result.quarantine = quarantine.build()
    return result


def select_conversations(
    conversations: list[Conversation], *, narrator: str | None, strict: bool = False
) -> list[Conversation]:
    """The conversations to import: the only one, or those the narrator sent messages in."""
    conversations = [c for c in conversations if c.messages]
    if not conversations:
        raise ImportRefused("The export holds no messages.", code="empty")
    if len(conversations) == 1:
        return conversations
    everyone = _all_senders(conversations)
    if not narrator:
        raise NarratorUnknown(
            f"The export holds {len(conversations)} conversations; name the narrator to choose theirs.",
            senders=everyone,
        )
    chosen = [c for c in conversations if _matches(narrator, c.senders, c.sender_ids())]
    if not chosen:
        raise NarratorUnknown(
            f"No sender in the export matches the narrator “{clean_label(narrator)}”.", senders=everyone
        )
    if len(chosen) > MAX_INTERVIEWS:
        raise ImportRefused(
            f"The narrator took part in {len(chosen)} conversations; one import makes at most {MAX_INTERVIEWS} "
            "interviews. Name someone who is not the account that made the export.",
            code="too_large",
        )
    return chosen


def _all_senders(conversations: Iterable[Conversation]) -> list[str]:
    volume: Counter = Counter()
    for conversation in conversations:
        volume.update(m.sender for m in conversation.messages if m.sender)
    return [sender for sender, _ in volume.most_common()]


def parse_one(
    parse_conversations: Callable[..., tuple[list[Conversation], ExportFiles]],
    data: bytes,
    *,
    filename: str = "",
    narrator: str | None = None,
    interviewer: str | None = None,
    strict: bool = False,
    **options,
) -> ParsedImport:
    """The ParsedImport of an export holding one conversation (or one the narrator took part in)."""
    conversations, export = parse_conversations(data, filename=filename, **options)
    chosen = select_conversations(conversations, narrator=narrator, strict=strict)
    if len(chosen) > 1:
        raise ImportRefused(
            f"The narrator took part in {len(chosen)} conversations of the export; import it from the import "
            "page or with `ingest`, which make one interview per conversation.",
            code="format",
        )
    return to_parsed(chosen[0], export, narrator=narrator, interviewer=interviewer, strict=strict)


def check_conversation_count(count: int) -> None:
    if count > MAX_CONVERSATIONS:
        raise ImportRefused(
            f"The export holds more than {MAX_CONVERSATIONS} conversations, the limit for one import.",
            code="too_large",
        )
