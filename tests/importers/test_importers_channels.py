"""Messenger/Instagram, Skype and Telegram exports: the pure parsers on synthetic exports (tests/builders.py:
mojibake written the way Facebook writes it, Skype's markup, Telegram's entity lists), narrator
selection, hostile inputs; then the import service, the API, the upload form and `manage.py ingest`."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from datetime import datetime
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from archive.gate import policy as access
from archive.gate import render
from archive.importers import (
    ImportRefused,
    NarratorUnknown,
    detect_kind,
    fix_mojibake,
    parse_file,
    parse_messenger,
    parse_skype,
    parse_telegram,
)
from archive.models import Attachment, Interview, QuarantinedMetadata, Recording, Redaction, TranscriptionJob
from archive.services import imports, quarantine_read
from archive.services.imports import VOICE_PENDING, import_file
from archive.services.people import narrator_identity
from tests.builders import (
    CHAT_ARABIC,
    CHAT_MIXED,
    CHAT_NARRATOR,
    CHAT_PHONE,
    CHAT_RESEARCHER,
    MESSENGER_BASE,
    MESSENGER_THREAD,
    epoch_ms,
    facebook_json,
    messenger_thread,
    messenger_zip,
    skype_export,
    tar_of,
    telegram_chat,
    telegram_zip,
    zip_of,
)

# Facebook ---------------------------------------------------------------------------------------


def test_it_puts_facebook_mojibake_back_for_arabic_emoji_and_mixed_text():
    for text in (CHAT_ARABIC, CHAT_MIXED, "José ❤️", CHAT_NARRATOR):
        assert fix_mojibake(text.encode("utf-8").decode("latin-1")) == text
        assert fix_mojibake(text) == text
    assert fix_mojibake("café") == "café"  # Latin-1 that is not UTF-8 stays as it is
    assert json.loads(facebook_json(CHAT_ARABIC)) != CHAT_ARABIC


def test_it_parses_a_messenger_thread_across_numbered_files_in_time_order():
    result = parse_messenger(messenger_zip(), filename="facebook-sara.zip")
    assert result.source == "messenger"
    assert [(s.start, s.speaker, s.role, s.kind, s.text, s.attachment) for s in result.segments] == [
        (0.0, CHAT_RESEARCHER, "interviewer", "text", "Thank you for agreeing to talk.", ""),
        (120.0, CHAT_NARRATOR, "narrator", "text", CHAT_ARABIC, ""),
        (180.0, CHAT_NARRATOR, "narrator", "text", f"Call my brother on {CHAT_PHONE}", ""),
        (600.0, CHAT_NARRATOR, "narrator", "voice", "", "audio_files/audioclip14567.mp4"),
        (660.0, CHAT_NARRATOR, "narrator", "text", CHAT_MIXED, ""),
        (720.0, CHAT_NARRATOR, "narrator", "text", "[image attached]", "photos/4411_n.jpg"),
        (1200.0, CHAT_RESEARCHER, "interviewer", "text", "[call, 4 min 12 s]", ""),
        (1800.0, CHAT_RESEARCHER, "interviewer", "text", "[missed call]", ""),
        (1860.0, CHAT_RESEARCHER, "interviewer", "text", "Here is the report https://example.org/report", ""),
    ]
    assert result.started_at == datetime(2016, 3, 1, 9, 0)
    assert sorted(a.name for a in result.attachments) == ["audio_files/audioclip14567.mp4", "photos/4411_n.jpg"]
    assert result.attachment("audio_files/audioclip14567.mp4").kind == "audio"
    assert result.quarantine["contact_names"] == sorted([CHAT_NARRATOR, CHAT_RESEARCHER])
    assert result.quarantine["phone_numbers"] == ["+963944123456"]
    assert result.quarantine["conversation_titles"] == [CHAT_NARRATOR]
    assert result.title_hint == CHAT_NARRATOR
    assert result.warnings == [
        "1 unsent or deleted message(s) were skipped.",
        "1 reaction(s) were left out; who reacted is kept in quarantine.",
    ]


def test_it_reads_a_bare_message_json_and_the_e2ee_form():
    first, _ = messenger_thread()
    result = parse_file("message_1.json", facebook_json(first))
    assert result.source == "messenger"
    assert [(s.start, s.kind, s.text) for s in result.segments if s.kind != "text"] == [
        (0.0, "media_missing", "[attachment not included in the export]"),
        (120.0, "media_missing", "[attachment not included in the export]"),
    ]
    e2ee = {
        "participants": [CHAT_NARRATOR, CHAT_RESEARCHER],
        "threadName": CHAT_NARRATOR,
        "messages": [
            {"isUnsent": False, "media": [], "reactions": [], "senderName": CHAT_NARRATOR, "text": CHAT_ARABIC,
             "timestamp": epoch_ms(2024, 5, 1, 10, 0), "type": "text"},
            {"isUnsent": False, "media": [], "reactions": [], "senderName": CHAT_RESEARCHER, "text": "Hello",
             "timestamp": epoch_ms(2024, 5, 1, 9, 59), "type": "text"},
        ],
    }  # fmt: skip
    result = parse_file("chat.json", json.dumps(e2ee, ensure_ascii=False).encode(), narrator=CHAT_NARRATOR)
    assert [(s.speaker, s.role, s.text) for s in result.segments] == [
        (CHAT_RESEARCHER, "interviewer", "Hello"),
        (CHAT_NARRATOR, "narrator", CHAT_ARABIC),
    ]


MESSENGER_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<style>._a6-g{{}}</style></head><body><div class="_a705"><div class="_3-8y _3-95 _a70a">
<div class="_2ph_ _a6-h _a6-i">Participants: {narrator} and {researcher}</div></div>
<div class="_a706" role="main">
<div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder"><div class="_3-95 _2pim _a6-h _a6-i">{narrator}</div>
<div class="_3-95 _a6-p"><div><div></div><div>{arabic}</div><div></div><div><ul class="_a6-q"><li>❤{researcher}</li></ul></div></div></div>
<div class="_3-94 _a6-o">Mar 01, 2016 9:02:00 am</div></div>
<div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder"><div class="_3-95 _2pim _a6-h _a6-i">{narrator}</div>
<div class="_3-95 _a6-p"><div><div></div><div><div><audio src="messages/inbox/{thread}/audio/audioclip1.mp4" controls="1"></audio></div></div><div></div><div></div></div></div>
<div class="_3-94 _a6-o">Mar 01, 2016 9:01:30 am</div></div>
<div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder"><div class="_3-95 _2pim _a6-h _a6-i">{researcher}</div>
<div class="_3-95 _a6-p"><div><div></div><div>Tell me &amp; take your time &lt;3</div><div></div><div></div></div></div>
<div class="_3-94 _a6-o">Mar 01, 2016 9:00:00 am</div></div>
</div></div></body></html>"""


