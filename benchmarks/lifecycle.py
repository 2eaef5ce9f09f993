"""Lifecycle benchmark: `python -m benchmarks.lifecycle --examples 500 --json` prints one JSON object
{examples, steps, violations, seconds, cpu_seconds}: cpu_seconds is the processor time of all workers,
the figure to compare on a machine shared with other work (two cores: seconds ≈ cpu_seconds / 2).

Runs the stateful lifecycle machine of tests/lifecycle.py (random lifecycles of interviews: ingest,
parts, replacements, re-transcriptions, corrections, redactions, consent, anonymity, access,
withdrawal; every surface at every tier checked after every step, binary exports and audio once per
example) for many more examples than the test suite does. Violations are gathered instead of stopping
the run, so the figure is how many were found (goal: 0); each distinct one is printed to stderr.
With --shrink the first violation stops the run and Hypothesis prints its minimal example instead.

Runs against a throw-away SQLite database in a temporary data directory (or the empty database
DATABASE_URL names); each example rolls back to the empty archive.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def setup_django() -> None:
    data_dir = tempfile.mkdtemp(prefix="rawi-bench-")
    os.environ["RAWI_DATA_DIR"] = data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-not-for-use-anywhere-1234567890")
    os.environ.setdefault("DEBUG", "false")
    # The checks are requests of Django's test client over plain HTTP.
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=50, help="lifecycles to run (default 50)")
    parser.add_argument("--steps", type=int, default=20, help="at most this many steps each (default 20)")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (default: random)")
    parser.add_argument("--shrink", action="store_true", help="stop at the first violation and shrink it")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes sharing the examples (default: one per core)",
    )
    args = parser.parse_args(argv)
    if args.workers > 1 and not args.shrink and args.examples > 1:
        return in_workers(args)
    setup_django()

    from django.db import transaction
    from hypothesis import HealthCheck, Phase, seed, settings
    from hypothesis.stateful import run_state_machine_as_test

    from tests.lifecycle import StandInWhisper, machine_for, make_context, stand_ins

    phases = [Phase.generate, Phase.shrink] if args.shrink else [Phase.generate]
    config = settings(
        max_examples=args.examples,
        stateful_step_count=args.steps,
        deadline=None,
        database=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
    )
    whisper = StandInWhisper()
    violations: list[str] = []
    started = time.perf_counter()
    failed = ""
    with stand_ins(whisper), transaction.atomic():
        context = make_context(whisper)
        context.collect = None if args.shrink else violations
        machine = machine_for(context)
        if args.seed is not None:
            machine = seed(args.seed)(machine)
        try:
            run_state_machine_as_test(machine, settings=config)
        except Exception as error:  # a violation (shrunk), or a service that crashed mid-lifecycle
            failed = f"{type(error).__name__}: {error}"
            violations.append(failed.splitlines()[0])
        transaction.set_rollback(True)
    seconds = round(time.perf_counter() - started, 1)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = round(usage.ru_utime + usage.ru_stime, 1)
    distinct = sorted(set(violations))
    for line in distinct[:50]:
        print(f"violation: {line}", file=sys.stderr)
    if failed:
        print(failed, file=sys.stderr)
    result = {
        "examples": context.counters["examples"],
        "steps": context.counters["steps"],
        "violations": len(violations),
        "distinct_violations": len(distinct),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


def in_workers(args: argparse.Namespace) -> int:
    """Split the examples between processes, each with its own throw-away database and seed."""
    started = time.perf_counter()
    workers = min(args.workers, args.examples)
    base_seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    children = []
    for n in range(workers):
        share = args.examples // workers + (1 if n < args.examples % workers else 0)
        command = [sys.executable, "-m", "benchmarks.lifecycle", "--json", "--workers", "1"]
        command += ["--examples", str(share), "--steps", str(args.steps), "--seed", str(base_seed + n)]
        children.append(subprocess.Popen(command, stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent))
    totals = {"examples": 0, "steps": 0, "violations": 0, "distinct_violations": 0, "cpu_seconds": 0.0}
    for child in children:
        out, _err = child.communicate()
        lines = out.decode().strip().splitlines()
        if child.returncode != 0 or not lines:
            totals["violations"] += 1  # a worker that died found something (its stderr says what)
            totals["distinct_violations"] += 1
            continue
        figures = json.loads(lines[-1])
        for key in totals:
            totals[key] += figures[key]
    totals["cpu_seconds"] = round(totals["cpu_seconds"], 1)
    result = {**totals, "seconds": round(time.perf_counter() - started, 1), "workers": workers, "seed": base_seed}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
