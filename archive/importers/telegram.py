"""Telegram Desktop exports in the machine-readable form: `result.json` of one chat, or of all chats
(`chats.list`, with the exporting account in `personal_information`), zipped with its media folders
or uploaded bare.

`text` is a string or a list of strings and entity objects (`phone`, `mention`, `mention_name`,
`email`, `link`, `text_link` with its `href`, …): entities are joined back into the text, and phone
numbers, e-mail addresses and mentioned accounts are quarantined. Voice messages and round video
messages (`media_type` `voice_message`, `video_message`) are transcribed in place; other files are kept.
A forwarded message stays with the person who forwarded it and says whom it came from; an edited
message keeps its last text, marked "[edited]". Calls become a note; service notices go to quarantine.
The HTML form of the export is refused with the way to get the JSON one.
"""

from __future__ import annotations

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

_ONE_TO_ONE = {"personal_chat", "bot_chat", "saved_messages"}
_SPOKEN = {"voice_message", "video_message"}
_CALL_ACTIONS = {"phone_call", "group_call"}
_NOT_INCLUDED = "(File not included"


def looks_like_telegram_json(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    chats = value.get("chats")
    if isinstance(chats, dict) and isinstance(chats.get("list"), list):
        return True
    messages = value.get("messages")
    if not isinstance(messages, list) or "participants" in value:
        return False
    sample = next((m for m in messages if isinstance(m, dict)), None)
    return sample is None or ("type" in sample and "date" in sample)


def flatten_text(value: object, conversation: Conversation) -> str:
    """A Telegram `text` (string or list of entities) as plain text; contact entities quarantined."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return ""
    parts: list[str] = []
    quarantine = conversation.quarantine
    for entity in value:
        if isinstance(entity, str):
            parts.append(entity)
            continue
        if not isinstance(entity, dict):
            continue
        text = entity.get("text") if isinstance(entity.get("text"), str) else ""
        kind = entity.get("type")
        if kind == "phone":
            quarantine.add("phone_numbers", text)
        elif kind == "email":
            quarantine.add("email_addresses", text.lower())
        elif kind in ("mention", "mention_name"):
            quarantine_name(quarantine, text)
        href = entity.get("href")
        if kind == "text_link" and isinstance(href, str) and href and href != text:
            text = f"{text} ({href})"
        parts.append(text)
    return "".join(parts)


class _Files:
    """Resolves the relative paths in result.json against the export's members."""

    def __init__(self, names: list[str], base: str):
        self.names = set(names)
        self.base = base
        self.by_tail: dict[str, list[str]] = {}
        for name in names:
            self.by_tail.setdefault("/".join(name.split("/")[-2:]).casefold(), []).append(name)

    def find(self, relative: str) -> str | None:
        relative = relative.replace("\\", "/").lstrip("/")
        candidate = f"{self.base}/{relative}" if self.base else relative
        if candidate in self.names:
            return candidate
        found = self.by_tail.get("/".join(relative.split("/")[-2:]).casefold(), [])
        return found[0] if len(found) == 1 else None


def _chat(chat: dict, files: _Files, owner_id: str, owner_name: str) -> Conversation:
    kind = chat.get("type") or ""
    conversation = Conversation(
        source="telegram",
        label=clean_label(chat.get("name") or ""),
        owner_id=owner_id,
        owner_name=owner_name,
        group=kind not in _ONE_TO_ONE,
    )
    if kind == "personal_chat" and chat.get("id") is not None:
        conversation.partner_id = f"user{chat['id']}"
        conversation.partner_name = conversation.label
    messages = chat.get("messages")
    if not isinstance(messages, list):
        raise ImportRefused("A Telegram chat in the export has no message list.", code="format")
    for item in messages:
        if isinstance(item, dict):
            _message(conversation, item, files)
    return conversation


def _message(conversation: Conversation, item: dict, files: _Files) -> None:  # noqa: C901 (one branch per kind of message in the export)
    sent_at = from_iso(item.get("date"), "Telegram message")
    quarantine = conversation.quarantine
    if item.get("type") == "service":
        actor = clean_label(item.get("actor") or "")
        if item.get("action") in _CALL_ACTIONS and actor:
            reason = item.get("discard_reason")
            seconds = item.get("duration_seconds")
            if reason in ("missed", "busy") or not isinstance(seconds, int) or seconds <= 0:
                note = "[missed call]"
            else:
                minutes, rest = divmod(seconds, 60)
                note = f"[call, {minutes} min {rest} s]" if minutes else f"[call, {rest} s]"
            actor_id = str(item.get("actor_id") or "")
            conversation.add(ChannelMessage(sent_at, actor, note, kind="note", sender_id=actor_id))
            return
        conversation.counts["system"] += 1
        quarantine.add("system_messages", str(item.get("action") or "service"))
        quarantine_name(quarantine, actor)
        for member in item.get("members") or []:
            quarantine_name(quarantine, member if isinstance(member, str) else "")
        return
    if item.get("type") != "message":
        return
    sender = clean_label(item.get("from") or "") or "Deleted Account"
    sender_id = str(item.get("from_id") or "")
    text = flatten_text(item.get("text"), conversation).strip()
    forwarded = clean_label(item.get("forwarded_from") or "")
    if forwarded:
        quarantine_name(quarantine, forwarded)
    if item.get("edited") and text:
        conversation.counts["edited"] += 1
        text = f"{text} [edited]"
    if forwarded and text:
        text = f"[forwarded from {forwarded}] {text}"
    media_type = item.get("media_type") or ""
    path = item.get("file") if isinstance(item.get("file"), str) else item.get("photo")
    if media_type == "sticker":
        conversation.counts["stickers"] += 1
        path = None
    if isinstance(path, str) and path:
        if path.startswith(_NOT_INCLUDED):
            conversation.add(ChannelMessage(sent_at, sender, "", kind="attachment", sender_id=sender_id))
        else:
            found = files.find(path)
            name = path.replace("\\", "/").lstrip("/")
            if found:
                # The member's own (normalised) path, relative to result.json, names the file.
                name = found[len(files.base) + 1 :] if files.base and found.startswith(files.base + "/") else found
            spoken = media_type in _SPOKEN
            if found:
                conversation.files[name] = found
            if forwarded and spoken:
                conversation.add(ChannelMessage(sent_at, sender, f"[forwarded from {forwarded}]", sender_id=sender_id))
            conversation.add(
                ChannelMessage(
                    sent_at, sender, kind="voice" if spoken else "attachment", attachment=name, sender_id=sender_id
                )
            )
    contact = item.get("contact_information")
    if isinstance(contact, dict):
        name = " ".join(str(contact.get(k) or "") for k in ("first_name", "last_name")).strip()
        quarantine_name(quarantine, name)
        quarantine.add("phone_numbers", str(contact.get("phone_number") or ""))
        conversation.add(ChannelMessage(sent_at, sender, "[contact shared]", kind="note", sender_id=sender_id))
    location = item.get("location_information")
    if isinstance(location, dict):
        quarantine.add("addresses", f"{location.get('latitude')},{location.get('longitude')}")
        conversation.add(ChannelMessage(sent_at, sender, "[location shared]", kind="note", sender_id=sender_id))
    if text:
        conversation.add(ChannelMessage(sent_at, sender, text, sender_id=sender_id))


def parse_telegram_conversations(data: bytes, *, filename: str = "", **options):
    export = open_export(data, filename, **options)
    names = export.names()
    results = [n for n in names if PurePosixPath(n).name.lower() == "result.json"] if export.is_archive else names
    if not results:
        if any(PurePosixPath(n).name.lower().startswith("messages") and n.lower().endswith(".html") for n in names):
            raise ImportRefused(
                "This is the HTML form of a Telegram export; export the chat again choosing "
                "“Machine-readable JSON” as the format.",
                code="format",
            )
        raise ImportRefused("The archive holds no Telegram export (result.json).", code="format")
    if len(results) > 1:
        raise ImportRefused("The archive holds more than one Telegram result.json; upload one export.", code="format")
    [result] = results
    value = load_json(export.read(result), what="Telegram export")
    if not looks_like_telegram_json(value):
        raise ImportRefused("The JSON file is not a Telegram Desktop export (no chats or messages).", code="format")
    assert isinstance(value, dict)
    base = str(PurePosixPath(result).parent) if "/" in result else ""
    files = _Files(names, base)
    owner_id = owner_name = ""
    me = value.get("personal_information")
    if isinstance(me, dict):
        if me.get("user_id") is not None:
            owner_id = f"user{me['user_id']}"
        owner_name = " ".join(str(me.get(k) or "") for k in ("first_name", "last_name")).strip()
    chats = value["chats"]["list"] if isinstance(value.get("chats"), dict) else [value]
    if not isinstance(chats, list):
        raise ImportRefused("The Telegram export's chat list is malformed.", code="format")
    check_conversation_count(len(chats))
    conversations = [_chat(chat, files, owner_id, owner_name) for chat in chats if isinstance(chat, dict)]
    return conversations, export


def parse_telegram(data: bytes, **options) -> ParsedImport:
    """A Telegram export holding one chat, or the one the narrator took part in."""
    return parse_one(parse_telegram_conversations, data, **options)
