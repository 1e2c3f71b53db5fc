#!/usr/bin/env bash
# Crash safety of payments (issue 3, item 7): on SQLite and on PostgreSQL, drive concurrent
# POST /api/payments/pay (each with its own Idempotency-Key) against `saghat serve`, kill -9 the
# server while payments are in flight, restart it, let the clients retry what got no answer
# with the same key and body, and check that every 201 a client received is in the database
# exactly once and nothing else is, that no 5xx came outside the kill, and that
# `saghat ledger verify` passes afterwards.
#
# The payments go through a stand-in Bitpin on 127.0.0.1 (crash_client.py bitpin) that answers
# on ticks of 0.25 s, so the load lasts about a second whatever the machine's speed, and the
# kill (0.2–0.5 s into the load) is timed just after a tick, when the payments it has just
# verified are writing to the database: some die before their commit, some between commit
# and response (their retry gets the stored response, header idempotent-replayed: true).
#
#   bash scripts/crash-test.sh <path-to-saghat-binary>
#
# PostgreSQL: postgres://postgres@127.0.0.1:5432, a fresh database saghat_crash_<random>,
# dropped at the end. When it is unreachable the backend is skipped, or fails if CI is set.
# Knobs (environment): CRASH_MEMBERS (60), CRASH_THREADS (16), CRASH_KEEP=1 keeps the temp dir,
# CRASH_PG_HOST / CRASH_PG_PORT / CRASH_PG_USER (127.0.0.1, 5432, postgres).
# Ends with "crash test: N passed, M failed"; exits non-zero if any backend failed.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash scripts/crash-test.sh <path-to-saghat-binary>" >&2
  exit 2
fi
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
HERE="$(cd "$(dirname "$0")" && pwd)"
DRIVER="$HERE/crash_client.py"
MEMBERS="${CRASH_MEMBERS:-60}"
THREADS="${CRASH_THREADS:-16}"
PG_HOST="${CRASH_PG_HOST:-127.0.0.1}"
PG_PORT="${CRASH_PG_PORT:-5432}"
PG_USER="${CRASH_PG_USER:-postgres}"
FAKE_NOW="2026-11-22T12:00:00Z"
ADMIN_USER="crashadmin"
ADMIN_PASS="crash-admin-password-$RANDOM$RANDOM"

ROOT="$(mktemp -d "${TMPDIR:-/tmp}/saghat-crash.XXXXXX")"
SERVER_PID=""
DRIVER_PID=""
BITPIN_PID=""
BITPIN_PORT=""
PG_DB=""

say() { printf '[crash-test] %s\n' "$*"; }

stop_pid() { # pid signal: signal it and wait (bounded) until it is gone
  local pid="$1" sig="$2"
  [ -n "$pid" ] || return 0
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
} 2>/dev/null # not even bash's "Killed" notice

drop_pg_db() {
  if [ -n "$PG_DB" ]; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAtc \
      "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAtc \
        "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null 2>&1 ||
      say "warning: could not drop database $PG_DB"
    PG_DB=""
  fi
}

