"""Facebook Messenger and Instagram "Download your information" exports, JSON or HTML.

Layout: `[your_facebook_activity/|your_instagram_activity/]messages/<inbox|archived_threads|
filtered_threads|message_requests|e2ee_cutover>/<thread>/message_1.json` (or `.html`), several
numbered files per long thread, each listing its messages newest first, with the thread's media in
`audio_files/` (or `audio/`), `photos/`, `videos/`, `files/`, `gifs/` beside them. Accepted as the whole
export zipped, one thread folder zipped (or given to `ingest` as a folder), or a bare message_1.json.

The JSON writes UTF-8 text as escaped Latin-1 code points ("\\u00d9\\u0085" for "م"); every string is
put back (channels.fix_mojibake). The newer end-to-end-encrypted Messenger download (`senderName`,
`text`, `timestamp`, `media`) is read too; it has no mojibake. Calls become a note ("[call, 4 min
12 s]", "[missed call]"), unsent messages and reactions are counted and left out (who reacted is
quarantined), group notices go to quarantine, voice clips are transcribed in place.
"""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import PurePosixPath

from .base import ImportRefused, ParsedImport, decode_text
from .channels import (
    ChannelMessage,
    Conversation,
    ExportFiles,
    check_conversation_count,
    check_time,
    clean_label,
    fix_mojibake_deep,
    from_epoch_ms,
    load_json,
    media_kind,
    open_export,
    parse_one,
    quarantine_name,
)

_MESSAGE_FILE = re.compile(r"(?:^|/)message_(\d+)\.(json|html)$", re.IGNORECASE)
_PROFILE_FILES = ("profile_information.json", "personal_information.json")
_MEDIA_KEYS = (("audio_files", "audio"), ("videos", "video"), ("photos", "image"), ("gifs", "image"), ("files", ""))
_PLACEHOLDER = re.compile(
    r"\b(?:sent|shared) (?:an?|\d+) (?:attachment|photo|photos|video|videos|audio clip|voice message|GIF|"
    r"sticker|file|files)s?\.?$",
    re.IGNORECASE,
)
_SYSTEM_TYPES = {"Subscribe", "Unsubscribe"}
_LEADING_SYMBOLS = re.compile(r"^\W+")


def looks_like_messenger_json(value: object) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        return False
    if "participants" not in value:
        return False
    sample = next((m for m in value["messages"] if isinstance(m, dict)), None)
    return sample is None or "sender_name" in sample or "senderName" in sample


def looks_like_messenger_html(text: str) -> bool:
    head = text[:200_000]
    return ("_a6-g" in head or "uiBoxWhite" in head or "_2lej" in head) and "<div" in head


def _call_note(seconds: object) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        return "[missed call]"
    minutes, rest = divmod(int(seconds), 60)
    return f"[call, {minutes} min {rest} s]" if minutes else f"[call, {rest} s]"


class _Resolver:
    """Finds the export member a message's `uri` names: the export root may be above or below the
    zip's root, so match on the part after the thread's folder, then on the last two components."""

    def __init__(self, names: list[str]):
        self.names = set(names)
        self.tails: dict[str, list[str]] = {}
        for name in names:
            self.tails.setdefault("/".join(name.split("/")[-2:]).casefold(), []).append(name)

    def find(self, uri: str, thread_dir: str) -> str | None:
        uri = uri.replace("\\", "/").lstrip("/")
        if not uri or "://" in uri:
            return None
        if uri in self.names:
            return uri
        thread = PurePosixPath(thread_dir).name if thread_dir else ""
        if thread and f"/{thread}/" in f"/{uri}":
            rest = f"/{uri}".split(f"/{thread}/", 1)[1]
            candidate = f"{thread_dir}/{rest}" if thread_dir else rest
            if candidate in self.names:
                return candidate
        found = self.tails.get("/".join(uri.split("/")[-2:]).casefold(), [])
        inside = [name for name in found if not thread_dir or name.startswith(thread_dir + "/")]
        if len(inside) == 1:
            return inside[0]
        return found[0] if len(found) == 1 else None


def _file_name(path: str, thread_dir: str) -> str:
    return path[len(thread_dir) + 1 :] if thread_dir and path.startswith(thread_dir + "/") else path


