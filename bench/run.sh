#!/usr/bin/env bash
# Saghat's benchmarks, each figure beside its limit measured in the same run on this machine.
#
#   bash bench/run.sh [sqlite|postgres|all]        (default all)
#
# Builds release (saghat + examples/constant_handler + examples/seed_members), then:
#   limits   the constant axum handler (examples/constant_handler, wrk -c16/-c64) run right
#            before each read run; pgbench -c16 with a payment-shaped transaction
#            (bench/payment.pgbench.sql: the INSERTs; bench/payment-full.pgbench.sql: the reads
#            too) right before each payment run on PostgreSQL
#   per database (a fresh SQLite file / PostgreSQL database):
#            start-up to the first 200 of /readyz (fresh database, then restarts), RSS idle;
#            members created through POST /api/auth/users; logins (wrk, each member once,
#            their access tokens kept); authenticated reads GET /api/auth/me and
#            GET /api/payments/config (wrk -c16/-c64); payments, each member once
#            (wrk + bench/rotate.lua); then exactly that many payments in the database and
#            `saghat ledger verify`; RSS under load (largest sampled) and idle afterwards
#   the draw POST /api/loans/start over 1,000 / 10,000 / 100,000 members who all paid this
#            month and the two before (seeded with examples/seed_members, copied per run): wall time, SQL statements it ran (sqlx's
#            statement log lines carrying the request's id), RSS before and after
#
# The server runs with APP_ENV=dev, fixed secrets, SAGHAT_FAKE_NOW fixed, LOG_FORMAT=json and
# RATE_LIMIT_PER_MINUTE=0 so the per-address request limit does not throttle the load generator
# (every request comes from 127.0.0.1). BITPIN_API_KEY is unset: payments are not verified with
# a gateway (the measurement is Saghat and its database). Everything goes to 127.0.0.1.
#
# Knobs: BENCH_RUNS (3), BENCH_READ_SECONDS (8), BENCH_PAY_MEMBERS (members per payment run,
# 2000), BENCH_DRAW_SIZES ("1000 10000 100000"), BENCH_WRK_THREADS (2), BENCH_OUT (results
# folder; default $CARGO_TARGET_DIR/bench-results/<time>), BENCH_SKIP_BUILD=1, BENCH_PARTS
# ("main draw": the limits, reads, logins, payments, memory and start-up; and the draw).
# Results: $BENCH_OUT/results.jsonl (one JSON object per measurement) and summary.md.
set -uo pipefail
BENCH_NAME=run
source "$(dirname "$0")/lib.sh"

WHICH="${1:-all}"
case "$WHICH" in sqlite | postgres | all) ;; *)
  echo "usage: bash bench/run.sh [sqlite|postgres|all]" >&2
  exit 2
  ;;
esac
RUNS="${BENCH_RUNS:-3}"
READ_SECONDS="${BENCH_READ_SECONDS:-8}"
PAY_MEMBERS="${BENCH_PAY_MEMBERS:-2000}"
DRAW_SIZES="${BENCH_DRAW_SIZES:-1000 10000 100000}"
WRK_THREADS="${BENCH_WRK_THREADS:-2}"
PARTS="${BENCH_PARTS:-main draw}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT/work"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"

SERVER_PID=""
SAMPLER_PID=""
CONST_PID=""
PG_DBS=()
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  stop_pid "$SERVER_PID"
  stop_pid "$CONST_PID"
  local db
  for db in "${PG_DBS[@]}"; do pg_drop_db "$db"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

emit() { echo "$1" >>"$RESULTS"; }

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  build_release || { say "build failed"; exit 1; }
fi
snapshot_binaries "$OUT/bin"

backends=()
[ "$WHICH" = all ] || [ "$WHICH" = sqlite ] && backends+=(sqlite)
if [ "$WHICH" = all ] || [ "$WHICH" = postgres ]; then
  if pg_up; then backends+=(postgres); else
    say "PostgreSQL unreachable at $PG_HOST:$PG_PORT: skipping it"
    [ "$WHICH" = postgres ] && exit 1
  fi
fi