cleanup() {
  stop_pid "$DRIVER_PID" TERM
  stop_pid "$BITPIN_PID" TERM
  stop_pid "$SERVER_PID" KILL
  drop_pg_db
  if [ "${CRASH_KEEP:-}" = 1 ]; then
    say "kept $ROOT"
  else
    rm -rf "$ROOT"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now() { date +%s.%N; }

# 0 when GET url answers 200 within 2 s (no proxy: the traffic stays on 127.0.0.1).
http_ok() {
  python3 - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
sys.exit(0 if opener.open(sys.argv[1], timeout=2).status == 200 else 1)
EOF
}

# start_server workdir database_url port logfile: starts `saghat serve` in the background, in
# the work dir (so no .env of the caller's is read) with a clean, explicit environment.
start_server() {
  local work="$1" url="$2" port="$3" logfile="$4"
  (
    cd "$work" && exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
      APP_ENV=test \
      DATABASE_URL="$url" \
      SAGHAT_DATA_DIR="$work/data" \
      SAGHAT_FAKE_NOW="$FAKE_NOW" \
      SAGHAT_ADMIN_USERNAME="$ADMIN_USER" \
      SAGHAT_ADMIN_PASSWORD="$ADMIN_PASS" \
      SECRET_KEY="crash-test-secret-key-0123456789abcdef" \
      JWT_SECRET_KEY="crash-test-jwt-secret-0123456789abcdef" \
      LOG_FORMAT=json \
      BITPIN_API_BASE_URL="http://127.0.0.1:$BITPIN_PORT" \
      BITPIN_API_KEY="crash-test-bitpin-key" \
      RUST_LOG=info \
      "$BIN" serve --bind "127.0.0.1:$port"
  ) >>"$logfile" 2>&1 &
  SERVER_PID=$!
}

# wait_ready port logfile: until /readyz answers 200 (30 s at most) while the server lives.
wait_ready() {
  local port="$1" logfile="$2"
  for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      say "the server exited before it was ready; its log:"
      tail -n 30 "$logfile"
      return 1
    fi
    http_ok "http://127.0.0.1:$port/readyz" && return 0
    sleep 0.1
  done
  say "the server was not ready after 30 s; its log:"
  tail -n 30 "$logfile"
  return 1
}

# Server log lines at level ERROR or WARN (JSON logs), shown when something failed.
show_log_problems() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    local n
    n=$(grep -c -E '"level":"(ERROR|WARN)"' "$f" || true)
    say "$(basename "$f"): $n ERROR/WARN lines; last ones:"
    grep -E '"level":"(ERROR|WARN)"' "$f" | tail -n 10 | sed 's/^/    /'
  done
}

# run_backend name database_url: the whole scenario on one database. 0 = passed.
run_backend() {
  local rc=0
  scenario "$@" || rc=$?
  stop_pid "$DRIVER_PID" TERM
  DRIVER_PID=""
  stop_pid "$SERVER_PID" KILL
  SERVER_PID=""
  stop_pid "$BITPIN_PID" TERM
  BITPIN_PID=""
  return "$rc"
}

scenario() {
  local name="$1" url="$2"
  local work="$ROOT/$name"
  mkdir -p "$work/data"
  local port log1="$work/server.log" log2="$work/server-restarted.log"
  port="$(free_port)"
  BITPIN_PORT="$(free_port)"
  python3 "$DRIVER" bitpin --port "$BITPIN_PORT" --workdir "$work" --tick 0.25 &
  BITPIN_PID=$!
  for _ in $(seq 1 100); do [ -s "$work/bitpin-clock" ] && break; sleep 0.05; done
  if [ ! -s "$work/bitpin-clock" ]; then
    say "$name: the stand-in Bitpin did not start"
    return 1
  fi
  say "$name: starting saghat on 127.0.0.1:$port (stand-in Bitpin on 127.0.0.1:$BITPIN_PORT)"
  start_server "$work" "$url" "$port" "$log1"
  wait_ready "$port" "$log1" || return 1

  SAGHAT_ADMIN_USERNAME="$ADMIN_USER" SAGHAT_ADMIN_PASSWORD="$ADMIN_PASS" \
    timeout 180 python3 "$DRIVER" load --base "http://127.0.0.1:$port" --workdir "$work" \
    --members "$MEMBERS" --threads "$THREADS" &
  DRIVER_PID=$!

  # Kill while the payments are in flight: the driver says when the first one is on the wire.
  local started=""
  for _ in $(seq 1 1200); do
    [ -s "$work/load-started" ] && { started=1; break; }
    kill -0 "$DRIVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$started" ]; then
    say "$name: the driver never started the load"
    stop_pid "$DRIVER_PID" TERM; DRIVER_PID=""
    show_log_problems "$log1"
    return 1
  fi
  # 0.2–0.5 s into the load, just after a tick of the stand-in Bitpin: when the payments it
  # has just verified are writing to the database.
  local delay
  delay="$(python3 - "$work/load-started" "$work/bitpin-clock" <<'EOF'
