"""A stateful model of interviews that live: the Hypothesis state machine behind
tests/gate/test_lifecycle_stateful.py and `python -m benchmarks.lifecycle`.

Rules are what people do to an interview over months: ingest audio, a chat with voice notes (a real
WhatsApp, Telegram Desktop, Facebook Messenger or Skype export, imported as the import page imports it)
or a VTT (published, a draft or in review); add a part, replace a recording, re-transcribe; correct a segment,
change a speaker; redact a span, an entity or an alias, reject or revoke a redaction; change consent,
anonymity or access level; move it along the workflow (draft, review, published, archived); withdraw;
purge (a custodian deletes it, leaving a tombstone).

Canaries are unique tokens ("Zqx" + five letters) planted as narrators' legal names, as words spoken in
synthesised audio or written in chats and transcripts (secret until an editor redacts them with a
`visible_from` tier), as phone numbers, in summaries and places, and as a marker in every interview's
title and first words (hidden wherever the interview may not be known). The model computes, from what
the rules did and without asking the gate, which tokens each tier must never receive.

After every step, at every tier: the served rendering equals a fresh `render()` and no stored rendering
is stale; the interview exists exactly where the model says (200 or 404); no hidden token reaches the
interview page, the lists, the API, search (hits, counts, facets, suggestions) or the txt/vtt/json
exports. Once per example (teardown): the pdf, docx and bagit exports, and the tier audio, in which
every hidden word is silent (RMS 0 where the model maps it, no trace of its tone anywhere) while the
custodian hears every word, and the duration equals the parts' total.

Audio is synthesised with numpy: each word a tone burst at known times (a token's tone is its own
frequency), silence between. Whisper is replaced by a deterministic stand-in that looks up the script
of each file by its SHA-256 and returns its words with their exact times (a second pass regroups them
into other segments, as another model would). Transcription jobs run in this process right after the
commit that queued them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import io
import json
import math
import re
import subprocess
import tarfile
import uuid
import wave
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.test import Client, TestCase
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from archive import search, services, transcription
from archive.gate import NotVisible, policy, policy_stamp, render, rendering_for
from archive.gate.inputs import Inputs, load_inputs
from archive.gate.stamps import rules_clock
from archive.importers import parse_file
from archive.importers.base import ParsedImport
from archive.models import (
    AccessRequest,
    Entity,
    Interview,
    Membership,
    Narrator,
    Recording,
    Redaction,
    RenderedInterview,
    Segment,
    TranscriptionJob,
)
from archive.services import recordings, transcripts_ingest
from archive.services.access_requests import (
    GrantRefusedByConsent,
    RequestRefused,
    access_grant_revoke,
    access_request_create,
    access_request_decide,
)
from archive.services.editorial import (
    InvalidChange,
    NotAllowed,
    PublicationBlocked,
    interview_edit,
    interview_set_status,
    redaction_revoke,
)
from archive.services.exports import ExportError, export_interview
from archive.services.imports import import_parsed
from archive.services.purge import interview_purge
from archive.services.recordings import recording_store, transcription_job_create
from archive.services.transcripts_ingest import transcription_job_run

TIERS = ("public", "researcher", "staff", "custodian")
ORDER = {tier: index for index, tier in enumerate(TIERS)}
REDACTION_TIERS = ("researcher", "staff", "custodian")
ANONYMITIES = ("named", "pseudonymous", "anonymous", "sealed")
# Workflow states an interview starts in (ingest --access publishes; the pages make drafts) and those an
# editor moves it between; only a published interview is seen below staff.
START_STATUSES = ("published", "published", "draft", "review")
SET_STATUSES = ("draft", "review", "published", "archived")
MAX_INTERVIEWS = 3
MAX_PURGED = 2  # tombstones an example may leave besides the live interviews
MAX_PARTS = 3
TEXT_FORMATS = ("txt", "vtt", "json")
SEARCH_BATCH = 30  # words per search query: 30 x len("Zqxabcde OR ") stays under MAX_QUERY_CHARS
BINARY_FORMATS = ("pdf", "docx", "bagit")
GRANTED_TIERS = ("researcher", "staff")  # what a reader may ask for (custodian is never granted)


class Violation(AssertionError):
    """The gate let something through (or withheld what it must serve)."""


def _max_tier(*tiers: str) -> str:
    return max(tiers, key=ORDER.__getitem__)


def _below(tier: str, floor: str) -> bool:
    return ORDER[tier] < ORDER[floor]


# Synthesised audio ---------------------------------------------------------------------------------

RATE = 16_000
WORD_SECONDS = 0.30
WORD_GAP = 0.25
SEGMENT_GAP = 0.60
TAIL_SECONDS = 0.50
AMPLITUDE = 0.25
FADE_SECONDS = 0.010
TOKEN_HZ_FIRST, TOKEN_HZ_STEP, TOKEN_HZ_LAST = 1200.0, 100.0, 6900.0
# Analysis of served audio (decoded as the redactor decodes it).
SERVED_RATE = 48_000
WINDOW_SECONDS, HOP_SECONDS = 0.10, 0.05
HEARD = 0.12  # a token's tone at or above this amplitude is heard (synthesised at 0.25)
NOT_HEARD = 0.03  # a hidden token's tone must stay below this everywhere
SILENT_RMS = 1e-7  # "RMS 0": below one step of 24-bit audio
DURATION_TOLERANCE = 0.05  # seconds, per part


@dataclass(frozen=True)
class SpokenWord:
    text: str
    start: float
    end: float
    hz: float


@dataclass(frozen=True)
class Script:
    """What a synthesised recording says, word by word, on its own timeline."""

    lines: tuple[tuple[SpokenWord, ...], ...]
    duration: float

    @property
    def words(self) -> list[SpokenWord]:
        return [word for line in self.lines for word in line]


def filler_hz(word: str) -> float:
    return 300.0 + (zlib.crc32(word.encode()) % 14) * 50.0


def synthesise(lines: list[list[tuple[str, float]]], lead_in: float = 0.4) -> tuple[bytes, Script]:
    """A mono 16-bit WAV: each (word, hz) a faded tone burst, silence between words and lines."""
    position = lead_in
    spoken: list[tuple[SpokenWord, ...]] = []
    for line in lines:
        row = []
        for text, hz in line:
            row.append(SpokenWord(text, round(position, 3), round(position + WORD_SECONDS, 3), hz))
            position += WORD_SECONDS + WORD_GAP
        spoken.append(tuple(row))
        position += SEGMENT_GAP
    count = round((position + TAIL_SECONDS) * RATE)
    samples = np.zeros(count)
    ramp = int(FADE_SECONDS * RATE)
    for line in spoken:
        for word in line:
            first, last = round(word.start * RATE), round(word.end * RATE)
            index = np.arange(last - first)
            envelope = np.ones(last - first)
            envelope[:ramp] = np.linspace(0.0, 1.0, ramp)
            envelope[-ramp:] = np.linspace(1.0, 0.0, ramp)
            samples[first:last] = AMPLITUDE * np.sin(2 * np.pi * word.hz * index / RATE) * envelope
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return buffer.getvalue(), Script(tuple(spoken), count / RATE)


def decode(source: Any) -> np.ndarray:
    """Mono float32 samples at 48 kHz, decoded exactly as archive.audio_redaction decodes."""
    container = av.open(source if not isinstance(source, Path) else str(source))
    try:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SERVED_RATE)
        chunks = []
        for frame in container.decode(audio=0):
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    finally:
        container.close()
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def tone_levels(samples: np.ndarray, freqs: list[float]) -> dict[float, float]:
    """The loudest amplitude of each frequency over short windows of the signal."""
    if not freqs:
        return {}
    size, hop = int(WINDOW_SECONDS * SERVED_RATE), int(HOP_SECONDS * SERVED_RATE)
    if len(samples) < size:
        samples = np.pad(samples, (0, size - len(samples)))
    frames = np.lib.stride_tricks.sliding_window_view(samples.astype(np.float64), size)[::hop]
    window = np.hanning(size)
    times = np.arange(size) / SERVED_RATE
    basis = np.exp(-2j * np.pi * np.outer(times, freqs)) * window[:, None]
    amplitudes = np.abs(frames @ basis) * 2.0 / window.sum()
    return dict(zip(freqs, amplitudes.max(axis=0).tolist(), strict=True))


# Chat exports -------------------------------------------------------------------------------------

CHANNELS = ("whatsapp", "telegram", "messenger", "skype")
INTERVIEWER = "Rawi team"
CHAT_START = datetime(2024, 1, 15, 10, 0)  # naive like every chat clock (UTC where the export says)
# Messenger writes the researcher's greeting as every other string: UTF-8 bytes as escaped code points.
GREETING_TAIL = {"messenger": " — شكراً 🌙"}


@dataclass(frozen=True)
class ChatMessage:
    """One message of a synthesised chat: text (with the phone number it holds, if any) or a voice note."""

    at: float  # seconds after the first message
    sender: str
    text: str = ""
    phone: str = ""
    voice: str = ""  # the voice note's file name in the export
    data: bytes = b""

    @property
    def sent_at(self) -> datetime:
        return CHAT_START + timedelta(seconds=self.at)

    @property
    def epoch(self) -> float:
        return self.sent_at.replace(tzinfo=UTC).timestamp()


def whatsapp_export(messages: list[ChatMessage], narrator: str) -> tuple[str, bytes]:
    """An Android WhatsApp export zipped with its media: "WhatsApp Chat with <contact>.txt"."""
    lines = [
        f"{CHAT_START:%d/%m/%Y, %H:%M} - Messages and calls are end-to-end encrypted. No one outside of this "
        "chat, not even WhatsApp, can read or listen to them."
    ]
    for message in messages:
        body = f"{message.voice} (file attached)" if message.voice else message.text
        lines.append(f"{message.sent_at:%d/%m/%Y, %H:%M} - {message.sender}: {body}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"WhatsApp Chat with {narrator}.txt", "\n".join(lines) + "\n")
        for message in messages:
            if message.voice:
                archive.writestr(message.voice, message.data)
    return f"WhatsApp Chat with {narrator}.zip", buffer.getvalue()


def telegram_export(messages: list[ChatMessage], narrator: str) -> tuple[str, bytes]:
    """A Telegram Desktop export of one personal chat (machine-readable JSON) zipped with its folder:
    phone numbers arrive as entities of a `text` list, voice messages as `voice_message` files."""
    folder = f"ChatExport_{CHAT_START:%Y-%m-%d}"
    ids = {INTERVIEWER: "user1001", narrator: "user4242"}
    items = []
    for number, message in enumerate(messages, start=1):
        item: dict[str, Any] = {
            "id": number,
            "type": "message",
            "date": message.sent_at.isoformat(),
            "date_unixtime": str(int(message.epoch)),
            "from": message.sender,
            "from_id": ids[message.sender],
        }
        if message.voice:
            item |= {
                "file": message.voice,
                "media_type": "voice_message",
                "mime_type": "audio/ogg",
                "duration_seconds": 4,
                "text": "",
                "text_entities": [],
            }
        elif message.phone:
            before = message.text.split(message.phone)[0]
            entities = [{"type": "plain", "text": before}, {"type": "phone", "text": message.phone}]
            item |= {"text": [before, entities[1]], "text_entities": entities}
        else:
            item |= {"text": message.text, "text_entities": [{"type": "plain", "text": message.text}]}
        items.append(item)
    chat = {"name": narrator, "type": "personal_chat", "id": 4242, "messages": items}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/result.json", json.dumps(chat, ensure_ascii=False, indent=1))
        for message in messages:
            if message.voice:
                archive.writestr(f"{folder}/{message.voice}", message.data)
    return f"{folder}.zip", buffer.getvalue()


def mojibake(value: Any) -> Any:
    """Facebook's encoding: every string's UTF-8 bytes written as code points U+0000–U+00FF."""
    if isinstance(value, str):
        return value.encode("utf-8").decode("latin-1")
    if isinstance(value, list):
        return [mojibake(item) for item in value]
    if isinstance(value, dict):
        return {mojibake(key): mojibake(item) for key, item in value.items()}
    return value


def messenger_export(messages: list[ChatMessage], narrator: str) -> tuple[str, bytes]:
    """A Facebook "Download your information" export of one inbox thread: message_1.json (newest first,
    mojibake) with its voice clips in audio/."""
    thread = "".join(c for c in narrator.lower() if c.isalnum()) + "_10158"
    base = f"your_facebook_activity/messages/inbox/{thread}"
    items = []
    for message in messages:
        item: dict[str, Any] = {"sender_name": message.sender, "timestamp_ms": int(message.epoch * 1000)}
        if message.voice:
            item["audio_files"] = [{"uri": f"{base}/{message.voice}", "creation_timestamp": int(message.epoch)}]
        else:
            item["content"] = message.text
        item["is_geoblocked_for_viewer"] = False
        items.append(item)
    thread_json = {
        "participants": [{"name": narrator}, {"name": INTERVIEWER}],
        "messages": items[::-1],
        "title": narrator,
        "is_still_participant": True,
        "thread_path": f"inbox/{thread}",
        "magic_words": [],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{base}/message_1.json", json.dumps(mojibake(thread_json), ensure_ascii=True, indent=2))
        for message in messages:
            if message.voice:
                archive.writestr(f"{base}/{message.voice}", message.data)
    return "facebook-rawiteam-2024-01-16.zip", buffer.getvalue()


def skype_export(messages: list[ChatMessage], narrator: str) -> tuple[str, bytes]:
    """A Skype export (a tar of messages.json and media/): HTML-ish content with entities, voice
    messages as a URIObject whose object id names the file in media/."""
    owner, partner = "live:rawi.team", "live:.cid.5a1b7c9d2e4f6a8b"
    accounts = {INTERVIEWER: owner, narrator: partner}
    items = []
    for number, message in enumerate(messages, start=1):
        item: dict[str, Any] = {
            "id": f"1705312800{number:03d}",
            "displayName": message.sender,
            "originalarrivaltime": message.sent_at.isoformat(timespec="milliseconds") + "Z",
            "version": 1705312800000 + number,
            "conversationid": f"8:{partner}",
            "from": f"8:{accounts[message.sender]}",
            "properties": None,
            "amsreferences": None,
        }
        if message.voice:
            object_id = message.voice.split("/")[-1].split(".")[0]
            item["messagetype"] = "RichText/Media_AudioMsg"
            item["amsreferences"] = [object_id]
            item["content"] = (
                f'<URIObject type="Audio.1/Message.1" uri="https://api.asm.skype.com/v1/objects/{object_id}" '
                f'url_thumbnail="https://api.asm.skype.com/v1/objects/{object_id}/views/thumbnail">'
                "<Title>Voice message</Title><Description/>To hear it, go to: "
                f'<a href="https://login.skype.com/login/sso?go=webclient.xmm&amp;docid={object_id}">'
                f"https://login.skype.com/login/sso?go=webclient.xmm&amp;docid={object_id}</a>"
                f'<OriginalName v="{object_id}.wav"/></URIObject>'
            )
        else:
            item["messagetype"] = "RichText"
            item["content"] = html.escape(message.text, quote=False)
        items.append(item)
    export = {
        "userId": owner,
        "exportDate": f"{CHAT_START + timedelta(days=1):%Y-%m-%dT%H:%M}",
        "conversations": [
            {
                "id": f"8:{partner}",
                "displayName": narrator,
                "version": 1705312800000,
                "properties": {"conversationblocked": False, "lastimreceivedtime": None},
                "threadProperties": None,
                "MessageList": items[::-1],
            }
        ],
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        files = [("messages.json", json.dumps(export, ensure_ascii=False).encode("utf-8"))]
        files += [(message.voice, message.data) for message in messages if message.voice]
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(CHAT_START.replace(tzinfo=UTC).timestamp())
            archive.addfile(info, io.BytesIO(data))
    return "8_live_rawi.team_export.tar", buffer.getvalue()


EXPORTS: dict[str, Callable[[list[ChatMessage], str], tuple[str, bytes]]] = {
    "whatsapp": whatsapp_export,
    "telegram": telegram_export,
    "messenger": messenger_export,
    "skype": skype_export,
}


def voice_name(channel: str, n: int) -> str:
    """A voice note's file name as each export names it (the audio is the synthesised WAV)."""
    return {
        "whatsapp": f"PTT-{CHAT_START:%Y%m%d}-WA000{n + 1}.wav",
        "telegram": f"voice_messages/audio_{n + 1}@{CHAT_START:%d-%m-%Y_%H-%M-%S}.wav",
        "messenger": f"audio/audioclip{int(CHAT_START.replace(tzinfo=UTC).timestamp())}000_{n + 1}.wav",
        "skype": f"media/0-weu-d3-{n + 1:02d}b5e8c0a7f14d2e9.1.wav",
    }[channel]