def test_it_parses_the_html_form_of_a_messenger_thread():
    html = MESSENGER_HTML.format(
        title=CHAT_NARRATOR,
        narrator=CHAT_NARRATOR,
        researcher=CHAT_RESEARCHER,
        arabic=CHAT_ARABIC,
        thread=MESSENGER_THREAD,
    )
    data = zip_of(
        (f"messages/inbox/{MESSENGER_THREAD}/message_1.html", html),
        (f"messages/inbox/{MESSENGER_THREAD}/audio/audioclip1.mp4", b"\x00ftyp"),
    )
    assert detect_kind("export.zip", data) == "messenger"
    result = parse_messenger(data, narrator=CHAT_NARRATOR)
    assert [(s.start, s.speaker, s.role, s.kind, s.text) for s in result.segments] == [
        (0.0, CHAT_RESEARCHER, "interviewer", "text", "Tell me & take your time <3"),
        (90.0, CHAT_NARRATOR, "narrator", "voice", ""),
        (120.0, CHAT_NARRATOR, "narrator", "text", CHAT_ARABIC),
    ]
    assert result.quarantine["contact_names"] == sorted([CHAT_NARRATOR, CHAT_RESEARCHER])
    assert "1 reaction(s) were left out; who reacted is kept in quarantine." in result.warnings


