#!/usr/bin/env bash
# The reports benchmark (issue 14, item 7), on PostgreSQL, each figure beside its target and the
# floor measured in the same run:
#
#   bash bench/reports.sh
#
# Builds release `crates/saghat/examples/reports_bench`, which migrates a fresh database, seeds
# BENCH_INVOICES invoices (1,000,000) of BENCH_CLIENTS clients (10,000) with taxes and payments,
# BENCH_MEMBERS fund members (100,000) paying each of BENCH_MONTHS Jalali months (24) with the
# ledger's entries, and BENCH_TICKETS tickets (100,000) with history and installments, then times
# each report's figures BENCH_RUNS times (20; target p99 < 1 s; floor: as many SELECT 1 as the
# report makes queries), a member's statement, and the register of every sent invoice (950,000 of
# the million) written as XLSX by the export job's own work, with the process's peak memory
# before and after.
# Results: $BENCH_OUT/results.jsonl and summary.md (printed).
set -uo pipefail
BENCH_NAME=reports
source "$(dirname "$0")/lib.sh"

OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/reports-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
DB=saghat_bench_reports
trap 'pg_drop_db "$DB"' EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "building release reports_bench in $CARGO_TARGET_DIR"
  (cd "$REPO_DIR" && cargo build --release -p saghat --example reports_bench 2>&1 | tail -n 2) >&2
fi
pg_create_db "$DB" || exit 1
"$RELEASE/examples/reports_bench" \
  --database-url "$(pg_url "$DB")" \
  --invoices "${BENCH_INVOICES:-1000000}" --clients "${BENCH_CLIENTS:-10000}" \
  --members "${BENCH_MEMBERS:-100000}" --months "${BENCH_MONTHS:-24}" \
  --tickets "${BENCH_TICKETS:-100000}" --runs "${BENCH_RUNS:-20}" \
  >"$RESULTS" || exit 1

python3 - "$RESULTS" >"$OUT/summary.md" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| figure | runs | p50 ms | p99 ms | target p99 | p99 / target | floor p50 ms | p50 / floor |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if "p99_ms" in r:
        print(f"| {r['figure']} | {r['runs']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['target_p99_ms']:.0f} ms | {r['p99_over_target']:.2f} | {r['floor_p50_ms']:.2f} | {r['p50_over_floor']:.0f} |")
for r in rows:
    if "peak_kib_after" in r:
        print()
        print("| figure | seconds | file MiB | peak RSS before MiB | peak RSS after MiB |")
        print("|---|---:|---:|---:|---:|")
        print(f"| {r['figure']} | {r['seconds']:.1f} | {r['bytes'] / 2**20:.1f} | "
              f"{r['peak_kib_before'] / 1024:.1f} | {r['peak_kib_after'] / 1024:.1f} |")
PY
cat "$OUT/summary.md"
