"""Builders shared by the test modules: the checkout's paths, synthetic exports of every channel,
interviews made through the services, renderings made by hand, and the leak suite's canaries.

Test modules import what they share from here, never from each other."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile

from archive import crypto, models, services
from archive.gate import AudioPart, NarratorRendering, RenderedWord, Rendering, SegmentRendering, render
from archive.gate import policy as access
from archive.gate.identity import decode_identity as _identity
from archive.gate.inputs import load_inputs
from archive.gate.store import rendering_from_stored, resolve_identities
from archive.models import TIER_ORDER, Collection, Interview, Narrator, Redaction, RenderedInterview, Segment
from archive.services import consent_record, redaction_add_phrase_span, transcript_store
from archive.services.imports import import_file
from archive.services.interviews import SegmentInput
from archive.services.recordings import recorded_interview_create, recording_store

# Paths -----------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent  # the checkout
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"
# Audio, published schemas and seeds kept next to the checkout, outside the repository.
SHARED = ROOT.parent / "shared"
SCHEMAS = SHARED / "schemas"


# Archives ---------------------------------------------------------------------------------------


def zip_of(*members: tuple[str, bytes | str]) -> bytes:
    """A zip file (deflated) of (name, content) members, in the order given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(*members: tuple[str, bytes], links: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A tar file of (name, content) members, then symbolic links as (name, target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


# Messenger, Skype and Telegram exports of one conversation --------------------------------------


# One conversation between a researcher and a narrator, as each service exports it: Arabic, mixed
# scripts with emoji, a phone number, voice notes, files, calls, edits and deleted messages.
CHAT_ARABIC = "كان الحصار طويلاً، والخبز قليل"
CHAT_MIXED = "The bakery في الوعر closed ❤️ 🙏 after the truce"
CHAT_PHONE = "+963 944 123 456"
CHAT_NARRATOR = "أبو خالد"
CHAT_RESEARCHER = "Sara Rawi"


def facebook_json(value: object) -> bytes:
    """JSON as Facebook writes it: every UTF-8 byte of every string escaped as its own code point."""

    def garble(item: object) -> object:
        if isinstance(item, str):
            return item.encode("utf-8").decode("latin-1")
        if isinstance(item, list):
            return [garble(x) for x in item]
        if isinstance(item, dict):
            return {garble(k): garble(v) for k, v in item.items()}
        return item

    return json.dumps(garble(value), indent=2, ensure_ascii=True).encode()


def epoch_ms(*parts: int) -> int:
    """Milliseconds since the epoch of datetime(*parts) in UTC, as Messenger's timestamp_ms."""
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)


MESSENGER_THREAD = "abukhaled_10158893"
MESSENGER_BASE = f"your_facebook_activity/messages/inbox/{MESSENGER_THREAD}"


def messenger_thread() -> tuple[dict, dict]:
    """(message_1.json, message_2.json): the newer half first, each newest first, as exported."""
    older = [
        {
            "sender_name": CHAT_RESEARCHER,
            "timestamp_ms": epoch_ms(2016, 3, 1, 9, 0),
            "content": "Thank you for agreeing to talk.",
        },
        {"sender_name": CHAT_NARRATOR, "timestamp_ms": epoch_ms(2016, 3, 1, 9, 2), "content": CHAT_ARABIC},
        {
            "sender_name": CHAT_NARRATOR,
            "timestamp_ms": epoch_ms(2016, 3, 1, 9, 3),
            "content": f"Call my brother on {CHAT_PHONE}",
            "reactions": [{"reaction": "❤", "actor": CHAT_RESEARCHER}],
        },
        {"sender_name": CHAT_NARRATOR, "timestamp_ms": epoch_ms(2016, 3, 1, 9, 4), "is_unsent": True},
    ]
    newer = [
        {
            "sender_name": CHAT_NARRATOR,
            "timestamp_ms": epoch_ms(2016, 3, 1, 9, 10),
            "audio_files": [{"uri": f"messages/inbox/{MESSENGER_THREAD}/audio_files/audioclip14567.mp4"}],
            "content": f"{CHAT_NARRATOR} sent an audio clip.",
        },
        {"sender_name": CHAT_NARRATOR, "timestamp_ms": epoch_ms(2016, 3, 1, 9, 11), "content": CHAT_MIXED},
        {
            "sender_name": CHAT_NARRATOR,
            "timestamp_ms": epoch_ms(2016, 3, 1, 9, 12),
            "photos": [{"uri": f"messages/inbox/{MESSENGER_THREAD}/photos/4411_n.jpg"}],
        },
        {
            "sender_name": CHAT_RESEARCHER,
            "timestamp_ms": epoch_ms(2016, 3, 1, 9, 20),
            "type": "Call",
            "call_duration": 252,
        },
        {
            "sender_name": CHAT_RESEARCHER,
            "timestamp_ms": epoch_ms(2016, 3, 1, 9, 30),
            "type": "Call",
            "call_duration": 0,
        },
        {
            "sender_name": CHAT_RESEARCHER,
            "timestamp_ms": epoch_ms(2016, 3, 1, 9, 31),
            "content": "Here is the report",
            "share": {"link": "https://example.org/report"},
        },
    ]
    head = {
        "participants": [{"name": CHAT_NARRATOR}, {"name": CHAT_RESEARCHER}],
        "title": CHAT_NARRATOR,
        "is_still_participant": True,
        "thread_type": "Regular",
        "thread_path": f"inbox/{MESSENGER_THREAD}",
    }
    return {**head, "messages": list(reversed(newer))}, {**head, "messages": list(reversed(older))}


def messenger_zip(*extra: tuple[str, bytes | str]) -> bytes:
    first, second = messenger_thread()
    return zip_of(
        (f"{MESSENGER_BASE}/message_1.json", facebook_json(first)),
        (f"{MESSENGER_BASE}/message_2.json", facebook_json(second)),
        (f"{MESSENGER_BASE}/audio_files/audioclip14567.mp4", b"\x00\x00\x00\x18ftypmp42fake-audio"),
        (f"{MESSENGER_BASE}/photos/4411_n.jpg", b"\xff\xd8\xff\xe0fake-jpeg"),
        *extra,
    )


def skype_message(when: str, sender: str, name: str | None, kind: str, content: str, **properties) -> dict:
    return {
        "id": when.replace("-", "").replace(":", "")[:14],
        "displayName": name,
        "originalarrivaltime": when,
        "messagetype": kind,
        "version": 1,
        "content": content,
        "conversationid": "8:live:abu.khaled",
        "from": sender,
        "properties": properties or None,
        "amsreferences": None,
    }


def skype_export() -> bytes:
    abu, sara = "8:live:abu.khaled", "8:live:sara.rawi"
    voice = (
        '<URIObject uri="https://api.asm.skype.com/v1/objects/0-weu-d3-5e1f" url_thumbnail="https://x/thumb" '
        'type="Audio.1/Message.1" doc_id="0-weu-d3-5e1f">To hear this voice message, go to: '
        '<a href="https://login.skype.com/login/sso?go=webclient.xmm&amp;docid=0-weu-d3-5e1f">https://login.skype.com/'
        '</a><OriginalName v="audio.m4a"></OriginalName><FileSize v="20480"></FileSize></URIObject>'
    )
    document = (
        '<URIObject uri="https://api.asm.skype.com/v1/objects/0-weu-d8-77aa" type="File.1" doc_id="0-weu-d8-77aa">'
        '<Title>Title: list.pdf</Title><OriginalName v="list.pdf"></OriginalName></URIObject>'
    )
    quote = (
        '<quote author="live:sara.rawi" authorname="Sara Rawi" timestamp="1456822800"><legacyquote>[01/03/2016 '
        "09:00:00] Sara Rawi: </legacyquote>Where were you?<legacyquote>\n\n&lt;&lt;&lt; </legacyquote></quote>"
        "In the basement, with &quot;the children&quot; &amp; my mother"
    )
    messages = [
        skype_message("2016-03-01T09:00:00.120Z", sara, "Sara Rawi", "RichText", "Where were you?"),
        skype_message("2016-03-01T09:01:00.000Z", abu, "Abu Khaled", "RichText", quote),
        skype_message("2016-03-01T09:02:00.000Z", abu, "Abu Khaled", "RichText",
                      f'<b>{CHAT_ARABIC}</b> <ss type="smile">:)</ss> call <a href="tel:{CHAT_PHONE}">{CHAT_PHONE}</a>'),
        skype_message("2016-03-01T09:03:00.000Z", abu, "Abu Khaled", "RichText/Media_AudioMsg", voice),
        skype_message("2016-03-01T09:04:00.000Z", abu, None, "RichText/Media_GenericFile", document),
        skype_message("2016-03-01T09:05:00.000Z", abu, "Abu Khaled", "RichText", "", deletetime="1456823200000"),
        skype_message("2016-03-01T09:06:00.000Z", abu, "Abu Khaled", "RichText",
                      'It was cold<e_m ts="1456823300" a="live:abu.khaled" t="61"/>', edittime="1456823400000"),
        skype_message("2016-03-01T09:10:00.000Z", sara, "Sara Rawi", "Event/Call",
                      '<partlist type="started" alt=""><part identity="live:sara.rawi"><name>Sara Rawi</name></part></partlist>'),
        skype_message("2016-03-01T09:20:00.000Z", sara, "Sara Rawi", "Event/Call",
                      '<partlist type="ended" alt=""><part identity="live:sara.rawi"><name>Sara Rawi</name>'
                      "<duration>601</duration></part><part identity=\"live:abu.khaled\"><name>Abu Khaled</name>"
                      "<duration>601</duration></part></partlist>"),
        skype_message("2016-03-01T09:21:00.000Z", abu, "Abu Khaled", "ThreadActivity/AddMember", "<addmember/>"),
    ]  # fmt: skip
    export = {
        "userId": "8:live:sara.rawi",
        "exportDate": "2016-04-01T10:00",
        "conversations": [
            {"id": "48:calllogs", "displayName": None, "MessageList": [
                skype_message("2016-03-01T09:10:00.000Z", sara, "Sara Rawi", "RichText", "call log")]},
            {"id": "8:live:abu.khaled", "displayName": "Abu Khaled", "version": 1, "properties": {},
             "threadProperties": None, "MessageList": list(reversed(messages))},
        ],
    }  # fmt: skip
    return tar_of(
        ("messages.json", json.dumps(export).encode()),
        ("endpoints.json", b"{}"),
        ("media/0-weu-d3-5e1f.1.m4a", b"\x00\x00\x00\x18ftypM4A fake"),
        ("media/0-weu-d8-77aa.1.pdf", b"%PDF-1.4 fake"),
        ("media/0-weu-d8-77aa.json", b"{}"),
    )


def telegram_chat() -> dict:
    me, abu = "user111", "user222"
    return {
        "name": "Abu Khaled",
        "type": "personal_chat",
        "id": 222,
        "messages": [
            {"id": 1, "type": "message", "date": "2016-03-01T09:00:00", "date_unixtime": "1456822800",
             "from": CHAT_RESEARCHER, "from_id": me, "text": "Thank you for talking to me."},
            {"id": 2, "type": "message", "date": "2016-03-01T09:01:00", "from": "Abu Khaled", "from_id": abu,
             "text": ["If I disappear, call ", {"type": "phone", "text": CHAT_PHONE}, " or write to ",
                      {"type": "mention", "text": "@umm_ali"}, ", see ",
                      {"type": "text_link", "text": "this map", "href": "https://maps.google.com/?q=34.73,36.68"}],
             "text_entities": []},
            {"id": 3, "type": "message", "date": "2016-03-01T09:02:00", "from": "Abu Khaled", "from_id": abu,
             "file": "voice_messages/audio_1@01-03-2016_09-02-00.ogg", "media_type": "voice_message",
             "mime_type": "audio/ogg", "duration_seconds": 4, "text": ""},
            {"id": 4, "type": "message", "date": "2016-03-01T09:03:00", "from": "Abu Khaled", "from_id": abu,
             "file": "round_video_messages/file_2@01-03-2016_09-03-00.mp4", "media_type": "video_message",
             "mime_type": "video/mp4", "duration_seconds": 7, "text": ""},
            {"id": 5, "type": "message", "date": "2016-03-01T09:04:00", "from": "Abu Khaled", "from_id": abu,
             "forwarded_from": "Waer Media Centre", "text": CHAT_ARABIC},
            {"id": 6, "type": "message", "date": "2016-03-01T09:05:00", "edited": "2016-03-01T09:07:00",
             "from": "Abu Khaled", "from_id": abu, "text": CHAT_MIXED},
            {"id": 7, "type": "message", "date": "2016-03-01T09:06:00", "from": "Abu Khaled", "from_id": abu,
             "photo": "(File not included. Change data exporting settings to download.)", "width": 800,
             "height": 600, "text": ""},
            {"id": 8, "type": "service", "date": "2016-03-01T09:10:00", "actor": CHAT_RESEARCHER, "actor_id": me,
             "action": "phone_call", "duration_seconds": 75, "discard_reason": "hangup", "text": ""},
            {"id": 9, "type": "service", "date": "2016-03-01T09:20:00", "actor": CHAT_RESEARCHER, "actor_id": me,
             "action": "phone_call", "discard_reason": "missed", "text": ""},
            {"id": 10, "type": "message", "date": "2016-03-01T09:21:00", "from": "Abu Khaled", "from_id": abu,
             "file": "stickers/sticker.webp", "media_type": "sticker", "sticker_emoji": "🙏", "text": ""},
        ],
    }  # fmt: skip


def telegram_zip() -> bytes:
    return zip_of(
        ("ChatExport_2016-04-01/result.json", json.dumps(telegram_chat(), ensure_ascii=False, indent=1)),
        ("ChatExport_2016-04-01/voice_messages/audio_1@01-03-2016_09-02-00.ogg", b"OggS fake"),
        ("ChatExport_2016-04-01/round_video_messages/file_2@01-03-2016_09-03-00.mp4", b"\x00ftyp fake"),
    )


# WhatsApp chats and e-mail ----------------------------------------------------------------------


NARRATOR_PHONE = "+963 944 123 456"
BROTHER_PHONE = "0933 222 111"


def _opus(tmp: Path, name: str, text: str) -> bytes:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (apt-get install -y espeak-ng ffmpeg)")
    wav = tmp / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), text], check=True, capture_output=True)
    out = tmp / f"{name}.opus"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libopus", "-b:a", "24k", str(out)],
        check=True,
        capture_output=True,
    )
    return out.read_bytes()


