#!/usr/bin/env bash
# The test suite on SQLite; then, when PostgreSQL is available (DATABASE_URL or a local install),
# the database-dependent tests again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export RAWI_TESTING=true
export PYTHONHASHSEED=0
# The architecture contracts (pyproject.toml [tool.importlinter]) before the tests.
.venv/bin/lint-imports --no-cache
# Types (pyproject.toml [tool.mypy]): strict on archive/gate/ and archive/services/.
.venv/bin/mypy
# One worker per core (the machine CI runs on has two): the suite stays well under 15 minutes.
WORKERS="${RAWI_TEST_WORKERS:-$(nproc)}"
$PY -m pytest -q -n "$WORKERS" "$@"
if [ -n "${RAWI_PG_URL:-}" ]; then
  DATABASE_URL="$RAWI_PG_URL" $PY -m pytest -q -n "$WORKERS" -m postgres "$@"
fi
