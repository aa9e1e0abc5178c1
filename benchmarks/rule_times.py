"""Per-rule wall times of one Snakemake run, read from its log (``.snakemake/log/*.snakemake.log``).

Prints, per rule: jobs, summed and longest job wall time, and the run's totals: elapsed time from
the first job's start to the last job's end, busy core-seconds (job wall × threads) and the share of
the cores left idle; then the longest jobs with their start offsets, so a long job started late (a
core idling behind it) shows at a glance.

    python benchmarks/rule_times.py                 # the newest log of .snakemake/log
    python benchmarks/rule_times.py path/to/x.snakemake.log --cores 2 --top 10
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\S+?):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
THREADS = re.compile(r"^\s+threads: (\d+)$")
DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)$")


def parse(text: str) -> list[dict]:
    """Every finished job of the log: rule, jobid, start, end (datetimes), threads."""
    jobs: dict[str, dict] = {}
    stamp = pending = None
    for line in text.splitlines():
        if m := STAMP.match(line.strip()):
            stamp = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
        elif m := START.match(line):
            pending = {"rule": m.group(1), "start": stamp, "threads": 1}
        elif pending is not None and (m := THREADS.match(line)):
            pending["threads"] = int(m.group(1))
        elif pending is not None and (m := JOBID.match(line)):
            jobs[m.group(1)] = pending
        elif m := DONE.match(line.strip()):
            if m.group(1) in jobs:
                jobs[m.group(1)]["end"] = stamp
    return [{"jobid": k, **v} for k, v in jobs.items() if "end" in v and v["start"] is not None]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log", nargs="?", help="a .snakemake.log (default: the newest in .snakemake/log)")
    p.add_argument("--cores", type=int, default=2, help="cores the run was given (for the idle share)")
    p.add_argument("--top", type=int, default=8, help="longest jobs to list")
    a = p.parse_args()
    path = Path(a.log) if a.log else max(Path(".snakemake/log").glob("*.snakemake.log"), key=lambda f: f.stat().st_mtime)
    jobs = parse(path.read_text())
    if not jobs:
        raise SystemExit(f"{path}: no finished job found")
    t0, t1 = min(j["start"] for j in jobs), max(j["end"] for j in jobs)
    for j in jobs:
        j["wall"] = (j["end"] - j["start"]).total_seconds()
        j["offset"] = (j["start"] - t0).total_seconds()
    rules: dict[str, list[dict]] = {}
    for j in jobs:
        rules.setdefault(j["rule"], []).append(j)
    print(f"{path}\n")
    print("| rule | jobs | summed wall (s) | longest (s) |\n|---|---|---|---|")
    for rule, js in sorted(rules.items(), key=lambda kv: -sum(j["wall"] for j in kv[1])):
        print(f"| {rule} | {len(js)} | {sum(j['wall'] for j in js):.0f} | {max(j['wall'] for j in js):.0f} |")
    elapsed = (t1 - t0).total_seconds()
    busy = sum(j["wall"] * min(j["threads"], a.cores) for j in jobs)
    print(f"\nelapsed (first start → last end): {elapsed:.0f} s; {len(jobs)} jobs; busy core-s {busy:.0f} "
          f"of {a.cores} × {elapsed:.0f}: {100 * (1 - busy / (a.cores * elapsed)):.0f} % of the cores idle")
    print("\n| longest jobs | start (s) | wall (s) | end (s) |\n|---|---|---|---|")
    for j in sorted(jobs, key=lambda j: -j["wall"])[: a.top]:
        print(f"| {j['rule']} | {j['offset']:.0f} | {j['wall']:.0f} | {j['offset'] + j['wall']:.0f} |")


if __name__ == "__main__":
    main()
