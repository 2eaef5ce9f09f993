"""Redaction benchmark: `python -m benchmarks.redaction --json` prints one JSON object.

- rerender_ms: re-rendering (materialise) all tiers of a 2-hour interview of 1,500 segments with 40
  approved redactions (8 entities, each named again and again through the interview so that one
  segment in 8 holds a hidden name, and 32 spans) after one new span redaction is added
  (redaction_add_span → materialise), median of a few runs; goal < 300 ms.
- rerender_dense_ms: the same with a hidden name in every segment (about 2,000 hidden occurrences): a
  stress figure, far beyond 40 redactions, reported without a goal.
- rerender_three_tiers_ms: the first case with the new span hidden from every tier but custodians, so
  that three tiers' inputs change (the researcher span above changes the public tier's only, and the
  tiers whose inputs did not change keep their renderings); without a goal.
- *_cpu_ms: the same runs in CPU time of this process (SQLite runs in it): on a shared machine the
  wall times also count other processes' turns, the CPU times much less so.
- suggestions_ms: the detectors over 20,000 words of mixed English/Arabic testimony; goal < 2,000 ms.
Runs against a throw-away SQLite database in a temporary data directory (or the empty database
DATABASE_URL names).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time


def setup_django() -> None:
    data_dir = tempfile.mkdtemp(prefix="rawi-bench-")
    os.environ["RAWI_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-use-anywhere-1234567890")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


EN = [
    "The checkpoint on the old road was closed again this morning and nobody could bring bread in.",
    "My brother Tareq was taken in March, and we have heard nothing since then from anyone.",
    "We waited by the crossing for hours while the negotiators talked inside the tent.",
    "Call 0944 123 456 if the line drops, or write to a.b@example.org when the power returns.",
]
AR = [
    "نحن نعلّم الأطفال في الأقبية والكهرباء تأتي ساعتين في اليوم فقط.",
    "كل عائلة في الوعر تنتظر خبراً عن معتقل منذ ١٢ آذار ٢٠١٣.",
    "ذهبت بحمص مع أبو فادي إلى السوق القديم وعدنا قبل المغرب.",
]
ENTITIES = [
    ("Tareq", "name", "staff"),
    ("old road", "place", "researcher"),
    ("a.b@example.org", "contact", "custodian"),
    ("الوعر", "place", "staff"),
    ("حمص", "place", "researcher"),
    ("أبو فادي", "name", "staff"),
    ("the crossing", "place", "researcher"),
    ("السوق القديم", "place", "staff"),
]
# Lines that name one of ENTITIES, and lines that name none.
MENTIONS = [EN[0], EN[1], EN[2], EN[3], AR[1], AR[2]]
PLAIN = [
    AR[0],
    "The generator ran for an hour after sunset, long enough to charge the phones.",
    "We boiled grass and lentils when the flour ran out in the second winter.",
    "نمنا في الممر لأن الغرف المطلة على الشارع لم تعد آمنة.",
    "The children drew the shelling on the walls of the classroom.",
    "Some days the signal came back for a few minutes and everyone called at once.",
]


def build_interview(segments: int = 1500, redactions: int = 40, mention_every: int = 8, slug: str = "bench"):
    from archive import services
    from archive.models import Narrator
    from archive.textnorm import is_arabic

    collection = services.collection_get_or_create(slug=slug, title="Benchmark")
    narrator = services.narrator_create(
        collection=collection,
        legal_name="Bench Narrator Name",
        anonymity=Narrator.Anonymity.ANONYMOUS,
        descriptor="a resident",
    )
    interview = services.interview_create(
        collection=collection, title="Two hours", access_level="public", status="published", narrators=[narrator]
    )
    rows = []
    clock = 0.0
    for index in range(segments):
        if index % mention_every == 0:
            text = MENTIONS[(index // mention_every) % len(MENTIONS)]
        else:
            text = PLAIN[index % len(PLAIN)]
        words, t = [], clock
        for word in text.split():
            words.append({"w": word, "s": round(t, 2), "e": round(t + 0.35, 2), "p": 0.9})
            t += 0.4
        rows.append(
            services.SegmentInput(
                start=clock,
                end=t,
                text=text,
                role="narrator",
                narrator=narrator,
                words=words,
                language="ar" if is_arabic(text) else "en",
            )
        )
        clock = t + 0.4  # ~4.8 s per segment: 1,500 segments ≈ 2 hours
    services.transcript_store(interview=interview, segments=rows, source="manual", rebuild=False)
    services.consent_record(
        narrator=narrator, interview=interview, research_access=True, publication=True, public_web=True
    )
    transcript = interview.transcripts.get(is_current=True)
    segments_by_index = {s.index: s for s in transcript.segments.all()}
    # Of the 40 redactions, 8 are entities (names, places, a contact) named again and again through the
    # interview (one segment in `mention_every`); the rest are spans.
    for phrase, category, tier in ENTITIES:
        services.redact_phrase(phrase=phrase, category=category, visible_from=tier, interview=interview)
    for n in range(redactions - len(ENTITIES)):
        segment = segments_by_index[(n * 37) % segments]
        services.redaction_add_span(segment=segment, start_char=0, end_char=3, category="other", visible_from="staff")
    return interview, segments_by_index


def bench_rerender(runs: int = 5, visible_from: str = "researcher", **options) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) of each run: the CPU time of this process (SQLite runs in it) is the figure to
    compare on a shared machine, where the wall time also counts other processes' turns."""
    from django.db import transaction

    from archive import services

    _interview, segments = build_interview(**options)
    timings, cpu = [], []
    for run in range(runs):
        segment = segments[11 + run * 101]
        with transaction.atomic():
            began, began_cpu = time.perf_counter(), time.process_time()
            services.redaction_add_span(
                segment=segment, start_char=4, end_char=9, category="name", visible_from=visible_from
            )
            timings.append(round((time.perf_counter() - began) * 1000, 1))
            cpu.append(round((time.process_time() - began_cpu) * 1000, 1))
    return timings, cpu