def _owner(export: ExportFiles) -> str:
    """The account's own name from the export's profile file, when the whole export was uploaded."""
    for name in export.names():
        if PurePosixPath(name).name not in _PROFILE_FILES or export.size(name) > 5 * 1024 * 1024:
            continue
        try:
            data = fix_mojibake_deep(load_json(export.read(name), what="profile file"))
        except ImportRefused:
            continue
        if isinstance(data, dict):
            profile = data.get("profile_v2") or data.get("profile") or {}
            full = profile.get("name", {}).get("full_name") if isinstance(profile, dict) else None
            if isinstance(full, str) and full.strip():
                return clean_label(full)
            for entry in data.get("profile_user") or []:
                value = (
                    (entry.get("string_map_data") or {}).get("Name", {}).get("value")
                    if isinstance(entry, dict)
                    else None
                )
                if isinstance(value, str) and value.strip():
                    return clean_label(value)
    return ""


def _thread_files(export: ExportFiles) -> dict[str, list[tuple[int, str, str]]]:
    """thread folder -> [(number, format, path)] of its message files."""
    threads: dict[str, list[tuple[int, str, str]]] = {}
    for name in export.names():
        match = _MESSAGE_FILE.search(name)
        if match:
            folder = str(PurePosixPath(name).parent) if "/" in name else ""
            threads.setdefault(folder, []).append((int(match.group(1)), match.group(2).lower(), name))
    return threads


def parse_messenger_conversations(
    data: bytes, *, filename: str = "", **options
) -> tuple[list[Conversation], ExportFiles]:
    export = open_export(data, filename, **options)
    threads = _thread_files(export)
    if not threads and not export.is_archive:
        name = export.names()[0]
        threads = {"": [(1, "html" if name.lower().endswith((".html", ".htm")) else "json", name)]}
    if not threads:
        raise ImportRefused(
            "The archive holds no Messenger or Instagram conversation (no messages/…/message_1.json).", code="format"
        )
    check_conversation_count(len(threads))
    owner = _owner(export) if export.is_archive else ""
    resolver = _Resolver(export.names())
    conversations: list[Conversation] = []
    for thread_dir, files in sorted(threads.items()):
        formats = {fmt for _, fmt, _ in files}
        chosen = "json" if "json" in formats else "html"
        numbered = sorted((n, path) for n, fmt, path in files if fmt == chosen)
        conversation = Conversation(source="messenger", label="", owner_name=owner)
        for _, path in numbered:
            if chosen == "json":
                _read_json(conversation, export, path, thread_dir, resolver)
            else:
                _read_html(conversation, export, path, thread_dir, resolver)
        media_dirs = ("audio_files/", "audio/", "photos/", "videos/", "files/", "gifs/")
        for name in export.names():
            if thread_dir and name.startswith(thread_dir + "/") and not _MESSAGE_FILE.search(name):
                relative = _file_name(name, thread_dir)
                if relative.startswith(media_dirs):
                    conversation.files.setdefault(relative, name)
        conversations.append(conversation)
    return conversations, export


def _read_json(conversation: Conversation, export: ExportFiles, path: str, thread_dir: str, resolver: _Resolver):
    value = fix_mojibake_deep(load_json(export.read(path), what="Messenger message file"))
    if not looks_like_messenger_json(value):
        raise ImportRefused(
            "A message file is not a Messenger or Instagram conversation (no participants and messages).",
            code="format",
        )
    assert isinstance(value, dict)
    participants = [clean_label(p.get("name") if isinstance(p, dict) else p) for p in value.get("participants") or []]
    participants = [p for p in participants if p]
    for participant in participants:
        quarantine_name(conversation.quarantine, participant)
    title = clean_label(value.get("title") or value.get("threadName") or "")
    if title and not conversation.label:
        conversation.label = title
    group = value.get("thread_type") == "RegularGroup" or len(participants) > 2
    conversation.group = conversation.group or group
    if not conversation.group and title and title in participants:
        conversation.partner_name = title
    # Each file lists its messages newest first; the conversation is put in time order later.
    for item in reversed(value["messages"]):
        if isinstance(item, dict):
            _message(conversation, item, thread_dir, resolver)


