"""Import throughput: a synthetic 10,000-message WhatsApp chat (two participants, Arabic and English,
multi-line messages, some phone numbers) parsed and imported as one interview, transcription
excluded; then the same conversation as a Facebook Messenger export (two numbered JSON files, newest
first, mojibake as Facebook writes it), a Skype export (messages.json in its tar) and a Telegram
Desktop export (result.json, entity lists), each reported under "channels". Runs against a
throwaway data directory.

    python -m benchmarks.imports --json [--messages N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta


def make_chat(messages: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    words = [
        "the",
        "siege",
        "bread",
        "truce",
        "we",
        "stayed",
        "الحصار",
        "الخبز",
        "الهدنة",
        "بقينا",
        "in",
        "Waer",
        "الوعر",
    ]
    moment = datetime(2016, 3, 1, 9, 0)
    lines = []
    for index in range(messages):
        moment += timedelta(seconds=rng.randint(5, 400))
        sender = "Sara Rawi" if index % 3 == 0 else "+963 944 123 456"
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 30)))
        if index % 50 == 0:
            text += " call 0933 222 111"
        if index % 7 == 0:
            text += "\n" + " ".join(rng.choice(words) for _ in range(8))
        lines.append(f"{moment:%d/%m/%Y, %H:%M} - {sender}: {text}")
    return ("\n".join(lines) + "\n").encode()


def _conversation(messages: int, seed: int = 7) -> list[tuple[datetime, bool, str]]:
    """(time, whether the researcher wrote it, text) for the channel exports; the chat's own mix."""
    lines = make_chat(messages, seed).decode().split("\n")
    out: list[tuple[datetime, bool, str]] = []
    for line in lines:
        if " - " in line[:25] and ": " in line:
            stamp, rest = line.split(" - ", 1)
            sender, text = rest.split(": ", 1)
            out.append((datetime.strptime(stamp, "%d/%m/%Y, %H:%M"), sender == "Sara Rawi", text))
        elif line and out:
            moment, researcher, text = out[-1]
            out[-1] = (moment, researcher, f"{text}\n{line}")
    return out


def _zip(*members: tuple[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def make_messenger(messages: int) -> bytes:
    def garble(text: str) -> str:
        return text.encode("utf-8").decode("latin-1")

    items = [
        {
            "sender_name": garble("Sara Rawi" if researcher else "أبو خالد"),
            "timestamp_ms": int(moment.timestamp() * 1000),
            "content": garble(text),
        }
        for moment, researcher, text in _conversation(messages)
    ]
    head = {"participants": [{"name": garble("أبو خالد")}, {"name": "Sara Rawi"}], "title": garble("أبو خالد")}
    half = len(items) // 2
    base = "messages/inbox/abukhaled_1"
    return _zip(
        (f"{base}/message_1.json", json.dumps({**head, "messages": items[half:][::-1]}).encode()),
        (f"{base}/message_2.json", json.dumps({**head, "messages": items[:half][::-1]}).encode()),
    )


def make_skype(messages: int) -> bytes:
    import io
    import tarfile

    items = [
        {
            "id": str(index),
            "displayName": "Sara Rawi" if researcher else "Abu Khaled",
            "originalarrivaltime": moment.isoformat() + ".000Z",
            "messagetype": "RichText",
            "content": text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br/>"),
            "from": "8:live:sara.rawi" if researcher else "8:live:abu.khaled",
            "properties": None,
        }
        for index, (moment, researcher, text) in enumerate(_conversation(messages))
    ]
    export = {
        "userId": "8:live:sara.rawi",
        "conversations": [{"id": "8:live:abu.khaled", "displayName": "Abu Khaled", "MessageList": items[::-1]}],
    }
    data = json.dumps(export, ensure_ascii=False).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("messages.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_telegram(messages: int) -> bytes:
    items = []
    for index, (moment, researcher, text) in enumerate(_conversation(messages)):
        body: object = text
        if " call " in text:
            before, _, after = text.partition(" call ")
            body = [before + " call ", {"type": "phone", "text": after[:12]}, after[12:]]
        items.append(
            {
                "id": index,
                "type": "message",
                "date": moment.isoformat(),
                "from": "Sara Rawi" if researcher else "Abu Khaled",
                "from_id": "user111" if researcher else "user222",
                "text": body,
            }
        )
    chat = {"name": "Abu Khaled", "type": "personal_chat", "id": 222, "messages": items}
    return _zip(("ChatExport/result.json", json.dumps(chat, ensure_ascii=False).encode()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="rawi-bench-imports-")
    os.environ["RAWI_DATA_DIR"] = data_dir
    os.environ.setdefault("RAWI_TESTING", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from archive.importers import parse_file, parse_whatsapp
    from archive.models import Redaction, Segment
    from archive.services.imports import import_file

    chat = make_chat(args.messages)
    started = time.perf_counter()
    parsed = parse_whatsapp(chat)
    parse_seconds = time.perf_counter() - started
    started = time.perf_counter()
    [outcome] = import_file(
        data=chat,
        filename="chat.txt",
        collection_slug="bench",
        title="Benchmark chat",
        narrator_name="Bench Narrator",
        # The researcher who exported it is Sara Rawi; imports never guess who the narrator is.
        interviewer="Sara Rawi",
        access="public",
        voice_notes="queue",
    )
    import_seconds = time.perf_counter() - started
    channels = {}
    for kind, make, name in (
        ("messenger", make_messenger, "facebook.zip"),
        ("skype", make_skype, "skype_export.tar"),
        ("telegram", make_telegram, "ChatExport.zip"),
    ):
        data = make(args.messages)
        started = time.perf_counter()
        parsed_channel = parse_file(name, data)
        channel_parse = time.perf_counter() - started
        started = time.perf_counter()
        [channel_outcome] = import_file(
            data=data,
            filename=name,
            collection_slug="bench",
            title=f"Benchmark {kind}",
            narrator_name="Bench Narrator",
            interviewer="Sara Rawi",
            access="public",
            voice_notes="queue",
        )
        channel_seconds = time.perf_counter() - started
        channels[kind] = {
            "export_bytes": len(data),
            "parse_seconds": round(channel_parse, 3),
            "import_seconds_total": round(channel_seconds, 3),
            "messages_per_second": round(args.messages / channel_seconds, 1),
            "segments_stored": Segment.objects.filter(transcript=channel_outcome.transcript).count(),
            "parsed_segments": len(parsed_channel.segments),
            "approved_redactions": Redaction.objects.filter(
                interview=channel_outcome.interview, status="approved"
            ).count(),
            "within_target": channel_seconds < 30,
        }
    figures = {
        "benchmark": "imports",
        "messages": args.messages,
        "chat_bytes": len(chat),
        "parse_seconds": round(parse_seconds, 3),
        "import_seconds_total": round(import_seconds, 3),
        "messages_per_second": round(args.messages / import_seconds, 1),
        "segments_stored": Segment.objects.filter(transcript=outcome.transcript).count(),
        "parsed_segments": len(parsed.segments),
        "approved_redactions": Redaction.objects.filter(interview=outcome.interview, status="approved").count(),
        "suggested_redactions": Redaction.objects.filter(interview=outcome.interview, status="suggested").count(),
        "target_seconds": 30,
        "within_target": import_seconds < 30 and all(c["within_target"] for c in channels.values()),
        "channels": channels,
        "transcription": "excluded",
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
    sys.exit(0 if figures["within_target"] else 1)


if __name__ == "__main__":
    main()