def clear_redactions() -> None:
    from archive.models import Entity, Redaction

    Redaction.objects.all().delete()
    Entity.objects.all().delete()


def bench_suggestions() -> dict:
    from archive.suggestions import GazetteerName, Suggester

    lines = EN + AR
    texts, words = [], 0
    while words < 20000:
        text = lines[len(texts) % len(lines)]
        texts.append(text)
        words += len(text.split())
    names = [GazetteerName(n, "place") for n in ("al-Waer", "Waer", "الوعر", "حمص", "Homs", "Qasr al-Ward Street")]
    names += [GazetteerName(f"Person {i} Family{i}", "name") for i in range(200)]
    began = time.perf_counter()
    suggester = Suggester(names)
    found = sum(len(suggester.suggest(text)) for text in texts)
    elapsed = (time.perf_counter() - began) * 1000
    return {"suggestions_ms": round(elapsed, 1), "suggestions_words": words, "suggestions_found": found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    setup_django()
    result = {"segments": 1500, "redactions": 40}
    typical, typical_cpu = bench_rerender()
    result.update(rerender_ms=statistics.median(typical), rerender_ms_runs=typical)
    result.update(rerender_cpu_ms=statistics.median(typical_cpu), rerender_cpu_ms_runs=typical_cpu)
    clear_redactions()  # entity redactions apply archive-wide: the second interview starts afresh
    dense, dense_cpu = bench_rerender(mention_every=1, slug="bench-dense")
    result.update(rerender_dense_ms=statistics.median(dense), rerender_dense_ms_runs=dense)
    result.update(rerender_dense_cpu_ms=statistics.median(dense_cpu))
    clear_redactions()
    # A span hidden from every tier but custodians: three tiers' inputs change, so three are rendered.
    wide, wide_cpu = bench_rerender(visible_from="custodian", slug="bench-wide")
    result.update(
        rerender_three_tiers_ms=statistics.median(wide), rerender_three_tiers_cpu_ms=statistics.median(wide_cpu)
    )
    result.update(bench_suggestions())
    # The re-render after one redaction must not exceed the figure before the layered redesign (about 215 ms);
    # 150 ms is the aim.
    result["rerender_goal_ms"] = 215
    result["rerender_aim_ms"] = 150
    result["suggestions_goal_ms"] = 2000
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