# --- the machine ------------------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "rustc: $(rustc --version)"
  echo "wrk: $(wrk -v 2>&1 | head -n 1)"
  echo "postgres: $(psql_admin -c 'SHOW server_version' 2>/dev/null || echo unreachable)"
  echo "pgbench: $(pgbench --version)"
  echo "sqlite (bundled by sqlx): libsqlite3-sys $(grep -A1 'name = "libsqlite3-sys"' "$REPO_DIR/Cargo.lock" | sed -n 's/version = "\(.*\)"/\1/p')"
  echo "saghat: $(git -C "$REPO_DIR" rev-parse --short HEAD)$(git -C "$REPO_DIR" diff --quiet -- crates || echo ' (+ uncommitted changes)')"
  echo "runs per figure: $RUNS; read runs: ${READ_SECONDS}s; payment members per run: $PAY_MEMBERS; wrk threads: $WRK_THREADS"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# The 1-minute load average and the CPU pressure (share of time some task waited for a CPU,
# last 10 s), as JSON: how busy the machine was around a run.
load_now() {
  local la psi
  la="$(cut -d' ' -f1 /proc/loadavg)"
  psi="$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null)"
  echo "{\"loadavg\":$la,\"cpu_pressure_avg10\":${psi:-null}}"
}

# wrk_fixed label pair url connections [wrk args...]: one fixed-duration run; emits a JSON line.
wrk_fixed() {
  local label="$1" pair="$2" url="$3" conns="$4"
  shift 4
  local line
  line="$(wrk -t "$WRK_THREADS" -c "$conns" -d "${READ_SECONDS}s" --latency -s "$BENCH_DIR/report.lua" "$@" "$url" | tail -n 1)"
  emit "{\"kind\":\"$label\",\"pair\":\"$pair\",\"connections\":$conns,\"load\":$(load_now),\"result\":$line}"
  say "$label -c$conns: $line"
}

# wrk_rotate label mode input connections [password]: each input line once (bench/rotate.lua);
# stops wrk with SIGINT when every thread has all its answers; emits a JSON line.
wrk_rotate() {
  local label="$1" mode="$2" input="$3" conns="$4" password="${5:-}"
  local dir
  dir="$(mktemp -d "$OUT/work/rotate.XXXXXX")"
  wrk -t "$WRK_THREADS" -c "$conns" -d 600s --latency -s "$BENCH_DIR/rotate.lua" "$BASE" \
    -- "$mode" "$input" "$dir" "$WRK_THREADS" "$(basename "$dir")" "$password" >"$dir/wrk.out" 2>&1 &
  local wrk_pid=$! i
  for i in $(seq 1 60000); do # 600 s at most
    [ "$(find "$dir" -name 'done.*' | wc -l)" -ge "$WRK_THREADS" ] && break
    kill -0 "$wrk_pid" 2>/dev/null || break
    sleep 0.01
  done
  kill -INT "$wrk_pid" 2>/dev/null
  wait "$wrk_pid" 2>/dev/null
  local line
  line="$(grep '^{' "$dir/wrk.out" | tail -n 1)"
  [ -n "$line" ] || line='{"error":"wrk printed no result"}'
  if [ "$mode" = login ]; then cat "$dir"/tokens.* >"$dir/tokens"; fi
  emit "{\"kind\":\"$label\",\"pair\":\"${ROTATE_PAIR:-}\",\"connections\":$conns,\"load\":$(load_now),\"result\":$line}"
  say "$label -c$conns: $line"
  ROTATE_DIR="$dir"
}