def _group_thread(folder: str, senders: list[str], when: int) -> bytes:
    return facebook_json(
        {
            "participants": [{"name": s} for s in senders],
            "title": "Waer neighbours",
            "thread_type": "RegularGroup",
            "messages": [{"sender_name": s, "timestamp_ms": when + i * 1000, "content": f"hello from {s}"}
                         for i, s in enumerate(senders)][::-1],
        }
    )  # fmt: skip


def test_a_whole_export_imports_the_narrators_conversations_and_asks_when_it_cannot_tell():
    first, second = messenger_thread()
    profile = {"profile_v2": {"name": {"full_name": CHAT_RESEARCHER}}}
    data = zip_of(
        (f"{MESSENGER_BASE}/message_1.json", facebook_json(first)),
        (f"{MESSENGER_BASE}/message_2.json", facebook_json(second)),
        ("your_facebook_activity/messages/inbox/waer_1/message_1.json",
         _group_thread("waer_1", [CHAT_RESEARCHER, "Umm Ali", "Abu Omar"], epoch_ms(2016, 4, 1))),
        ("personal_information/profile_information/profile_information.json", facebook_json(profile)),
    )  # fmt: skip
    with pytest.raises(NarratorUnknown) as caught:
        parse_messenger(data)
    assert caught.value.code == "narrator_unknown"
    assert caught.value.senders[0] == CHAT_NARRATOR
    assert set(caught.value.senders) == {CHAT_NARRATOR, CHAT_RESEARCHER, "Umm Ali", "Abu Omar"}
    assert caught.value.reason.startswith("The export holds 2 conversations; name the narrator to choose theirs.")
    # The narrator in the group: the account that made the export (from its profile) interviews.
    result = parse_messenger(data, narrator="umm ali")
    assert [(s.speaker, s.role) for s in result.segments] == [
        (CHAT_RESEARCHER, "interviewer"),
        ("Umm Ali", "narrator"),
        ("Abu Omar", "other"),
    ]
    with pytest.raises(NarratorUnknown) as caught:
        parse_messenger(data, narrator="Nobody Here", strict=True)
    assert "No sender in the export matches the narrator “Nobody Here”." in caught.value.reason
    group_only = zip_of(
        ("messages/inbox/waer_1/message_1.json", _group_thread("w", ["A B", "C D", "E F"], epoch_ms(2016, 4, 1)))
    )
    with pytest.raises(NarratorUnknown) as caught:
        parse_messenger(group_only)
    assert caught.value.reason == (
        "The export does not say which sender is the narrator; choose one. The senders are: A B, C D, E F."
    )


# Skype ------------------------------------------------------------------------------------------


def test_it_parses_a_skype_export_with_markup_quotes_calls_and_files():
    data = skype_export()
    assert detect_kind("8_live_sara.rawi_export.tar", data) == "skype"
    result = parse_skype(data, filename="8_live_sara.rawi_export.tar")
    assert [(s.start, s.speaker, s.role, s.kind, s.text, s.attachment) for s in result.segments] == [
        (0.0, "Sara Rawi", "interviewer", "text", "Where were you?", ""),
        (59.88, "Abu Khaled", "narrator", "text", 'In the basement, with "the children" & my mother', ""),
        (119.88, "Abu Khaled", "narrator", "text", f"{CHAT_ARABIC} :) call {CHAT_PHONE} (tel:{CHAT_PHONE})", ""),
        (179.88, "Abu Khaled", "narrator", "voice", "", "media/0-weu-d3-5e1f.1.m4a"),
        (239.88, "Abu Khaled", "narrator", "text", "[document attached]", "media/0-weu-d8-77aa.1.pdf"),
        (359.88, "Abu Khaled", "narrator", "text", "It was cold [edited]", ""),
        (1199.88, "Sara Rawi", "interviewer", "text", "[call, 10 min 1 s]", ""),
    ]
    assert result.quarantine["contact_names"] == ["Abu Khaled", "Sara Rawi"]
    assert result.quarantine["phone_numbers"] == ["+963944123456"]
    assert result.warnings == [
        "1 unsent or deleted message(s) were skipped.",
        "1 message(s) were edited after sending; the last text is kept and marked [edited].",
        "1 system notice(s) were moved to quarantine.",
    ]
    # The same export re-zipped, or its messages.json alone, reads the same text.
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        messages = archive.extractfile("messages.json").read()
    assert [s.text for s in parse_file("messages.json", messages).segments][:3] == [s.text for s in result.segments[:3]]


