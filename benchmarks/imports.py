"""Import throughput: a synthetic 10,000-message WhatsApp chat (two participants, Arabic and English,
multi-line messages, some phone numbers) parsed and imported as one interview, transcription
excluded. Runs against a throwaway data directory.

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
    from archive.importers import parse_whatsapp
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
        access="public",
        voice_notes="queue",
    )
    import_seconds = time.perf_counter() - started
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
        "within_target": import_seconds < 30,
        "transcription": "excluded",
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
    sys.exit(0 if figures["within_target"] else 1)


if __name__ == "__main__":
    main()