def whatsapp_export_with_voice_notes(tmp: Path) -> bytes:
    """A WhatsApp export (zip) whose narrator writes from a bare phone number and names their brother's,
    with two voice notes spoken by espeak-ng (Opus, written under `tmp`) and a photo."""
    chat = (
        "12/31/20, 9:41 PM - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.\n"
        "12/31/20, 9:41 PM - Sara Rawi: Thank you for agreeing to talk. How is the neighbourhood?\n"
        f"12/31/20, 9:45 PM - {NARRATOR_PHONE}: The siege continues. If I disappear call my brother on {BROTHER_PHONE}\n"
        f"12/31/20, 9:46 PM - {NARRATOR_PHONE}: PTT-20201231-WA0001.opus (file attached)\n"
        "12/31/20, 9:50 PM - Sara Rawi: And the bakery?\n"
        f"12/31/20, 9:52 PM - {NARRATOR_PHONE}: PTT-20201231-WA0002.opus (file attached)\n"
        f"12/31/20, 9:53 PM - {NARRATOR_PHONE}: IMG-20201231-WA0003.jpg (file attached)\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("WhatsApp Chat with Abu Khaled.txt", chat)
        archive.writestr("PTT-20201231-WA0001.opus", _opus(tmp, "one", "The bread ran out in December."))
        archive.writestr("PTT-20201231-WA0002.opus", _opus(tmp, "two", "The bakery was bombed twice."))
        archive.writestr("IMG-20201231-WA0003.jpg", b"\xff\xd8\xff\xe0fake-jpeg")
    return buffer.getvalue()


def mbox_message(sender: str, date: str, body: str) -> str:
    """One message of an mbox file (its From_ line first), with headers that only quarantine may keep."""
    return (
        f"From x@example.org {date}\nFrom: {sender}\nTo: other@example.org\nSubject: Re: Waer\nDate: {date}\n"
        f"Received: from [185.12.1.9] by mx.example.net\nUser-Agent: Android Mail\n"
        f"Content-Type: text/plain; charset=utf-8\n\n{body}\n"
    )


# Three messages of a WhatsApp chat, each sent at a known time.
WHATSAPP_CHAT = (
    "13/03/2016, 09:00 - Sara Rawi: Thank you for talking to me.\n"
    "13/03/2016, 09:02 - Abu Khaled: The bakery closed after the truce.\n"
    "13/03/2016, 21:47 - Abu Khaled: Then the shelling began again.\n"
)
FULL_CONSENT = {"research_access": True, "publication": True, "public_web": True, "voice_release": True}


def published_whatsapp_chat(demo) -> Interview:
    """WHATSAPP_CHAT imported into the demo's collection, published at the public tier with full consent."""
    [outcome] = import_file(
        data=WHATSAPP_CHAT.encode(),
        filename="WhatsApp Chat with Abu Khaled.txt",
        collection_slug=demo.collection.slug,
        title="A chat about the bakery",
        narrator_name="Abu Khaled",
        access="public",
        status="published",
    )
    interview = outcome.interview
    consent_record(
        narrator=interview.narrators.get(), interview=interview, archive=True, processing=True, **FULL_CONSENT
    )
    interview.refresh_from_db()
    return interview


# A rendering made by hand -----------------------------------------------------------------------


# The ids and the Arabic segment of make_rendering()'s interview.
INTERVIEW_ID = "6f1c2a4e-0000-4000-8000-000000000001"
NARRATOR_ID = "a1b2c3d4-0000-4000-8000-00000000000b"
RECORDING_ID = "5e4d3c2b-0000-4000-8000-00000000000c"
SEALED_NARRATOR_ID = "deadbeef-0000-4000-8000-0000000000ff"
RENDERED_ARABIC = "كنا في [place withheld] عندما بدأ القصف على باب عمرو"


def _rendered_segments() -> tuple[SegmentRendering, ...]:
    return (
        SegmentRendering(0, 0.0, 4.2, "Interviewer", "Where were you in February?", "en"),
        SegmentRendering(
            1,
            4.2,
            9.8,
            "Resident B",
            "I was in [place withheld] with [name withheld] & my cousin <b>.",
            "en",
            (
                RenderedWord("I", 4.2, 4.4, 0.9),
                RenderedWord(" was", 4.4, 4.6, 0.9),
                RenderedWord(" in", 4.6, 4.7, 0.9),
                RenderedWord(" [place withheld]", 4.7, 5.3, None),
            ),
        ),
        SegmentRendering(2, 9.8, 15.5, "Resident B", RENDERED_ARABIC, "ar"),
        SegmentRendering(3, 3725.0, 3725.0, "Speaker 1", "=SUM(A1) looks like a formula", "en"),
        SegmentRendering(4, 3726.0, 3727.0, "", "   ", "en"),
    )


def make_rendering(**overrides) -> Rendering:
    """A public Rendering of a redacted interview (five segments, one audio part), made without a
    database; `overrides` replace any of its fields."""
    values: dict = {
        "interview_id": INTERVIEW_ID,
        "tier": "public",
        "policy_version": "3.7",
        "consent_version": f"{NARRATOR_ID}:v2,{SEALED_NARRATOR_ID}:v1",
        "collection_slug": "homs-2012",
        "collection_title": "Homs 2012",
        "title": "Testimony from a district of Homs",
        "summary": "A resident describes the siege.",
        "mode": "whatsapp",
        "recorded_on": "2012-02",
        "place": "a district of Homs",
        "languages": ("ar", "en"),
        "topics": ("siege", "medicine"),
        "narrators": (NarratorRendering(NARRATOR_ID, "Resident B", "pseudonymous"),),
        "interviewer": "Interviewer",
        "status": "published",
        "duration_seconds": 3727.5,
        "audio_allowed": True,
        "audio_spans": ((4.55, 5.45),),
        "redaction_categories": ("name", "place"),
        "segments": _rendered_segments(),
        "audio_parts": (AudioPart(RECORDING_ID, 7.0, ((4.55, 5.45),)),),
    }
    values.update(overrides)
    return Rendering(**values)


# Interviews of every shape, made through the services -------------------------------------------


def _chat_txt() -> bytes:
    return (
        "12/31/20, 9:41 PM - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.\n"
        "12/31/20, 9:41 PM - Sara Rawi: Thank you for agreeing to talk. How is the neighbourhood?\n"
        "12/31/20, 9:45 PM - +963 944 123 456: The siege continues. Call my brother on 0933 222 111\n"
        "12/31/20, 9:50 PM - Sara Rawi: And the bakery? <b>&</b>\n"
        "12/31/20, 9:52 PM - +963 944 123 456: المخبز قصف مرتين\n"
    ).encode()


def resident_eml() -> bytes:
    """One e-mail (.eml) from the narrator Abu Khaled."""
    return (
        b"From: Abu Khaled <ak@example.net>\nTo: s@example.org\nSubject: Re: Waer\n"
        b"Date: Wed, 4 Jan 2017 09:00:00 +0200\nContent-Type: text/plain; charset=utf-8\n\n"
        b"The truce held two weeks. Then the shelling began again.\n"
    )


def _vtt() -> bytes:
    return (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:04.000\n<v Interviewer>Where were you in February?\n\n"
        "00:00:04.500 --> 00:00:09.000\n<v Umm Ahmad>كنا في باب عمرو عندما بدأ القصف\n\n"
        "00:00:09.500 --> 00:00:12.000\n<v Umm Ahmad>Then we walked to al-Waer with Abu Salim.\n"
    ).encode()


def imported_interview(data: bytes, filename: str, title: str, language: str = "", **labels: str) -> Interview:
    """An interview imported into the "schema-checks" collection, published at the public tier with full consent."""
    [outcome] = import_file(
        data=data,
        filename=filename,
        collection_slug="schema-checks",
        title=title,
        narrator_name="Abu Khaled",
        access="public",
        language=language,
        voice_notes="queue",
        status="published",
        **labels,
    )
    interview = outcome.interview
    consent_record(narrator=interview.narrators.get(), interview=interview, **FULL_CONSENT)
    return interview


def _sine_wav(path: Path, seconds: float = 8.0) -> Path:
    rate = 16_000
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate)
    return path