# --- limits: kept running / ready for paired runs -----------------------------------------------
# This machine's 2 cores may be shared with other work (the load average and CPU pressure are
# recorded with every run), so each limit is measured right before the figure it bounds: a
# constant-handler run before every read run, pgbench runs before every payment run. Ratios
# are taken pair by pair.
CONST_PORT="$(free_port)"
"$CONSTANT" "127.0.0.1:$CONST_PORT" 2>"$OUT/work/constant.log" &
CONST_PID=$!
for _ in $(seq 1 100); do [ "$(http_code "http://127.0.0.1:$CONST_PORT/")" = 200 ] && break; sleep 0.05; done

PGBENCH_DB=""
if printf '%s\n' "${backends[@]}" | grep -qx postgres; then
  PGBENCH_DB=saghat_bench_pgbench
  PG_DBS+=("$PGBENCH_DB")
  pg_create_db "$PGBENCH_DB"
  "$SEED" --database-url "$(pg_url "$PGBENCH_DB")" --now "$FAKE_NOW" --members 1000 --pay-all 2>&1 | sed 's/^/  /' >&2
  psql "$(pg_url "$PGBENCH_DB")" -qAtX -c ANALYZE
fi

# pgbench_run script pair: one 5-second pgbench run at 16 clients; emits a JSON line.
pgbench_run() {
  local script="$1" pair="$2" out tps lat failed
  out="$(pgbench -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -n -f "$BENCH_DIR/$script.pgbench.sql" \
    -D nusers=1000 -c 16 -j "$WRK_THREADS" -T 5 "$PGBENCH_DB" 2>&1)"
  tps="$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
  lat="$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')"
  failed="$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')"
  emit "{\"kind\":\"pgbench_$script\",\"pair\":\"$pair\",\"connections\":16,\"load\":$(load_now),\"result\":{\"tps\":${tps:-0},\"latency_avg_ms\":${lat:-0},\"failed\":${failed:-0}}}"
  say "pgbench $script -c16: tps $tps, latency avg $lat ms, failed $failed"
}

# --- per database ---------------------------------------------------------------------------------
bench_backend() {
  local backend="$1" url dbfile="" work="$OUT/work/$backend"
  mkdir -p "$work"
  if [ "$backend" = sqlite ]; then
    dbfile="$work/saghat.db"
    url="sqlite://$dbfile?mode=rwc"
  else
    local db=saghat_bench_main
    PG_DBS+=("$db")
    pg_create_db "$db"
    url="$(pg_url "$db")"
  fi
  local where="${dbfile:-$url}"
  local port
  port="$(free_port)"
  BASE="http://127.0.0.1:$port"
  local log="$work/server.log"

  # Start-up: fresh database (migrations + the first admin's Argon2 hash), then restarts.
  local r t0 t1
  for r in $(seq 0 "$RUNS"); do
    t0="$(now_ns)"
    start_saghat SERVER_PID "$work" "$url" "$port" "$log"
    if ! wait_ready "$SERVER_PID" "$port" 60; then
      say "$backend: the server did not become ready; log:"
      tail -n 20 "$log" >&2
      return 1
    fi
    t1="$(now_ns)"
    local phase=restart
    [ "$r" = 0 ] && phase=fresh
    emit "{\"kind\":\"startup\",\"backend\":\"$backend\",\"phase\":\"$phase\",\"ms\":$(((t1 - t0) / 1000000))}"
    say "$backend start-up ($phase): $(((t1 - t0) / 1000000)) ms"
    [ "$r" -lt "$RUNS" ] && { stop_pid "$SERVER_PID"; SERVER_PID=""; }
  done
  sleep 3
  emit "{\"kind\":\"rss_idle_start\",\"backend\":\"$backend\",\"kib\":$(rss_kib "$SERVER_PID")}"
  sample_rss "$SERVER_PID" "$work/rss-max" &
  SAMPLER_PID=$!

  # Members through the API: one reader, and PAY_MEMBERS per payment run.
  local total=$((PAY_MEMBERS * RUNS + 1)) line
  line="$(python3 "$DRIVER" create-members --base "$BASE" --prefix "${backend:0:2}m" --count "$total" \
    --threads 8 --out "$work/members.txt")" || return 1
  emit "{\"kind\":\"create_members_api\",\"backend\":\"$backend\",\"result\":$line}"

  # Logins: each payment member once (their tokens are the payment run's input).
  local reader
  reader="$(head -n 1 "$work/members.txt")"
  READER_TOKEN="$(login_json "$BASE" "$reader" "$MEMBER_PASS" | json_field access_token)"
  for r in $(seq 1 "$RUNS"); do
    sed -n "$((2 + (r - 1) * PAY_MEMBERS)),$((1 + r * PAY_MEMBERS))p" "$work/members.txt" >"$work/members.$r"
    wrk_rotate "login_$backend" login "$work/members.$r" 16 "$MEMBER_PASS"
    cp "$ROTATE_DIR/tokens" "$work/tokens.$r"
  done

  # Authenticated reads, each run right after a run of the constant handler.
  local path conns pair
  for path in /api/auth/me /api/payments/config; do
    for conns in 16 64; do
      for r in $(seq 1 "$RUNS"); do
        pair="$backend-$path-$conns-$r"
        wrk_fixed constant "$pair" "http://127.0.0.1:$CONST_PORT/" "$conns"
        wrk_fixed "read_${backend}_${path}" "$pair" "$BASE$path" "$conns" -H "Authorization: Bearer $READER_TOKEN"
      done
    done
  done

  # Payments: each member once; on PostgreSQL right after the two pgbench ceilings.
  for r in $(seq 1 "$RUNS"); do
    ROTATE_PAIR="$backend-pay-$r"
    if [ "$backend" = postgres ]; then
      pgbench_run payment "$ROTATE_PAIR"
      pgbench_run payment-full "$ROTATE_PAIR"
    fi
    wrk_rotate "pay_$backend" pay "$work/tokens.$r" 16
    ROTATE_PAIR=""
  done
  sleep 1
  local in_db
  in_db="$(db_query "$backend" "$where" "SELECT COUNT(*) FROM payments")"
  emit "{\"kind\":\"payments_in_db\",\"backend\":\"$backend\",\"expected\":$((PAY_MEMBERS * RUNS)),\"found\":${in_db:-0}}"
  say "$backend payments in the database: $in_db (expected $((PAY_MEMBERS * RUNS)))"
  local verify_rc=0
  ledger_verify "$work" "$url" >"$work/verify.log" 2>&1 || verify_rc=$?
  emit "{\"kind\":\"ledger_verify\",\"backend\":\"$backend\",\"exit\":$verify_rc}"
  say "$backend ledger verify: exit $verify_rc"

  kill "$SAMPLER_PID" 2>/dev/null
  wait "$SAMPLER_PID" 2>/dev/null
  SAMPLER_PID=""
  emit "{\"kind\":\"rss_max_load\",\"backend\":\"$backend\",\"kib\":$(cat "$work/rss-max" 2>/dev/null || echo 0)}"
  sleep 5
  emit "{\"kind\":\"rss_idle_after_load\",\"backend\":\"$backend\",\"kib\":$(rss_kib "$SERVER_PID")}"
  stop_pid "$SERVER_PID"
  SERVER_PID=""
  # One JSON line per request makes this log gigabytes: keep its warnings, errors and tail.
  { grep -E '"level":"(WARN|ERROR)"' "$log" | head -n 1000; tail -n 2000 "$log"; } >"$log.kept"
  mv "$log.kept" "$log"
  [ "$backend" = postgres ] && pg_drop_db saghat_bench_main
  return 0
}

# --- the draw ---------------------------------------------------------------------------------------
bench_draw() {
  local backend="$1" n="$2" work="$OUT/work/draw-$backend-$n"
  mkdir -p "$work"
  local template_url template_file="" template_db=""
  if [ "$backend" = sqlite ]; then
    template_file="$work/template.db"
    template_url="sqlite://$template_file?mode=rwc"
  else
    template_db="saghat_bench_draw_$n"
    PG_DBS+=("$template_db")
    pg_create_db "$template_db"
    template_url="$(pg_url "$template_db")"
  fi
  # The schema and the first admin (as the server's first start would create them; create-admin
  # needs an existing database), then N members, all paid.
  (cd "$work" && env -i PATH="$PATH" HOME="${HOME:-/tmp}" APP_ENV=dev DATABASE_URL="$template_url" \
    SAGHAT_DATA_DIR="$work/data" SECRET_KEY="$SECRET_KEY_VALUE" JWT_SECRET_KEY="$JWT_SECRET_VALUE" \
    SAGHAT_ADMIN_USERNAME="$ADMIN_USER" SAGHAT_ADMIN_PASSWORD="$ADMIN_PASS" RUST_LOG=warn \
    sh -c '"$0" migrate && "$0" create-admin' "$SAGHAT" >/dev/null 2>&1) || { say "create-admin failed"; return 1; }
  local t0 t1
  t0="$(now_ns)"
  "$SEED" --database-url "$template_url" --now "$FAKE_NOW" --members "$n" --prefix d --pay-all --months 3 2>&1 | sed 's/^/  /' >&2
  t1="$(now_ns)"
  emit "{\"kind\":\"seed\",\"backend\":\"$backend\",\"n\":$n,\"ms\":$(((t1 - t0) / 1000000))}"
  if [ "$backend" = postgres ]; then
    # What autovacuum's analyze would have done by then on a database of this size.
    psql "$template_url" -qAtX -c ANALYZE
  else
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()" "$template_file"
  fi
  local r
  for r in $(seq 1 "$RUNS"); do
    local url copy_db=""
    if [ "$backend" = sqlite ]; then
      cp "$template_file" "$work/run$r.db"
      url="sqlite://$work/run$r.db?mode=rwc"
    else
      copy_db="saghat_bench_draw_${n}_r$r"
      PG_DBS+=("$copy_db")
      psql_admin -c "DROP DATABASE IF EXISTS \"$copy_db\"" -c "CREATE DATABASE \"$copy_db\" TEMPLATE \"$template_db\"" >/dev/null
      url="$(pg_url "$copy_db")"
    fi
    local port log="$work/server.$r.log"
    port="$(free_port)"
    BASE="http://127.0.0.1:$port"
    start_saghat SERVER_PID "$work" "$url" "$port" "$log" RUST_LOG="sqlx::query=debug,info"
    wait_ready "$SERVER_PID" "$port" 60 || { say "draw server not ready"; tail -n 20 "$log" >&2; return 1; }
    sleep 1
    local rss_before token rid="draw-$backend-$n-$r" out
    rss_before="$(rss_kib "$SERVER_PID")"
    token="$(login_json "$BASE" "$ADMIN_USER" "$ADMIN_PASS" | json_field access_token)"
    # Warm the user cache so the count is the draw's own statements.
    curl -s --noproxy '*' -o /dev/null "$BASE/api/auth/me" -H "Authorization: Bearer $token"
    out="$(curl -s --noproxy '*' --max-time 120 -o "$work/draw.$r.json" -w '%{http_code} %{time_total} %{size_download}' \
      -X POST "$BASE/api/loans/start" -H "Authorization: Bearer $token" -H "X-Request-Id: $rid")"
    sleep 0.5
    local rss_after statements
    rss_after="$(rss_kib "$SERVER_PID")"
    statements="$(python3 - "$log" "$rid" <<'EOF'
import json, sys
log, rid = sys.argv[1], sys.argv[2]
stmts, server_ms = [], None
for line in open(log, encoding="utf-8", errors="replace"):
    if rid not in line:
        continue
    try:
        e = json.loads(line)
    except ValueError:
        continue
    spans = [e.get("span") or {}] + (e.get("spans") or [])
    if not any(s.get("request_id") == rid for s in spans):
        continue
    if e.get("target") == "sqlx::query":
        stmts.append({"summary": e.get("summary", ""), "ms": round(float(e.get("elapsed_secs", 0)) * 1000, 2),
                      "rows": e.get("rows_returned", 0)})
    elif "latency" in e:
        server_ms = e["latency"]
print(json.dumps({"count": len(stmts), "server_latency": server_ms, "statements": stmts}))
EOF
)"
    local code secs size
    read -r code secs size <<<"$out"
    emit "{\"kind\":\"draw\",\"backend\":\"$backend\",\"n\":$n,\"load\":$(load_now),\"status\":$code,\"seconds\":$secs,\"bytes\":$size,\"rss_before_kib\":$rss_before,\"rss_after_kib\":$rss_after,\"sql\":$statements}"
    say "draw $backend N=$n run $r: HTTP $code in ${secs}s, $(echo "$statements" | json_field count) statements, response $size bytes, RSS $rss_before -> $rss_after KiB"
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    [ -n "$copy_db" ] && pg_drop_db "$copy_db"
    rm -f "$work/run$r.db" "$work/run$r.db-wal" "$work/run$r.db-shm"
  done
  [ -n "$template_db" ] && pg_drop_db "$template_db"
  [ -n "$template_file" ] && rm -f -- "$template_file" "$template_file-wal" "$template_file-shm"
  return 0
}

status=0
if [[ " $PARTS " == *" main "* ]]; then
  for backend in "${backends[@]}"; do
    say "=== $backend ==="
    bench_backend "$backend" || { say "$backend: FAILED"; status=1; }
  done
fi
if [[ " $PARTS " == *" draw "* ]]; then
  for backend in "${backends[@]}"; do
    for n in $DRAW_SIZES; do
      bench_draw "$backend" "$n" || { say "draw $backend $n: FAILED"; status=1; }
    done
  done
fi

emit "{\"kind\":\"constant_rss_kib\",\"value\":$(rss_kib "$CONST_PID")}"
stop_pid "$CONST_PID"
CONST_PID=""
[ -n "$PGBENCH_DB" ] && pg_drop_db "$PGBENCH_DB"

python3 "$BENCH_DIR/summarize.py" "$RESULTS" "$OUT/machine.txt" | tee "$OUT/summary.md"
say "results: $OUT"
exit "$status"
