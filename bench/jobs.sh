#!/usr/bin/env bash
# The job queue's benchmark (issue 10, item 5), each figure beside its limit measured in the same
# run on this machine:
#
#   bash bench/jobs.sh
#
# Builds release `crates/worker/examples/queue_bench` (jobs enqueued with
# saghat_core::jobs::enqueue, worked by saghat_worker::client, as in production), then:
#   throughput  no-op jobs/s on PostgreSQL with 1 and with 3 worker processes: N jobs enqueued
#               first, then the processes started and timed from River's first claim
#               (min attempted_at) to its last completion (max finalized_at); each job's runs
#               counted across the processes (none may run twice). Right before each, the limit:
#               pgbench -M prepared running River's own claim statement (bench/jobs-claim.pgbench.sql)
#               with as many clients as worker processes and LIMIT = the worker's concurrency,
#               against a table pre-filled with available jobs, claiming as many jobs as the
#               drain runs. Several worker settings (BENCH_JOBS_SETTINGS), production's first.
#   latency     enqueue-to-start p50/p99 with the worker idle, one job at a time in its own
#               committed transaction (River's LISTEN/NOTIFY insert notification on PostgreSQL,
#               its river_notification row on SQLite)
#   e-mail      e-mails/s into aiosmtpd through saghat_core::notify::smtp::SmtpSender (text +
#               HTML, Persian), 1 and 8 in flight, beside Python's smtplib sending the same
#               way (a connection per message, as lettre without a pool) = the server's limit
#
# Knobs: BENCH_RUNS (2), BENCH_JOBS (20000 jobs per drain; production's settings drain
# BENCH_JOBS_DEFAULT jobs, 3000, as they run ~50/s), BENCH_JOBS_SETTINGS ("10:100 100:100 10:10 10:1
# 100:10 100:1", concurrency:fetch-cooldown-ms, production's 10:100 first),
# BENCH_LATENCY_JOBS (200), BENCH_EMAILS (500), BENCH_SKIP_BUILD=1, BENCH_OUT.
# Results: $BENCH_OUT/results.jsonl and summary.md (printed).
set -uo pipefail
BENCH_NAME=jobs
source "$(dirname "$0")/lib.sh"

RUNS="${BENCH_RUNS:-2}"
JOBS="${BENCH_JOBS:-20000}"
JOBS_DEFAULT="${BENCH_JOBS_DEFAULT:-3000}"
SETTINGS="${BENCH_JOBS_SETTINGS:-10:100 100:100 10:10 10:1 100:10 100:1}"
LATENCY_JOBS="${BENCH_LATENCY_JOBS:-200}"
EMAILS="${BENCH_EMAILS:-500}"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/jobs-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT/work"
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
QB="$RELEASE/examples/queue_bench"
PYTHON=/usr/bin/python3

