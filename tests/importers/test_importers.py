"""Unit tests of the pure importers (no database): WhatsApp, email, transcripts, bulk, safe zips,
and the hostile corpus in tests/fixtures/hostile/ (each file refused with its expected code)."""

from __future__ import annotations

import io
from datetime import datetime

import docx
import pytest

from archive.importers import (
    ImportRefused,
    SafeZip,
    detect_kind,
    parse_bulk,
    parse_eml,
    parse_file,
    parse_mbox,
    parse_ohms,
    parse_srt,
    parse_txt,
    parse_vtt,
    parse_whatsapp,
    sensitive_spans,
    trim_quoted,
)
from tests.builders import FIXTURES, zip_of

HOSTILE = FIXTURES / "hostile"
MANIFEST = [line.split("\t") for line in (HOSTILE / "MANIFEST.tsv").read_text().splitlines()[1:]]


ANDROID_US = (
    "12/31/20, 9:41 PM - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.\n"
    "12/31/20, 9:41 PM - Sara (Rawi): Hello, thank you for agreeing to talk.\n"
    "Can you tell me about the siege?\n"
    "12/31/20, 9:45 PM - +963 944 123 456: Yes. Call my brother on 0933 222 111 if I disappear.\n"
    "12/31/20, 9:46 PM - +963 944 123 456: PTT-20201231-WA0001.opus (file attached)\n"
    "12/31/20, 9:47 PM - +963 944 123 456: <Media omitted>\n"
    "1/1/21, 12:02 AM - Sara (Rawi): Happy new year\n"
)


def test_it_parses_android_us_chat_with_multiline_system_and_media():
    result = parse_whatsapp(ANDROID_US.encode())
    assert [(s.start, s.speaker, s.role, s.kind, s.text) for s in result.segments] == [
        (
            0.0,
            "Sara (Rawi)",
            "interviewer",
            "text",
            "Hello, thank you for agreeing to talk.\nCan you tell me about the siege?",
        ),
        (240.0, "+963 944 123 456", "narrator", "text", "Yes. Call my brother on 0933 222 111 if I disappear."),
        (300.0, "+963 944 123 456", "narrator", "media_missing", "[attachment not included in the export]"),
        (360.0, "+963 944 123 456", "narrator", "media_missing", "[media not included in the export]"),
        (8460.0, "Sara (Rawi)", "interviewer", "text", "Happy new year"),
    ]
    assert result.started_at == datetime(2020, 12, 31, 21, 41)
    assert result.quarantine["phone_numbers"] == ["+963933222111", "+963944123456"]
    assert result.quarantine["contact_names"] == ["Sara (Rawi)"]
    assert len(result.quarantine["system_messages"]) == 1


def test_it_parses_ios_chat_with_marks_and_voice_note_in_zip():
    chat = (
        "\u200e[31/12/2020, 21:41:05] Abu Khaled: \u200eMessages and calls are end-to-end encrypted.\n"
        "[31/12/2020, 21:41:05] Sara: مرحبا\n"
        "\u200e[31/12/2020, 21:42:10] Abu Khaled: \u200e<attached: 00000003-AUDIO-2020-12-31-21-42-10.opus>\n"
        "[31/12/2020, 21:43:00] Abu Khaled: line one\nline two ٣ أيام\n"
        "\u200e[31/12/2020, 21:44:00] Abu Khaled: \u200e<attached: 00000004-PHOTO-2020-12-31-21-44-00.jpg>\n"
    )
    data = zip_of(
        ("_chat.txt", chat.encode()),
        ("00000003-AUDIO-2020-12-31-21-42-10.opus", b"OggS-voice"),
        ("00000004-PHOTO-2020-12-31-21-44-00.jpg", b"\xff\xd8\xffjpeg"),
    )
    result = parse_whatsapp(data)
    assert [(s.start, s.speaker, s.kind, s.text, s.attachment) for s in result.segments] == [
        (0.0, "Sara", "text", "مرحبا", ""),
        (65.0, "Abu Khaled", "voice", "", "00000003-AUDIO-2020-12-31-21-42-10.opus"),
        (115.0, "Abu Khaled", "text", "line one\nline two ٣ أيام", ""),
        (175.0, "Abu Khaled", "text", "[image attached]", "00000004-PHOTO-2020-12-31-21-44-00.jpg"),
    ]
    assert {a.name: a.kind for a in result.attachments} == {
        "00000003-AUDIO-2020-12-31-21-42-10.opus": "audio",
        "00000004-PHOTO-2020-12-31-21-44-00.jpg": "image",
    }
    assert result.quarantine["contact_names"] == ["Abu Khaled", "Sara"]
    assert "_chat.txt" in result.quarantine["file_names"]


def test_it_parses_day_first_24h_and_arabic_locale_headers():
    chat = "31/12/2020, 21:41 - A: one\n\u200f٣١\u200f/١٢\u200f/٢٠٢٠ ١٠:٤٥ م - B: اثنان ٢\n01.01.21, 08:00 - A: three\n"
    result = parse_whatsapp(chat.encode())
    assert [(s.sent_at, s.text) for s in result.segments] == [
        (datetime(2020, 12, 31, 21, 41), "one"),
        (datetime(2020, 12, 31, 22, 45), "اثنان ٢"),
        (datetime(2021, 1, 1, 8, 0), "three"),
    ]


