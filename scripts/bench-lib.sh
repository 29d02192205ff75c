# Shared by scripts/bench and scripts/measure-idle-memory: start and stop a throwaway imserver.
# Source it; it defines start_server (sets SERVER_PID, SERVER_PORT, SERVER_DATA), stop_server, and
# finish_bench for the EXIT trap (the server, and the private PostgreSQL if this script started it).

BUILD_DIR=${BUILD_DIR:-build}
# STORE=postgres: every server keeps its state in a fresh database of a private PostgreSQL
# (scripts/postgres, in $BENCH_POSTGRES_DIR, with PostgreSQL's default durability: fsync and
# synchronous_commit on), started on first use and removed by finish_bench. One that was already
# running there (BENCH_POSTGRES_DIR of the caller's choosing) is left as it was.
STORE=${STORE:-leveldb}
BENCH_POSTGRES_DIR=${BENCH_POSTGRES_DIR:-/tmp/imbench-postgres}
BENCH_POSTGRES_STARTED=0

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server [extra imserver flags...]: a fresh data directory, cheap password hashing and no
# registration limit (the benchmarks register thousands of users from one address), the
# per-connection rate limits off (they cap a benchmark sender at 100 sends/s), everything else at
# the server's defaults.
start_server() {
  SERVER_DATA=$(mktemp -d /tmp/imbench-data.XXXXXX)
  SERVER_PORT=$(free_port)
  local store_flags=()
  if [[ $STORE == postgres ]]; then
    local base database="bench_$(basename "$SERVER_DATA" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
    if [[ $BENCH_POSTGRES_STARTED == 0 ]] && ! pg_running "$BENCH_POSTGRES_DIR"; then BENCH_POSTGRES_STARTED=1; fi
    base=$("$(dirname "${BASH_SOURCE[0]}")/postgres" start "$BENCH_POSTGRES_DIR")
    psql "$base" -qc "CREATE DATABASE $database" >/dev/null
    store_flags=(--postgres "host=$BENCH_POSTGRES_DIR user=postgres dbname=$database")
  fi
  "$BUILD_DIR/imserver" "${store_flags[@]}" --port "$SERVER_PORT" --bind 127.0.0.1 --data-dir "$SERVER_DATA" \
    --password-hash-cost min --register-per-min-per-ip 0 --rate-sends-per-s 0 --rate-frames-per-s 0 \
    --log-level warn "$@" \
    >"$SERVER_DATA/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    if curl -fsS "http://127.0.0.1:$SERVER_PORT/healthz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "imserver exited at start:" >&2
      cat "$SERVER_DATA/server.log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "imserver did not get ready in 10 s" >&2
  return 1
}

stop_server() {
  if [[ -n "${SERVER_PID:-}" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
  if [[ -n "${SERVER_DATA:-}" ]]; then
    rm -rf "$SERVER_DATA"
    SERVER_DATA=
  fi
}

# Whether a PostgreSQL server runs on the data directory DIR/data.
pg_running() {
  [[ -f "$1/data/postmaster.pid" ]] && kill -0 "$(head -n 1 "$1/data/postmaster.pid")" 2>/dev/null
}

# The EXIT trap: the last server, then the private PostgreSQL this script started.
finish_bench() {
  stop_server
  if [[ $BENCH_POSTGRES_STARTED == 1 ]]; then
    "$(dirname "${BASH_SOURCE[0]}")/postgres" destroy "$BENCH_POSTGRES_DIR" || true
    BENCH_POSTGRES_STARTED=0
  fi
}
