#!/usr/bin/env bash
# Several instances: three `saghat serve` on one PostgreSQL database and one Redis (REDIS_URL,
# the same REDIS_PREFIX), the load spread over all three (bench/driver.py multi), then the
# database itself. Prints PASS/FAIL per rule and ends with "N passed, M failed"; exits non-zero
# on a failure.
#
#   bash bench/multi-instance.sh            (BENCH_SKIP_BUILD=1 to use the built binary as is)
#
# Rules: members created on the three instances; concurrent payments, each member signing in on
# one instance and paying on another, then paying again on a third (409); exactly one payment per
# member in the database; three concurrent POST /api/loans/start on the three instances: exactly
# one 201 and one loan; a refresh token rotated on A and replayed on B is 401, and then the new
# token of the family is refused on C too, and the family's access token on all three; sign-out
# on A and the access token refused on B and C within one second; the rate-limit counter is one
# shared Redis key; `saghat ledger verify` passes. Everything on 127.0.0.1.
set -uo pipefail
BENCH_NAME=multi
source "$(dirname "$0")/lib.sh"

MEMBERS="${BENCH_MULTI_MEMBERS:-60}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/multi-$(date -u +%Y%m%dT%H%M%SZ)}"
WORK="$OUT/work"
mkdir -p "$WORK"
DB=saghat_bench_multi
PREFIX="bench-multi-$RANDOM$RANDOM"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  pg_drop_db "$DB"
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$PREFIX:*" 2>/dev/null |
    xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" del >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then build_release || { say "build failed"; exit 1; }; fi
snapshot_binaries "$OUT/bin"
pg_up || { say "PostgreSQL unreachable at $PG_HOST:$PG_PORT"; echo "0 passed, 1 failed"; exit 1; }
redis_up || { say "Redis unreachable at $REDIS_HOST:$REDIS_PORT"; echo "0 passed, 1 failed"; exit 1; }

pg_create_db "$DB"
URL="$(pg_url "$DB")"
BASES=()
for i in 0 1 2; do
  port="$(free_port)"
  # The limiter is on (counted in Redis) but high enough not to throttle the test.
  start_saghat pid "$WORK/i$i" "$URL" "$port" "$WORK/instance$i.log" \
    REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/" REDIS_PREFIX="$PREFIX" RATE_LIMIT_PER_MINUTE=1000000 \
    CACHE_TTL_SECONDS=5
  PIDS+=("$pid")
  BASES+=("http://127.0.0.1:$port")
done
for i in 0 1 2; do
  port="${BASES[$i]##*:}"
  if ! wait_ready "${PIDS[$i]}" "$port" 60; then
    say "instance $i did not become ready; its log:"
    tail -n 20 "$WORK/instance$i.log" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done
say "three instances: ${BASES[*]} (PostgreSQL $DB, Redis prefix $PREFIX)"

# The HTTP rules (they print their own PASS/FAIL lines).
python3 "$DRIVER" multi --bases "$(IFS=,; echo "${BASES[*]}")" --workdir "$WORK" --members "$MEMBERS" \
  --threads 12 | tee "$WORK/driver.out"
PASSED=$((PASSED + $(grep -c '^PASS' "$WORK/driver.out")))
FAILED=$((FAILED + $(grep -c '^FAIL' "$WORK/driver.out")))

# The database itself.
dup="$(psql "$URL" -qAtX -c "SELECT COUNT(*) FROM (SELECT user_id FROM payments GROUP BY user_id, jalali_year, jalali_month HAVING COUNT(*) > 1) d")"
members_paid="$(psql "$URL" -qAtX -c "SELECT COUNT(DISTINCT p.user_id) FROM payments p JOIN users u ON u.id = p.user_id WHERE u.username LIKE 'mi%'")"
payments="$(psql "$URL" -qAtX -c "SELECT COUNT(*) FROM payments")"
verdict "database: exactly one payment per member (no member-month twice; $MEMBERS members + the admin)" \
  "$([ "$dup" = 0 ] && [ "$members_paid" = "$MEMBERS" ] && [ "$payments" = $((MEMBERS + 1)) ] && echo 0 || echo 1)" \
  "$payments payments, $members_paid members paid, $dup duplicated member-months"
loans="$(psql "$URL" -qAtX -c "SELECT COUNT(*) FROM loans")"
verdict "database: exactly one draw (loan) for the month" "$([ "$loans" = 1 ] && echo 0 || echo 1)" "$loans loans"

# The per-address request counter is one key shared by the three instances.
keys="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$PREFIX:rl:*" | wc -l)"
count="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$PREFIX:rl:*" | head -n 1 | xargs -r redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" get)"
served=0
for i in 0 1 2; do
  n="$(grep -c '"message":"finished processing request"' "$WORK/instance$i.log")"
  h="$(grep '"message":"finished processing request"' "$WORK/instance$i.log" | grep -c -E '"path":"/(healthz|readyz)"')"
  served=$((served + n - h))
done
verdict "rate limits: one Redis counter for 127.0.0.1 counts the requests of all three instances" \
  "$([ "$keys" = 1 ] && [ "${count:-0}" -ge "$served" ] && echo 0 || echo 1)" \
  "$keys key(s), counter ${count:-none}, requests served by the three $served"

verify_rc=0
ledger_verify "$WORK" "$URL" >"$WORK/verify.log" 2>&1 || verify_rc=$?
verdict "saghat ledger verify passes" "$verify_rc" "exit $verify_rc"

errors="$(cat "$WORK"/instance*.log | grep -c '"level":"ERROR"')"
verdict "no ERROR in the three instances' logs" "$([ "$errors" = 0 ] && echo 0 || echo 1)" "$errors"
[ "$errors" = 0 ] || grep -h '"level":"ERROR"' "$WORK"/instance*.log | head -n 5 >&2

echo "multi-instance: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
