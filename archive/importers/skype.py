"""Skype exports: `messages.json` (the export's `.tar`, a zip of it, or the bare file), with shared
files in `media/`.

`conversations[].MessageList[]` holds each message with its `originalarrivaltime`, `from` account id,
`displayName`, `messagetype` and HTML-ish `content`: entities are decoded, formatting dropped,
`<a>` links kept, `<at>` mentions kept and quarantined, and a `<quote>` of an earlier message is left
out (the quoted message is a segment of its own) with its author quarantined. Voice messages
(`RichText/Media_AudioMsg`) are transcribed in place and other files kept, found in `media/` by the
object id of their `URIObject` or by their original name; call events become a note; deleted
messages are counted and left out; an edited message keeps its last text, marked "[edited]".
The exporting account (`userId`) is the interviewer; the other person of a one-to-one conversation
the narrator. Call logs and bot conversations (`48:`, `28:` ids) are not conversations.
"""

from __future__ import annotations

import contextlib
import re
from html.parser import HTMLParser
from pathlib import PurePosixPath

from .base import ImportRefused, ParsedImport
from .channels import (
    ChannelMessage,
    Conversation,
    check_conversation_count,
    clean_label,
    from_iso,
    load_json,
    open_export,
    parse_one,
    quarantine_name,
)

_ACCOUNT_PREFIX = re.compile(r"^\d+:")
_SKIPPED_CONVERSATIONS = ("48:", "28:")
_VOICE_TYPES = {"RichText/Media_AudioMsg"}
_FILE_TYPES = {
    "RichText/Media_GenericFile",
    "RichText/UriObject",
    "RichText/Media_Video",
    "RichText/Media_Card",
    "RichText/Media_FlikMsg",
}
_TEXT_TYPES = {"RichText", "Text", "RichText/Html"}


def account(value: object) -> str:
    """An account id without its network prefix: "8:live:sara" and "live:sara" are one account."""
    return _ACCOUNT_PREFIX.sub("", value.strip()) if isinstance(value, str) else ""


def looks_like_skype_json(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("conversations"), list) and "userId" in value