def parsed_differences(parsed: ParsedImport, messages: list[ChatMessage], narrator: str) -> list[str]:
    """What the importer made of the export, against what the export says: one segment per message at
    its time, from its sender in their role, its text (or its voice note's own audio)."""
    roles = {INTERVIEWER: "interviewer", narrator: "narrator"}
    expected = [
        (m.at, m.sent_at, m.sender, roles[m.sender], "voice" if m.voice else "text", "" if m.voice else m.text)
        for m in messages
    ]
    found = [(s.start, s.sent_at, s.speaker, s.role, s.kind, s.text) for s in parsed.segments]
    problems = []
    if found != expected:
        problems.append(f"the {parsed.source} importer read {found}, the export says {expected}")
    notes = [parsed.attachment(s.attachment) for s in parsed.segments if s.kind == "voice"]
    if [item.data if item else None for item in notes] != [m.data for m in messages if m.voice]:
        problems.append(f"the {parsed.source} importer did not keep each voice note's own audio")
    return problems


# The Whisper stand-in ------------------------------------------------------------------------------


class StandInWhisper:
    """Deterministic, word-timed transcription of synthesised files, looked up by SHA-256. Each further
    pass over the same file regroups its words into other segments (three words each), as another
    model or language setting would; the words and their times stay exact."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.passes: dict[str, int] = {}
        self.queued: list[int] = []

    def reset(self) -> None:
        self.scripts.clear()
        self.passes.clear()
        self.queued.clear()

    def register(self, data: bytes, script: Script) -> None:
        self.scripts[hashlib.sha256(data).hexdigest()] = script

    def transcribe(self, source: Any, *, options: Any = None, **_ignored: Any) -> Any:
        data = source.read() if hasattr(source, "read") else Path(source).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        script = self.scripts.get(digest)
        if script is None:
            raise RuntimeError("the stand-in was asked to transcribe audio it did not synthesise")
        done = self.passes[digest] = self.passes.get(digest, -1) + 1
        if done % 2 == 0:
            groups = [list(line) for line in script.lines]
        else:
            words = script.words
            groups = [words[i : i + 3] for i in range(0, len(words), 3)]
        language = (getattr(options, "language", None) or "en") if options is not None else "en"
        segments = [
            transcription.Segment(
                start=group[0].start,
                end=group[-1].end,
                text=" ".join(w.text for w in group),
                language=language,
                words=[transcription.Word(f" {w.text}", w.start, w.end, 0.99) for w in group],
            )
            for group in groups
            if group
        ]
        return transcription.Transcription(
            segments=segments,
            language=language,
            language_probability=1.0,
            duration=script.duration,
            provenance=transcription.Provenance(
                "stand-in", "1", "stand-in", "0" * 64, options.as_dict() if options is not None else {}
            ),
        )

    def resolve_model(self, *_args: Any, **_kwargs: Any) -> Any:
        return transcription.ModelSpec("stand-in", Path("."), "0" * 64, True)


@contextlib.contextmanager
def stand_ins(whisper: StandInWhisper) -> Iterator[None]:
    """Whisper replaced by the stand-in; the broker replaced by a list of job ids that the machine runs
    in this process; the worker's connection recycling switched off (the example's transaction must
    survive a job run in its middle)."""

    patches = [
        (transcription, "transcribe", whisper.transcribe),
        (transcription, "resolve_model", whisper.resolve_model),
        (transcription, "load_model", lambda *a, **k: object()),
        (recordings, "_enqueue", whisper.queued.append),
        (transcripts_ingest, "close_old_connections", lambda: None),
    ]
    saved = [(target, name, getattr(target, name)) for target, name, _value in patches]
    try:
        for target, name, value in patches:
            setattr(target, name, value)
        yield
    finally:
        for target, name, value in saved:
            setattr(target, name, value)


# The model -----------------------------------------------------------------------------------------


@dataclass
class Part:
    """A recording as the model knows it: which file, what it says, in which order it is served."""

    recording_pk: int | None
    script: Script
    tokens: list[str]  # secret tokens spoken in it
    voice_note: bool = False


@dataclass
class ModelInterview:
    pk: int
    public_id: str
    kind: str  # audio | chat | vtt
    marker: str
    narrator_pk: int
    narrator_public_id: str
    name: tuple[str, str]
    anonymity: str
    access_level: str
    consent: dict[str, bool]
    status: str = "published"
    embargoed: bool = False  # an editor's embargo in force: held at staff, no grant counts
    withdrawn: bool = False
    purged: bool = False  # deleted by a custodian: a tombstone only custodians see
    parts: list[Part] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # secret tokens in chat or VTT text
    summary_token: str = ""
    place_token: str = ""
    phones: list[str] = field(default_factory=list)

    @property
    def transcript_tokens(self) -> list[str]:
        return [*self.written, *(t for part in self.parts for t in part.tokens)]

    @property
    def all_tokens(self) -> list[str]:
        tokens = [self.marker, *self.name, *self.transcript_tokens, *self.phones]
        return [t for t in [*tokens, self.summary_token, self.place_token] if t]

    def consent_floor(self) -> str:
        if not self.consent.get("research_access"):
            return "staff"
        if not (self.consent.get("publication") and self.consent.get("public_web")):
            return "researcher"
        return "public"


@dataclass
class ModelGrant:
    """Access a custodian granted the grantee on request, for one interview or the whole collection."""

    pk: int
    tier: str
    interview_pk: int | None = None  # None: the collection


@dataclass
class ModelRedaction:
    pk: int
    kind: str  # span | entity
    visible_from: str
    token: str = ""  # span: the one occurrence it covers
    entity_pk: int = 0
    approved: bool = True
    interview_pk: int = 0  # span: the interview whose transcript it is on


scopes_st = st.fixed_dictionaries(
    {
        "research_access": st.booleans(),
        "publication": st.booleans(),
        "public_web": st.booleans(),
        "voice_release": st.booleans(),
    }
)
FILLERS = ("we", "bread", "river", "winter", "market", "school", "radio", "evening", "garden", "road", "morning")


@dataclass
class Context:
    """What outlives examples: the collection, a user and a signed-in client per tier (and the grantee,
    a signed-in reader with no membership who asks for access), the stand-in."""

    collection: Any
    users: dict[str, Any]  # tier -> user (public: AnonymousUser)
    clients: dict[str, Any]  # tier -> django.test.Client
    editor: Any
    whisper: StandInWhisper
    collect: list[str] | None = None  # benchmark: violations are gathered here instead of raised
    counters: dict[str, int] = field(default_factory=lambda: {"examples": 0, "steps": 0})


def make_context(whisper: StandInWhisper) -> Context:
    """Users with each tier in a collection of their own (public: signed out). Call inside a database
    transaction that outlives the examples (each example rolls back to it)."""

    collection = services.collection_get_or_create(slug="lifecycle", title="Lifecycle")
    roles = {"researcher": Membership.Role.RESEARCHER, "staff": Membership.Role.EDITOR, "custodian": "custodian"}
    users: dict[str, Any] = {"public": AnonymousUser()}
    clients = {"public": Client()}
    for tier, role in roles.items():
        user, _ = User.objects.get_or_create(username=f"lifecycle-{tier}")
        services.membership_add(user=user, collection=collection, role=role)
        users[tier] = user
        client = Client()
        client.force_login(user)
        clients[tier] = client
    users["grantee"], _ = User.objects.get_or_create(username="lifecycle-grantee")
    clients["grantee"] = Client()
    clients["grantee"].force_login(users["grantee"])
    return Context(collection, users, clients, users["staff"], whisper)


def recording_service(name: str) -> Any:
    """A service the lifecycle work adds (recording_add, interview_retranscribe), or None until then."""

    return getattr(recordings, name, None) or getattr(services, name, None)


def _has_service(name: str) -> bool:
    return recording_service(name) is not None


class LifecycleMachine(RuleBasedStateMachine):
    context: Context  # set by machine_for()

    def __init__(self) -> None:
        super().__init__()

        self.context.counters["examples"] += 1
        self.context.whisper.reset()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._failed = False
        self.interviews: list[ModelInterview] = []
        self.redactions: list[ModelRedaction] = []
        self.grants: list[ModelGrant] = []
        self._grants_changed = False  # the grantee's view of every interview is checked after the step
        self.entities: dict[int, set[str]] = {}
        self._tokens = 0
        self._phones = 0
        self._hz: dict[str, float] = {}
        # Interviews a step may have changed: their own pages, renderings and exports are checked again.
        self._dirty: set[int] = set()
        self._held: dict[int, list[str]] = {}  # read once per check (see held_tiers)

    # Tokens and scripts ------------------------------------------------------------------------

    def token(self) -> str:
        self._tokens += 1
        n = (self._tokens * 7919 + 12345) % 26**5
        letters = ""
        for _ in range(5):
            n, r = divmod(n, 26)
            letters += chr(97 + r)
        return "Zqx" + letters

    def phone(self) -> str:
        self._phones += 1
        digits = f"{(self._phones * 48_271_903 + 31_337_017) % 10**8:08d}"
        return f"09{digits[:2]} {digits[2:5]} {digits[5:]}"

    def hz(self, word: str) -> float:
        if word not in self._hz:
            slots = int((TOKEN_HZ_LAST - TOKEN_HZ_FIRST) / TOKEN_HZ_STEP) + 1
            self._hz[word] = TOKEN_HZ_FIRST + TOKEN_HZ_STEP * (len(self._hz) % slots)
        return self._hz[word]

    def spoken(self, *words: str) -> list[tuple[str, float]]:
        return [(w, self.hz(w) if self._is_token(w) else filler_hz(w)) for w in words]

    def _is_token(self, word: str) -> bool:
        return word.startswith("Zqx") or word[:1].isdigit()

    def recording(self, lines: list[list[str]], lead_in: float = 0.4) -> tuple[bytes, Script]:
        data, script = synthesise([self.spoken(*line) for line in lines], lead_in=lead_in)
        self.context.whisper.register(data, script)
        return data, script

    # Plumbing ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def step(self, *touched: ModelInterview, creates: bool = False, grants: bool = False) -> Iterator[None]:
        """One user action: its transaction commits (on-commit hooks run), then the jobs it queued run.
        `touched`: the interviews it may change (none named: any interview, e.g. an entity rule);
        `creates`: it only makes a new interview (which is checked as new); `grants`: it changes only the
        grantee's access (no interview changes: the grantee's view of every interview is checked)."""

        self.context.counters["steps"] += 1
        self._held.clear()
        try:
            with TestCase.captureOnCommitCallbacks(execute=True):
                yield
            self.run_jobs()
        finally:
            self._grants_changed |= grants
            if not (creates or grants):
                self._dirty.update(m.pk for m in (touched or self.interviews))

    def run_jobs(self) -> None:
        queue = self.context.whisper.queued
        while queue:
            job_id = queue.pop(0)
            with TestCase.captureOnCommitCallbacks(execute=True):
                outcome = transcription_job_run(job_id, heartbeat_seconds=3600.0)
            if outcome != "done":
                reason = TranscriptionJob.objects.filter(pk=job_id).values_list("reason", flat=True).first()
                self.violate([f"transcription job ended {outcome}: {reason}"])

    def violate(self, problems: list[str]) -> None:
        if not problems:
            return
        if self.context.collect is not None:
            self.context.collect.extend(problems)
            return
        self._failed = True
        raise Violation("\n".join(problems[:40]))

    def _interview(self, model: ModelInterview) -> Any:
        return Interview.objects.get(pk=model.pk)

    @property
    def live(self) -> list[ModelInterview]:
        """Interviews people still work on (a purged one is a tombstone: no rule touches it again)."""
        return [m for m in self.interviews if not m.purged]

    def pick(self, index: int) -> ModelInterview:
        live = self.live
        return live[index % len(live)]

    def _new_interview(
        self, kind: str, access: str, anonymity: str, consent: dict[str, bool], status: str
    ) -> ModelInterview:
        marker, name = self.token(), (self.token(), self.token())
        narrator = services.narrator_create(
            collection=self.context.collection, legal_name=" ".join(name), anonymity=anonymity, descriptor="a resident"
        )
        summary_token, place_token = self.token(), self.token()
        interview = services.interview_create(
            collection=self.context.collection,
            title=f"Testimony {marker}",
            narrators=[narrator],
            access_level=access,
            status=status,
            languages=["en"],
            summary=f"Remembers the winter near {summary_token}.",
            place=f"{place_token} quarter",
            place_general="a district",
            actor=self.context.editor,
        )
        services.consent_record(
            narrator=narrator, interview=interview, archive=True, processing=True, actor=self.context.editor, **consent
        )
        model = ModelInterview(
            pk=interview.pk,
            public_id=str(interview.public_id),
            kind=kind,
            marker=marker,
            narrator_pk=narrator.pk,
            narrator_public_id=str(narrator.public_id),
            name=name,
            anonymity=anonymity,
            access_level=access,
            consent=dict(consent),
            status=status,
            summary_token=summary_token,
            place_token=place_token,
        )
        self.interviews.append(model)
        self._dirty.add(model.pk)
        return model

    def _add_recording(self, model: ModelInterview, data: bytes, *, replaces: int | None = None) -> Any:
        """A recording through recording_add where it exists; before it, the first recording of an
        interview the way `ingest` stores it (later parts need recording_add)."""

        interview = self._interview(model)
        add = recording_service("recording_add")
        if add is not None:
            kwargs: dict[str, Any] = {}
            if replaces is not None:
                kwargs["replaces"] = Recording.objects.get(pk=replaces)
            recording, _job = add(
                interview=interview,
                fileobj=io.BytesIO(data),
                original_filename="part.wav",
                actor=self.context.editor,
                **kwargs,
            )
            return recording
        recording = recording_store(interview=interview, fileobj=io.BytesIO(data), original_filename="part.wav")
        transcription_job_create(recording=recording, options={"language": "en"}, actor=self.context.editor)
        return recording

    # Rules: ingest -----------------------------------------------------------------------------

    @precondition(lambda self: len(self.live) < MAX_INTERVIEWS and len(self.interviews) < MAX_INTERVIEWS + MAX_PURGED)
    @rule(
        access=st.sampled_from(TIERS[:3]),
        status=st.sampled_from(START_STATUSES),
        anonymity=st.sampled_from(ANONYMITIES),
        consent=scopes_st,
        says_name=st.booleans(),
        says_phone=st.booleans(),
    )
    def ingest_audio(self, access, status, anonymity, consent, says_name, says_phone):
        with self.step(creates=True):
            model = self._new_interview("audio", access, anonymity, consent, status)
            secret = self.token()
            lines = [["we", "remember", model.marker, "bread", "winter"], ["near", secret, "the", "river"]]
            if says_name:
                lines[1] += ["my", "name", *model.name]
            if says_phone:
                phone = self.phone()
                model.phones.append(phone)
                lines.append(["call", *phone.split(), "please"])
            data, script = self.recording(lines)
            recording = self._add_recording(model, data)
            model.parts.append(Part(recording.pk, script, [secret]))

    @precondition(lambda self: len(self.live) < MAX_INTERVIEWS and len(self.interviews) < MAX_INTERVIEWS + MAX_PURGED)
    @rule(
        access=st.sampled_from(TIERS[:3]),
        status=st.sampled_from(START_STATUSES),
        anonymity=st.sampled_from(ANONYMITIES),
        consent=scopes_st,
        notes=st.integers(1, 2),
        writes_phone=st.booleans(),
        note_says_name=st.booleans(),
        channel=st.sampled_from(CHANNELS),
        named_by=st.sampled_from(["narrator", "interviewer", "export"]),
    )
    def ingest_chat(self, access, status, anonymity, consent, notes, writes_phone, note_says_name, channel, named_by):
        """A real export of the channel (WhatsApp, Telegram, Messenger or Skype) with voice notes, imported
        as the import page imports it: parse_file in strict mode (the narrator named by their label, by
        the interviewer's, or by the export itself where it knows who made it and with whom), then
        import_parsed with the voice notes queued and transcribed in place."""

        with self.step(creates=True):
            model = self._new_interview("chat", access, anonymity, consent, status)
            sender = " ".join(model.name)
            written = self.token()
            model.written.append(written)
            greeting = f"Thank you for talking about {model.marker}{GREETING_TAIL.get(channel, '')}"
            messages = [
                ChatMessage(0.0, INTERVIEWER, greeting),
                ChatMessage(60.0, sender, f"We stayed near {written} for the winter"),
            ]
            if writes_phone:
                phone = self.phone()
                model.phones.append(phone)
                messages.append(ChatMessage(120.0, sender, f"If the line drops call {phone}", phone=phone))
            for n in range(notes):
                secret = self.token()
                line = ["evening", secret, "market", "road"]
                if note_says_name and n == 0:
                    line += ["my", "name", *model.name]
                data, script = self.recording([line])
                messages.append(ChatMessage(300.0 + 360.0 * n, sender, voice=voice_name(channel, n), data=data))
                model.parts.append(Part(None, script, [secret], voice_note=True))
            filename, export = EXPORTS[channel](messages, sender)
            labels = {"narrator": {"narrator": sender}, "interviewer": {"interviewer": INTERVIEWER}}.get(named_by, {})
            if channel == "whatsapp" and not labels:
                labels = {"interviewer": INTERVIEWER}  # a WhatsApp export does not say who made it
            parsed = parse_file(filename, export, strict=True, **labels)
            self.violate(parsed_differences(parsed, messages, sender))
            outcome = import_parsed(
                interview=self._interview(model),
                parsed=parsed,
                original_filename=filename,
                actor=self.context.editor,
                language="en",
                voice_notes="queue",
            )
            for part, recording in zip(model.parts, outcome.recordings, strict=True):
                part.recording_pk = recording.pk

    @precondition(lambda self: len(self.live) < MAX_INTERVIEWS and len(self.interviews) < MAX_INTERVIEWS + MAX_PURGED)
    @rule(
        access=st.sampled_from(TIERS[:3]),
        status=st.sampled_from(START_STATUSES),
        anonymity=st.sampled_from(ANONYMITIES),
        consent=scopes_st,
        writes_phone=st.booleans(),
    )
    def ingest_vtt(self, access, status, anonymity, consent, writes_phone):
        with self.step(creates=True):
            model = self._new_interview("vtt", access, anonymity, consent, status)
            written = self.token()
            model.written.append(written)
            speaker = " ".join(model.name)
            cues = [
                ("00:00:00.000 --> 00:00:04.000", "Interviewer", f"Thank you for talking about {model.marker}"),
                ("00:00:05.000 --> 00:00:09.000", speaker, f"We stayed near {written} for the winter"),
            ]
            if writes_phone:
                phone = self.phone()
                model.phones.append(phone)
                cues.append(("00:00:10.000 --> 00:00:14.000", speaker, f"If the line drops call {phone}"))
            body = "WEBVTT\n\n" + "".join(f"{times}\n<v {who}>{text}\n\n" for times, who, text in cues)
            parsed = parse_file("talk.vtt", body.encode("utf-8"), kind="vtt")
            import_parsed(
                interview=self._interview(model), parsed=parsed, original_filename="talk.vtt", actor=self.context.editor
            )

    # Rules: recordings and versions --------------------------------------------------------------

    @precondition(lambda self: self.live and _has_service("recording_add"))
    @rule(pick=st.integers(0, 99), lines=st.integers(1, 2))
    def add_part(self, pick, lines):
        model = self.pick(pick)
        if len(model.parts) >= MAX_PARTS:
            return
        with self.step(model):
            secrets = [self.token() for _ in range(lines)]
            data, script = self.recording([["morning", secret, "garden", "road"] for secret in secrets])
            recording = self._add_recording(model, data)
            model.parts.append(Part(recording.pk, script, secrets))

    @precondition(lambda self: any(m.parts for m in self.live) and _has_service("recording_add"))
    @rule(pick=st.integers(0, 99), part=st.integers(0, 9), lead_in=st.sampled_from([0.2, 0.75, 1.3]))
    def replace_recording(self, pick, part, lead_in):
        """A better copy of the same speech: the same words, at other times."""
        candidates = [m for m in self.live if m.parts]
        model = candidates[pick % len(candidates)]
        old = model.parts[part % len(model.parts)]
        with self.step(model):
            lines = [[w.text for w in line] for line in old.script.lines]
            data, script = self.recording(lines, lead_in=lead_in)
            recording = self._add_recording(model, data, replaces=old.recording_pk)
            old.recording_pk, old.script = recording.pk, script

    @precondition(lambda self: any(m.parts for m in self.live) and _has_service("interview_retranscribe"))
    @rule(pick=st.integers(0, 99), language=st.sampled_from([None, "en"]))
    def retranscribe(self, pick, language):
        candidates = [m for m in self.live if m.parts]
        model = candidates[pick % len(candidates)]
        with self.step(model):
            recording_service("interview_retranscribe")(
                interview=self._interview(model), actor=self.context.editor, language=language
            )

    # Rules: editing ----------------------------------------------------------------------------

    def _segments(self, model: ModelInterview) -> list[Any]:
        return list(Segment.objects.filter(transcript__interview_id=model.pk, transcript__is_current=True))

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), segment=st.integers(0, 99), how=st.sampled_from(["prefix", "filler"]))
    def correct_segment(self, pick, segment, how):
        """An editor's correction that keeps every token but moves the characters around them."""

        model = self.pick(pick)
        rows = sorted(self._segments(model), key=lambda s: s.index)
        if not rows:
            return
        row = rows[segment % len(rows)]
        text = row.raw_text
        if how == "filler":
            for word in FILLERS:
                match = re.search(rf"\b{word}\b", text)
                if match:
                    other = FILLERS[(FILLERS.index(word) + 3) % len(FILLERS)]
                    text = text[: match.start()] + other + text[match.end() :]
                    break
        if text == row.raw_text:
            text = "Well, " + text
        with self.step(model):
            services.segment_edit(segment=row, text=text, actor=self.context.editor)

    @precondition(lambda self: self.live)
    @rule(
        pick=st.integers(0, 99),
        segment=st.integers(0, 99),
        role=st.sampled_from(["narrator", "interviewer", "other"]),
        all_same=st.booleans(),
    )
    def change_speaker(self, pick, segment, role, all_same):
        model = self.pick(pick)
        rows = sorted(self._segments(model), key=lambda s: s.index)
        if not rows:
            return
        narrator = Narrator.objects.get(pk=model.narrator_pk) if role == "narrator" else None
        with self.step(model):
            services.segment_assign_speaker(
                segment=rows[segment % len(rows)],
                role=role,
                narrator=narrator,
                actor=self.context.editor,
                all_with_same_label=all_same,
            )

    # Rules: redactions -------------------------------------------------------------------------

    @precondition(lambda self: any(m.transcript_tokens for m in self.live))
    @rule(pick=st.integers(0, 99), token=st.integers(0, 99), visible_from=st.sampled_from(REDACTION_TIERS))
    def redact_span(self, pick, token, visible_from):
        candidates = [m for m in self.live if m.transcript_tokens]
        model = candidates[pick % len(candidates)]
        chosen = model.transcript_tokens[token % len(model.transcript_tokens)]
        with self.step(model):
            try:
                redaction = services.redaction_add_phrase_span(
                    interview=self._interview(model),
                    phrase=chosen,
                    category="other",
                    visible_from=visible_from,
                    actor=self.context.editor,
                )
            except ValueError:
                # Not (or no longer) in the current transcript: nothing to redact. The checks still
                # hold the interview to what the model knows.
                return
        self.redactions.append(ModelRedaction(redaction.pk, "span", visible_from, token=chosen, interview_pk=model.pk))

    def _secrets(self) -> list[str]:
        return [t for m in self.interviews for t in [*m.transcript_tokens, m.summary_token, m.place_token] if t]

    @precondition(lambda self: self.live)
    @rule(
        token=st.integers(0, 99),
        visible_from=st.sampled_from(REDACTION_TIERS),
        category=st.sampled_from(["place", "name", "other"]),
        generalise=st.booleans(),
    )
    def redact_entity(self, token, visible_from, category, generalise):
        secrets = self._secrets()
        chosen = secrets[token % len(secrets)]
        with self.step():
            redaction = services.redact_phrase(
                phrase=chosen,
                category=category,
                visible_from=visible_from,
                replacement="somewhere in the city" if generalise else "",
                actor=self.context.editor,
            )
        self.entities.setdefault(redaction.entity_id, set()).add(chosen)
        self.redactions.append(ModelRedaction(redaction.pk, "entity", visible_from, entity_pk=redaction.entity_id))

    @precondition(lambda self: self.entities)
    @rule(entity=st.integers(0, 99), token=st.integers(0, 99))
    def redact_alias(self, entity, token):
        """Another spelling joins an entity: it is hidden wherever the entity is."""

        entity_pk = sorted(self.entities)[entity % len(self.entities)]
        secrets = self._secrets()
        chosen = secrets[token % len(secrets)]
        with self.step():
            services.entity_add_alias(entity=Entity.objects.get(pk=entity_pk), alias=chosen, actor=self.context.editor)
        self.entities[entity_pk].add(chosen)

    @precondition(lambda self: any(r.approved for r in self.redactions))
    @rule(pick=st.integers(0, 99))
    def reject_redaction(self, pick):
        approved = [r for r in self.redactions if r.approved]
        chosen = approved[pick % len(approved)]
        with self.step():
            services.redaction_decide(
                redaction=Redaction.objects.get(pk=chosen.pk), approve=False, actor=self.context.editor
            )
        chosen.approved = False

    @precondition(lambda self: any(r.approved for r in self.redactions))
    @rule(pick=st.integers(0, 99))
    def revoke_redaction(self, pick):
        """An editor revokes an approved redaction from the workbench (kept on record, hides nothing)."""
        approved = [r for r in self.redactions if r.approved]
        chosen = approved[pick % len(approved)]
        with self.step():
            redaction_revoke(
                redaction=Redaction.objects.get(pk=chosen.pk), actor=self.context.users["custodian"], tier="custodian"
            )
        chosen.approved = False

    # Rules: people and access ------------------------------------------------------------------

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), consent=scopes_st)
    def change_consent(self, pick, consent):
        model = self.pick(pick)
        with self.step(model):
            services.consent_record(
                narrator=Narrator.objects.get(pk=model.narrator_pk),
                interview=self._interview(model),
                archive=True,
                processing=True,
                actor=self.context.editor,
                **consent,
            )
        if model.withdrawn:
            model.status = "review"  # consent given again: an editor decides whether to publish again
        model.consent, model.withdrawn = dict(consent), False

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), anonymity=st.sampled_from(ANONYMITIES))
    def change_anonymity(self, pick, anonymity):
        model = self.pick(pick)
        with self.step(model):
            services.narrator_set_anonymity(
                narrator=Narrator.objects.get(pk=model.narrator_pk), anonymity=anonymity, actor=self.context.editor
            )
        model.anonymity = anonymity

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), access=st.sampled_from(TIERS))
    def change_access(self, pick, access):
        model = self.pick(pick)
        with self.step(model):
            services.interview_update(interview=self._interview(model), access_level=access, actor=self.context.editor)
        model.access_level = access

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), status=st.sampled_from(SET_STATUSES))
    def set_status(self, pick, status):
        """An editor moves the interview along its workflow; a refused move (a transition that does not
        exist, publishing with reasons against it) changes nothing."""

        model = self.pick(pick)
        if model.withdrawn:
            return
        try:
            with self.step(model):
                interview_set_status(interview=self._interview(model), status=status, actor=self.context.editor)
        except (InvalidChange, PublicationBlocked):
            return
        model.status = status

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), embargoed=st.booleans())
    def set_embargo(self, pick, embargoed):
        """An editor embargoes the interview for three months (held at staff), or lifts the embargo."""
        model = self.pick(pick)
        until = timezone.localdate() + timedelta(days=90) if embargoed else None
        try:
            with self.step(model):
                interview_edit(
                    interview=self._interview(model), actor=self.context.editor, changes={"embargo_until": until}
                )
        except (InvalidChange, NotAllowed):
            return  # e.g. withdrawn: sealed, beyond the editor's tier
        model.embargoed = embargoed

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), through_consent=st.booleans())
    def withdraw(self, pick, through_consent):
        model = self.pick(pick)
        with self.step(model):
            if through_consent:
                services.consent_record(
                    narrator=Narrator.objects.get(pk=model.narrator_pk),
                    interview=self._interview(model),
                    withdrawn=True,
                    actor=self.context.editor,
                    **model.consent,
                )
            else:
                services.interview_withdraw(interview=self._interview(model), actor=self.context.editor)
        model.withdrawn = True
        self._drop_grants(model)  # withdrawal revokes the grants for the interview

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), names_narrator=st.booleans(), topic=st.booleans())
    def edit_fields(self, pick, names_narrator, topic):
        """An editor rewrites the summary (with a new word; by mistake with the narrator's name) or adds
        a topic: every rendered field passes through the same redactor as the transcript."""
        model = self.pick(pick)
        word = self.token()
        text = f"Remembers the spring near {word}" + (
            f", as {' '.join(model.name)} told it." if names_narrator else "."
        )
        changes: dict[str, Any] = {"summary": text}
        if topic:
            changes["topics"] = [f"{' '.join(model.name)} family", "bread"]
        try:
            with self.step(model):
                interview_edit(interview=self._interview(model), actor=self.context.editor, changes=changes)
        except (InvalidChange, NotAllowed):
            return  # e.g. withdrawn: sealed, beyond the editor's tier
        model.summary_token = word

    @precondition(lambda self: self.live and len(self.interviews) < MAX_INTERVIEWS + MAX_PURGED)
    @rule(pick=st.integers(0, 99))
    def purge(self, pick):
        """A custodian deletes the interview (a test item, a failed upload): originals, transcripts and
        lone narrators' keys destroyed, a tombstone left for custodians."""
        model = self.pick(pick)
        with self.step(model):
            interview_purge(interview=self._interview(model), actor=self.context.users["custodian"], reason="test")
        model.purged = True
        self._drop_grants(model)
        # Its transcripts went, and the span redactions on them.
        self.redactions = [r for r in self.redactions if not (r.kind == "span" and r.interview_pk == model.pk)]

    # Rules: access granted on request ----------------------------------------------------------

    @precondition(lambda self: self.live)
    @rule(pick=st.integers(0, 99), tier=st.sampled_from(GRANTED_TIERS), whole_collection=st.booleans())
    def grant_access(self, pick, tier, whole_collection):
        """The grantee asks for a tier on an interview they can see, or on the collection, and a
        custodian grants it. The model predicts every refusal: asking for no more than one sees, and a
        grant on an interview whose consent keeps readers out or which an editor embargoed."""

        model = self.pick(pick)
        if whole_collection:
            target: dict[str, Any] = {"collection": self.context.collection}
            current = _max_tier("public", *(g.tier for g in self.grants if g.interview_pk is None))
            refusal = None
        else:
            current = self.grantee_tier(model)
            if _below(current, self.floor(model)):
                return  # a reader asks only for what they can see
            target = {"interview": self._interview(model)}
            refusal = self.grant_refusal(model, tier)
        if not _below(current, tier):
            refusal = "asks for no more than the grantee sees"
        custodian = self.context.users["custodian"]
        outcome = None
        with self.step(grants=True):
            try:
                request = access_request_create(
                    requester=self.context.users["grantee"],
                    tier=tier,
                    purpose="A study of the lifecycle.",
                    current_tier=current,
                    **target,
                )
            except RequestRefused as error:
                outcome = f"request refused: {error}"
            else:
                try:
                    access_request_decide(
                        request=request,
                        grant=True,
                        actor=custodian,
                        terms="No quotation.",
                        ends_on=timezone.localdate() + timedelta(days=30),
                    )
                except GrantRefusedByConsent as error:
                    outcome = f"grant refused: {error}"
                    access_request_decide(request=request, grant=False, actor=custodian, terms="Consent.")
        if (outcome is None) != (refusal is None):
            self.violate(
                [
                    f"grant of {tier} on {model.marker if target.get('interview') else 'the collection'}: "
                    f"{outcome or 'granted'}, the model expected {refusal or 'a grant'}"
                ]
            )
        if outcome is None:
            interview_pk = None if whole_collection else model.pk
            self.grants.append(ModelGrant(request.pk, tier, interview_pk))

    @precondition(lambda self: self.grants)
    @rule(pick=st.integers(0, 99), ends=st.booleans())
    def revoke_grant(self, pick, ends):
        """A custodian revokes a grant, or its end date passes (time moves on: the date is set to yesterday)."""
        grant = self.grants.pop(pick % len(self.grants))
        with self.step(grants=True):
            if ends:
                yesterday = timezone.localdate() - timedelta(days=1)
                AccessRequest.objects.filter(pk=grant.pk).update(ends_on=yesterday)
            else:
                request = AccessRequest.objects.get(pk=grant.pk)
                access_grant_revoke(request=request, actor=self.context.users["custodian"])

    def _drop_grants(self, model: ModelInterview) -> None:
        """The service revokes an interview's grants on withdrawal and purge."""
        kept = [g for g in self.grants if g.interview_pk != model.pk]
        self._grants_changed |= len(kept) != len(self.grants)
        self.grants = kept

    # What the model expects --------------------------------------------------------------------

    def grant_refusal(self, model: ModelInterview, tier: str) -> str | None:
        """Why a custodian cannot grant `tier` on the interview: a grant lets in a reader from outside
        the staff (research access), never over an embargo."""
        if not model.consent.get("research_access"):
            return "no consent to research access"
        if model.embargoed:
            return "embargoed by an editor"
        return None

    def covered(self, model: ModelInterview) -> bool:
        """Whether a grant of the grantee's names the interview or its collection."""
        return any(g.interview_pk in (None, model.pk) for g in self.grants)

    def grantee_tier(self, model: ModelInterview) -> str:
        """The grantee's tier on the interview: their grants covering it, where its consent lets a grant
        count (research access, not withdrawn, no embargo)."""
        if model.withdrawn or model.purged or model.embargoed or not model.consent.get("research_access"):
            return "public"
        return _max_tier("public", *(g.tier for g in self.grants if g.interview_pk in (None, model.pk)))

    def grantee_hears(self, model: ModelInterview) -> bool:
        """A reader let in by a grant hears only a voice the narrator released (the staff tier hears an
        unreleased one because the archive's staff hold it)."""
        tier = self.grantee_tier(model)
        visible = not _below(tier, self.floor(model))
        return visible and bool(model.parts) and bool(model.consent.get("voice_release"))

    def floor(self, model: ModelInterview) -> str:
        """The lowest tier that may know the interview exists."""
        if model.withdrawn or model.purged:
            return "custodian"
        floor = _max_tier(model.access_level, model.consent_floor())
        if model.status != "published" or model.embargoed:
            floor = _max_tier(floor, "staff")
        held = self._held.get(model.pk)
        if held is None:
            held = self._held[model.pk] = self.held_tiers(model)
        return _max_tier(floor, *held)

    def held_tiers(self, model: ModelInterview) -> list[str]:
        """Tiers of approved span redactions the gate could not carry into a new version or correction
        (an editor must decide): the interview is withheld below them."""

        if not any(f.name == "held" for f in Redaction._meta.get_fields()):
            return []
        rows = Redaction.objects.filter(
            held=True, status=Redaction.Status.APPROVED, segment__transcript__interview_id=model.pk
        )
        return list(rows.values_list("visible_from", flat=True))

    def voice_floor(self, model: ModelInterview) -> str:
        return _max_tier(self.floor(model), "public" if model.consent.get("voice_release") else "staff")

    def token_floor(self, model: ModelInterview, token: str) -> str:
        """From which tier a token of a visible interview may be seen ("public": not protected)."""
        if token in model.name:
            return "public" if model.anonymity == "named" else "custodian"
        if token == model.narrator_public_id:
            return "custodian" if model.anonymity in ("anonymous", "sealed") else "public"
        floor = "staff" if token == model.place_token else "public"
        for redaction in self.redactions:
            if not redaction.approved:
                continue
            if (redaction.kind == "span" and redaction.token == token) or (
                redaction.kind == "entity" and token in self.entities.get(redaction.entity_pk, ())
            ):
                floor = _max_tier(floor, redaction.visible_from)
        return floor

    def hidden(self, tier: str) -> dict[str, str]:
        """token -> why, for everything `tier` must never receive."""
        return self.hidden_per_interview(lambda _model: tier)

    def hidden_per_interview(self, tier_of: Callable[[ModelInterview], str]) -> dict[str, str]:
        """token -> why, for everything a reader must never receive who sees each interview at
        `tier_of(interview)` (the grantee: their grants decide it interview by interview)."""
        hidden: dict[str, str] = {}
        for model in self.interviews:
            tier = tier_of(model)
            if _below(tier, self.floor(model)):
                for token in model.all_tokens:
                    hidden[token] = f"token of interview {model.marker} that {tier} may not know"
                hidden[model.narrator_public_id] = f"narrator id of interview {model.marker} hidden at {tier}"
                continue
            for phone in model.phones:
                if tier != "custodian":
                    hidden[phone] = f"phone number in {model.marker}"
            for token in [*model.all_tokens, model.narrator_public_id]:
                floor = self.token_floor(model, token)
                if _below(tier, floor):
                    hidden[token] = f"{token} of {model.marker} visible from {floor}"
        return hidden

    # Checks after every step -------------------------------------------------------------------

    @invariant()
    def every_surface_holds(self):
        if not self.interviews:
            return
        problems: list[str] = []
        problems += self.check_stored_renderings()
        dirty = [m for m in self.interviews if m.pk in self._dirty]
        self._dirty.clear()
        slug = self.context.collection.slug
        # The raw inputs of each changed interview, read once for the fresh render() at every tier.
        inputs = {model.pk: load_inputs(self._interview(model)) for model in dirty}
        for tier in TIERS:
            hidden = self.hidden(tier)
            scan = Scanner(hidden, tier)
            client = self.context.clients[tier]
            for model in dirty:
                problems += self.check_interview_at(model, tier, client, scan, inputs[model.pk])
            if tier == "custodian":
                # Nothing is hidden from the custodian: only what it must find is checked there.
                problems += self.check_custodian_search(client, dirty)
                continue
            for url in (f"/collections/{slug}/", f"/api/v1/interviews/?collection={slug}"):
                problems += scan.response(client.get(url), url)
            problems += self.check_search(tier, client, hidden, scan)
        problems += self.check_grantee(dirty, inputs)
        self.violate(problems)

    def check_stored_renderings(self) -> list[str]:
        """Reads never write: after each write the stored renderings are current for exactly the tiers
        that may see the interview."""

        problems = []
        clock = rules_clock()
        for model in self.interviews:
            interview = self._interview(model)
            stored = dict(RenderedInterview.objects.filter(interview=interview).values_list("tier", "policy_version"))
            tiers = policy.visible_tiers(interview)
            if set(stored) != set(tiers):
                problems.append(f"{model.marker}: stored renderings for {sorted(stored)}, visible at {tiers}")
            stamp = policy_stamp(interview, clock)
            stale = sorted(t for t, v in stored.items() if v != stamp)
            if stale:
                problems.append(f"{model.marker}: stale stored renderings at {stale} (a read would rebuild them)")
        return problems

    def check_interview_at(
        self, model: ModelInterview, tier: str, client: Any, scan: Scanner, inputs: Inputs
    ) -> list[str]:
        problems: list[str] = []
        interview = self._interview(model)
        visible = not _below(tier, self.floor(model))
        expected = 200 if visible else 404
        # The custodian has nothing hidden: its API answer checks that it sees what it may.
        pages = () if tier == "custodian" else (f"/interviews/{model.public_id}/",)
        for url in (*pages, f"/api/v1/interviews/{model.public_id}/"):
            response = client.get(url)
            if response.status_code != expected:
                problems.append(f"{url} at {tier}: {response.status_code}, expected {expected}")
            problems += scan.response(response, url)
        try:
            served = rendering_for(interview, tier)
        except NotVisible:
            served = None
        if visible and served is None:
            problems.append(f"{model.marker}: no rendering at {tier}, which may see it")
        if not visible and served is not None:
            problems.append(f"{model.marker}: rendering served at {tier}, which may not know it")
        if served is not None:
            fresh = render(interview, tier, inputs)
            differs = rendering_differences(served, fresh)
            if differs:
                problems.append(f"{model.marker} at {tier}: served rendering differs from render() in {differs}")
            problems += scan.text(rendering_text(served), f"rendering of {model.marker}")
            problems += self.check_message_times(model, tier, served)
        for fmt in TEXT_FORMATS if tier != "custodian" else ():
            try:
                result = export_interview(interview=interview, fmt=fmt, tier=tier, requester_tier=tier)
            except NotVisible:
                if visible:
                    problems.append(f"{model.marker}: {fmt} export refused at {tier}, which may see it")
                continue
            if not visible:
                problems.append(f"{model.marker}: {fmt} export served at {tier}, which may not know it")
            problems += scan.text(read(result).decode("utf-8", "replace"), f"{fmt} export of {model.marker}")
        return problems

    def check_grantee(self, dirty: list[ModelInterview], inputs: dict[int, Inputs]) -> list[str]:
        """The grantee sees each interview at the tier their grants give there (grantee_tier), hears it
        only where that tier may, and finds nothing more: after a step that changed a grant, every
        interview; after any other step, the changed interviews a grant covers."""

        # An interview no grant covers is seen by the grantee as by the public (checked there).
        models = self.interviews if self._grants_changed else [m for m in dirty if self.covered(m)]
        self._grants_changed = False
        if not models:
            return []
        client, user = self.context.clients["grantee"], self.context.users["grantee"]
        hidden = self.hidden_per_interview(self.grantee_tier)
        scan = Scanner(hidden, "the grantee")
        problems: list[str] = []
        for model in models:
            tier = self.grantee_tier(model)
            if model.pk not in inputs:
                inputs[model.pk] = load_inputs(self._interview(model))
            problems += self.check_interview_at(model, tier, client, scan, inputs[model.pk])
            visible = not _below(tier, self.floor(model))
            url = f"/api/v1/interviews/{model.public_id}/"
            if visible and (shown := client.get(url).json().get("tier")) != tier:
                problems.append(f"{model.marker}: the grantee sees it at {shown}, the grants give {tier}")
            hears = self.grantee_hears(model)
            status = client.get(f"{url}audio").status_code
            if status != (200 if hears else 404):
                problems.append(f"{model.marker}: audio for the grantee at {tier} answered {status} (hears: {hears})")
        slug = self.context.collection.slug
        for url in (f"/collections/{slug}/", f"/api/v1/interviews/?collection={slug}"):
            problems += scan.response(client.get(url), url)
        rows = client.get("/api/v1/interviews/", {"collection": slug, "limit": 100}).json()["results"]
        listed = {row["id"] for row in rows}
        for model in self.interviews:
            row = next((r for r in rows if r["id"] == model.public_id), None)
            if row is not None and row.get("audio_available") != self.grantee_hears(model):
                problems.append(f"{model.marker}: the grantee's list says audio {row.get('audio_available')}")
        expected = {m.public_id for m in self.interviews if not _below(self.grantee_tier(m), self.floor(m))}
        if listed != expected:
            problems.append(f"the grantee's list holds {sorted(listed)}, the grants give {sorted(expected)}")
        # Entity names the grantee sees on some interview may find others (alias_groups): at the highest
        # tier they hold anywhere, a hidden word is still checked to find none of its own occurrences.
        highest = _max_tier("public", *(self.grantee_tier(m) for m in self.interviews))
        problems += self.check_search(highest, client, hidden, scan, user=user)
        return problems

    def check_message_times(self, model: ModelInterview, tier: str, served: Any) -> list[str]:
        """Below staff a message is not placed on the conversation's timeline (the gaps between messages
        would tell what the month-precision date hides): a written message has no time, a voice note's
        segments only times inside the note."""
        if not _below(tier, "staff"):
            return []
        longest = max((p.script.duration for p in model.parts if p.voice_note), default=0.0) + 0.5
        placed = [(s.index, s.start, s.end) for s in served.segments if s.sent_at and max(s.start, s.end) > longest]
        return [f"{model.marker} at {tier}: messages placed on the timeline {placed[:3]}"] if placed else []

    def check_search(
        self, tier: str, client: Any, hidden: dict[str, str], scan: Scanner, user: Any = None
    ) -> list[str]:
        problems: list[str] = []
        groups = self.alias_groups(tier)
        words = sorted(t for t in hidden if t.startswith("Zqx") and t not in groups)
        # A query holds at most MAX_QUERY_CHARS characters: the hidden words are asked in batches.
        for batch in (words[i : i + SEARCH_BATCH] for i in range(0, len(words), SEARCH_BATCH)):
            problems += self.check_search_batch(tier, client, batch, hidden, scan)
        for word in sorted(t for t in hidden if t.startswith("Zqx") and t in groups):
            problems += self.check_alias_search(tier, client, word, groups[word], hidden, scan)
        # Every completion the tier's search would suggest (the API's list is the first few of these,
        # scanned once per example in teardown).
        completions = search.suggest(user or self.context.users[tier], "zqx", limit=500)
        problems += scan.text(" ".join(completions), "all suggestions for zqx")
        return problems

    def alias_groups(self, tier: str) -> dict[str, set[str]]:
        """token -> the other names of its entity, for entities whose names `tier` may see (no approved
        entity redaction hides them there): a search for one of them also finds the others, by design.
        Knowing that a word is a name of such an entity is knowing the entity's names, which the
        editors' decision gives the tier; what the word's own hidden occurrences are is not."""
        hiding = {
            r.entity_pk for r in self.redactions if r.kind == "entity" and r.approved and _below(tier, r.visible_from)
        }
        groups: dict[str, set[str]] = {}
        for entity_pk, names in self.entities.items():
            if entity_pk in hiding or len(names) < 2:
                continue
            for name in names:
                groups.setdefault(name, set()).update(names - {name})
        return groups

    def check_alias_search(
        self, tier: str, client: Any, word: str, others: set[str], hidden: dict[str, str], scan: Scanner
    ) -> list[str]:
        """A hidden word that is also a name of an entity the tier sees finds at most what the entity's
        names visible at the tier find: never an occurrence of its own."""
        response = client.get("/api/v1/search/", {"q": word, "per_page": 50})
        if response.status_code != 200:
            return [f"search at {tier} answered {response.status_code}"]
        body = response.json()
        problems = scan.text(json.dumps({k: v for k, v in body.items() if k != "query"}), "search")
        visible = sorted(n for n in others if n not in hidden)
        expected: dict[str, Any] = {"total": 0, "hits": []}
        if visible:
            expected = client.get("/api/v1/search/", {"q": " OR ".join(visible), "per_page": 50}).json()

        def places(hits: list[dict[str, Any]]) -> list[tuple[str, int]]:
            # A metadata hit has no segment (-1 here).
            return sorted(
                (h["interview_id"], -1 if h.get("segment_index") is None else h["segment_index"]) for h in hits
            )

        found, wanted = places(body.get("hits", [])), places(expected.get("hits", []))
        if (body.get("total") or 0) > (expected.get("total") or 0) or not set(found) <= set(wanted):
            problems.append(
                f"search at {tier} for hidden {word} ({hidden[word]}), a name of an entity the tier sees, "
                f"found {body.get('total')} hits {found}; its visible names {visible} find "
                f"{expected.get('total')} {wanted}"
            )
        return problems

    def check_search_batch(
        self, tier: str, client: Any, words: list[str], hidden: dict[str, str], scan: Scanner
    ) -> list[str]:
        problems: list[str] = []
        if words:
            response = client.get("/api/v1/search/", {"q": " OR ".join(words)})
            if response.status_code != 200:
                return [*problems, f"search at {tier} answered {response.status_code}"]
            body = response.json()
            # The query is echoed back to its sender: everything else is scanned.
            problems += scan.text(json.dumps({k: v for k, v in body.items() if k != "query"}), "search")
            problems += scan.text(" ".join(f"{k}: {v}" for k, v in response.headers.items()), "search headers")
            if body.get("total") or body.get("hits"):
                problems.append(
                    f"search at {tier} for hidden words counted {body.get('total')} hits: "
                    + self.which_hidden_words_hit(client, words, hidden)
                )
            counts = [v.get("count", 0) for values in body.get("facets", {}).values() for v in values]
            if any(counts):
                problems.append(f"search facets at {tier} count hidden words: {body.get('facets')}")
        return problems

    def which_hidden_words_hit(self, client: Any, words: list[str], hidden: dict[str, str]) -> str:
        """For the message of a violation: each hidden word that finds something, and where."""
        found = []
        for word in words:
            hits = client.get("/api/v1/search/", {"q": word}).json().get("hits", [])
            if hits:
                where = sorted({hit.get("interview_id", "?") for hit in hits})
                markers = [m.marker for m in self.interviews if m.public_id in where]
                found.append(f"{word} ({hidden[word]}) in {markers}")
        return "; ".join(found) or "no single word finds it"

    def check_custodian_search(self, client: Any, changed: list[ModelInterview]) -> list[str]:
        """Positive control: the custodian finds the marker of every interview changed by the step whose
        custodian rendering holds it (else the search checks of the other tiers would be blind)."""

        markers = [m for m in changed if m.marker in rendering_for(self._interview(m), "custodian").text]
        if not markers:
            return []
        body = client.get("/api/v1/search/", {"q": " OR ".join(m.marker for m in markers)}).json()
        found = {hit["interview_id"] for hit in body.get("hits", [])}
        missing = [m.marker for m in markers if m.public_id not in found]
        return [f"custodian search does not find {missing} in text it shows"] if missing else []

    # Checks once per example -------------------------------------------------------------------

    def teardown(self):
        try:
            if self.interviews and not self._failed:
                problems: list[str] = []
                for model in self.interviews:
                    problems += self.check_binary_exports(model)
                    problems += self.check_audio(model)
                for tier in TIERS[:3]:
                    response = self.context.clients[tier].get("/api/v1/search/suggest/?q=zqx")
                    problems += Scanner(self.hidden(tier), tier).response(response, "search suggestions")
                self.violate(problems)
        finally:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

    def check_binary_exports(self, model: ModelInterview) -> list[str]:
        problems: list[str] = []
        interview = self._interview(model)
        for tier in TIERS[:3]:  # the custodian has nothing hidden (its audio is checked in check_audio)
            scan = Scanner(self.hidden(tier), tier)
            visible = not _below(tier, self.floor(model))
            for fmt in BINARY_FORMATS:
                try:
                    result = export_interview(interview=interview, fmt=fmt, tier=tier, requester_tier=tier)
                except NotVisible:
                    if visible:
                        problems.append(f"{model.marker}: {fmt} export refused at {tier}, which may see it")
                    continue
                except ExportError as error:
                    problems.append(f"{model.marker}: {fmt} export failed at {tier} ({error.__cause__!r})")
                    continue
                if not visible:
                    problems.append(f"{model.marker}: {fmt} export served at {tier}, which may not know it")
                data = read(result)
                for label, text in document_texts(data):
                    problems += scan.text(text, f"{fmt} export {label} of {model.marker}")
                if fmt == "bagit":
                    problems += self.check_bag_audio(model, tier, data)
        return problems

    def audible_and_hidden(self, model: ModelInterview, tier: str) -> tuple[list[SpokenWord], list[SpokenWord]]:
        hidden = self.hidden(tier)
        words = [w for part in model.parts for w in part.script.words if self._is_token(w.text)]
        hidden_words = [w for w in words if any(w.text in token.split() for token in hidden)]
        return [w for w in words if w not in hidden_words], hidden_words

    def check_audio(self, model: ModelInterview) -> list[str]:
        """The tier's audio: served exactly where consent lets the voice be heard; the parts in order,
        duration preserved; every hidden word silent where it was spoken and without a trace anywhere;
        every other word heard (the custodian hears all)."""

        problems: list[str] = []
        interview = self._interview(model)
        if model.purged:
            for tier in TIERS:
                status = self.context.clients[tier].get(f"/api/v1/interviews/{model.public_id}/audio").status_code
                if status != 404:
                    problems.append(f"{model.marker}: audio of a purged interview answered {status} at {tier}")
            return problems
        for tier in TIERS:
            allowed = bool(model.parts) and not _below(tier, self.voice_floor(model))
            status = self.context.clients[tier].get(f"/api/v1/interviews/{model.public_id}/audio").status_code
            if status != (200 if allowed else 404):
                problems.append(f"{model.marker}: audio endpoint at {tier} answered {status} (allowed: {allowed})")
            try:
                result = export_interview(interview=interview, fmt="audio", tier=tier, requester_tier=tier)
            except NotVisible:
                if allowed:
                    problems.append(f"{model.marker}: no audio at {tier}, which may hear it")
                continue
            except ExportError as error:
                problems.append(f"{model.marker}: audio failed closed at {tier} ({error.__cause__!r})")
                continue
            if not allowed:
                problems.append(f"{model.marker}: audio served at {tier}, which may not hear it")
            samples = decode(io.BytesIO(read(result)))
            parts, layout = self.served_layout(model, tier)
            problems += layout
            problems += self.check_served_audio(model, parts, tier, samples, f"audio of {model.marker} at {tier}")
        return problems

    def served_layout(self, model: ModelInterview, tier: str) -> tuple[list[Part], list[str]]:
        """The model's current parts in the order the tier's audio plays them. The gate names them
        (Rendering.audio_parts, where it exists): they must be exactly the current parts, and in the
        order they were recorded unless the interview is a chat (whose voice notes and added parts
        share the chat's own timeline)."""

        served = getattr(rendering_for(self._interview(model), tier), "audio_parts", None)
        if served is None:
            return model.parts, []
        ids = dict(
            Recording.objects.filter(pk__in=[p.recording_pk for p in model.parts]).values_list("public_id", "pk")
        )
        by_pk = {part.recording_pk: part for part in model.parts}
        order = [by_pk.get(ids.get(uuid.UUID(str(p.recording_id)))) for p in served]
        if None in order or len(order) != len(model.parts) or set(map(id, order)) != set(map(id, model.parts)):
            return model.parts, [
                f"audio of {model.marker} at {tier} plays {len(served)} recordings that are not its "
                f"{len(model.parts)} current parts"
            ]
        if model.kind != "chat" and order != model.parts:
            return order, [f"audio of {model.marker} at {tier} plays its parts out of order"]
        return order, []

    def check_served_audio(
        self, model: ModelInterview, parts: list[Part], tier: str, samples: np.ndarray, label: str
    ) -> list[str]:
        problems: list[str] = []
        audible, hidden = self.audible_and_hidden(model, tier)
        duration = len(samples) / SERVED_RATE
        expected = sum(part.script.duration for part in parts)
        if abs(duration - expected) > DURATION_TOLERANCE * len(parts):
            problems.append(f"{label}: {duration:.2f} s, the parts last {expected:.2f} s")
        else:
            offset = 0.0
            for number, part in enumerate(parts, start=1):
                for word in part.script.words:
                    if word not in hidden:
                        continue
                    first = int((offset + word.start) * SERVED_RATE)
                    last = int((offset + word.end) * SERVED_RATE)
                    piece = samples[first:last].astype(np.float64)
                    rms = math.sqrt(float(np.mean(piece * piece))) if len(piece) else 0.0
                    if rms > SILENT_RMS:
                        problems.append(
                            f"{label}: hidden {word.text} not silent where part {number} says it "
                            f"({offset + word.start:.2f}-{offset + word.end:.2f} s, RMS {rms:.4f})"
                        )
                offset += part.script.duration
        shared = {w.hz for w in audible}
        levels = tone_levels(samples, sorted({w.hz for w in hidden + audible}))
        for word in hidden:
            if word.hz not in shared and levels[word.hz] >= NOT_HEARD:
                problems.append(f"{label}: hidden {word.text} is heard (tone level {levels[word.hz]:.3f})")
        if tier == "custodian":
            for word in audible:
                if levels[word.hz] < HEARD:
                    problems.append(f"{label}: custodian does not hear {word.text} (tone level {levels[word.hz]:.3f})")
        return problems

    def check_bag_audio(self, model: ModelInterview, tier: str, data: bytes) -> list[str]:
        problems: list[str] = []
        allowed = bool(model.parts) and not _below(tier, self.voice_floor(model))
        with zipfile.ZipFile(io.BytesIO(data)) as bag:
            names = [n for n in bag.namelist() if n.endswith((".mp3", ".wav", ".ogg", ".opus", ".m4a"))]
            if names and not allowed:
                problems.append(f"{model.marker}: bag at {tier} holds audio the tier may not hear")
            if allowed and len(names) != len(model.parts):
                problems.append(
                    f"{model.marker}: bag at {tier} holds {len(names)} audio files for {len(model.parts)} recordings"
                )
            _audible, hidden = self.audible_and_hidden(model, tier)
            audible = {w.hz for w in _audible}
            for name in names:
                samples = decode(io.BytesIO(bag.read(name)))
                levels = tone_levels(samples, sorted({w.hz for w in hidden}))
                for word in hidden:
                    if word.hz not in audible and levels[word.hz] >= NOT_HEARD:
                        problems.append(f"{model.marker}: bag audio {name} at {tier} lets {word.text} be heard")
        return problems


