# Shared by bench/run.sh, bench/multi-instance.sh and bench/faults.sh (sourced, not run).
# Everything here talks to 127.0.0.1 only, and every wait is bounded.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target}"
RELEASE="$CARGO_TARGET_DIR/release"
SAGHAT="$RELEASE/saghat"
SEED="$RELEASE/examples/seed_members"
CONSTANT="$RELEASE/examples/constant_handler"
DRIVER="$BENCH_DIR/driver.py"

export PGOPTIONS="-c client_min_messages=warning"
PG_HOST="${BENCH_PG_HOST:-127.0.0.1}"
PG_PORT="${BENCH_PG_PORT:-5432}"
PG_USER="${BENCH_PG_USER:-postgres}"
REDIS_HOST=127.0.0.1
REDIS_PORT="${BENCH_REDIS_PORT:-6379}"

# Fixed for every run: the clock (so seeded payments and the server agree on the Jalali month),
# the secrets, the first admin.
FAKE_NOW="${BENCH_FAKE_NOW:-2026-11-22T12:00:00Z}"
ADMIN_USER=benchadmin
ADMIN_PASS=bench-admin-password-0123
MEMBER_PASS=bench-member-password-0123
SECRET_KEY_VALUE=bench-secret-key-0123456789abcdef0123456789
JWT_SECRET_VALUE=bench-jwt-secret-0123456789abcdef0123456789

say() { printf '[%s] %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }

build_release() {
  say "building release (saghat + examples) in $CARGO_TARGET_DIR"
  (cd "$REPO_DIR" && cargo build --release --bins --examples 2>&1 | tail -n 3) >&2
  [ -x "$SAGHAT" ] && [ -x "$SEED" ] && [ -x "$CONSTANT" ]
}

# snapshot_binaries dir: copies the built binaries there and uses the copies, so a build made
# meanwhile in the same target directory cannot change what is measured.
snapshot_binaries() {
  mkdir -p "$1"
  cp "$SAGHAT" "$SEED" "$CONSTANT" "$1/"
  SAGHAT="$1/saghat"
  SEED="$1/seed_members"
  CONSTANT="$1/constant_handler"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now_ns() { date +%s%N; }

# http_code URL [curl args...]: the status code, 000 when nothing answered within 5 s.
http_code() {
  local url="$1"
  shift
  curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 5 "$@" "$url" 2>/dev/null || true
}

# start_saghat VAR workdir database_url port logfile [NAME=VALUE...]: starts `saghat serve` in
# the background with a clean, explicit environment; its pid goes in $VAR.
start_saghat() {
  local var="$1" work="$2" url="$3" port="$4" logfile="$5"
  shift 5
  mkdir -p "$work/data"
  (
    cd "$work" || exit 1
    exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" \
      APP_ENV=dev \
      DATABASE_URL="$url" \
      SAGHAT_DATA_DIR="$work/data" \
      SAGHAT_FAKE_NOW="$FAKE_NOW" \
      SAGHAT_ADMIN_USERNAME="$ADMIN_USER" \
      SAGHAT_ADMIN_PASSWORD="$ADMIN_PASS" \
      SECRET_KEY="$SECRET_KEY_VALUE" \
      JWT_SECRET_KEY="$JWT_SECRET_VALUE" \
      RATE_LIMIT_PER_MINUTE=0 \
      LOG_FORMAT=json \
      "$@" \
      "$SAGHAT" serve --bind "127.0.0.1:$port"
  ) >>"$logfile" 2>&1 &
  printf -v "$var" '%s' "$!"
}

# wait_ready pid port [seconds]: until /readyz answers 200 while the process lives.
wait_ready() {
  local pid="$1" port="$2" limit="${3:-60}" i
  for i in $(seq 1 $((limit * 50))); do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(http_code "http://127.0.0.1:$port/readyz")" = 200 ] && return 0
    sleep 0.02
  done
  return 1
}

# stop_pid pid: TERM, then KILL after 10 s; waits for it.
stop_pid() {
  local pid="$1" i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
} 2>/dev/null

rss_kib() { ps -o rss= -p "$1" 2>/dev/null | tr -d ' '; }

# sample_rss pid file: writes the largest RSS seen (KiB) to file every 0.2 s until killed.
sample_rss() {
  local pid="$1" file="$2" max=0 r
  while kill -0 "$pid" 2>/dev/null; do
    r="$(rss_kib "$pid")"
    if [ -n "$r" ] && [ "$r" -gt "$max" ]; then
      max="$r"
      echo "$max" >"$file"
    fi
    sleep 0.2
  done
}

psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAtX "$@"; }
pg_url() { echo "postgres://$PG_USER@$PG_HOST:$PG_PORT/$1"; }
pg_up() { psql_admin -c "SELECT 1" >/dev/null 2>&1; }
pg_create_db() { psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\"" >/dev/null; }
pg_drop_db() { psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 || true; }

# db_query backend url_or_file sql: one value per line.
db_query() {
  local backend="$1" where="$2" sql="$3"
  if [ "$backend" = sqlite ]; then
    python3 - "$where" "$sql" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=30)
for row in db.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
EOF
  else
    psql "$where" -qAtX -c "$sql"
  fi
}

# ledger_verify workdir database_url: runs `saghat ledger verify`; its exit code.
ledger_verify() {
  local work="$1" url="$2"
  (cd "$work" && env -i PATH="$PATH" HOME="${HOME:-/tmp}" APP_ENV=dev DATABASE_URL="$url" \
    SAGHAT_DATA_DIR="$work/data" SECRET_KEY="$SECRET_KEY_VALUE" JWT_SECRET_KEY="$JWT_SECRET_VALUE" \
    RUST_LOG=warn timeout 300 "$SAGHAT" ledger verify)
}

# login base username password: prints the JSON answer.
login_json() {
  curl -s --noproxy '*' --max-time 30 -X POST "$1/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$2\",\"password\":\"$3\"}"
}

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

redis_up() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
redis_start() {
  redis_up && return 0
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
  local i
  for i in $(seq 1 100); do redis_up && return 0; sleep 0.1; done
  return 1
}

pg_ctl_cluster() {
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main "$1"
}
pg_start() {
  pg_up && return 0
  pg_ctl_cluster start >/dev/null 2>&1 || true
  local i
  for i in $(seq 1 150); do pg_up && return 0; sleep 0.2; done
  return 1
}

# PASS/FAIL bookkeeping for the rule-checking scripts.
PASSED=0
FAILED=0
check() { # check "rule" command...: runs the command; PASS when it exits 0.
  local rule="$1"
  shift
  if "$@"; then
    printf 'PASS  %s\n' "$rule"
    PASSED=$((PASSED + 1))
  else
    printf 'FAIL  %s\n' "$rule"
    FAILED=$((FAILED + 1))
  fi
}
verdict() { # verdict "rule" 0|1 [detail]
  if [ "$2" -eq 0 ]; then
    printf 'PASS  %s%s\n' "$1" "${3:+ ($3)}"
    PASSED=$((PASSED + 1))
  else
    printf 'FAIL  %s%s\n' "$1" "${3:+ ($3)}"
    FAILED=$((FAILED + 1))
  fi
}