def _message(conversation: Conversation, item: dict, thread_dir: str, resolver: _Resolver) -> None:  # noqa: C901 (one branch per kind of message in the export)
    sender = clean_label(item.get("sender_name") or item.get("senderName"))
    stamp = item.get("timestamp_ms", item.get("timestamp"))
    sent_at = from_epoch_ms(stamp, "Messenger message")
    quarantine = conversation.quarantine
    for reaction in item.get("reactions") or []:
        if isinstance(reaction, dict):
            conversation.counts["reactions"] += 1
            quarantine_name(quarantine, reaction.get("actor") or reaction.get("actorName") or "")
    if item.get("is_unsent") or item.get("isUnsent"):
        conversation.counts["unsent"] += 1
        return
    content = item.get("content", item.get("text"))
    content = content.strip() if isinstance(content, str) else ""
    if not sender:
        conversation.counts["system"] += 1
        quarantine.add("system_messages", content)
        return
    kind = item.get("type")
    if kind in _SYSTEM_TYPES:
        conversation.counts["system"] += 1
        quarantine.add("system_messages", content)
        return
    if kind == "Call" or "call_duration" in item:
        conversation.add(ChannelMessage(sent_at, sender, _call_note(item.get("call_duration")), kind="note"))
        return
    media: list[tuple[str, str]] = []
    for key, hint in _MEDIA_KEYS:
        for entry in item.get(key) or []:
            if isinstance(entry, dict) and isinstance(entry.get("uri"), str):
                media.append((entry["uri"], hint))
    for entry in item.get("media") or []:
        if isinstance(entry, dict) and isinstance(entry.get("uri"), str):
            media.append((entry["uri"], ""))
    if isinstance(item.get("sticker"), dict):
        conversation.counts["stickers"] += 1
        if not content and not media:
            return
    for uri, hint in media:
        _attach(conversation, sent_at, sender, uri, hint, thread_dir, resolver)
    if media and _PLACEHOLDER.search(content):
        content = ""
    share = item.get("share")
    if isinstance(share, dict):
        link = share.get("link")
        if isinstance(link, str) and link and link not in content:
            content = f"{content} {link}".strip()
    if content:
        conversation.add(ChannelMessage(sent_at, sender, content))


def _attach(conversation: Conversation, sent_at, sender: str, uri: str, hint: str, thread_dir: str, resolver) -> None:
    path = resolver.find(uri, thread_dir)
    name = _file_name(path, thread_dir) if path else PurePosixPath(uri).name
    kind, _ = media_kind(name, hint)
    if path:
        conversation.files[name] = path
    spoken = kind == "audio" or (hint == "audio")
    conversation.add(ChannelMessage(sent_at, sender, kind="voice" if spoken else "attachment", attachment=name))


# HTML ------------------------------------------------------------------------------------------


