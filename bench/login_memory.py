#!/usr/bin/env python3
"""Peak memory of a `saghat serve` under N simultaneous logins (standard library only).

Starts the given binary on a fresh SQLite database, sends N logins of the first admin at the
same instant (N threads behind a barrier), probes /healthz meanwhile, and prints the answers by
status, the slowest /healthz, and the server's VmHWM (peak resident memory) from
/proc/PID/status before and after.

    cargo build --release --bin saghat
    python3 bench/login_memory.py target/release/saghat 500
    PASSWORD_HASH_CONCURRENCY=500 PASSWORD_HASH_QUEUE=0 python3 bench/login_memory.py target/release/saghat 500

The login limits are raised for the run (one account from one address), so every login reaches
password hashing; extra environment variables (PASSWORD_HASH_*) pass through to the server.
"""

import collections
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def request(port, method, path, body=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError as e:
        return f"error:{type(e).__name__}"
    finally:
        conn.close()


def main():
    binary, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500
    port = free_port()
    data = tempfile.mkdtemp(prefix="saghat-login-memory-")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "test",
        "SAGHAT_DATA_DIR": data,
        "DATABASE_URL": f"sqlite://{data}/saghat.db?mode=rwc",
        "SAGHAT_ADMIN_USERNAME": "admin",
        "SAGHAT_ADMIN_PASSWORD": "admin-password-1",
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": str(10 * n),
        "LOGIN_MAX_FAILURES_PER_IP": str(10 * n),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT_TOTAL": str(10 * n),
        "RUST_LOG": "warn",
    }
    for name in ("PASSWORD_HASH_CONCURRENCY", "PASSWORD_HASH_QUEUE"):
        if name in os.environ:
            env[name] = os.environ[name]
    server = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        started = time.time()
        while request(port, "GET", "/readyz", timeout=2) != 200:
            if time.time() - started > 30:
                raise SystemExit("server not ready in 30 s")
            time.sleep(0.1)
        # One login first, so one-off start-up allocations are not counted as the burst's.
        assert request(port, "POST", "/api/auth/login", {"username": "admin", "password": "admin-password-1"}) == 200
        before = vm_hwm_kib(server.pid)

        barrier = threading.Barrier(n + 1)
        statuses = [None] * n

        def login(i):
            barrier.wait()
            statuses[i] = request(port, "POST", "/api/auth/login",
                                  {"username": "admin", "password": "admin-password-1"})

        threads = [threading.Thread(target=login, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        barrier.wait()
        burst_started = time.time()
        slowest = 0.0
        while any(t.is_alive() for t in threads):
            t0 = time.time()
            request(port, "GET", "/healthz", timeout=30)
            slowest = max(slowest, time.time() - t0)
            time.sleep(0.02)
        for t in threads:
            t.join()
        elapsed = time.time() - burst_started
        after = vm_hwm_kib(server.pid)
        print(json.dumps({
            "logins": n,
            "statuses": dict(collections.Counter(str(s) for s in statuses)),
            "burst_seconds": round(elapsed, 2),
            "slowest_healthz_ms": round(slowest * 1000, 1),
            "vm_hwm_mib_before": round(before / 1024, 1),
            "vm_hwm_mib_after": round(after / 1024, 1),
            "env": {k: env[k] for k in ("PASSWORD_HASH_CONCURRENCY", "PASSWORD_HASH_QUEUE") if k in env},
            "cores": os.cpu_count(),
        }))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
