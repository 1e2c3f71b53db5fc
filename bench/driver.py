#!/usr/bin/env python3
"""HTTP helper of bench/*.sh (Python 3 standard library only; loopback only, every loop bounded).

    driver.py create-members --base URL --prefix P --count N [--threads 8] --out FILE
        Creates members through POST /api/auth/users as the bench admin; writes their names.
    driver.py multi --bases URL,URL,URL --workdir DIR [--members 60] [--threads 12]
        The several-instance rules (bench/multi-instance.sh); prints PASS/FAIL lines.
    driver.py pay-load --base URL --tokens FILE --seconds S --out FILE [--threads 8]
        Payments (and reads) during a fault; records every status and how long each took.
    driver.py summarize-pay-load --in FILE --timeout T
        Checks a pay-load record: no 5xx but 503, every 503 has a JSON detail, none slower than T.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

ADMIN_USER = "benchadmin"
ADMIN_PASS = "bench-admin-password-0123"
MEMBER_PASS = "bench-member-password-0123"


class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 (reconnects when needed)."""

    def __init__(self, base, timeout=30.0):
        url = urllib.parse.urlparse(base)
        assert url.hostname in ("127.0.0.1", "localhost"), "bench traffic stays on loopback"
        self.host, self.port, self.timeout = url.hostname, url.port, timeout
        self.conn = None

    def request(self, method, path, body=None, token=None, headers=None):
        """(status, parsed JSON body or None, raw text, seconds); status 0 on a connection error."""
        hdrs = {"Content-Type": "application/json"}
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read().decode("utf-8", "replace")
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                return resp.status, parsed, raw, time.monotonic() - started
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A kept-alive connection the server closed: retry once on a fresh one.
                if attempt == 2 or isinstance(e, TimeoutError):
                    return 0, None, f"{type(e).__name__}: {e}", time.monotonic() - started
        return 0, None, "unreachable", time.monotonic() - started

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None


def login(base, username, password):
    status, body, raw, _ = Client(base).request("POST", "/api/auth/login", {"username": username, "password": password})
    if status != 200:
        raise RuntimeError(f"login {username} on {base}: {status} {raw[:200]}")
    return body


def log(msg):
    print(f"[driver] {msg}", file=sys.stderr, flush=True)


# --- create-members ---------------------------------------------------------------------------

def cmd_create_members(args):
    admin = login(args.base, ADMIN_USER, ADMIN_PASS)["access_token"]
    names = [f"{args.prefix}{i:06d}" for i in range(1, args.count + 1)]
    local = threading.local()
    failures = []

    def create(name):
        if not hasattr(local, "client"):
            local.client = Client(args.base)
        status, _, raw, _ = local.client.request(
            "POST", "/api/auth/users",
            {"username": name, "password": MEMBER_PASS, "loan_request_amount": "20"}, token=admin)
        if status not in (200, 201):
            failures.append(f"{name}: {status} {raw[:200]}")

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(create, names))
    took = time.monotonic() - started
    if failures:
        log(f"create-members: {len(failures)} failed, e.g. {failures[:3]}")
        return 1
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    log(f"created {len(names)} members through the API in {took:.1f} s ({len(names) / took:.1f}/s)")
    print(json.dumps({"members": len(names), "seconds": round(took, 3), "per_second": round(len(names) / took, 1)}))
    return 0


# --- multi ------------------------------------------------------------------------------------