def _recorded(tmp_path: Path, title: str, whisper_segments: list[tuple] | None) -> Interview:
    """An audio interview; with `whisper_segments`, transcribed the way the Whisper worker stores it
    (no speaker labels, word timings and probabilities); without, still waiting for its transcript."""
    interview = recorded_interview_create(
        collection=Collection.objects.get(slug="schema-checks"),
        title=title,
        narrator_name="Layla Haddad",
        anonymity="pseudonymous",
        access_level="public",
        status="published",
        language="en",
        consent_scopes=FULL_CONSENT,
    )
    with _sine_wav(tmp_path / f"{interview.public_id}.wav").open("rb") as handle:
        recording = recording_store(interview=interview, fileobj=handle, original_filename="phone.wav")
    if whisper_segments is not None:
        inputs = [
            SegmentInput(
                start=start,
                end=end,
                text=text,
                language=language,
                words=[
                    {"w": (" " if i else "") + word, "s": start + i * 0.3, "e": start + i * 0.3 + 0.25, "p": 0.87}
                    for i, word in enumerate(text.split())
                ],
            )
            for start, end, text, language in whisper_segments
        ]
        transcript_store(
            interview=interview,
            segments=inputs,
            source="whisper",
            recording=recording,
            language="en",
            engine="faster-whisper 1.1.0",
            model_name="tiny.en",
        )
    return interview