# Telegram ---------------------------------------------------------------------------------------


def test_it_parses_a_telegram_chat_with_entities_voice_round_video_forwards_and_edits():
    data = telegram_zip()
    assert detect_kind("ChatExport.zip", data) == "telegram"
    result = parse_telegram(data)
    assert [(s.start, s.speaker, s.role, s.kind, s.text, s.attachment) for s in result.segments] == [
        (0.0, CHAT_RESEARCHER, "interviewer", "text", "Thank you for talking to me.", ""),
        (60.0, "Abu Khaled", "narrator", "text",
         f"If I disappear, call {CHAT_PHONE} or write to @umm_ali, see this map (https://maps.google.com/?q=34.73,36.68)", ""),
        (120.0, "Abu Khaled", "narrator", "voice", "", "voice_messages/audio_1@01-03-2016_09-02-00.ogg"),
        (180.0, "Abu Khaled", "narrator", "voice", "", "round_video_messages/file_2@01-03-2016_09-03-00.mp4"),
        (240.0, "Abu Khaled", "narrator", "text", f"[forwarded from Waer Media Centre] {CHAT_ARABIC}", ""),
        (300.0, "Abu Khaled", "narrator", "text", f"{CHAT_MIXED} [edited]", ""),
        (360.0, "Abu Khaled", "narrator", "media_missing", "[attachment not included in the export]", ""),
        (600.0, CHAT_RESEARCHER, "interviewer", "text", "[call, 1 min 15 s]", ""),
        (1200.0, CHAT_RESEARCHER, "interviewer", "text", "[missed call]", ""),
    ]  # fmt: skip
    assert result.quarantine["phone_numbers"] == ["+963 944 123 456", "+963944123456"]
    assert result.quarantine["contact_names"] == ["@umm_ali", "Abu Khaled", CHAT_RESEARCHER, "Waer Media Centre"]
    assert any("maps.google.com/?q=34.73,36.68" in address for address in result.quarantine["addresses"])
    assert "1 sticker(s) were left out." in result.warnings


def test_it_chooses_the_narrators_chat_from_an_all_chats_telegram_export():
    group = {
        "name": "Waer neighbours", "type": "private_group", "id": 333,
        "messages": [{"id": 1, "type": "message", "date": "2016-03-02T10:00:00", "from": "Umm Ali",
                      "from_id": "user444", "text": "hello"}],
    }  # fmt: skip
    export = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 111, "first_name": "Sara", "last_name": "Rawi", "phone_number": "+44 7700 900123"},
        "contacts": {"about": "", "list": [{"first_name": "Someone", "last_name": "Else", "phone_number": "+1 555 0100"}]},
        "chats": {"about": "", "list": [telegram_chat(), group]},
    }  # fmt: skip
    data = json.dumps(export).encode()
    assert detect_kind("result.json", data) == "telegram"
    result = parse_telegram(data, narrator="user222")
    assert {(s.speaker, s.role) for s in result.segments} == {
        (CHAT_RESEARCHER, "interviewer"),
        ("Abu Khaled", "narrator"),
    }
    assert "+15550100" not in json.dumps(result.quarantine)  # the address book is not this interview's
    result = parse_telegram(data, narrator="Umm Ali")
    assert [(s.speaker, s.role) for s in result.segments] == [("Umm Ali", "narrator")]


# Detection and hostile input -----------------------------------------------------------------


