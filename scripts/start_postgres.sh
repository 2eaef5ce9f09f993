#!/usr/bin/env bash
# Start a throw-away PostgreSQL 15 cluster for tests and print its URL on the last line.
# Runs the server as an unprivileged user (initdb refuses root), trust auth on 127.0.0.1 only.
#   eval "export RAWI_PG_URL=$(scripts/start_postgres.sh | tail -1)"
# Env: PGPORT_RAWI (default: the first port from 55432 that is free or ours), PGUSER_RAWI (default pgtest),
# PGDIR_RAWI (default /tmp/rawi-pg-$USER-$PORT). Running it again prints the same URL.
# Stop: scripts/start_postgres.sh stop
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
OSUSER=${PGUSER_RAWI:-pgtest}
[ "$(id -u)" = "0" ] || OSUSER=$(id -un)
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -n "${PGPORT_RAWI:-}" ]; then
  PORT=$PGPORT_RAWI
else
  # The first port from 55432 that is free or already runs our own cluster.
  PORT=55432
  while port_busy "$PORT" && [ ! -O "/tmp/rawi-pg-$OSUSER-$PORT/data" ] && [ "$(stat -c %U "/tmp/rawi-pg-$OSUSER-$PORT/data" 2>/dev/null)" != "$OSUSER" ]; do
    PORT=$((PORT + 1))
  done
fi
DIR=${PGDIR_RAWI:-/tmp/rawi-pg-$OSUSER-$PORT}
DB=rawi

as_user() {
  if [ "$(id -u)" = "0" ]; then
    id -u "$OSUSER" >/dev/null 2>&1 || useradd -m "$OSUSER"
    su "$OSUSER" -s /bin/bash -c "$*"
  else
    bash -c "$*"
  fi
}

if [ "${1:-}" = "stop" ]; then
  as_user "$BIN/pg_ctl -D '$DIR/data' -m fast stop" || true
  exit 0
fi

if [ "$(id -u)" = "0" ]; then
  id -u "$OSUSER" >/dev/null 2>&1 || useradd -m "$OSUSER"
  mkdir -p "$DIR" && chown "$OSUSER" "$DIR"
else
  mkdir -p "$DIR"
fi

if ! as_user "$BIN/pg_ctl -D '$DIR/data' status" >/dev/null 2>&1; then
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_user "$BIN/initdb -D '$DIR/data' -U rawi --auth=trust --encoding=UTF8 --locale=C.UTF-8" >/dev/null
  fi
  as_user "$BIN/pg_ctl -D '$DIR/data' -l '$DIR/log' -w -o \"-p $PORT -k '$DIR' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start" >/dev/null
fi
for _ in $(seq 1 50); do
  "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q && break
  sleep 0.2
done
"$BIN/psql" -h 127.0.0.1 -p "$PORT" -U rawi -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
  || "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U rawi "$DB"
echo "postgresql://rawi@127.0.0.1:$PORT/$DB"
