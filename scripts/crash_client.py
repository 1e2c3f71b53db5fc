#!/usr/bin/env python3
"""Load driver of scripts/crash-test.sh (Python 3 standard library only).

    crash_client.py bitpin --port PORT --workdir DIR [--tick 0.25]
    crash_client.py load --base http://127.0.0.1:PORT --workdir DIR [--members 60] [--threads 16]
    crash_client.py dbcheck --workdir DIR --payment-ids FILE

`bitpin` is a stand-in for the Bitpin API (the server runs with BITPIN_API_BASE_URL pointing at
it), on the original's contract (GET /v1/mch/payments/{id}/, Authorization: Token <key>): every
payment is completed, answered on the next tick of a clock (see cmd_bitpin).

`load` creates the members (as the admin from SAGHAT_ADMIN_USERNAME / SAGHAT_ADMIN_PASSWORD),
signs each in, then sends one POST /api/payments/pay per member from a thread pool, each with
its own Idempotency-Key and Bitpin payment id, written to DIR/plan.jsonl before it is sent.
When the first payment is on the wire it writes DIR/load-started; crash-test.sh then kill -9s
the server, restarts it, and writes the kill time to DIR/killed and the time the new server
answered /readyz to DIR/restarted. Every member whose request got no definitive answer
(connection refused / reset, timeout, a 5xx) is retried with the SAME key and the SAME body
bytes until it gets one (201 or a 4xx), bounded in attempts and time. Then it reads every
member's GET /api/payments/my-payments and checks:

  * every member that received 201 has exactly one payment, the one its 201 named;
  * every member without a 201 has none; the payments in total equal the 201s;
  * no 5xx outside the kill window [kill, restart ready + grace];
  * every member ended with 201 (each request is valid, so a 4xx is a server bug);
  * no replay before the kill (every key is new) and none without a lost earlier attempt;
  * the kill landed while payments were in flight (else the test proved nothing).

Every attempt is logged to DIR/attempts.jsonl (with its X-Request-Id, for the server log) and
the outcome to DIR/results.json. `dbcheck` compares the payment ids read from the database
after the server stopped with the 201s in results.json. Exit status: 0 pass, 1 a check failed,
2 the scenario could not run.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

REQUEST_TIMEOUT = 10.0  # seconds, per HTTP request
RETRY_PHASE_SECONDS = 60.0  # the whole retry phase
RETRY_MAX_ATTEMPTS = 200  # per member, in the retry phase
RESTART_WAIT_SECONDS = 60.0  # for crash-test.sh to say the server is back
KILL_WINDOW_GRACE = 2.0  # seconds after the restart during which a 5xx is still "the kill's"

# Only loopback: no proxy from the environment may see this traffic.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(msg):
    print(f"[driver] {msg}", flush=True)


class Result:
    """One HTTP attempt: a status (with body and headers) or a connection-level error."""

    def __init__(self, status=None, body=None, headers=None, error=None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.error = error  # "refused", "reset", "timeout", "other:<Class>"

    @property
    def definitive(self):
        return self.status is not None and self.status < 500 and not self.is_retry_conflict

    @property
    def is_retry_conflict(self):
        # 409 "A request with this Idempotency-Key is being processed; retry it": the server
        # itself says to retry, so it is not an answer.
        return (
            self.status == 409
            and isinstance(self.body, dict)
            and "being processed" in str(self.body.get("detail", ""))
        )


def classify(exc):
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(
        exc,
        (
            ConnectionResetError,
            BrokenPipeError,
            ConnectionAbortedError,
            http.client.RemoteDisconnected,
            http.client.BadStatusLine,
            http.client.IncompleteRead,
        ),
    ):
        return "reset"
    return f"other:{type(exc).__name__}:{exc}"


def request(base, method, path, body=None, token=None, headers=None, timeout=REQUEST_TIMEOUT):
    url = base + path
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", url
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
            status, hdrs = resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        try:
            raw = e.read()
        except Exception as read_err:  # the connection died while reading the error body
            return Result(error=classify(read_err))
        status, hdrs = e.code, {k.lower(): v for k, v in e.headers.items()}
    except Exception as e:  # connection-level: refused, reset, timeout, ...
        return Result(error=classify(e))
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Result(status=status, body=parsed, headers=hdrs)


def must(result, expected, what):
    if result.status != expected:
        raise SystemExit(
            f"[driver] setup failed: {what}: expected {expected}, got "
            f"{result.status or result.error}: {result.body}"
        )
    return result.body


class Recorder:
    """Appends JSON lines, thread-safe, flushed at once (they must survive anything)."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, record):
        with self.lock:
            self.file.write(json.dumps(record, sort_keys=True) + "\n")
            self.file.flush()


