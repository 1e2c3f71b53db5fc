#!/usr/bin/env bash
# The invoicing benchmark (issue 12, item 13), on PostgreSQL, each figure beside its target and
# the floor measured in the same run:
#
#   bash bench/invoicing.sh
#
# Builds release `crates/saghat/examples/invoicing_bench`, which migrates a fresh database, seeds
# BENCH_INVOICES invoices (1,000,000) of BENCH_CLIENTS clients (10,000) set-based, then times
#   list   invoicing::invoices::list, a page of 20 by keyset, unfiltered, with filters and 1,000
#          pages deep, BENCH_RUNS times each (300); target p99 < 30 ms; floor: as many SELECT 1
#   send   create_draft + send of 10-line invoices, BENCH_SENDS (400) by BENCH_CONCURRENCY (4)
#          tasks: invoices per second; then pgbench runs the same statements
#          (bench/invoice-send.pgbench.sql) with as many clients for BENCH_PGBENCH_SECONDS (20):
#          target ≥ 50 % of pgbench's rate
#   pdf    saghat_pdf::print::invoice_pdf of a sent 10-line invoice, BENCH_PDFS (100) times;
#          target p99 < 100 ms
# Results: $BENCH_OUT/results.jsonl and summary.md (printed).
set -uo pipefail
BENCH_NAME=invoicing
source "$(dirname "$0")/lib.sh"

INVOICES="${BENCH_INVOICES:-1000000}"
CLIENTS="${BENCH_CLIENTS:-10000}"
RUNS="${BENCH_RUNS:-300}"
SENDS="${BENCH_SENDS:-400}"
CONCURRENCY="${BENCH_CONCURRENCY:-4}"
PDFS="${BENCH_PDFS:-100}"
PGBENCH_SECONDS="${BENCH_PGBENCH_SECONDS:-20}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/invoicing-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
DB=saghat_bench_invoicing
trap 'pg_drop_db "$DB"' EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "building release invoicing_bench in $CARGO_TARGET_DIR"
  (cd "$REPO_DIR" && cargo build --release -p saghat --example invoicing_bench 2>&1 | tail -n 2) >&2
fi
pg_create_db "$DB" || exit 1
"$RELEASE/examples/invoicing_bench" \
  --database-url "$(pg_url "$DB")" \
  --invoices "$INVOICES" --clients "$CLIENTS" --runs "$RUNS" --sends "$SENDS" \
  --concurrency "$CONCURRENCY" --pdfs "$PDFS" \
  >"$RESULTS" || exit 1

say "pgbench: the same statements, $CONCURRENCY clients, ${PGBENCH_SECONDS}s"
pgbench -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -n -f "$BENCH_DIR/invoice-send.pgbench.sql" \
  -D nclients="$CLIENTS" -c "$CONCURRENCY" -j 2 -T "$PGBENCH_SECONDS" "$DB" >"$OUT/pgbench.txt" 2>&1 \
  || { cat "$OUT/pgbench.txt" >&2; exit 1; }
# One pgbench transaction file run is one invoice (its two transactions).
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/pgbench.txt" | head -1)
printf '{"figure": "pgbench: the same statements", "per_second": %s}\n' "$tps" >>"$RESULTS"

python3 - "$RESULTS" >"$OUT/summary.md" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| figure | runs | p50 ms | p99 ms | target p99 | p99 / target | floor p50 ms | p50 / floor |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if "p99_ms" in r:
        floor = f"{r['floor_p50_ms']:.2f}" if "floor_p50_ms" in r else "—"
        over = f"{r['p50_over_floor']:.1f}" if "p50_over_floor" in r else "—"
        print(f"| {r['figure']} | {r['runs']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['target_p99_ms']:.0f} ms | {r['p99_over_target']:.2f} | {floor} | {over} |")
send = next(r for r in rows if r["figure"].startswith("send"))
pg = next(r for r in rows if r["figure"].startswith("pgbench"))
print()
print("| figure | invoices / s | pgbench invoices / s | ratio | target |")
print("|---|---:|---:|---:|---:|")
print(f"| {send['figure']} ({send['concurrency']} at a time, {send['invoices']} invoices) | "
      f"{send['per_second']:.1f} | {pg['per_second']:.1f} | {send['per_second'] / pg['per_second']:.2f} | ≥ 0.50 |")
PY
cat "$OUT/summary.md"
