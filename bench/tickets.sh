#!/usr/bin/env bash
# The tickets benchmark (issue 11, item 10), on PostgreSQL, each figure beside the floor measured
# in the same run (the same number of `SELECT 1` round trips on the same pool) and the target:
#
#   bash bench/tickets.sh
#
# Builds release `crates/saghat/examples/tickets_bench`, which migrates a fresh database, seeds
# BENCH_TICKETS open tickets (100,000) of BENCH_BORROWERS borrowers (20,000) set-based, then times
#   queue       tickets::queue::list, the review queue by SLA deadline (count + first page of 20),
#               unfiltered and with three filters, BENCH_RUNS times each (300); target p99 < 50 ms
#   fraud       tickets::service::assess, the fraud rules' reads and evaluation on a new
#               application, BENCH_SUBMISSIONS times (300); target p99 < 5 ms
#   submission  tickets::service::submit, the whole committed submission (rules, flags, move,
#               audit, the lenders' notices), for scale
# Results: $BENCH_OUT/results.jsonl and summary.md (printed).
set -uo pipefail
BENCH_NAME=tickets
source "$(dirname "$0")/lib.sh"

TICKETS="${BENCH_TICKETS:-100000}"
BORROWERS="${BENCH_BORROWERS:-20000}"
RUNS="${BENCH_RUNS:-300}"
SUBMISSIONS="${BENCH_SUBMISSIONS:-300}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/tickets-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
DB=saghat_bench_tickets
trap 'pg_drop_db "$DB"' EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "building release tickets_bench in $CARGO_TARGET_DIR"
  (cd "$REPO_DIR" && cargo build --release -p saghat --example tickets_bench 2>&1 | tail -n 2) >&2
fi
pg_create_db "$DB" || exit 1
"$RELEASE/examples/tickets_bench" \
  --database-url "$(pg_url "$DB")" \
  --tickets "$TICKETS" --borrowers "$BORROWERS" --runs "$RUNS" --submissions "$SUBMISSIONS" \
  >"$RESULTS" || exit 1

python3 - "$RESULTS" >"$OUT/summary.md" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| figure | runs | p50 ms | p99 ms | target p99 | p99 / target | floor p50 ms | p50 / floor |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    target = r["target_p99_ms"]
    t = f"{target:.0f} ms" if target else "—"
    ratio = f"{r['p99_over_target']:.2f}" if r.get("p99_over_target") is not None else "—"
    print(f"| {r['figure']} | {r['runs']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {t} | {ratio} | {r['floor_p50_ms']:.2f} | {r['p50_over_floor']:.1f} |")
PY
cat "$OUT/summary.md"
