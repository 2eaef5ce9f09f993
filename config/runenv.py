"""What `make run` records for the commands an operator runs beside it.

`make run` generates a SECRET_KEY and starts an embedded broker on a port of its own choosing; a
second shell knows neither. The runner writes both to RAWI_DATA_DIR/run.env (mode 0600) and the
settings read that file, so `manage.py ingest …` works as printed and its jobs go to the running
worker. A variable set in the environment always wins over the file. The broker's URL is removed
when `make run` stops, so later commands do not wait for a worker that is gone.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_NAME = "run.env"
RECORDED = ("SECRET_KEY", "CELERY_BROKER_URL")
_HEADER = "# Written by `make run` for commands run beside it (config/runenv.py). Do not share: it holds a secret.\n"


class RunEnvError(ValueError):
    pass


def read_run_env(data_dir: Path) -> dict[str, str]:
    """The recorded values, or {} when `make run` never ran with this data directory."""
    path = Path(data_dir) / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or name not in RECORDED:
            raise RunEnvError(f"{path}, line {number}: expected one of {', '.join(RECORDED)} as NAME=value.")
        values[name] = value
    return values


def write_run_env(data_dir: Path, values: dict[str, str]) -> Path:
    """Replace the file with `values` (names from RECORDED only), readable by its owner alone."""
    unknown = set(values) - set(RECORDED)
    if unknown:
        raise RunEnvError(f"Not recorded for a second shell: {', '.join(sorted(unknown))}.")
    if any("\n" in value or "\r" in value for value in values.values()):
        raise RunEnvError("A recorded value cannot span lines.")
    path = Path(data_dir) / FILE_NAME
    partial = path.with_name(FILE_NAME + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(_HEADER)
        for name in RECORDED:
            if values.get(name):
                handle.write(f"{name}={values[name]}\n")
    os.replace(partial, path)
    return path