def build_shapes(demo, tmp_path: Path) -> dict[str, Interview]:
    """Interviews of every shape the archive holds, by name: imported chat, e-mail and captions, a recording
    transcribed as the Whisper worker stores it, one awaiting its transcript, and the demo's interviews."""
    shapes: dict[str, Interview] = {
        "chat": imported_interview(
            _chat_txt(), "WhatsApp Chat with Abu Khaled.txt", "Chat with a resident", "en", interviewer="Sara Rawi"
        ),
        "email": imported_interview(resident_eml(), "answer.eml", "Email from a resident", "en"),
        "vtt": imported_interview(_vtt(), "interview.vtt", "Imported captions", "ar"),
    }
    shapes["whisper"] = _recorded(
        tmp_path,
        "Recorded on a phone",
        [
            (0.0, 2.4, "The bread ran out in December.", "en"),
            (2.4, 4.1, "Abu Salim kept the bakery open.", "en"),
            (4.1, 5.9, "Then it was bombed twice.", "en"),
            (5.9, 7.6, "قصفوا المخبز مرتين", "ar"),
        ],
    )
    shapes["awaiting-transcript"] = _recorded(tmp_path, "Not transcribed yet", None)
    # Redacted below custodian: a name in the recorded interview, a place in the imported captions.
    redaction_add_phrase_span(interview=shapes["whisper"], phrase="Abu Salim", visible_from="custodian")
    redaction_add_phrase_span(interview=shapes["vtt"], phrase="باب عمرو", category="place", visible_from="staff")
    # From the demo: Arabic voice notes, an Arabic and English vox-pop, redacted video calls and email,
    # a sealed interview (custodian only), an embargoed one.
    for key in demo.interviews:
        shapes[f"demo-{key}"] = demo.interview(key)
    return shapes