import random, sys, time
start = float(open(sys.argv[1]).read())
epoch, tick = map(float, open(sys.argv[2]).read().split())
first = int((start - epoch) / tick)
ticks = [epoch + n * tick for n in range(first, first + 10)]
ticks = [t for t in ticks if start + 0.2 <= t <= start + 0.47] or [start + 0.2 + random.random() * 0.27]
kill_at = random.choice(ticks) + random.uniform(0.001, 0.015)
print(f"{max(0.0, kill_at - time.time()):.3f} {kill_at - start:.3f}")
EOF
)" || delay="0.3 0.3"
  sleep "${delay% *}"
  now >"$work/killed" # before the signal: a request sent before this time was sent before it
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
  say "$name: kill -9 the server ${delay#* }s into the load; restarting it"

  start_server "$work" "$url" "$port" "$log2"
  if ! wait_ready "$port" "$log2"; then
    stop_pid "$DRIVER_PID" TERM; DRIVER_PID=""
    return 1
  fi
  now >"$work/restarted"

  local driver_rc=0
  wait "$DRIVER_PID" || driver_rc=$?
  DRIVER_PID=""
  stop_pid "$SERVER_PID" TERM
  SERVER_PID=""

  local failed=0
  if [ "$driver_rc" -ne 0 ]; then
    say "$name: the driver reported failures (exit $driver_rc)"
    failed=1
  fi

  # The database itself, server stopped: the payment ids against the 201s.
  local ids="$work/payment-ids.txt" db_rc=0
  if [ "$name" = sqlite ]; then
    python3 - "$work/crash.db" >"$ids" <<'EOF' || db_rc=$?
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for (pid,) in db.execute("SELECT id FROM payments ORDER BY id"):
    print(pid)
EOF
  else
    psql "$url" -qAtc "SELECT id FROM payments ORDER BY id" >"$ids" || db_rc=$?
  fi
  if [ "$db_rc" -ne 0 ]; then
    say "$name: could not read the payments table"
    failed=1
  elif [ -f "$work/results.json" ]; then
    python3 "$DRIVER" dbcheck --workdir "$work" --payment-ids "$ids" || failed=1
  fi

  local verify_rc=0
  (cd "$work" && env -i PATH="$PATH" HOME="${HOME:-/tmp}" APP_ENV=test DATABASE_URL="$url" \
    SAGHAT_DATA_DIR="$work/data" SECRET_KEY=x JWT_SECRET_KEY=x RUST_LOG=warn \
    timeout 60 "$BIN" ledger verify) >"$work/verify.log" 2>&1 || verify_rc=$?
  sed 's/^/    /' "$work/verify.log"
  local verify="passed"
  if [ "$verify_rc" -ne 0 ]; then
    verify="FAILED (exit $verify_rc)"
    failed=1
  fi

  if [ -f "$work/results.json" ]; then
    python3 - "$work/results.json" "$name" "$verify" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f"[crash-test] {sys.argv[2]} summary: members {s['members']}, 201s {s['created_201']}, "
      f"replays after restart {s['replays_after_restart']}, cut off in flight {s['in_flight_at_kill']} "
      f"({s['writing_at_kill']} writing), "
      f"connection errors {s['connection_errors']} {s['connection_errors_by_kind']}, "
      f"5xx {s['errors_5xx']} (outside kill {s['errors_5xx_outside_kill_window']}), "
      f"payments in db {s['payments_in_db']}, ledger verify {sys.argv[3]}")
EOF
  else
    say "$name summary: no results (the driver did not finish); ledger verify $verify"
  fi
  if [ "$failed" -ne 0 ]; then
    show_log_problems "$log1" "$log2"
    say "$name: FAILED (logs: $work, kept with CRASH_KEEP=1)"
    return 1
  fi
  say "$name: passed"
  return 0
}

passed=0
failed=0
record() { if [ "$1" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi; }

say "binary: $BIN; $MEMBERS members, $THREADS client threads; work dir $ROOT"

# --- SQLite ---------------------------------------------------------------------------------
run_backend sqlite "sqlite://$ROOT/sqlite/crash.db?mode=rwc"
record $?

# --- PostgreSQL -----------------------------------------------------------------------------
pg_up=0
if command -v psql >/dev/null 2>&1 &&
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAtc "SELECT 1" >/dev/null 2>&1; then
  pg_up=1
fi
if [ "$pg_up" -eq 1 ]; then
  PG_DB="saghat_crash_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  if psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAtc "CREATE DATABASE \"$PG_DB\"" >/dev/null; then
    run_backend postgres "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
    record $?
  else
    say "postgres: could not create database $PG_DB"
    PG_DB=""
    record 1
  fi
  drop_pg_db
elif [ -n "${CI:-}" ]; then
  say "postgres: FAILED: PostgreSQL is unreachable at $PG_HOST:$PG_PORT (and CI is set)"
  record 1
else
  say "postgres: SKIP (PostgreSQL is unreachable at $PG_HOST:$PG_PORT)"
fi

echo "crash test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
