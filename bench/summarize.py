#!/usr/bin/env python3
"""Turns bench/run.sh's results.jsonl into Markdown tables: medians with min–max over the runs,
and each figure's ratio to its limit measured in the same run.

    python3 bench/summarize.py results.jsonl [machine.txt]
"""

import json
import statistics
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def med(values):
    return statistics.median(values) if values else float("nan")


def spread(values, fmt="{:.0f}"):
    if not values:
        return "–"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(med(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def ms(us):
    return us / 1000.0


def main():
    rows = load(sys.argv[1])
    out = []
    if len(sys.argv) > 2:
        out.append("```")
        out.append(open(sys.argv[2], encoding="utf-8").read().rstrip())
        out.append("```")
        out.append("")
    by = lambda kind: [r for r in rows if r["kind"] == kind]

    # Limits.
    pairs = {}
    for r in rows:
        if r.get("pair"):
            pairs.setdefault(r["pair"], {})[r["kind"]] = r
    constant = {c: [r["result"] for r in by("constant") if r["connections"] == c] for c in (16, 64)}
    pg = [r["result"]["tps"] for r in by("pgbench_payment")]
    pg_full = [r["result"]["tps"] for r in by("pgbench_payment-full")]
    pressure = [r["load"]["cpu_pressure_avg10"] for r in rows if r.get("load") and r["load"].get("cpu_pressure_avg10") is not None]
    loads = [r["load"]["loadavg"] for r in rows if r.get("load")]
    out.append("## Limits (measured right before each figure they bound)")
    out.append("")
    out.append("| limit | connections | runs | throughput, median (min–max) | p50 ms | p99 ms |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for c, rs in constant.items():
        if rs:
            out.append(f"| constant axum handler | {c} | {len(rs)} | {spread([r['rps'] for r in rs])} req/s | "
                       f"{med([ms(r['p50_us']) for r in rs]):.2f} | {med([ms(r['p99_us']) for r in rs]):.2f} |")
    for name, values, kind in (("pgbench, payment INSERTs in one transaction", pg, "pgbench_payment"),
                               ("pgbench, the payment's reads + INSERTs", pg_full, "pgbench_payment-full")):
        if values:
            lat = [r["result"]["latency_avg_ms"] for r in by(kind)]
            failed = sum(r["result"]["failed"] for r in by(kind))
            out.append(f"| {name} | 16 | {len(values)} | {spread(values)} tps | avg {med(lat):.2f} | – (failed: {failed}) |")
    if loads:
        out.append("")
        out.append(f"Machine load during the runs: 1-min load average {min(loads):.1f}–{max(loads):.1f}"
                   + (f"; CPU pressure (some, avg10) {min(pressure):.0f}–{max(pressure):.0f}%" if pressure else "")
                   + " (2 cores: above ~2, or pressure above ~50%, the machine was shared with other work).")
    out.append("")

    # Reads.
    out.append("## Authenticated reads (wrk, fixed duration; each run paired with a constant-handler run just before)")
    out.append("")
    out.append("| database | endpoint | conns | req/s median (min–max) | p50 ms | p99 ms | non-2xx | ratio to the paired constant run, median (min–max) | target ≥ 50% |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    kinds = sorted({r["kind"] for r in rows if r["kind"].startswith("read_")})
    for kind in kinds:
        _, backend, path = kind.split("_", 2)
        for c in (16, 64):
            rs = [r for r in by(kind) if r["connections"] == c]
            if not rs:
                continue
            res = [r["result"] for r in rs]
            rps = [r["rps"] for r in res]
            ratios = [r["result"]["rps"] / pairs[r["pair"]]["constant"]["result"]["rps"] * 100
                      for r in rs if r.get("pair") in pairs and "constant" in pairs[r["pair"]]]
            ok = "✓" if ratios and med(ratios) >= 50 else "✗"
            out.append(f"| {backend} | `GET {path}` | {c} | {spread(rps)} | {med([ms(r['p50_us']) for r in res]):.2f} | "
                       f"{med([ms(r['p99_us']) for r in res]):.2f} | {sum(r['non_2xx'] for r in res)} | "
                       f"{spread(ratios)}% | {ok} |")
    out.append("")

    # Payments and logins.
    out.append("## Payments and logins (each member once; wrk + bench/rotate.lua, 16 connections)")
    out.append("")
    out.append("| database | what | per run | runs | rate/s median (min–max) | p50 ms | p99 ms | statuses | ratio to pgbench INSERTs (target ≥ 60%) | ratio to pgbench reads + INSERTs |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for backend in ("sqlite", "postgres"):
        for what, kind in (("payments", f"pay_{backend}"), ("logins", f"login_{backend}")):
            rs = by(kind)
            if not rs:
                continue
            res = [r["result"] for r in rs]
            rate = lambda r: r["ok"] / (r["last"] - r["first"]) if r.get("last", 0) > r.get("first", 0) else float("nan")
            rates = [rate(r) for r in res]
            statuses = f"ok {sum(r['ok'] for r in res)}, 401 {sum(r['s401'] for r in res)}, 409 {sum(r['s409'] for r in res)}, 5xx {sum(r['s5xx'] for r in res)}, other {sum(r['other'] for r in res)}"
            ratio, ratio_full = "–", "–"
            if what == "payments" and backend == "postgres":
                r1 = [rate(r["result"]) / pairs[r["pair"]]["pgbench_payment"]["result"]["tps"] * 100
                      for r in rs if "pgbench_payment" in pairs.get(r.get("pair"), {})]
                r2 = [rate(r["result"]) / pairs[r["pair"]]["pgbench_payment-full"]["result"]["tps"] * 100
                      for r in rs if "pgbench_payment-full" in pairs.get(r.get("pair"), {})]
                if r1:
                    ratio = f"{spread(r1)}% {'✓' if med(r1) >= 60 else '✗'}"
                if r2:
                    ratio_full = f"{spread(r2)}%"
            out.append(f"| {backend} | {what} | {res[0]['answered']} | {len(res)} | {spread(rates)} | {med([ms(r['p50_us']) for r in res]):.1f} | "
                       f"{med([ms(r['p99_us']) for r in res]):.1f} | {statuses} | {ratio} | {ratio_full} |")
        for r in by("create_members_api"):
            if r["backend"] == backend:
                res = r["result"]
                out.append(f"| {backend} | members created via API (8 client threads) | {res['members']} | 1 | {res['per_second']} | – | – | all 201 | – | – |")
    for r in by("payments_in_db"):
        out.append(f"\n{r['backend']}: payments in the database after the runs: {r['found']} (expected {r['expected']}) "
                   f"{'✓' if r['found'] == r['expected'] else '✗'}")
    for r in by("ledger_verify"):
        out.append(f"\n{r['backend']}: `saghat ledger verify` exit {r['exit']} {'✓' if r['exit'] == 0 else '✗'}")
    out.append("")

    # Draw.
    out.append("## The draw, POST /api/loans/start, every member paid this month and the two before")
    out.append("")
    out.append("| database | members | wall time s, median (min–max) | SQL statements | response bytes | RSS before → after (MiB) | load average | target < 1 s |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    draws = by("draw")
    for backend in ("sqlite", "postgres"):
        for n in sorted({r["n"] for r in draws if r["backend"] == backend}):
            rs = [r for r in draws if r["backend"] == backend and r["n"] == n]
            secs = [r["seconds"] for r in rs if r["status"] == 201]
            counts = sorted({r["sql"]["count"] for r in rs})
            rss = f"{med([r['rss_before_kib'] for r in rs]) / 1024:.0f} → {med([r['rss_after_kib'] for r in rs]) / 1024:.0f}"
            ok = "✓" if secs and med(secs) < 1 else "✗"
            statuses = sorted({r["status"] for r in rs})
            la = [r["load"]["loadavg"] for r in rs if r.get("load")]
            la_text = f"{min(la):.1f}–{max(la):.1f}" if la else "–"
            out.append(f"| {backend} | {n:,} | {spread(secs, '{:.3f}')} | {', '.join(map(str, counts))} | "
                       f"{med([r['bytes'] for r in rs]):,.0f} | {rss} | {la_text} | {ok}{'' if statuses == [201] else f' statuses {statuses}'} |")
    out.append("")
    slow = {}
    for r in draws:
        key = (r["backend"], r["n"])
        if key not in slow:
            top = sorted(r["sql"]["statements"], key=lambda s: -s["ms"])[:3]
            slow[key] = ", ".join(f"{s['summary'][:40]} {s['ms']:.1f} ms" for s in top)
    if slow:
        out.append("Slowest statements of each draw's first run:")
        out.append("")
        for (b, n), text in sorted(slow.items()):
            out.append(f"- {b} {n:,}: {text}")
        out.append("")

    # Memory and start-up.
    out.append("## Memory and start-up")
    out.append("")
    out.append("| database | RSS idle after start | RSS max under load | RSS idle after load | start-up fresh db | start-up, restart median (min–max) |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for backend in ("sqlite", "postgres"):
        get = lambda kind: [r["kib"] for r in by(kind) if r["backend"] == backend]
        idle, peak, after = get("rss_idle_start"), get("rss_max_load"), get("rss_idle_after_load")
        fresh = [r["ms"] for r in by("startup") if r["backend"] == backend and r["phase"] == "fresh"]
        restart = [r["ms"] for r in by("startup") if r["backend"] == backend and r["phase"] == "restart"]
        if not idle:
            continue
        out.append(f"| {backend} | {idle[0] / 1024:.1f} MiB {'✓' if idle[0] < 50 * 1024 else '✗'} | {peak[0] / 1024:.1f} MiB | "
                   f"{after[0] / 1024:.1f} MiB {'✓' if after[0] < 50 * 1024 else '✗'} | {fresh[0] if fresh else '–'} ms | {spread(restart)} ms |")
    c = by("constant_rss_kib")
    if c:
        out.append(f"\nconstant handler RSS after its load: {c[0]['value'] / 1024:.1f} MiB")
    print("\n".join(out))


if __name__ == "__main__":
    main()