# Surfaces ------------------------------------------------------------------------------------------


class Scanner:
    """Finds hidden tokens (case-insensitively) in whatever leaves the system for one tier."""

    def __init__(self, hidden: dict[str, str], tier: str):
        self.hidden = hidden
        self.tier = tier
        self.pattern = re.compile("|".join(re.escape(t.lower()) for t in sorted(hidden, key=len, reverse=True)))

    def text(self, text: str, where: str) -> list[str]:
        if not self.hidden:
            return []
        found = set(self.pattern.findall(text.lower()))
        by_lower = {t.lower(): t for t in self.hidden}
        return [f"{where} at {self.tier} shows {by_lower[f]} ({self.hidden[by_lower[f]]})" for f in sorted(found)]

    def response(self, response: Any, where: str) -> list[str]:
        if response.status_code >= 500:
            return [f"{where} at {self.tier} answered {response.status_code}"]
        body = b"".join(response.streaming_content) if response.streaming else response.content
        headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        return self.text(body.decode("utf-8", "replace") + "\n" + headers, where)


def read(result: Any) -> bytes:
    with result.open() as handle:
        return handle.read()


def document_texts(data: bytes) -> list[tuple[str, str]]:
    """The text of an export: a PDF through pdftotext, every member of a zip (docx, bag), else itself."""
    if data.startswith(b"%PDF"):
        out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=False)
        return [("text", out.stdout.decode("utf-8", "replace")), ("raw", data.decode("latin-1"))]
    if data.startswith(b"PK"):
        texts = []
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                if name.endswith(".mp3"):
                    continue
                member = archive.read(name)
                texts.extend((f"{name}: {label}", text) for label, text in document_texts(member))
                texts.append((f"name {name}", name))
        return texts
    return [("body", data.decode("utf-8", "replace"))]


def rendering_text(rendering: Any) -> str:
    values = []
    for item in dataclasses.fields(rendering):
        value = getattr(rendering, item.name)
        values.append(repr(_plain(value)))
    return "\n".join(values)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    try:
        return [_plain(v) for v in value]
    except TypeError:
        return repr(value)


def rendering_differences(served: Any, fresh: Any) -> list[str]:
    """Fields in which two renderings differ (there is no build time in a Rendering to leave out)."""
    differs = []
    for item in dataclasses.fields(served):
        a, b = _plain(getattr(served, item.name)), _plain(getattr(fresh, item.name))
        if a != b:
            if item.name == "segments" and isinstance(a, list) and isinstance(b, list):
                rows = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
                differs.append(f"segments (counts {len(a)}/{len(b)}, rows {rows[:5]})")
            else:
                differs.append(item.name)
    return differs


def machine_for(context: Context) -> type[LifecycleMachine]:
    return type("LifecycleMachine", (LifecycleMachine,), {"context": context})


__all__ = ["Context", "LifecycleMachine", "StandInWhisper", "Violation", "machine_for", "make_context", "stand_ins"]