def test_it_chooses_month_first_when_days_exceed_twelve():
    result = parse_whatsapp(b"1/2/21, 09:00 - A: one\n1/13/21, 09:00 - B: two\n")
    assert [s.sent_at for s in result.segments] == [datetime(2021, 1, 2, 9, 0), datetime(2021, 1, 13, 9, 0)]


def test_it_takes_interviewer_and_narrator_labels_from_options():
    result = parse_whatsapp(b"31/12/2020, 21:41 - A: one\n31/12/2020, 21:42 - B: two\n", interviewer="B")
    assert [(s.speaker, s.role) for s in result.segments] == [("A", "narrator"), ("B", "interviewer")]


def test_it_finds_phones_emails_and_locations_in_text():
    text = "Call +963 944 123 456 or ٠٩٣٣٢٢٢١١١, mail me@example.org, I am at https://maps.google.com/?q=34.72,36.70"
    assert [(s.kind, s.value, text[s.start : s.end]) for s in sensitive_spans(text)] == [
        ("phone", "+963944123456", "+963 944 123 456"),
        ("phone", "+963933222111", "٠٩٣٣٢٢٢١١١"),
        ("email", "me@example.org", "me@example.org"),
        ("location", "https://maps.google.com/?q=34.72,36.70", "https://maps.google.com/?q=34.72,36.70"),
    ]


def _mbox(*messages: tuple[str, str, str, str]) -> bytes:
    parts = []
    for sender, date, subject, body in messages:
        parts.append(
            f"From x@example.org {date}\nFrom: {sender}\nTo: other@example.org\nSubject: {subject}\nDate: {date}\n"
            f"Received: from [185.12.1.9] by mx.example.net\nX-Mailer: Thunderbird 45\n\n{body}\n"
        )
    return "\n".join(parts).encode()


def test_it_orders_an_mbox_thread_by_date_and_trims_quotes():
    data = _mbox(
        (
            "Abu Khaled <ak@example.net>",
            "Wed, 4 Jan 2017 09:00:00 +0200",
            "Re: Waer",
            "The truce held two weeks.\n\nOn Tue, 3 Jan 2017 at 10:00, Sara <s@example.org> wrote:\n> Can you describe it?",
        ),
        (
            "Sara <s@example.org>",
            "Tue, 3 Jan 2017 10:00:00 +0000",
            "Waer",
            "Can you describe it?\n\n-- \nSara, +44 7700 900123",
        ),
        (
            "Abu Khaled <ak@example.net>",
            "Thu, 5 Jan 2017 09:00:00 +0200",
            "Re: Waer",
            "في ٤ يناير ٢٠١٧، كتب Sara:\n> Can you describe it?",
        ),
    )
    result = parse_mbox(data)
    assert [(s.start, s.speaker, s.role, s.text) for s in result.segments] == [
        (0.0, "Sara", "interviewer", "Can you describe it?"),
        (75600.0, "Abu Khaled", "narrator", "The truce held two weeks."),
        (162000.0, "Abu Khaled", "narrator", "[no new text]"),
    ]
    assert result.quarantine["ip_addresses"] == ["185.12.1.9"]
    assert result.quarantine["devices"] == ["Thunderbird 45"]
    assert result.quarantine["phone_numbers"] == ["+447700900123"]
    assert result.quarantine["email_addresses"] == ["ak@example.net", "other@example.org", "s@example.org"]
    assert result.title_hint == "Waer"


def test_it_trims_outlook_and_arabic_quote_blocks():
    assert trim_quoted("New text\n-----Original Message-----\nFrom: A\nold") == ("New text", "")
    assert trim_quoted("جديد\nFrom: A <a@b.c>\nSent: Monday\nold") == ("جديد", "")
    assert trim_quoted("رد\nفي الثلاثاء 3 يناير كتب أحمد:\nقديم") == ("رد", "")


def test_it_keeps_eml_attachments():
    raw = (
        b"From: A <a@example.org>\nDate: Tue, 3 Jan 2017 10:00:00 +0000\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nhello\n'
        b'--b\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename="home.jpg"\n'
        b"Content-Transfer-Encoding: base64\n\n/9j/AA==\n--b--\n"
    )
    result = parse_eml(raw)
    assert [s.text for s in result.segments] == ["hello"]
    assert [(a.name, a.kind, a.data) for a in result.attachments] == [("home.jpg", "image", b"\xff\xd8\xff\x00")]
    assert result.quarantine["file_names"] == ["home.jpg"]


def test_it_parses_vtt_with_voice_tags():
    data = b"WEBVTT\n\n1\n00:00:01.000 --> 00:00:04.500\n<v Interviewer>How long?</v>\n\n00:00:05.000 --> 00:00:09.000\n<v Umm Ahmad>Two years.\n"
    result = parse_vtt(data)
    assert [(s.start, s.end, s.speaker, s.role, s.text) for s in result.segments] == [
        (1.0, 4.5, "Interviewer", "interviewer", "How long?"),
        (5.0, 9.0, "Umm Ahmad", "other", "Two years."),
    ]