# An interview for the incremental rebuild -------------------------------------------------------


REBUILDS_NARRATOR = "Widad Qannout"


def _words(text: str, start: float) -> list[dict]:
    return [
        {"w": w, "s": start + i * 0.5, "e": start + i * 0.5 + 0.4, "p": 0.9, "extra": "x"}
        for i, w in enumerate(text.split())
    ]


def rebuilds_interview() -> Interview:
    """A published interview of five segments with word times, whose anonymous narrator says their name."""
    collection = services.collection_get_or_create(slug="incremental", title="Incremental")
    narrator = services.narrator_create(
        collection=collection,
        legal_name=REBUILDS_NARRATOR,
        anonymity="anonymous",
        descriptor="a teacher",
        aliases=["Um Samir"],
    )
    interview = services.interview_create(
        collection=collection, title="Rebuilds", narrators=[narrator], access_level="public", status="published"
    )
    services.consent_record(
        narrator=narrator, interview=interview, research_access=True, publication=True, public_web=True
    )
    texts = [
        "We baked bread in the cellar of the old school.",
        f"My name is {REBUILDS_NARRATOR} and the checkpoint was closed.",
        "ذهبنا بحمص إلى السوق مع أم سمير قبل المغرب.",
        "The convoy reached Waer on the third day.",
        "Nothing else happened that week.",
    ]
    services.transcript_store(
        interview=interview,
        source="manual",
        segments=[
            services.SegmentInput(
                start=i * 5.0, end=i * 5.0 + 4.5, text=t, words=_words(t, i * 5.0), role="narrator", narrator=narrator
            )
            for i, t in enumerate(texts)
        ],
    )
    interview.refresh_from_db()
    return interview