def test_it_detects_each_new_kind_from_names_and_content():
    first, _ = messenger_thread()
    assert detect_kind("message_1.json", facebook_json(first)) == "messenger"
    assert detect_kind("inbox.json", facebook_json(first)) == "messenger"
    assert detect_kind("export.json", json.dumps({"userId": "x", "conversations": []}).encode()) == "skype"
    assert detect_kind("chat.json", json.dumps(telegram_chat()).encode()) == "telegram"
    html = MESSENGER_HTML.format(title="t", narrator="a", researcher="b", arabic="c", thread="t")
    assert detect_kind("message_1.html", html.encode()) == "messenger"
    with pytest.raises(ImportRefused) as caught:
        detect_kind("data.json", b'{"hello": "world"}')
    assert caught.value.code == "unsupported"


HOSTILE = [
    ("skype_symlink.tar", lambda: tar_of(("messages.json", b"{}"), links=(("media/x", "/etc/passwd"),)), "zip_symlink"),
    ("skype_traversal.tar", lambda: tar_of(("messages.json", b"{}"), ("../../evil.m4a", b"x")), "zip_path"),
    ("skype_nested.tar", lambda: tar_of(("messages.json", b"{}"), ("media/inner.zip", zip_of(("a", b"b")))), "zip_nested"),
    ("skype_truncated.tar", lambda: skype_export()[:1500], "zip_corrupt"),
    ("messenger_traversal.zip", lambda: zip_of(("messages/inbox/t/message_1.json", b"{}"), ("../x.jpg", b"x")), "zip_path"),
    ("messenger_truncated.json", lambda: facebook_json(messenger_thread()[0])[:-40], "malformed"),
    ("messenger_deep.json", lambda: b'{"participants": [], "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "malformed"),
    ("messenger_latin1.json", lambda: '{"participants": [], "messages": [], "title": "caf\xe9"}'.encode("latin-1"), "encoding"),
    ("messenger_bad_time.json", lambda: json.dumps({"participants": [{"name": "a"}], "messages": [
        {"sender_name": "a", "timestamp_ms": 10**17, "content": "x"}]}).encode(), "timestamps"),
    ("messenger_not_json.zip", lambda: zip_of(("messages/inbox/t/message_1.json", b"\x89PNG\r\n")), "binary"),
    ("messenger_empty.json", lambda: json.dumps({"participants": [], "messages": []}).encode(), "empty"),
    ("telegram_html.zip", lambda: zip_of(("ChatExport/messages.html", b"<html></html>"), ("ChatExport/js/script.js", b"")), "format"),
    ("telegram_bad_date.json", lambda: json.dumps({"name": "x", "type": "personal_chat", "id": 1, "messages": [
        {"id": 1, "type": "message", "date": "yesterday", "from": "a", "from_id": "user1", "text": "x"}]}).encode(), "timestamps"),
    ("telegram_two_results.zip", lambda: zip_of(("a/result.json", b"{}"), ("b/result.json", b"{}")), "format"),
    ("skype_wrong_json.json", lambda: json.dumps({"userId": "x", "conversations": {"a": 1}}).encode(), "format"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build", "code"), HOSTILE, ids=[name for name, _, _ in HOSTILE])
def test_it_refuses_hostile_channel_exports_with_a_clear_reason(name, build, code):
    data = build()
    with pytest.raises(ImportRefused) as caught:
        parse_file(name, data, kind=detect_kind(name, data))
    assert caught.value.code == code, caught.value.reason
    assert caught.value.reason.endswith((".", ")")) and name not in caught.value.reason


# The import service, the API, the upload form and `ingest` -------------------------------------


def _stored_files() -> set[str]:
    found: set[str] = set()
    for folder in ("originals", "attachments"):
        try:
            found.update(f"{folder}/{name}" for name in default_storage.listdir(folder)[1])
        except FileNotFoundError:
            continue
    return found


def _counts() -> tuple[int, int, int]:
    return Interview.objects.count(), Recording.objects.count(), Attachment.objects.count()


@pytest.mark.django_db
def test_it_imports_a_messenger_export_as_an_interview_its_importer_gathered(demo):
    user = demo.user("fieldresearcher")
    [outcome] = import_file(
        data=messenger_zip(),
        filename="facebook-sara.zip",
        collection_slug=demo.collection.slug,
        title="Messenger chat with a resident",
        narrator_name="",
        access="staff",
        actor=user,
        voice_notes="queue",
    )
    interview = outcome.interview
    assert interview.mode == Interview.Mode.SOCIAL_MEDIA
    assert list(interview.interviewers.all()) == [user]
    assert access.user_tier(user, interview) == "custodian"
    assert outcome.transcript.source == "chat"
    [recording] = Recording.objects.filter(interview=interview)
    [job] = TranscriptionJob.objects.filter(recording=recording)
    assert (job.state, job.options["in_place"], job.options["offset"]) == ("queued", True, 600.0)
    assert Attachment.objects.filter(interview=interview).count() == 1
    custodian = render(interview, "custodian")
    assert [(s.start, s.text) for s in custodian.segments][:5] == [
        (0.0, "Thank you for agreeing to talk."),
        (120.0, CHAT_ARABIC),
        (180.0, f"Call my brother on {CHAT_PHONE}"),
        (600.0, VOICE_PENDING),
        (660.0, CHAT_MIXED),
    ]
    staff = render(interview, "staff")
    blob = "\n".join(f"{s.speaker}: {s.text}" for s in staff.segments)
    assert CHAT_PHONE not in blob and "944 123 456" not in blob
    assert Redaction.objects.filter(interview=interview, status="approved", category="contact").count() == 1
    # No real name was given: the narrator's chat label is kept, sealed, as their name.
    assert narrator_identity(narrator=interview.narrators.get(), actor=None)["legal_name"] == CHAT_NARRATOR
    payload = quarantine_read(
        row=QuarantinedMetadata.objects.get(interview=interview, source="import-messenger"), actor=None
    )
    assert payload["contact_names"] == sorted([CHAT_NARRATOR, CHAT_RESEARCHER])
    assert payload["original_filename"] == "facebook-sara.zip"
    assert payload["title_hint"] == CHAT_NARRATOR


def _all_chats_export() -> bytes:
    group = {
        "name": "Waer neighbours", "type": "private_group", "id": 333,
        "messages": [
            {"id": 1, "type": "message", "date": "2016-03-02T10:00:00", "from": "Abu Khaled", "from_id": "user222",
             "photo": "chats/chat_002/photos/photo_1.jpg", "text": ""},
            {"id": 2, "type": "message", "date": "2016-03-02T10:01:00", "from": "Umm Ali", "from_id": "user444",
             "text": "we are fine"},
        ],
    }  # fmt: skip
    chat = telegram_chat()
    for message in chat["messages"]:
        if "file" in message and message.get("media_type") != "sticker":
            message["file"] = f"chats/chat_001/{message['file']}"
    export = {"personal_information": {"user_id": 111, "first_name": "Sara", "last_name": "Rawi"},
              "chats": {"about": "", "list": [chat, group]}}  # fmt: skip
    return zip_of(
        ("DataExport/result.json", json.dumps(export, ensure_ascii=False)),
        ("DataExport/chats/chat_001/voice_messages/audio_1@01-03-2016_09-02-00.ogg", b"OggS fake"),
        ("DataExport/chats/chat_001/round_video_messages/file_2@01-03-2016_09-03-00.mp4", b"\x00ftyp"),
        ("DataExport/chats/chat_002/photos/photo_1.jpg", b"\xff\xd8\xff\xe0"),
    )


@pytest.mark.django_db
def test_each_conversation_of_the_narrator_becomes_an_interview_and_a_late_failure_leaves_nothing(demo, monkeypatch):
    data = _all_chats_export()
    outcomes = import_file(
        data=data, filename="DataExport.zip", collection_slug="channels", title="Abu Khaled",
        narrator_name="Abu Khaled", voice_notes="queue",
    )  # fmt: skip
    assert [o.interview.title for o in outcomes] == ["Abu Khaled (1 of 2)", "Abu Khaled (2 of 2)"]
    assert [o.interview.mode for o in outcomes] == ["messaging", "messaging"]
    assert [(len(o.recordings), o.attachments) for o in outcomes] == [(2, 0), (0, 1)]
    roles = [{s.raw_speaker: s.speaker_role for s in o.transcript.segments.all()} for o in outcomes]
    assert roles == [
        {CHAT_RESEARCHER: "interviewer", "Abu Khaled": "narrator"},
        {"Abu Khaled": "narrator", "Umm Ali": "other"},
    ]

    calls = {"n": 0}
    real = imports.quarantine_store

    def fail_second(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("storage failed")
        return real(**kwargs)

    monkeypatch.setattr(imports, "quarantine_store", fail_second)
    before, files = _counts(), _stored_files()
    with pytest.raises(RuntimeError):
        import_file(data=data, filename="d.zip", collection_slug="channels-2", title="T", narrator_name="Abu Khaled",
                    voice_notes="queue")  # fmt: skip
    assert _counts() == before
    assert _stored_files() == files
    assert not Interview.objects.filter(collection__slug="channels-2").exists()


@pytest.mark.django_db
def test_each_hostile_channel_export_is_refused_and_leaves_nothing_behind(demo):
    before, files = _counts(), _stored_files()
    for name, build, code in HOSTILE:
        with pytest.raises(ImportRefused) as caught:
            import_file(data=build(), filename=name, collection_slug="hostile-channels", title="H", narrator_name="N",
                        voice_notes="queue")  # fmt: skip
        assert caught.value.code == code, name
    assert (_counts(), _stored_files()) == (before, files)
    assert not Interview.objects.filter(collection__slug="hostile-channels").exists()


def _group_export() -> bytes:
    return zip_of(("messages/inbox/waer_1/message_1.json",
                   _group_thread("waer_1", [CHAT_RESEARCHER, "Umm Ali", "Abu Omar"], epoch_ms(2016, 4, 1))))  # fmt: skip


@pytest.mark.django_db
def test_the_api_asks_for_the_narrator_when_the_export_cannot_tell(client_as, demo):
    url = f"/api/v1/collections/{demo.collection.slug}/imports/"
    client = client_as("fieldresearcher")
    response = client.post(url, {"file": SimpleUploadedFile("fb.zip", _group_export()), "title": "Group"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "The export does not say which sender is the narrator; choose one. "
        f"The senders are: {CHAT_RESEARCHER}, Umm Ali, Abu Omar.",
        "code": "narrator_unknown",
        "senders": [CHAT_RESEARCHER, "Umm Ali", "Abu Omar"],
    }
    assert not Interview.objects.filter(title="Group").exists()
    response = client.post(
        url,
        {"file": SimpleUploadedFile("fb.zip", _group_export()), "title": "Group", "narrator_label": "Umm Ali",
         "interviewer": CHAT_RESEARCHER},
    )  # fmt: skip
    assert response.status_code == 201
    [public_id] = response.json()["interviews"]
    interview = Interview.objects.get(public_id=public_id)
    assert list(interview.interviewers.all()) == [demo.user("fieldresearcher")]
    segments = interview.transcripts.get(is_current=True).segments.order_by("index")
    assert [(s.raw_speaker, s.speaker_role) for s in segments] == [
        (CHAT_RESEARCHER, "interviewer"),
        ("Umm Ali", "narrator"),
        ("Abu Omar", "other"),
    ]


@pytest.mark.django_db
def test_the_upload_form_asks_which_sender_is_the_narrator(client_as, demo):
    client = client_as("fieldresearcher")
    url = f"/collections/{demo.collection.slug}/import/"
    form = {"title": "Form group", "anonymity": "anonymous", "access": "staff"}
    response = client.post(url, {**form, "file": SimpleUploadedFile("fb.zip", _group_export())})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Which sender is the narrator?" in page
    assert '<option value="Umm Ali">Umm Ali</option>' in page
    assert not Interview.objects.filter(title="Form group").exists()
    response = client.post(
        url, {**form, "narrator_label": "Abu Omar", "file": SimpleUploadedFile("fb.zip", _group_export())}
    )
    assert response.status_code == 302
    interview = Interview.objects.get(title="Form group")
    assert interview.transcripts.get(is_current=True).segments.get(speaker_role="narrator").raw_speaker == "Abu Omar"


@pytest.mark.django_db
def test_ingest_matches_the_narrator_against_the_senders_and_reads_a_conversation_folder(tmp_path, demo):
    export = tmp_path / "skype.tar"
    export.write_bytes(skype_export())
    args = ["--collection", "cli-channels", "--title", "Skype chat", "--anonymity", "anonymous", "--access", "staff"]
    with pytest.raises(CommandError) as caught:
        call_command("ingest", str(export), *args, "--narrator", "Hala Canary", stdout=io.StringIO())
    assert str(caught.value) == (
        "Import refused: No sender in the conversation matches the narrator “Hala Canary”. "
        "The senders are: Sara Rawi, Abu Khaled."
    )
    out = io.StringIO()
    call_command("ingest", str(export), *args, "--narrator", "abu khaled", stdout=out, stderr=io.StringIO())
    interview = Interview.objects.get(public_id=out.getvalue().strip().splitlines()[-1])
    assert interview.mode == "messaging"
    assert Recording.objects.filter(interview=interview).count() == 1
    assert Attachment.objects.filter(interview=interview).count() == 1

    folder = tmp_path / MESSENGER_THREAD
    first, second = messenger_thread()
    (folder / "audio_files").mkdir(parents=True)
    (folder / "message_1.json").write_bytes(facebook_json(first))
    (folder / "message_2.json").write_bytes(facebook_json(second))
    (folder / "audio_files" / "audioclip14567.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    out = io.StringIO()
    call_command("ingest", str(folder), *args, "--narrator", CHAT_NARRATOR, stdout=out, stderr=io.StringIO())
    interview = Interview.objects.get(public_id=out.getvalue().strip().splitlines()[-1])
    texts = [s.raw_text for s in interview.transcripts.get(is_current=True).segments.order_by("index")]
    assert texts[1] == CHAT_ARABIC and texts[3] == VOICE_PENDING
    assert "[attachment not included in the export]" in texts  # the photo was not in the folder
    (folder / "link.jpg").symlink_to("/etc/hostname")
    with pytest.raises(CommandError, match="symbolic link"):
        call_command("ingest", str(folder), *args, "--narrator", CHAT_NARRATOR, stdout=io.StringIO())


def _opus(tmp: Path, text: str) -> bytes:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (apt-get install -y espeak-ng ffmpeg)")
    wav, out = tmp / "note.wav", tmp / "note.ogg"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), text], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "libopus", "-b:a", "24k", str(out)],
                   check=True, capture_output=True)  # fmt: skip
    return out.read_bytes()


@pytest.mark.django_db
def test_a_telegram_voice_message_is_transcribed_in_place(tmp_path, settings, demo):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    chat = telegram_chat()
    chat["messages"] = [m for m in chat["messages"] if m["id"] in (1, 3, 5)]
    data = zip_of(
        ("ChatExport/result.json", json.dumps(chat, ensure_ascii=False)),
        (
            "ChatExport/voice_messages/audio_1@01-03-2016_09-02-00.ogg",
            _opus(tmp_path, "The bread ran out in December."),
        ),
    )
    [outcome] = import_file(
        data=data, filename="ChatExport.zip", collection_slug="tg", title="Telegram", narrator_name="Abu Khaled",
        language="en",
    )  # fmt: skip
    assert TranscriptionJob.objects.get(recording__interview=outcome.interview).state == "done"
    segments = render(outcome.interview, "custodian").segments
    spoken = " ".join(s.text for s in segments if 120 <= s.start < 240).lower()
    assert "ran out in december" in spoken
    assert segments[0].text == "Thank you for talking to me."
    assert segments[-1].text == f"[forwarded from Waer Media Centre] {CHAT_ARABIC}"
    assert [s.start for s in segments] == sorted(s.start for s in segments)