def test_it_parses_srt_and_bracketed_txt():
    srt = b"1\r\n00:00:01,000 --> 00:00:02,000\r\nQ: Where?\r\n\r\n2\r\n00:00:03,000 --> 00:00:05,250\r\nA: Waer.\r\n"
    assert [(s.start, s.end, s.speaker, s.role, s.text) for s in parse_srt(srt).segments] == [
        (1.0, 2.0, "Q", "interviewer", "Where?"),
        (3.0, 5.25, "A", "narrator", "Waer."),
    ]
    txt = b"Interview 4\n[00:00:05] Interviewer: When did it start?\n[00:01:10] Resident: In 2014.\nWe stayed.\n"
    assert [(s.start, s.end, s.speaker, s.text) for s in parse_txt(txt).segments] == [
        (5.0, 70.0, "Interviewer", "When did it start?"),
        (70.0, 71.6, "Resident", "In 2014.\nWe stayed."),
    ]


def test_it_parses_docx_paragraphs():
    document = docx.Document()
    document.add_paragraph("[00:00:01] Interviewer: Hello")
    document.add_paragraph("[00:00:04] Narrator: مرحبا")
    buffer = io.BytesIO()
    document.save(buffer)
    result = parse_file("t.docx", buffer.getvalue())
    assert [(s.start, s.speaker, s.role, s.text) for s in result.segments] == [
        (1.0, "Interviewer", "interviewer", "Hello"),
        (4.0, "Narrator", "narrator", "مرحبا"),
    ]


def test_it_parses_ohms_sync_points():
    xml = (
        b'<?xml version="1.0"?><ROOT><record><title>T</title><interviewee>Umm Ahmad</interviewee>'
        b"<sync>1:|2(0)</sync><transcript>INTERVIEWER: Hello.\nNARRATOR: We stayed.\nNARRATOR: Then we left.</transcript>"
        b"</record></ROOT>"
    )
    result = parse_ohms(xml)
    assert [(s.start, s.speaker, s.text) for s in result.segments] == [
        (0.0, "INTERVIEWER", "Hello."),
        (0.0, "NARRATOR", "We stayed."),
        (60.0, "NARRATOR", "Then we left."),
    ]
    assert "Umm Ahmad" in result.quarantine["contact_names"]


def test_it_parses_a_bulk_zip():
    chat = b"31/12/2020, 21:41 - A: one\n31/12/2020, 21:42 - B: two\n"
    data = zip_of(
        (
            "metadata.csv",
            b"file,title,narrator,anonymity,access,language\nchats/a.txt,Chat A,N,anonymous,staff,ar\n"
            b"export.zip,Chat B,M,pseudonymous,researcher,en\n",
        ),
        ("chats/a.txt", chat),
        ("export.zip", zip_of(("_chat.txt", chat))),
    )
    bulk = parse_bulk(data)
    assert [(i.row, i.kind, i.metadata["title"], len(i.parsed.segments)) for i in bulk.items] == [
        (2, "whatsapp", "Chat A", 2),
        (3, "whatsapp", "Chat B", 2),
    ]


def test_it_detects_kinds():
    assert detect_kind("x.txt", b"31/12/2020, 21:41 - A: one\n") == "whatsapp"
    assert detect_kind("x.txt", b"[00:00:01] A: one\n") == "txt"
    assert detect_kind("x.zip", zip_of(("_chat.txt", b"31/12/2020, 21:41 - A: one\n"))) == "whatsapp"
    assert detect_kind("x.zip", zip_of(("m.csv", b"file,title\n"))) == "bulk"
    assert detect_kind("note.opus", b"OggS") == "audio"


def test_it_reads_a_safe_zip_and_counts_the_budget():
    archive = SafeZip(zip_of(("a/b.txt", b"hello"), ("c.jpg", b"x" * 10)))
    assert archive.names() == ["a/b.txt", "c.jpg"]
    assert archive.read("a/b.txt") == b"hello"
    assert archive.budget.remaining == 1024**3 - 5


def test_the_hostile_corpus_has_at_least_fifty_files_and_tiny_bombs():
    assert len(MANIFEST) >= 50
    for name, _code in MANIFEST:
        if name.startswith(("bomb_", "docx_bomb", "bulk_nested_bomb")):
            assert (HOSTILE / name).stat().st_size < 500_000, name


@pytest.mark.parametrize(("name", "code"), MANIFEST, ids=[name for name, _ in MANIFEST])
def test_it_refuses_each_hostile_file_with_a_clear_reason(name, code):
    data = (HOSTILE / name).read_bytes()
    with pytest.raises(ImportRefused) as caught:
        kind = detect_kind(name, data)
        if kind == "bulk":
            parse_bulk(data)
        else:
            parse_file(name, data, kind=kind)
    assert caught.value.code == code
    reason = caught.value.reason
    assert reason.endswith((".", ")")) and len(reason) > 15
    assert name not in reason
