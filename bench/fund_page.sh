#!/usr/bin/env bash
# The fund page (GET /fund, signed in as a member) under load on PostgreSQL, with REDIS_URL unset
# (figures kept in the process, see platform::response_cache) and set (kept in Redis, shared),
# and with the cache off (CACHE_TTL_SECONDS=0: every request reads the database), each run right
# after a constant-handler run at the same concurrency (the HTTP stack's limit, in the same run).
#
# The fund: BENCH_FUND_MEMBERS members (300) who paid each of the last BENCH_FUND_MONTHS Jalali
# months (24), seeded with examples/seed_members (the library's own writes), and this month's
# draw run through the API, so the page lists every member, one draw with its log, and the
# chart over two years.
#
#   bash bench/fund_page.sh        # ~4 min; results in $CARGO_TARGET_DIR/bench-results/fund-page-<time>/
#
# Knobs: BENCH_RUNS (3), BENCH_READ_SECONDS (8), BENCH_CONNS ("16 64"), BENCH_FUND_MEMBERS,
# BENCH_FUND_MONTHS, BENCH_FUND_MODES ("off local redis"), BENCH_SKIP_BUILD=1.
set -euo pipefail
BENCH_NAME=fund-page
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
READ_SECONDS="${BENCH_READ_SECONDS:-8}"
CONNS="${BENCH_CONNS:-16 64}"
MEMBERS="${BENCH_FUND_MEMBERS:-300}"
MONTHS="${BENCH_FUND_MONTHS:-24}"
MODES="${BENCH_FUND_MODES:-off local redis}"
WRK_THREADS=2
OUT="$CARGO_TARGET_DIR/bench-results/fund-page-$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$OUT/results.jsonl"
mkdir -p "$OUT/work" "$OUT/bin"
: >"$RESULTS"

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  say "building release (saghat, seed_members, constant_handler) in $CARGO_TARGET_DIR"
  (cd "$REPO_DIR" && cargo build --release -p saghat --bin saghat --example seed_members \
    --example constant_handler 2>&1 | tail -n 2) >&2
fi
snapshot_binaries "$OUT/bin"

pg_start || { say "PostgreSQL is not running"; exit 1; }
redis_start || { say "Redis is not running"; exit 1; }
DB=saghat_bench_fund_page
PREFIX="bench-fund-$$"
SERVER_PID=""
CONST_PID=""
cleanup() {
  stop_pid "$SERVER_PID"
  stop_pid "$CONST_PID"
  pg_drop_db "$DB"
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$PREFIX:*" |
    xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null 2>&1 || true
}
trap cleanup EXIT
pg_create_db "$DB"
URL="$(pg_url "$DB")"
PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"

load_now() {
  local la psi
  la="$(cut -d' ' -f1 /proc/loadavg)"
  psi="$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null)"
  echo "{\"loadavg\":$la,\"cpu_pressure_avg10\":${psi:-null}}"
}

# serve mode: a fresh server on the fund's database for `off`, `local` or `redis`.
serve() {
  local extra=()
  case "$1" in
    off) extra=(CACHE_TTL_SECONDS=0) ;;
    local) extra=() ;;
    redis) extra=(REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/0" REDIS_PREFIX="$PREFIX") ;;
  esac
  start_saghat SERVER_PID "$OUT/work" "$URL" "$PORT" "$OUT/work/server-$1.log" "${extra[@]}"
  wait_ready "$SERVER_PID" "$PORT" || { say "saghat did not start"; exit 1; }
}

# The fund: the first admin (first start), the members and their payments, the draw.
say "seeding $MEMBERS members x $MONTHS months on PostgreSQL"
serve off
stop_pid "$SERVER_PID"
"$SEED" --database-url "$URL" --now "$FAKE_NOW" --members "$MEMBERS" --pay-all \
  --months "$MONTHS" --password "$MEMBER_PASS" 2>&1 | sed 's/^/  /' >&2
psql "$URL" -qAtX -c ANALYZE
serve off
ADMIN_TOKEN="$(login_json "$BASE" "$ADMIN_USER" "$ADMIN_PASS" | json_field access_token)"
DRAW="$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 60 -X POST "$BASE/api/loans/start" \
  -H "authorization: Bearer $ADMIN_TOKEN")"
say "this month's draw: $DRAW"
MEMBER_TOKEN="$(login_json "$BASE" m000001 "$MEMBER_PASS" | json_field access_token)"
PAGE_BYTES="$(curl -s --noproxy '*' -H "cookie: saghat_session=$MEMBER_TOKEN" "$BASE/fund" | wc -c)"
say "the fund page: $PAGE_BYTES bytes"
stop_pid "$SERVER_PID"
SERVER_PID=""

