"""bench/jobs.sh's summary: results.jsonl (one JSON object per measurement) as Markdown tables,
each figure beside the limit measured right before it in the same run, as a ratio.

    python3 bench/jobs_summary.py results.jsonl machine.txt > summary.md
"""

import json
import statistics
import sys
from collections import defaultdict


def med(values):
    values = sorted(values)
    if not values:
        return "–"
    m = statistics.median(values)
    return f"{m:.0f} ({values[0]:.0f}–{values[-1]:.0f})" if len(values) > 1 else f"{m:.0f}"


def pct(values):
    values = sorted(values)
    m = statistics.median(values)
    return (f"{m:.0f}% ({values[0]:.0f}–{values[-1]:.0f}%)" if len(values) > 1 else f"{m:.0f}%"), m


def main(results, machine):
    rows = [json.loads(line) for line in open(results) if line.strip()]
    out = ["## Job queue (bench/jobs.sh)", "", "```", open(machine).read().strip(), "```", ""]

    ceilings = {r["pair"]: r for r in rows if r["kind"] == "ceiling"}
    groups = defaultdict(list)
    for r in rows:
        if r["kind"] == "drain":
            key = (r.get("concurrency"), r.get("fetch_cooldown_ms"), r.get("processes"))
            groups[key].append((r, ceilings.get(r["pair"])))
    out += [
        "### No-op jobs per second on PostgreSQL, beside pgbench running River's claim statement",
        "",
        "| worker processes | concurrency (slots per process) | fetch cooldown | jobs per run | runs | jobs/s, median (min–max) | claim ceiling jobs/s (pgbench, same clients and LIMIT) | ratio to the ceiling | target ≥ 50% | jobs run twice | max attempt | load average |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (conc, cooldown, procs), pairs in sorted(groups.items(), key=lambda kv: (kv[0][0] != 10 or kv[0][1] != 100, kv[0][1] != 100, kv[0][0], -kv[0][1], kv[0][2])):
        jobs_s = [r["jobs_per_s"] for r, _ in pairs if "jobs_per_s" in r]
        ceil_s = [c["jobs_per_s"] for _, c in pairs if c]
        ratios = [100 * r["jobs_per_s"] / c["jobs_per_s"] for r, c in pairs if c and c["jobs_per_s"] and "jobs_per_s" in r]
        text, m = pct(ratios) if ratios else ("–", 0)
        twice = sum(r.get("jobs_run_twice", 0) for r, _ in pairs)
        complete = all(r.get("completed") == r.get("jobs") == r.get("runs") == r.get("distinct_jobs_run") for r, _ in pairs)
        loads = [r["load"]["loadavg"] for r, _ in pairs]
        label = "production's" if conc == 10 and cooldown == 100 else ""
        out.append(
            f"| {procs} | {conc}{' (' + label + ')' if label else ''} | {cooldown} ms{' (River default)' if cooldown == 100 else ''} "
            f"| {pairs[0][0].get('jobs')} | {len(pairs)} | {med(jobs_s)} | {med(ceil_s)} | {text} | {'✓' if m >= 50 else '✗'} "
            f"| {twice}{'' if complete else ' (not all completed!)'} | {max(r.get('max_attempt', 0) for r, _ in pairs)} | {min(loads):.1f}–{max(loads):.1f} |"
        )
    out.append("")

    lat = [r for r in rows if r["kind"] == "latency"]
    out += [
        "### Enqueue-to-start latency, worker idle (one job per committed transaction)",
        "",
        "| database | jobs | p50 ms | p90 ms | p99 ms | max ms | target p99 < 200 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in lat:
        target = ("✓" if r["p99_ms"] < 200 else "✗") if r["backend"] == "postgres" else "– (for the record)"
        out.append(f"| {r['backend']} | {r['jobs']} | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {target} |")
    out.append("")

    limits = defaultdict(list)
    senders = defaultdict(list)
    for r in rows:
        if r["kind"] == "smtp_limit":
            limits[r["concurrency"]].append(r)
        elif r["kind"] == "smtp":
            senders[r["concurrency"]].append(r)
    out += [
        "### E-mails per second into aiosmtpd (a connection per message), beside Python's smtplib",
        "",
        "| in flight | e-mails per run | runs | SmtpSender e-mails/s | smtplib e-mails/s (limit) | ratio | failed | delivered / sent |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for conc in sorted(senders):
        s = senders[conc]
        l = limits.get(conc, [])
        ratios = [100 * a["emails_per_s"] / b["emails_per_s"] for a, b in zip(s, l)]
        out.append(
            f"| {conc} | {s[0]['emails']} | {len(s)} | {med([x['emails_per_s'] for x in s])} | {med([x['emails_per_s'] for x in l])} "
            f"| {pct(ratios)[0] if ratios else '–'} | {sum(x['failed'] for x in s)} | {sum(x['delivered'] for x in s)} / {sum(x['emails'] for x in s)} |"
        )
    out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