def verdict(results, rule, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {rule}{f' ({detail})' if detail else ''}", flush=True)


def cmd_multi(args):
    bases = args.bases.split(",")
    assert len(bases) >= 3
    results = []
    admin_login = login(bases[0], ADMIN_USER, ADMIN_PASS)
    admin = admin_login["access_token"]

    # 1. Members created on the instances in turn; then each signs in on one instance and pays
    #    on another, all at once (each member exactly once; more client threads than cores).
    names = [f"mi{i:04d}" for i in range(1, args.members + 1)]

    def create(i_name):
        i, name = i_name
        c = Client(bases[i % 3])
        return c.request("POST", "/api/auth/users",
                         {"username": name, "password": MEMBER_PASS, "loan_request_amount": "20"}, token=admin)[0]

    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        created = list(pool.map(create, enumerate(names)))
    verdict(results, f"{len(names)} members created across the three instances", all(s == 201 for s in created),
            f"statuses {sorted(set(created))}")

    def sign_in(i_name):
        i, name = i_name
        return login(bases[(i + 1) % 3], name, MEMBER_PASS)["access_token"]

    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        tokens = list(pool.map(sign_in, enumerate(names)))

    def pay(i_token):
        i, token = i_token
        c = Client(bases[(i + 2) % 3])
        status, body, raw, _ = c.request("POST", "/api/payments/pay",
                                         {"membership_fee": "20", "bitpin_payment_id": f"multi-{i}"}, token=token)
        # The same member again, on yet another instance, with another gateway id: must be 409.
        again, _, _, _ = Client(bases[i % 3]).request(
            "POST", "/api/payments/pay", {"membership_fee": "20", "bitpin_payment_id": f"multi-{i}-again"}, token=token)
        return status, again

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        paid = list(pool.map(pay, enumerate(tokens)))
    took = time.monotonic() - started
    firsts = [p[0] for p in paid]
    seconds = [p[1] for p in paid]
    verdict(results, "every member's payment answered 201 (spread over the three instances)",
            all(s == 201 for s in firsts), f"statuses {sorted(set(firsts))}, {len(paid)} members in {took:.1f} s")
    verdict(results, "a second payment by the same member on another instance is 409",
            all(s == 409 for s in seconds), f"statuses {sorted(set(seconds))}")

    # The admin pays too, so the draw can run.
    status, _, raw, _ = Client(bases[1]).request("POST", "/api/payments/pay",
                                                 {"membership_fee": "20", "bitpin_payment_id": "multi-admin"}, token=admin)
    verdict(results, "the admin's payment answered 201", status == 201, f"{status} {raw[:120] if status != 201 else ''}")
    with open(os.path.join(args.workdir, "multi-members.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")

    # 2. The draw, started at the same moment on the three instances, by three callers.
    callers = [admin, tokens[0], tokens[1]]
    barrier = threading.Barrier(3)

    def start_draw(i):
        c = Client(bases[i])
        c.request("GET", "/healthz")  # connect first, so the three POSTs leave together
        barrier.wait(timeout=30)
        return c.request("POST", "/api/loans/start", token=callers[i])[:3]

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        draws = list(pool.map(start_draw, range(3)))
    statuses = sorted(d[0] for d in draws)
    verdict(results, "three concurrent POST /api/loans/start on three instances: exactly one 201, two 409",
            statuses == [201, 409, 409], f"statuses {statuses}")

    # 3. Refresh-token reuse across instances.
    member = login(bases[0], names[2], MEMBER_PASS)
    old_refresh = member["refresh_token"]
    s, rotated, raw, _ = Client(bases[0]).request("POST", "/api/auth/refresh", {"refresh_token": old_refresh})
    ok = s == 200 and rotated and rotated.get("refresh_token")
    verdict(results, "refresh on instance A rotates the token", bool(ok), f"{s}")
    if ok:
        s_replay, _, _, _ = Client(bases[1]).request("POST", "/api/auth/refresh", {"refresh_token": old_refresh})
        verdict(results, "the old refresh token replayed on instance B is 401", s_replay == 401, f"{s_replay}")
        s_new, _, _, _ = Client(bases[2]).request("POST", "/api/auth/refresh", {"refresh_token": rotated["refresh_token"]})
        verdict(results, "after the replay, the new token of the same family is refused on instance C (401)",
                s_new == 401, f"{s_new}")
        # The family's access token (issued by the rotation) is refused everywhere too, within 1 s.
        deadline = time.monotonic() + 1.0
        refused = []
        while time.monotonic() < deadline:
            refused = [Client(b).request("GET", "/api/auth/me", token=rotated["access_token"])[0] for b in bases]
            if all(x == 401 for x in refused):
                break
            time.sleep(0.05)
        verdict(results, "the revoked family's access token is refused on A, B and C within 1 s",
                all(x == 401 for x in refused), f"{refused}")

    # 4. Sign-out on A: the access token is refused on B and C within a second.
    member = login(bases[1], names[3], MEMBER_PASS)
    before = [Client(b).request("GET", "/api/auth/me", token=member["access_token"])[0] for b in bases]
    verdict(results, "a fresh access token works on A, B and C", all(x == 200 for x in before), f"{before}")
    s_out, _, _, _ = Client(bases[0]).request("POST", "/api/auth/logout", {"refresh_token": member["refresh_token"]})
    signed_out_at = time.monotonic()
    after, took_ms = [], None
    while time.monotonic() - signed_out_at < 1.0:
        after = [Client(b).request("GET", "/api/auth/me", token=member["access_token"])[0] for b in bases[1:]]
        if all(x == 401 for x in after):
            took_ms = (time.monotonic() - signed_out_at) * 1000
            break
        time.sleep(0.02)
    verdict(results, "sign-out on A (204) and the access token is refused on B and C within 1 s",
            s_out == 204 and took_ms is not None,
            f"logout {s_out}, B/C {after}" + (f", refused after {took_ms:.0f} ms" if took_ms is not None else ""))

    passed = sum(1 for r in results if r)
    with open(os.path.join(args.workdir, "multi-result.json"), "w", encoding="utf-8") as f:
        json.dump({"passed": passed, "failed": len(results) - passed, "members": len(names),
                   "payments_seconds": round(took, 3)}, f)
    return 0 if passed == len(results) else 1


# --- pay-load (faults) ------------------------------------------------------------------------

def cmd_pay_load(args):
    with open(args.tokens, encoding="utf-8") as f:
        tokens = [line.strip() for line in f if line.strip()]
    random.shuffle(tokens)
    lock = threading.Lock()
    records = []
    deadline = time.monotonic() + args.seconds
    queue = list(enumerate(tokens))

    def worker(n):
        c = Client(args.base, timeout=args.client_timeout)
        next_pay = time.monotonic()
        while time.monotonic() < deadline:
            item = None
            # Payments are paced (one per thread every --pay-every seconds) so that some are in
            # flight whenever the fault happens; /api/auth/me reads fill the time between.
            if time.monotonic() >= next_pay:
                with lock:
                    if queue:
                        item = queue.pop()
                next_pay = time.monotonic() + args.pay_every
            if item is None:
                # Tokens used up: keep reading instead (authenticated, hits the database).
                status, body, raw, took = c.request("GET", "/api/auth/me", token=tokens[n % len(tokens)])
                kind = "me"
            else:
                i, token = item
                status, body, raw, took = c.request(
                    "POST", "/api/payments/pay",
                    {"membership_fee": "20", "bitpin_payment_id": f"fault-{args.tag}-{i}"}, token=token)
                kind = "pay"
            with lock:
                records.append({"t": time.time(), "kind": kind, "status": status, "seconds": round(took, 4),
                                "detail": body.get("detail") if isinstance(body, dict) else None,
                                "raw": raw[:200] if status >= 500 or status == 0 else ""})
            if status in (0, 503):
                time.sleep(0.05)  # an honest client backs off a little

    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(worker, range(args.threads)))
    with open(args.out, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return 0


def cmd_summarize(args):
    with open(args.input, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    by_status = {}
    for r in records:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    slowest = max((r["seconds"] for r in records), default=0)
    bad_5xx = [r for r in records if r["status"] >= 500 and r["status"] != 503]
    no_detail = [r for r in records if r["status"] == 503 and not isinstance(r.get("detail"), str)]
    pay_status = {}
    for r in records:
        if r["kind"] == "pay":
            pay_status[r["status"]] = pay_status.get(r["status"], 0) + 1
    print(json.dumps({"requests": len(records), "by_status": by_status, "payments_by_status": pay_status,
                      "slowest_seconds": slowest,
                      "non_503_5xx": len(bad_5xx), "503_without_detail": len(no_detail),
                      "connection_errors": by_status.get(0, 0),
                      "details_503": sorted({r["detail"] for r in records if r["status"] == 503 and r.get("detail")})}))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("create-members")
    c.add_argument("--base", required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--threads", type=int, default=8)
    c.add_argument("--out", required=True)
    m = sub.add_parser("multi")
    m.add_argument("--bases", required=True)
    m.add_argument("--workdir", required=True)
    m.add_argument("--members", type=int, default=60)
    m.add_argument("--threads", type=int, default=12)
    pl = sub.add_parser("pay-load")
    pl.add_argument("--base", required=True)
    pl.add_argument("--tokens", required=True)
    pl.add_argument("--seconds", type=float, required=True)
    pl.add_argument("--out", required=True)
    pl.add_argument("--threads", type=int, default=8)
    pl.add_argument("--tag", default="x")
    pl.add_argument("--client-timeout", type=float, default=60.0)
    pl.add_argument("--pay-every", type=float, default=0.0)
    s = sub.add_parser("summarize-pay-load")
    s.add_argument("--in", dest="input", required=True)
    args = p.parse_args()
    return {"create-members": cmd_create_members, "multi": cmd_multi, "pay-load": cmd_pay_load,
            "summarize-pay-load": cmd_summarize}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