def assert_stored_equals_fresh(interview: Interview) -> None:
    """Every stored tier's rendering equals what a from-scratch render computes now."""
    interview.refresh_from_db()
    inputs = load_inputs(interview)
    stored = {r.tier: r for r in RenderedInterview.objects.filter(interview=interview)}
    assert stored, "no rendering stored"
    for tier, row in stored.items():
        fresh = render(interview, tier, inputs)
        kept = resolve_identities(rendering_from_stored(row))
        assert kept.segments == fresh.segments, tier
        assert [tuple(s.words) for s in kept.segments] == [tuple(s.words) for s in fresh.segments], tier
        assert (kept.title, kept.audio_spans, kept.redaction_categories) == (
            fresh.title,
            fresh.audio_spans,
            fresh.redaction_categories,
        ), tier
        assert all("extra" not in w for s in row.segments.all() for w in s.words)


# A small archive for search ---------------------------------------------------------------------


class World:
    """A small archive built through the services, independent of the demo seed."""

    def __init__(self, slug: str = "search-a"):
        self.collection = services.collection_get_or_create(slug=slug, title=f"Collection {slug}")
        self.narrator = services.narrator_create(
            collection=self.collection, legal_name="Nadia Example", anonymity="pseudonymous", pseudonym="Resident Q"
        )

    def interview(self, title: str, texts: list[str], *, access_level: str = "public", language: str = "en", **extra):
        interview = services.interview_create(
            collection=self.collection,
            title=title,
            narrators=[self.narrator],
            access_level=access_level,
            languages=[language],
            status=Interview.Status.PUBLISHED,
            recorded_on=extra.pop("recorded_on", date(2015, 3, 2)),
            mode=extra.pop("mode", Interview.Mode.WHATSAPP_VOICE),
            topics=extra.pop("topics", ["siege"]),
            summary=extra.pop("summary", ""),
            place=extra.pop("place", ""),
            place_general=extra.pop("place_general", ""),
        )
        services.consent_record(
            narrator=self.narrator, interview=interview, research_access=True, publication=True, public_web=True
        )
        services.transcript_store(
            interview=interview,
            source="manual",
            language=language,
            segments=[services.SegmentInput(start=i * 5.0, end=i * 5.0 + 4.0, text=t) for i, t in enumerate(texts)],
        )
        interview.refresh_from_db()
        return interview

    @staticmethod
    def redact(interview: Interview, index: int, word: str, visible_from: str = "staff") -> None:
        segment = Segment.objects.get(transcript__interview=interview, transcript__is_current=True, index=index)
        text = segment.raw_text  # noqa: the test plays the editor marking the span
        start = text.index(word)
        services.redaction_add_span(
            segment=segment, start_char=start, end_char=start + len(word), category="other", visible_from=visible_from
        )


