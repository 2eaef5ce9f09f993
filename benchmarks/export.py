"""Export benchmark: time per format for a one-hour interview, and peak RSS while exporting it as a
BagIt package with redacted audio (goal < 200 MB).

    python -m benchmarks.export --json [--seconds 3600]

The interview is synthetic: a Rendering of ~1,000 segments with word timings (Arabic and English),
40 redacted spans, and a one-hour 16 kHz recording (tone + noise). The bag is built in a fresh
subprocess so its peak RSS is the export's own, not this process's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEGMENT_SECONDS = 3.6
REDACTIONS = 40


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("RAWI_TESTING", "true")  # a throwaway data directory
    import django

    django.setup()


def make_rendering(seconds: float):
    from archive.gate import NarratorRendering, RenderedWord, Rendering, SegmentRendering

    segments = []
    spans = []
    count = int(seconds / SEGMENT_SECONDS)
    redact_every = max(1, count // REDACTIONS)
    for index in range(count):
        start = index * SEGMENT_SECONDS
        arabic = index % 3 == 0
        words_text = (
            ["كنا", "في", "الحي", "عندما", "بدأ", "القصف", "على", "المدينة", "ولم", "نستطع", "الخروج"]
            if arabic
            else [
                "we",
                "stayed",
                "in",
                "the",
                "basement",
                "for",
                "days",
                "while",
                "the",
                "shelling",
                "went",
                "on",
                "outside",
            ]
        )
        if index % redact_every == 0 and len(spans) < REDACTIONS:
            words_text[2] = "[name withheld]"
            spans.append((start + 0.5 - 0.15, start + 0.8 + 0.15))
        step = (SEGMENT_SECONDS - 0.2) / len(words_text)
        words = tuple(
            RenderedWord((" " if i else "") + w, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9)
            for i, w in enumerate(words_text)
        )
        segments.append(
            SegmentRendering(
                index,
                start,
                start + SEGMENT_SECONDS - 0.2,
                "Resident B" if index % 2 else "Interviewer",
                " ".join(words_text),
                "ar" if arabic else "en",
                words,
            )
        )
    return Rendering(
        interview_id="6f1c2a4e-0000-4000-8000-00000000beef",
        tier="public",
        policy_version="3.1",
        consent_version="a1b2c3d4-0000-4000-8000-00000000000b:v1",
        collection_slug="bench",
        collection_title="Benchmark",
        title="One-hour benchmark interview",
        summary="Synthetic.",
        mode="skype",
        recorded_on="2012-02",
        place="a district of Homs",
        languages=("ar", "en"),
        topics=("siege",),
        narrators=(NarratorRendering("a1b2c3d4-0000-4000-8000-00000000000b", "Resident B", "pseudonymous"),),
        interviewer="Interviewer",
        status="published",
        duration_seconds=seconds,
        audio_allowed=True,
        audio_spans=tuple(spans),
        redaction_categories=("name",),
        segments=tuple(segments),
    )


def make_audio(path: Path, seconds: float, rate: int = 16_000) -> None:
    import numpy as np
    import soundfile

    generator = np.random.default_rng(1)
    block = 60 * rate
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as handle:
        written = 0
        total = int(seconds * rate)
        while written < total:
            n = min(block, total - written)
            t = (np.arange(written, written + n) / rate).astype(np.float64)
            handle.write((0.2 * np.sin(2 * np.pi * 190 * t) + 0.03 * generator.standard_normal(n)).astype(np.float32))
            written += n


def peak_rss_mb() -> float:
    """This process's own high-water RSS. (ru_maxrss is not used: on Linux a child started by
    fork+exec inherits the parent's maximum, which would count the parent's PDF rendering.)"""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bag_child(seconds: float, audio: str, out: str) -> None:
    """Runs in a subprocess: export the bag and print its measurements."""
    setup_django()
    from archive.exports.bag import BagItem, write_bag
    from archive.services.exports import DEFAULT_BAG_FORMATS

    rendering = make_rendering(seconds)
    # The process as a web or Celery worker has it: Django, services (and through them PyAV, ctranslate2).
    baseline = peak_rss_mb()
    started = time.perf_counter()
    write_bag(
        [BagItem(rendering, audio)],
        Path(out),
        tier="public",
        formats=[*DEFAULT_BAG_FORMATS, "audio"],
        name="rawi-bench-public",
    )
    elapsed = time.perf_counter() - started
    peak = peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": round(elapsed, 2),
                "peak_rss_mb": peak,
                "baseline_rss_mb": baseline,
                "bytes": os.path.getsize(out),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seconds", type=float, default=3600.0, help="interview length (default one hour)")
    parser.add_argument("--bag-child", nargs=2, metavar=("AUDIO", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bag_child:
        bag_child(args.seconds, *args.bag_child)
        return
    setup_django()
    from archive.exports import FORMATS, export_bytes

    rendering = make_rendering(args.seconds)
    figures: dict = {
        "interview_seconds": args.seconds,
        "segments": len(rendering.segments),
        "redacted_spans": len(rendering.audio_spans),
        "format_seconds": {},
        "format_bytes": {},
    }
    for name, spec in FORMATS.items():
        if spec.write is None:
            continue
        started = time.perf_counter()
        data = export_bytes(rendering, name)
        figures["format_seconds"][name] = round(time.perf_counter() - started, 3)
        figures["format_bytes"][name] = len(data)
        del data
    with tempfile.TemporaryDirectory() as workspace:
        audio = Path(workspace) / "hour.wav"
        make_audio(audio, args.seconds)
        figures["source_audio_bytes"] = audio.stat().st_size
        from archive.audio_redaction import redact_to_path

        started = time.perf_counter()
        report = redact_to_path(audio, rendering.audio_spans, Path(workspace) / "audio.mp3")
        figures["format_seconds"]["audio"] = round(time.perf_counter() - started, 2)
        figures["format_bytes"]["audio"] = (Path(workspace) / "audio.mp3").stat().st_size
        figures["audio_max_span_rms"] = report.max_span_rms
        figures["audio_duration_error_ms"] = round(abs(report.duration_out - report.duration_in) * 1000, 2)
        out = Path(workspace) / "bag.zip"
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.export",
                "--seconds",
                str(args.seconds),
                "--bag-child",
                str(audio),
                str(out),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        bag = json.loads(child.stdout.strip().splitlines()[-1])
        figures["format_seconds"]["bagit"] = bag["seconds"]
        figures["format_bytes"]["bagit"] = bag["bytes"]
        figures["bag_with_audio_peak_rss_mb"] = bag["peak_rss_mb"]
        figures["bag_process_baseline_rss_mb"] = bag["baseline_rss_mb"]  # after imports, before the export
        figures["bag_export_rss_growth_mb"] = round(bag["peak_rss_mb"] - bag["baseline_rss_mb"], 1)
        figures["bag_peak_rss_goal_mb"] = 200
        figures["bag_peak_rss_ok"] = bag["peak_rss_mb"] < 200
    if args.json:
        print(json.dumps(figures))
    else:
        out = io.StringIO()
        json.dump(figures, out, indent=2)
        print(out.getvalue())


if __name__ == "__main__":
    main()