class _Content(HTMLParser):
    """Skype's message markup as plain text, plus what the importer needs from its special tags."""

    # Containers whose text is not the message (a quoted earlier message, a file's card), and empty
    # tags that only carry attributes.
    _CONTAINERS = {"quote", "legacyquote", "uriobject", "title", "description"}
    _EMPTY = {"e_m", "originalname", "filesize", "meta"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.dropping = 0
        self.link: str | None = None
        self.link_text: list[str] = []
        self.mentions: list[str] = []
        self.quoted: list[str] = []
        self.uri: dict[str, str] = {}
        self.original_name = ""
        self.part_names: list[str] = []
        self.durations: list[int] = []
        self.partlist = ""
        self._field = ""
        self.contacts: list[str] = []
        self.location = ""

    def handle_starttag(self, tag, attrs):
        values = {k: v or "" for k, v in attrs}
        if tag in self._CONTAINERS:
            self.dropping += 1
            if tag == "quote":
                self.quoted.append(values.get("authorname", ""))
            elif tag == "uriobject":
                self.uri = values
        elif tag == "originalname":
            self.original_name = values.get("v", "")
        elif tag == "a":
            self.link, self.link_text = values.get("href", ""), []
        elif tag == "partlist":
            self.partlist = values.get("type", "")
        elif tag in ("name", "duration"):
            self._field = tag
        elif tag == "c":  # a shared contact card
            self.contacts.extend(v for k, v in values.items() if k in ("f", "s", "p") and v)
        elif tag == "location":
            self.location = f"{values.get('latitude', '')},{values.get('longitude', '')} {values.get('address', '')}"
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._CONTAINERS:
            self.dropping = max(0, self.dropping - 1)
        elif tag == "a" and self.link is not None:
            text = "".join(self.link_text)
            if self.link and self.link not in text and not self.dropping:
                self.parts.append(f" ({self.link})")
            self.link = None
        elif tag in ("name", "duration"):
            self._field = ""

    def handle_data(self, data):
        if self._field == "name":
            self.part_names.append(data)
            return
        if self._field == "duration":
            with contextlib.suppress(ValueError, OverflowError):
                self.durations.append(int(float(data)))
            return
        if self.dropping or self.partlist:
            return
        if self.link is not None:
            self.link_text.append(data)
        self.parts.append(data)

    def text(self) -> str:
        return "\n".join(" ".join(line.split()) for line in "".join(self.parts).split("\n")).strip()


def _markup(content: str) -> _Content:
    parser = _Content()
    # <at id="8:live:x">Name</at>: the mentioned account's name stays in the text and is quarantined.
    parser.mentions = [m.group(1) for m in re.finditer(r"<at\b[^>]*>([^<]{1,200})</at>", content)]
    try:
        parser.feed(content)
        parser.close()
    except (ValueError, AssertionError) as exc:
        raise ImportRefused("A Skype message's content could not be read.", code="malformed") from exc
    return parser


class _Media:
    def __init__(self, names: list[str]):
        self.media = [n for n in names if "/media/" in f"/{n}" and not n.lower().endswith(".json")]

    def find(self, object_id: str, original_name: str) -> str | None:
        if object_id:
            found = [n for n in self.media if PurePosixPath(n).name.startswith(object_id)]
            if len(found) == 1:
                return found[0]
        if original_name:
            found = [n for n in self.media if PurePosixPath(n).name == original_name]
            if len(found) == 1:
                return found[0]
        return None


def _conversation(item: dict, owner: str, media: _Media) -> Conversation | None:
    conversation_id = item.get("id") if isinstance(item.get("id"), str) else ""
    if conversation_id.startswith(_SKIPPED_CONVERSATIONS):
        return None
    messages = item.get("MessageList")
    if not isinstance(messages, list):
        return None
    thread = item.get("threadProperties")
    group = conversation_id.startswith("19:") or (isinstance(thread, dict) and bool(thread.get("members")))
    conversation = Conversation(
        source="skype",
        label=clean_label(item.get("displayName") or ""),
        owner_id=owner,
        partner_id="" if group else account(conversation_id),
        group=group,
    )
    # Older exports leave displayName empty on some messages: name each account as it is named elsewhere.
    names: dict[str, str] = {}
    for message in messages:
        if isinstance(message, dict) and clean_label(message.get("displayName") or ""):
            names[account(message.get("from"))] = clean_label(message["displayName"])
    if not group and conversation.label and conversation.partner_id not in names:
        names[conversation.partner_id] = conversation.label
    for message in messages:
        if isinstance(message, dict):
            _message(conversation, message, names, media)
    return conversation


def _message(conversation: Conversation, item: dict, names: dict[str, str], media: _Media) -> None:
    sent_at = from_iso(item.get("originalarrivaltime"), "Skype message")
    sender_id = account(item.get("from"))
    sender = names.get(sender_id) or sender_id
    kind = item.get("messagetype") or ""
    content = item.get("content") if isinstance(item.get("content"), str) else ""
    properties = item.get("properties") if isinstance(item.get("properties"), dict) else {}
    quarantine = conversation.quarantine
    if properties.get("deletetime") or (kind in _TEXT_TYPES and not content.strip()):
        conversation.counts["unsent"] += 1
        return
    if not sender:
        conversation.counts["system"] += 1
        return
    markup = _markup(content)
    for name in [*markup.quoted, *markup.mentions, *markup.part_names, *markup.contacts]:
        quarantine_name(quarantine, name)
    if kind == "Event/Call":
        if markup.partlist != "ended":
            if markup.partlist == "missed":
                conversation.add(ChannelMessage(sent_at, sender, "[missed call]", kind="note", sender_id=sender_id))
            return
        seconds = max(markup.durations, default=0)
        minutes, rest = divmod(seconds, 60)
        note = f"[call, {minutes} min {rest} s]" if minutes else (f"[call, {rest} s]" if rest else "[call]")
        conversation.add(ChannelMessage(sent_at, sender, note, kind="note", sender_id=sender_id))
        return
    if kind in _VOICE_TYPES or kind in _FILE_TYPES:
        uri = markup.uri
        object_id = uri.get("doc_id") or PurePosixPath(uri.get("uri", "")).name
        original = PurePosixPath(markup.original_name.replace("\\", "/")).name
        path = media.find(object_id, original)
        name = path or original or object_id or "file"
        if path:
            conversation.files[name] = path
        voice = kind in _VOICE_TYPES
        conversation.add(
            ChannelMessage(
                sent_at, sender, kind="voice" if voice else "attachment", attachment=name, sender_id=sender_id
            )
        )
        return
    if kind == "RichText/Contacts":
        conversation.add(ChannelMessage(sent_at, sender, "[contact shared]", kind="note", sender_id=sender_id))
        return
    if kind == "RichText/Location":
        quarantine.add("addresses", markup.location.strip() or markup.text())
        conversation.add(ChannelMessage(sent_at, sender, "[location shared]", kind="note", sender_id=sender_id))
        return
    if kind not in _TEXT_TYPES:
        conversation.counts["system"] += 1
        return
    text = markup.text()
    if not text:
        return
    if properties.get("edittime") or "<e_m" in content:
        conversation.counts["edited"] += 1
        text = f"{text} [edited]"
    conversation.add(ChannelMessage(sent_at, sender, text, sender_id=sender_id))


def parse_skype_conversations(data: bytes, *, filename: str = "", **options):
    export = open_export(data, filename, **options)
    names = export.names()
    found = [n for n in names if PurePosixPath(n).name.lower() == "messages.json"] if export.is_archive else names
    if not found:
        raise ImportRefused("The archive holds no Skype export (messages.json).", code="format")
    if len(found) > 1:
        raise ImportRefused("The archive holds more than one Skype messages.json; upload one export.", code="format")
    value = load_json(export.read(found[0]), what="Skype export")
    if not looks_like_skype_json(value):
        raise ImportRefused("The JSON file is not a Skype export (no userId and conversations).", code="format")
    assert isinstance(value, dict)
    check_conversation_count(len(value["conversations"]))
    media = _Media(names)
    owner = account(value.get("userId"))
    conversations = []
    for item in value["conversations"]:
        if isinstance(item, dict) and (conversation := _conversation(item, owner, media)) is not None:
            conversations.append(conversation)
    return conversations, export


def parse_skype(data: bytes, **options) -> ParsedImport:
    """A Skype export holding one conversation, or the one the narrator took part in."""
    return parse_one(parse_skype_conversations, data, **options)