CONST_PORT="$(free_port)"
"$CONSTANT" "127.0.0.1:$CONST_PORT" 2>"$OUT/work/constant.log" &
CONST_PID=$!
for _ in $(seq 1 100); do [ "$(http_code "http://127.0.0.1:$CONST_PORT/")" = 200 ] && break; sleep 0.05; done

# wrk_run kind mode run url conns [wrk args...]: one fixed-duration run; one JSON line.
wrk_run() {
  local kind="$1" mode="$2" run="$3" url="$4" conns="$5"
  shift 5
  local line
  line="$(wrk -t "$WRK_THREADS" -c "$conns" -d "${READ_SECONDS}s" --latency \
    -s "$BENCH_DIR/report.lua" "$@" "$url" | tail -n 1)"
  echo "{\"kind\":\"$kind\",\"mode\":\"$mode\",\"run\":$run,\"connections\":$conns,\"load\":$(load_now),\"result\":$line}" >>"$RESULTS"
  say "$kind $mode -c$conns (run $run): $line"
}

for run in $(seq 1 "$RUNS"); do
  for mode in $MODES; do
    serve "$mode"
    # Warm: the signed-in user and the figures cached (where they are).
    curl -s -o /dev/null --noproxy '*' -H "cookie: saghat_session=$MEMBER_TOKEN" "$BASE/fund"
    for conns in $CONNS; do
      wrk_run constant "$mode" "$run" "http://127.0.0.1:$CONST_PORT/" "$conns"
      wrk_run fund_page "$mode" "$run" "$BASE/fund" "$conns" -H "cookie: saghat_session=$MEMBER_TOKEN"
    done
    if [ "$mode" = redis ]; then
      kept="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$PREFIX:rc:fund:*" | wc -l)"
      echo "{\"kind\":\"redis_entries\",\"mode\":\"redis\",\"run\":$run,\"result\":{\"entries\":$kept}}" >>"$RESULTS"
      say "Redis entries of the fund page after the run: $kept"
    fi
    stop_pid "$SERVER_PID"
    SERVER_PID=""
  done
done

python3 - "$RESULTS" "$MEMBERS" "$MONTHS" "$PAGE_BYTES" >"$OUT/summary.md" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
members, months, page_bytes = sys.argv[2], sys.argv[3], sys.argv[4]
modes = {"off": "cache off (`CACHE_TTL_SECONDS=0`)", "local": "`REDIS_URL` unset (kept in the process)",
         "redis": "`REDIS_URL` set (kept in Redis)"}
def med(xs):
    return statistics.median(xs)
print(f"Fund: {members} members x {months} months paid, this month's draw; page {int(page_bytes):,} bytes.\n")
print("| cache | conns | runs | req/s median (min–max) | p50 ms | p99 ms | non-2xx | constant handler req/s (paired) | ratio to the paired constant run, median (min–max) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for mode in modes:
    for conns in sorted({r["connections"] for r in rows if r["kind"] == "fund_page"}):
        runs = [r for r in rows if r["kind"] == "fund_page" and r["mode"] == mode and r["connections"] == conns]
        if not runs:
            continue
        consts = {r["run"]: r for r in rows if r["kind"] == "constant" and r["mode"] == mode and r["connections"] == conns}
        rps = [r["result"]["rps"] for r in runs]
        ratios = [100 * r["result"]["rps"] / consts[r["run"]]["result"]["rps"] for r in runs]
        c = [consts[r["run"]]["result"]["rps"] for r in runs]
        print(f"| {modes[mode]} | {conns} | {len(runs)} | {med(rps):.0f} ({min(rps):.0f}–{max(rps):.0f}) | "
              f"{med([r['result']['p50_us'] for r in runs]) / 1000:.2f} | {med([r['result']['p99_us'] for r in runs]) / 1000:.2f} | "
              f"{sum(r['result']['non_2xx'] + r['result']['socket_errors'] for r in runs)} | {med(c):.0f} | "
              f"{med(ratios):.1f} ({min(ratios):.1f}–{max(ratios):.1f})% |")
loads = [r["load"]["loadavg"] for r in rows if "load" in r]
print(f"\n1-min load average during the runs: {min(loads)}–{max(loads)}.")
entries = [r["result"]["entries"] for r in rows if r["kind"] == "redis_entries"]
if entries:
    print(f"Redis entries of the fund page after each Redis run: {entries}.")
EOF
cat "$OUT/summary.md"
say "results in $OUT"