def read_time(path):
    try:
        with open(path, encoding="utf-8") as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return None


def wait_for_file(path, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path) and read_time(path) is not None:
            return read_time(path)
        time.sleep(0.05)
    return None


def cmd_load(args):
    base = args.base.rstrip("/")
    work = args.workdir
    admin_user = os.environ.get("SAGHAT_ADMIN_USERNAME")
    admin_pass = os.environ.get("SAGHAT_ADMIN_PASSWORD")
    if not admin_user or not admin_pass:
        raise SystemExit("[driver] SAGHAT_ADMIN_USERNAME / SAGHAT_ADMIN_PASSWORD are not set")
    run_id = args.run_id or uuid.uuid4().hex[:10]

    # --- setup: members, signed in --------------------------------------------------------
    t0 = time.monotonic()
    admin = must(
        request(base, "POST", "/api/auth/login", {"username": admin_user, "password": admin_pass}),
        200,
        "admin login",
    )["access_token"]
    names = [f"crash_{run_id}_{i:03d}" for i in range(args.members)]
    password = "crash-" + uuid.uuid4().hex

    def create_and_login(name):
        must(
            request(base, "POST", "/api/auth/users", {"username": name, "password": password}, admin),
            201,
            f"create {name}",
        )
        body = must(
            request(base, "POST", "/api/auth/login", {"username": name, "password": password}),
            200,
            f"login {name}",
        )
        return name, body["access_token"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        tokens = dict(pool.map(create_and_login, names))
    log(f"{len(tokens)} members created and signed in in {time.monotonic() - t0:.1f}s")

    # --- the plan: one payment per member, recorded before anything is sent ---------------
    plan = {}
    with open(os.path.join(work, "plan.jsonl"), "w", encoding="utf-8") as f:
        for name in names:
            bitpin = f"crash-{run_id}-{name}-{uuid.uuid4().hex[:8]}"
            body = json.dumps({"membership_fee": "20", "bitpin_payment_id": bitpin}).encode()
            plan[name] = {"key": f"crash-{uuid.uuid4()}", "bitpin": bitpin, "body": body}
            f.write(
                json.dumps({"member": name, "key": plan[name]["key"], "bitpin": bitpin}) + "\n"
            )
        f.flush()
        os.fsync(f.fileno())

    attempts_log = Recorder(os.path.join(work, "attempts.jsonl"))
    state_lock = threading.Lock()
    attempts = {name: [] for name in names}  # every attempt, in order
    final = {}  # member -> the definitive Result
    started_flag = os.path.join(work, "load-started")
    counter = {"sent": 0}

    def attempt(name, phase):
        p = plan[name]
        rid = f"crash-{run_id}-{name}-{len(attempts[name]) + 1}"
        with state_lock:
            counter["sent"] += 1
            first = counter["sent"] == 1
        if first:
            with open(started_flag + ".tmp", "w", encoding="utf-8") as f:
                f.write(f"{time.time():.6f}\n")
            os.replace(started_flag + ".tmp", started_flag)
        t_start = time.time()
        r = request(
            base,
            "POST",
            "/api/payments/pay",
            p["body"],
            tokens[name],
            {"Idempotency-Key": p["key"], "X-Request-Id": rid},
        )
        t_end = time.time()
        rec = {
            "member": name,
            "phase": phase,
            "request_id": rid,
            "start": t_start,
            "end": t_end,
            "status": r.status,
            "error": r.error,
            "replayed": r.headers.get("idempotent-replayed") == "true",
            "server_request_id": r.headers.get("x-request-id"),
            "payment_id": r.body.get("id") if r.status == 201 and isinstance(r.body, dict) else None,
            "detail": r.body.get("detail") if r.status and r.status >= 400 and isinstance(r.body, dict) else None,
        }
        attempts_log.write(rec)
        with state_lock:
            attempts[name].append(rec)
            if r.definitive:
                final[name] = rec
        return r

    # --- load: one request per member, 16 at a time, while the script kills the server ----
    order = list(names)
    random.shuffle(order)
    t_load = time.time()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(lambda n: attempt(n, "load"), order))
    log(f"load phase done in {time.time() - t_load:.2f}s: "
        f"{len(final)} definitive answers, {len(names) - len(final)} to retry")

    # --- retries: same key, same body bytes, until a definitive answer ------------------
    retry_deadline = time.monotonic() + RETRY_PHASE_SECONDS

    def retry(name):
        for _ in range(RETRY_MAX_ATTEMPTS):
            if name in final or time.monotonic() > retry_deadline:
                return
            r = attempt(name, "retry")
            if not r.definitive:
                time.sleep(0.2 + random.random() * 0.1)

    pending = [n for n in names if n not in final]
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(retry, pending))

    killed_at = wait_for_file(os.path.join(work, "killed"), RESTART_WAIT_SECONDS)
    restarted_at = wait_for_file(os.path.join(work, "restarted"), RESTART_WAIT_SECONDS)
    if killed_at is None or restarted_at is None:
        log("crash-test.sh never reported the kill and the restart")
        return 2
    # Requests after the restart (the retry phase may have finished before it, if every
    # request was answered): none pending now, so nothing more to send.

    # --- what the database says, through each member's own view --------------------------
    failures = []
    payments = {}

    def fetch(name):
        for _ in range(20):
            r = request(base, "GET", "/api/payments/my-payments", None, tokens[name])
            if r.status == 200:
                return name, r.body
            time.sleep(0.25)
        return name, r

    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        for name, got in pool.map(fetch, names):
            if isinstance(got, Result):
                failures.append(f"{name}: GET my-payments failed: {got.status or got.error} {got.body}")
            else:
                payments[name] = got

    all_attempts = [a for name in names for a in attempts[name]]
    created = {n: f for n, f in final.items() if f["status"] == 201}
    no_answer = [n for n in names if n not in final]
    non_201 = {n: f for n, f in final.items() if f["status"] != 201}

    for name in names:
        if name not in payments:
            continue
        mine = payments[name]
        if name in created:
            pid = created[name]["payment_id"]
            ids = [p.get("id") for p in mine]
            if ids != [pid]:
                failures.append(
                    f"{name}: got 201 with payment {pid} (request {created[name]['request_id']}), "
                    f"but my-payments lists {ids}"
                )
            elif mine[0].get("bitpin_payment_id") != plan[name]["bitpin"]:
                failures.append(f"{name}: payment {pid} has bitpin id {mine[0].get('bitpin_payment_id')}, sent {plan[name]['bitpin']}")
        elif mine:
            failures.append(
                f"{name}: no 201 (final {final.get(name, {}).get('status', 'no answer')}), "
                f"but my-payments lists {[p.get('id') for p in mine]}"
            )
    total_payments = sum(len(v) for v in payments.values())
    if total_payments != len(created):
        failures.append(f"payments in the database: {total_payments}, 201s received: {len(created)}")
    for name in no_answer:
        last = attempts[name][-1] if attempts[name] else {}
        failures.append(
            f"{name}: no definitive answer after {len(attempts[name])} attempts "
            f"(last: {last.get('status') or last.get('error')}, request {last.get('request_id')})"
        )
    for name, f in sorted(non_201.items()):
        failures.append(
            f"{name}: final answer {f['status']} {f['detail']!r} (request {f['request_id']}); "
            "every payment in this test is valid, so only 201 is right"
        )

    window_end = restarted_at + KILL_WINDOW_GRACE
    errors_5xx = [a for a in all_attempts if a["status"] and a["status"] >= 500]
    outside = [a for a in errors_5xx if not (killed_at <= a["end"] <= window_end)]
    for a in errors_5xx:
        where = "OUTSIDE the kill window" if a in outside else "in the kill window"
        log(f"5xx {where}: {a['member']} {a['status']} {a['detail']!r} request {a['request_id']}")
    for a in outside:
        failures.append(f"{a['member']}: {a['status']} outside the kill window (request {a['request_id']}, {a['detail']!r})")

    conn_errors = [a for a in all_attempts if a["error"]]
    by_kind = {}
    for a in conn_errors:
        kind = a["error"].split(":")[0]
        by_kind[kind] = by_kind.get(kind, 0) + 1
    # In flight at the kill: sent before it, and the connection died instead of answering.
    in_flight = [a for a in conn_errors if a["start"] < killed_at and a["error"] != "refused"]
    # ... and of those, the ones the gateway had already verified: they were in the database
    # phase (checks, insert, ledger posting, commit) when the server died.
    verified_at = {}
    try:
        with open(os.path.join(work, "bitpin.log"), encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 4 and fields[3] == "answered":
                    verified_at.setdefault(fields[2], []).append(float(fields[1]))
    except OSError:
        pass
    writing = [
        a for a in in_flight
        if any(a["start"] <= t <= killed_at for t in verified_at.get(plan[a["member"]]["bitpin"], []))
    ]
    answered_before_kill = sum(1 for a in all_attempts if a["status"] and a["end"] < killed_at)
    replays = [a for a in all_attempts if a["replayed"]]
    replays_after_restart = [a for a in replays if a["start"] >= killed_at]
    replays_before = [a for a in replays if a["start"] < killed_at]
    for a in replays_before:
        failures.append(f"{a['member']}: replayed before the kill, though the key was new (request {a['request_id']})")
    for a in replays_after_restart:
        earlier = [x for x in attempts[a["member"]] if x["start"] < a["start"]]
        if not earlier or any(x["status"] and x["status"] < 500 for x in earlier):
            failures.append(f"{a['member']}: replay {a['request_id']} without a lost earlier attempt")
    if not in_flight:
        failures.append(
            "the kill did not land while payments were in flight "
            f"({answered_before_kill} answered before it, none cut off): the test proved nothing"
        )

    summary = {
        "members": len(names),
        "created_201": len(created),
        "non_201": len(non_201),
        "no_answer": len(no_answer),
        "payments_in_db": total_payments,
        "answered_before_kill": answered_before_kill,
        "in_flight_at_kill": len(in_flight),
        "writing_at_kill": len(writing),
        "connection_errors": len(conn_errors),
        "connection_errors_by_kind": by_kind,
        "replays_after_restart": len(replays_after_restart),
        "retried_members": len(pending),
        "errors_5xx": len(errors_5xx),
        "errors_5xx_outside_kill_window": len(outside),
        "attempts": len(all_attempts),
        "restart_seconds": round(restarted_at - killed_at, 2),
    }
    with open(os.path.join(work, "results.json"), "w", encoding="utf-8") as f:
        json.dump(
            {
                "summary": summary,
                "created": {n: c["payment_id"] for n, c in created.items()},
                "failures": failures,
            },
            f,
            indent=1,
            sort_keys=True,
        )
    log(
        f"members {len(names)}, 201s {len(created)} ({len(replays_after_restart)} replayed after the restart), "
        f"payments in the API {total_payments}, answered before the kill {answered_before_kill}, "
        f"cut off in flight {len(in_flight)} ({len(writing)} past the gateway, writing), connection errors {len(conn_errors)} {by_kind}, "
        f"5xx {len(errors_5xx)} (outside the kill window {len(outside)}), "
        f"restart took {restarted_at - killed_at:.2f}s"
    )
    for a in replays_after_restart:
        log(f"replayed after the restart: {a['member']} payment {a['payment_id']} (request {a['request_id']})")
    for msg in failures:
        log(f"FAIL: {msg}")
    return 1 if failures else 0


def cmd_bitpin(args):
    """A stand-in for Bitpin on 127.0.0.1: every payment is completed and covers 20 USDT. It
    answers on a clock of ticks: a verification waits for the next tick, so the payments in
    flight go through the gateway together and then reach the database together; the kill
    is timed just after a tick to land while they write. It stops by itself after --lifetime."""
    import http.server

    tick = args.tick
    epoch = time.time()
    log_lock = threading.Lock()
    log_file = open(os.path.join(args.workdir, "bitpin.log"), "a", encoding="utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            # The original Saghat's Bitpin contract: GET /v1/mch/payments/{id}/ with
            # "Authorization: Token <key>", answering {id, amount, status, currency}.
            parts = self.path.strip("/").split("/")
            if len(parts) != 4 or parts[:3] != ["v1", "mch", "payments"]:
                self.send_response(404)
                self.end_headers()
                return
            if not self.headers.get("Authorization", "").startswith("Token "):
                self.send_response(401)
                self.end_headers()
                return
            arrived = time.time()
            next_tick = epoch + (int((arrived - epoch) / tick) + 1) * tick
            time.sleep(max(0.0, next_tick - time.time()))
            body = json.dumps({"id": urllib.parse.unquote(parts[3]), "status": "completed", "amount": "20", "currency": "USDT"}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                outcome = "answered"
            except OSError:  # saghat was killed while it waited
                outcome = "caller gone"
            with log_lock:
                log_file.write(f"{arrived:.6f} {time.time():.6f} {parts[3]} {outcome}\n")
                log_file.flush()

        def log_message(self, *_):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128  # a burst of verifications must not overflow the backlog

    server = Server(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    with open(os.path.join(args.workdir, "bitpin-clock.tmp"), "w", encoding="utf-8") as f:
        f.write(f"{epoch:.6f} {tick}\n")
    os.replace(os.path.join(args.workdir, "bitpin-clock.tmp"), os.path.join(args.workdir, "bitpin-clock"))
    server.timeout = 0.5
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        server.handle_request()
    return 0


def cmd_dbcheck(args):
    with open(os.path.join(args.workdir, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    with open(args.payment_ids, encoding="utf-8") as f:
        in_db = [line.strip() for line in f if line.strip()]
    created = sorted(str(v) for v in results["created"].values())
    problems = []
    dupes = sorted({i for i in in_db if in_db.count(i) > 1})
    if dupes:
        problems.append(f"payment ids more than once in the payments table: {dupes}")
    missing = sorted(set(created) - set(in_db))
    extra = sorted(set(in_db) - set(created))
    if missing:
        problems.append(f"201s whose payment is not in the payments table: {missing}")
    if extra:
        problems.append(f"payments in the table that no client got a 201 for: {extra}")
    for p in problems:
        log(f"FAIL (database): {p}")
    log(f"database: {len(in_db)} payments, {len(created)} 201s" + ("" if problems else ": the same set"))
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    load.add_argument("--base", required=True)
    load.add_argument("--workdir", required=True)
    load.add_argument("--members", type=int, default=60)
    load.add_argument("--threads", type=int, default=16)
    load.add_argument("--run-id")
    bitpin = sub.add_parser("bitpin")
    bitpin.add_argument("--port", type=int, required=True)
    bitpin.add_argument("--workdir", required=True)
    bitpin.add_argument("--tick", type=float, default=0.25)
    bitpin.add_argument("--lifetime", type=float, default=300.0)
    check = sub.add_parser("dbcheck")
    check.add_argument("--workdir", required=True)
    check.add_argument("--payment-ids", required=True)
    args = parser.parse_args()
    if args.command == "load":
        return cmd_load(args)
    if args.command == "bitpin":
        return cmd_bitpin(args)
    return cmd_dbcheck(args)


if __name__ == "__main__":
    sys.exit(main())