DRAIN_DB=saghat_bench_jobs
CLAIM_DB=saghat_bench_jobs_claim
SMTP_PID=""
cleanup() {
  stop_pid "$SMTP_PID"
  pg_drop_db "$DRAIN_DB"
  pg_drop_db "$CLAIM_DB"
  rm -rf "$OUT/work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

emit() { echo "$1" >>"$RESULTS"; }
load_now() {
  local psi
  psi="$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null)"
  echo "{\"loadavg\":$(cut -d' ' -f1 /proc/loadavg),\"cpu_pressure_avg10\":${psi:-null}}"
}
# with_load json: the JSON object with the machine's load added.
with_load() { echo "${1%\}},\"load\":$(load_now)}"; }

if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  say "building release examples/queue_bench in $CARGO_TARGET_DIR"
  (cd "$REPO_DIR" && cargo build --release -p saghat-worker --example queue_bench 2>&1 | tail -n 2) >&2
fi
[ -x "$QB" ] || { say "no $QB"; exit 1; }
mkdir -p "$OUT/bin" && cp "$QB" "$OUT/bin/" && QB="$OUT/bin/queue_bench"
pg_up || { say "PostgreSQL unreachable at $PG_HOST:$PG_PORT"; exit 1; }
$PYTHON -c 'import aiosmtpd' 2>/dev/null || { say "no aiosmtpd (apt-get install python3-aiosmtpd)"; exit 1; }

{
  echo "date: $(date -u +%FT%TZ)"
  echo "command: bash bench/jobs.sh (BENCH_RUNS=$RUNS BENCH_JOBS=$JOBS BENCH_JOBS_DEFAULT=$JOBS_DEFAULT BENCH_JOBS_SETTINGS=\"$SETTINGS\")"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "rustc: $(rustc --version)"
  echo "postgres: $(psql_admin -c 'SHOW server_version')"
  echo "pgbench: $(pgbench --version)"
  echo "riverqueue: $(grep -A1 'name = "riverqueue"' "$REPO_DIR/Cargo.lock" | sed -n 's/version = "\(.*\)"/\1/p')"
  echo "aiosmtpd: $($PYTHON -c 'import aiosmtpd; print(aiosmtpd.__version__)')"
  echo "saghat: $(git -C "$REPO_DIR" rev-parse --short HEAD)$(git -C "$REPO_DIR" diff --quiet -- crates || echo ' (+ uncommitted changes)')"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

pg_create_db "$DRAIN_DB"
pg_create_db "$CLAIM_DB"
"$QB" prepare --url "$(pg_url "$DRAIN_DB")" >/dev/null || exit 1
"$QB" prepare --url "$(pg_url "$CLAIM_DB")" >/dev/null || exit 1

# ceiling pair clients limit jobs: River's claim under pgbench, claiming `jobs` jobs in all.
ceiling() {
  local pair="$1" clients="$2" limit="$3" jobs="$4" url out tps per lat failed claimed
  url="$(pg_url "$CLAIM_DB")"
  per=$(((jobs + clients * limit - 1) / (clients * limit)))
  psql "$url" -qAtX -c "TRUNCATE river_job" \
    -c "INSERT INTO river_job (args, kind, max_attempts, queue, state) SELECT '{}'::jsonb, 'bench_noop', 10, 'default', 'available' FROM generate_series(1, $((clients * limit * per + 1000)))" \
    -c "VACUUM ANALYZE river_job" >/dev/null
  out="$(pgbench -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -n -M prepared -f "$BENCH_DIR/jobs-claim.pgbench.sql" \
    -D queue=default -D limit="$limit" -D max_attempted_by=100 -c "$clients" -j "$clients" -t "$per" "$CLAIM_DB" 2>&1)"
  tps="$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
  lat="$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')"
  failed="$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')"
  claimed="$(psql "$url" -qAtX -c "SELECT count(*) FROM river_job WHERE state = 'running'")"
  emit "$(with_load "{\"kind\":\"ceiling\",\"pair\":\"$pair\",\"clients\":$clients,\"limit\":$limit,\"transactions\":$((clients * per)),\"claimed\":${claimed:-0},\"tps\":${tps:-0},\"jobs_per_s\":$(awk "BEGIN {print ${tps:-0} * $limit}"),\"latency_avg_ms\":${lat:-0},\"failed\":${failed:-0}}")"
  say "ceiling -c$clients LIMIT $limit: $tps tps = $(awk "BEGIN {printf \"%d\", ${tps:-0} * $limit}") jobs/s claimed ($claimed rows)"
}

# --- throughput -------------------------------------------------------------------------------
for run in $(seq 1 "$RUNS"); do
  for setting in $SETTINGS; do
    concurrency="${setting%%:*}"
    cooldown="${setting##*:}"
    extra=(--concurrency "$concurrency")
    [ "$cooldown" = 100 ] || extra+=(--fetch-cooldown-ms "$cooldown")
    n="$JOBS"
    [ "$setting" = "10:100" ] && n="$JOBS_DEFAULT"
    for processes in 1 3; do
      pair="r$run-c$concurrency-f$cooldown-p$processes"
      ceiling "$pair" "$processes" "$concurrency" "$n"
      line="$("$QB" drain --url "$(pg_url "$DRAIN_DB")" --count "$n" --processes "$processes" --dir "$OUT/work" "${extra[@]}")"
      if [ -z "$line" ]; then line='{"mode":"drain","error":"no result"}'; fi
      emit "$(with_load "${line%\}},\"kind\":\"drain\",\"pair\":\"$pair\"}")"
      say "drain $processes process(es), concurrency $concurrency, cooldown ${cooldown} ms: $line"
    done
  done