class _Node:
    __slots__ = ("attrs", "items", "parent", "tag")

    def __init__(self, tag: str, attrs: dict[str, str], parent: _Node | None):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.items: list[_Node | str] = []  # text and child elements in document order

    @property
    def children(self) -> list[_Node]:
        return [item for item in self.items if isinstance(item, _Node)]

    def all_text(self) -> str:
        parts: list[str] = []
        stack: list[_Node | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
                continue
            if item.tag in _BLOCK:
                parts.append("\n")
            stack.extend(reversed(item.items))
        return "\n".join(" ".join(line.split()) for line in "".join(parts).split("\n") if line.strip())

    def walk(self):
        stack: list[_Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


_VOID = {"br", "img", "hr", "meta", "link", "input", "source", "wbr", "area", "base", "col", "embed", "track"}
_BLOCK = {"br", "p", "div", "li", "tr", "h1", "h2", "h3"}
_SKIPPED = {"script", "style", "head"}
MAX_HTML_DEPTH = 200


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = _Node("root", {}, None)
        self.current = self.root
        self.depth = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.items.append(node)
        if tag == "title":
            self._in_title = True
        if tag in _VOID:
            return
        self.depth += 1
        if self.depth > MAX_HTML_DEPTH:
            raise ImportRefused("The HTML message file is nested too deeply to be an export.", code="malformed")
        self.current = node

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        node, depth = self.current, self.depth
        while node.parent is not None and node.tag != tag:
            node, depth = node.parent, depth - 1
        if node.parent is not None:
            self.current, self.depth = node.parent, depth - 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
            return
        if self.current.tag not in _SKIPPED:
            self.current.items.append(data)


_HTML_TIME_FORMATS = (
    "%b %d %Y %I:%M:%S %p",
    "%b %d %Y %I:%M %p",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y %H:%M",
    "%B %d %Y %I:%M:%S %p",
    "%B %d %Y %I:%M %p",
    "%Y-%m-%d %H:%M:%S",
)


def _html_time(text: str) -> datetime | None:
    cleaned = " ".join(text.replace(",", " ").replace("\u202f", " ").split())
    cleaned = re.sub(r"(\d)(am|pm)$", r"\1 \2", cleaned, flags=re.IGNORECASE)
    if len(cleaned) > 40:
        return None
    for pattern in _HTML_TIME_FORMATS:
        try:
            return datetime.strptime(cleaned, pattern)  # noqa: DTZ007 - the export shows a local clock
        except ValueError:
            continue
    return None


def _read_html(conversation: Conversation, export: ExportFiles, path: str, thread_dir: str, resolver: _Resolver):  # noqa: C901 (one branch per element of the HTML export)
    text = decode_text(export.read(path), what="Messenger message file")
    tree = _Tree()
    try:
        tree.feed(text)
        tree.close()
    except ImportRefused:
        raise
    except (ValueError, AssertionError) as exc:
        raise ImportRefused("The HTML message file could not be read.", code="malformed") from exc
    if not conversation.label:
        conversation.label = clean_label(tree.title)
    found: list[tuple[datetime, str, _Node]] = []
    for node in tree.root.walk():
        blocks = [child for child in node.children if child.tag == "div"]
        if node.tag != "div" or len(blocks) < 3 or len(blocks) > 4:
            continue
        when = _html_time(blocks[-1].all_text())
        sender = clean_label(blocks[0].all_text())
        if when is None or not sender or len(sender) > 120:
            continue
        found.append((check_time(when, "Messenger message"), sender, blocks[1]))
    for line in tree.root.all_text().split("\n"):
        if line.startswith("Participants:"):
            for name in re.split(r",\s*|\s+and\s+", line.removeprefix("Participants:")):
                quarantine_name(conversation.quarantine, name)
    if not found:
        raise ImportRefused(
            "The HTML message file holds no messages in a form this importer knows; download the export as JSON.",
            code="format",
        )
    # Newest first in the file, like the JSON.
    for when, sender, body in reversed(found):
        # Reactions are a list under the message ("❤ Name"): counted, names quarantined, not testimony.
        for node in list(body.walk()):
            for item in [i for i in node.items if isinstance(i, _Node) and i.tag == "ul"]:
                node.items.remove(item)
                for reaction in item.children:
                    conversation.counts["reactions"] += 1
                    quarantine_name(conversation.quarantine, _LEADING_SYMBOLS.sub("", reaction.all_text()))
        media = []
        for node in body.walk():
            for attribute in ("href", "src"):
                uri = node.attrs.get(attribute, "")
                if uri and "://" not in uri and not uri.startswith(("#", "data:", "mailto:")):
                    hint = {"audio": "audio", "video": "video", "img": "image"}.get(node.tag, "")
                    media.append((uri, hint))
        seen: set[str] = set()
        for uri, hint in media:
            if uri in seen:
                continue
            seen.add(uri)
            _attach(conversation, when, sender, uri, hint, thread_dir, resolver)
        content = body.all_text()
        if media and (not content or _PLACEHOLDER.search(content)):
            continue
        if content:
            conversation.add(ChannelMessage(when, sender, content))
    senders = {m.sender for m in conversation.messages}
    conversation.group = conversation.group or len(senders) > 2


def parse_messenger(data: bytes, **options) -> ParsedImport:
    """A Messenger or Instagram export holding one conversation, or the one the narrator took part in."""
    return parse_one(parse_messenger_conversations, data, **options)