# The leak suite's canaries ----------------------------------------------------------------------


@dataclass(frozen=True)
class Canary:
    text: str
    why: str


def canaries_for(tier: str) -> list[Canary]:
    """Everything the tier must never receive, computed from the archive itself."""
    found: list[Canary] = []
    for narrator in Narrator.objects.exclude(anonymity=Narrator.Anonymity.NAMED):
        identity = _identity(narrator)
        found.append(Canary(identity.legal_name, f"legal name of {narrator.anonymity} narrator"))
        if narrator.anonymity in (Narrator.Anonymity.ANONYMOUS, Narrator.Anonymity.SEALED):
            # Their id would link their interviews to each other.
            found.append(Canary(str(narrator.public_id), "id of an anonymous or sealed narrator"))
        found.extend(Canary(alias, "narrator alias or contact") for alias in identity.aliases)
    for redaction in Redaction.objects.filter(status=Redaction.Status.APPROVED).select_related("segment", "entity"):
        if TIER_ORDER[redaction.visible_from] <= TIER_ORDER[tier]:
            continue
        if redaction.kind == Redaction.Kind.SPAN:
            found.append(
                Canary(redaction.segment.raw_text[redaction.start_char : redaction.end_char], "span redaction")
            )
        elif redaction.kind == Redaction.Kind.ENTITY:
            found.append(Canary(redaction.entity.raw_name, "entity redaction"))
            found.extend(Canary(a.raw_alias, "entity alias") for a in redaction.entity.aliases.all())

    for interview in models.Interview.objects.all():
        if tier in access.visible_tiers(interview):
            continue
        found.append(Canary(interview.title, "title of an interview hidden at this tier"))
        for segment in models.Segment.objects.filter(transcript__interview=interview):
            found.append(Canary(segment.raw_text, "text of an interview hidden at this tier"))
    for row in models.QuarantinedMetadata.objects.all():
        payload = crypto.open_json(row.payload_ciphertext, f"quarantine:{row.interview.public_id}")
        found.extend(Canary(value, "quarantined metadata") for value in _strings(payload))
    return [c for c in found if c.text and len(c.text.strip()) >= 4]


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) and len(value) >= 6 else []


# Browser ----------------------------------------------------------------------------------------


def sign_in(page, live_server_url: str, username: str, password: str) -> None:
    """Sign a browser page in through the login form."""
    page.goto(f"{live_server_url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[data-testid=login-form] button[type=submit]")
    page.wait_for_selector("[data-testid=signed-in]")
