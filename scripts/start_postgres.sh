#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on loopback (as a non-root user: initdb refuses root) and print
# its URL. Idempotent: a cluster already running on the port is reused.
set -euo pipefail
PORT="${RAWI_PG_PORT:-55432}"
DIR="${RAWI_PG_DIR:-/tmp/rawi-pg-$PORT}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$BIN/initdb" ] || { echo "PostgreSQL server binaries not found" >&2; exit 1; }
RUN_AS=(bash -c)
if [ "$(id -u)" = "0" ]; then
  id rawipg >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/bash rawipg
  RUN_AS=(su rawipg -s /bin/bash -c)
fi
if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  [ "$(id -u)" = "0" ] && chown rawipg "$DIR"
  "${RUN_AS[@]}" "$BIN/initdb -D '$DIR/data' -E UTF8 --locale=C.UTF-8 -A trust -U rawi >/dev/null"
  "${RUN_AS[@]}" "$BIN/pg_ctl -D '$DIR/data' -l '$DIR/log' -w -o \"-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='$DIR' -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start >/dev/null"
fi
echo "postgresql://rawi@127.0.0.1:$PORT/postgres"
