"""`make run` records what a second shell needs in the data directory, and manage.py uses it: the
README's operator commands work as printed beside a running archive, and their jobs reach its worker."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from archive import runner
from config.runenv import RunEnvError, read_run_env, write_run_env

BASE_DIR = Path(__file__).resolve().parent.parent
PRINT_SETTINGS = (
    "from django.conf import settings; from config.celery import app; print(settings.SECRET_KEY, app.conf.broker_url)"
)


def _second_shell(data_dir: Path, **extra: str) -> subprocess.CompletedProcess:
    """`manage.py shell` the way an operator runs it: no SECRET_KEY, no broker, not a test run."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "CELERY_BROKER_URL", "DEBUG", "RAWI_TESTING", "DATABASE_URL")
    }
    env.update(RAWI_DATA_DIR=str(data_dir), **extra)
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PRINT_SETTINGS],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_records_the_generated_secret_and_the_broker_while_running(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("RAWI_DATA_DIR", str(tmp_path))
    env = runner._prepare_environment()
    path = runner.record_for_second_shell(env, broker_url="redis://127.0.0.1:50123/0")
    assert path == tmp_path / "run.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_run_env(tmp_path) == {
        "SECRET_KEY": (tmp_path / "secret_key").read_text().strip(),
        "CELERY_BROKER_URL": "redis://127.0.0.1:50123/0",
    }
    # Once it stops, commands no longer look for its worker.
    runner.record_for_second_shell(env, broker_url=None)
    assert read_run_env(tmp_path) == {"SECRET_KEY": (tmp_path / "secret_key").read_text().strip()}


def test_it_does_not_write_down_a_secret_the_operator_set(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "operator-secret-" + "x" * 40)
    monkeypatch.setenv("RAWI_DATA_DIR", str(tmp_path))
    runner.record_for_second_shell(runner._prepare_environment(), broker_url="redis://127.0.0.1:50123/0")
    assert read_run_env(tmp_path) == {"CELERY_BROKER_URL": "redis://127.0.0.1:50123/0"}
    assert "operator-secret" not in (tmp_path / "run.env").read_text()


def test_manage_py_uses_the_recorded_values_and_the_environment_wins(tmp_path):
    refused = _second_shell(tmp_path)
    assert refused.returncode != 0
    assert "The environment variable SECRET_KEY must be set." in refused.stderr
    write_run_env(tmp_path, {"SECRET_KEY": "recorded-" + "k" * 50, "CELERY_BROKER_URL": "redis://127.0.0.1:50123/0"})
    shell = _second_shell(tmp_path)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split() == ["recorded-" + "k" * 50, "redis://127.0.0.1:50123/0"]
    override = _second_shell(tmp_path, CELERY_BROKER_URL="redis://10.0.0.9:6379/1")
    assert override.stdout.split() == ["recorded-" + "k" * 50, "redis://10.0.0.9:6379/1"]


def test_it_refuses_a_damaged_record(tmp_path):
    (tmp_path / "run.env").write_text("SECRET_KEY=abc\nDATABASE_URL=postgresql://elsewhere/rawi\n")
    with pytest.raises(RunEnvError, match="line 2: expected one of SECRET_KEY, CELERY_BROKER_URL"):
        read_run_env(tmp_path)
    with pytest.raises(RunEnvError, match=r"Not recorded for a second shell: DATABASE_URL\."):
        write_run_env(tmp_path, {"DATABASE_URL": "postgresql://elsewhere/rawi"})
    shell = _second_shell(tmp_path)
    assert shell.returncode != 0
    assert "line 2: expected one of SECRET_KEY, CELERY_BROKER_URL as NAME=value." in shell.stderr