done

# --- latency ----------------------------------------------------------------------------------
line="$("$QB" latency --url "$(pg_url "$DRAIN_DB")" --count "$LATENCY_JOBS")"
emit "$(with_load "${line%\}},\"kind\":\"latency\"}")"
say "latency postgres: $line"
SQLITE_FILE="$OUT/work/latency.db"
"$QB" prepare --url "sqlite://$SQLITE_FILE?mode=rwc" >/dev/null || exit 1
line="$("$QB" latency --url "sqlite://$SQLITE_FILE" --count "$((LATENCY_JOBS / 2))")"
emit "$(with_load "${line%\}},\"kind\":\"latency\"}")"
say "latency sqlite: $line"

# --- e-mail -----------------------------------------------------------------------------------
SMTP_PORT="$(free_port)"
MAILDIR="$OUT/work/maildir"
$PYTHON -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" \
  >"$OUT/work/aiosmtpd.log" 2>&1 &
SMTP_PID=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && break
  sleep 0.1
done
delivered() { find "$MAILDIR/new" -type f 2>/dev/null | wc -l; }
# The server's limit for the same conversation: smtplib, a connection per message.
smtp_limit() {
  local threads="$1" before after
  before="$(delivered)"
  line="$($PYTHON - "$SMTP_PORT" "$EMAILS" "$threads" <<'EOF'
import smtplib, sys, time, threading
from email.message import EmailMessage
port, count, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
msg = EmailMessage()
msg["From"], msg["To"], msg["Subject"] = "saghat@example.com", "member@example.com", "پرداخت شما ثبت شد"
msg.set_content("سلام علی،\nپرداخت ۱٬۰۰۰٬۰۰۰ تومانی شما ثبت شد.\n")
msg.add_alternative('<p dir="rtl">سلام علی،<br>پرداخت <b>۱٬۰۰۰٬۰۰۰</b> تومانی شما ثبت شد.</p>', subtype="html")
data = msg.as_bytes()
left = [count]
lock = threading.Lock()
def send():
    while True:
        with lock:
            if left[0] == 0:
                return
            left[0] -= 1
        with smtplib.SMTP("127.0.0.1", port) as s:
            s.sendmail("saghat@example.com", ["member@example.com"], data)
t = time.monotonic()
ts = [threading.Thread(target=send) for _ in range(threads)]
[x.start() for x in ts]
[x.join() for x in ts]
s = time.monotonic() - t
print('{"mode":"smtp_limit","emails":%d,"concurrency":%d,"seconds":%f,"emails_per_s":%f}' % (count, threads, s, count / s))
EOF
)"
  after="$(delivered)"
  emit "$(with_load "${line%\}},\"kind\":\"smtp_limit\",\"delivered\":$((after - before))}")"
  say "smtplib ($threads threads): $line, delivered $((after - before))"
}
smtp_sender() {
  local conc="$1" before after
  before="$(delivered)"
  line="$("$QB" smtp --port "$SMTP_PORT" --count "$EMAILS" --concurrency "$conc")"
  after="$(delivered)"
  emit "$(with_load "${line%\}},\"kind\":\"smtp\",\"delivered\":$((after - before))}")"
  say "SmtpSender ($conc in flight): $line, delivered $((after - before))"
}
for run in $(seq 1 "$RUNS"); do
  for conc in 1 8; do
    smtp_limit "$conc"
    smtp_sender "$conc"
  done
done

$PYTHON "$BENCH_DIR/jobs_summary.py" "$RESULTS" "$OUT/machine.txt" >"$OUT/summary.md"
cat "$OUT/summary.md"
say "results: $RESULTS, $OUT/summary.md"
