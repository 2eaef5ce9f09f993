"""`make run`: migrate, seed the demo, then run an embedded broker, a Celery worker (with beat) and
the web server until Ctrl-C. All state lives under RAWI_DATA_DIR."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from config.runenv import write_run_env

BASE_DIR = Path(__file__).resolve().parent.parent


def _prepare_environment() -> dict[str, str]:
    env = dict(os.environ)
    data_dir = Path(env.get("RAWI_DATA_DIR") or BASE_DIR / "data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env["RAWI_DATA_DIR"] = str(data_dir)
    secret_file = data_dir / "secret_key"
    if not env.get("SECRET_KEY"):
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(50))
            secret_file.chmod(0o600)
        env["SECRET_KEY"] = secret_file.read_text().strip()
    # Plain HTTP on loopback: the production TLS settings stay on unless running locally like this.
    env.setdefault("DEBUG", "false")
    env.setdefault("SECURE_SSL_REDIRECT", "false")
    env.setdefault("SESSION_COOKIE_SECURE", "false")
    env.setdefault("SECURE_HSTS_SECONDS", "0")
    # The demo accounts sign in with their passwords alone; production leaves the default (required).
    env.setdefault("RAWI_REQUIRE_TOTP", "false")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def record_for_second_shell(env: dict[str, str], *, broker_url: str | None) -> Path:
    """Write RAWI_DATA_DIR/run.env: the secret this runner generated (one the operator set stays in
    their environment only) and the embedded broker's URL while it runs (None once it stopped)."""
    values = {"CELERY_BROKER_URL": broker_url or ""}
    if not os.environ.get("SECRET_KEY"):
        values["SECRET_KEY"] = env["SECRET_KEY"]
    return write_run_env(Path(env["RAWI_DATA_DIR"]), values)


def second_factor_notice(env: dict[str, str]) -> str:
    if env.get("RAWI_REQUIRE_TOTP", "").strip().lower() in {"0", "false", "no", "off"}:
        return (
            "Demo: a second factor is NOT required for staff and custodians (RAWI_REQUIRE_TOTP=false); "
            "an account that enrolled one is still asked for it. Production requires one."
        )
    return "A second factor is required for staff, field researchers and custodians (RAWI_REQUIRE_TOTP)."


def main() -> int:
    env = _prepare_environment()
    record_for_second_shell(env, broker_url=None)  # no broker until the embedded one listens
    port = env.get("PORT", "8000")
    python = sys.executable
    manage = [python, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=BASE_DIR)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], env=env, check=True, cwd=BASE_DIR)
    seeded = subprocess.run([*manage, "seed_demo"], env=env, check=True, cwd=BASE_DIR, capture_output=True, text=True)
    # Renderings made by an earlier release of the rendering rules are stale (never served): rebuild them,
    # and fill search tables that a migration left empty. Deploys run the same command after `migrate`.
    subprocess.run([*manage, "reindex"], env=env, check=True, cwd=BASE_DIR, capture_output=True)

    os.environ["RAWI_DATA_DIR"] = env["RAWI_DATA_DIR"]
    from archive.broker import start_embedded_broker

    broker = start_embedded_broker(Path(env["RAWI_DATA_DIR"]) / "broker")
    env["CELERY_BROKER_URL"] = broker.connection_url
    # Operator commands in another shell (manage.py ingest, export, …) read these from the data directory.
    record_for_second_shell(env, broker_url=broker.connection_url)
    processes = [
        subprocess.Popen(
            [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "-Q",
                "transcribe,default",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--schedule",
                str(Path(env["RAWI_DATA_DIR"]) / "celerybeat-schedule"),
            ],
            env=env,
            cwd=BASE_DIR,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                python,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "600",
                "--access-logfile",
                "-",
                "--access-logformat",
                '%(t)s "%(m)s %(U)s" %(s)s',
            ],
            env=env,
            cwd=BASE_DIR,
            start_new_session=True,
        ),
    ]
    print(seeded.stdout.strip(), flush=True)
    print(second_factor_notice(env), flush=True)
    print(
        f"\nRawi is running at http://127.0.0.1:{port}/  (data in {env['RAWI_DATA_DIR']}; Ctrl-C stops everything)\n",
        flush=True,
    )

    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            if any(p.poll() is not None for p in processes):
                print("A Rawi process exited; stopping.", flush=True)
                break
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        broker.stop()
        record_for_second_shell(env, broker_url=None)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    sys.exit(main())
