"""What reading the workflow costs: wall and CPU seconds of Snakemake dry runs (docs/speed.md).

Snakemake reads the Snakefile in the main process and again in every job's process (under
``--profile slurm``: on every node), so the parse is paid once per job. Three measurements, each
the best (and median) of ``--repeat`` runs on a fresh copy of the checkout:

* ``floor``: ``snakemake --version`` (importing Snakemake itself; nothing of linid);
* ``demo no-op``: ``snakemake -n`` on the demo (config.yaml) after its results exist: every output
  of the demo is created empty and marked up to date with ``snakemake --touch`` (no job runs), so
  the dry run answers "Nothing to be done" after reading the workflow, building the DAG and checking
  every file and its metadata (targets: <= 2 s wall on 2 cores);
* ``sweep dry run``: ``snakemake -n`` on config.yaml with ``--seeds`` seeds per sweep (default
  93: 2,998 jobs), no results (targets: <= 10 s).

    python benchmarks/parse_time.py                         # this checkout
    python benchmarks/parse_time.py --repo /path/to/other   # another checkout (before/after)
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "config.yaml", "workflow", "linid", "configs", "envs", "slurm"]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
#: seeds per sweep of the sweep dry run: the demo's two sweeps × 3 cells × 93 seeds = 558 models,
#: 2,998 jobs (a model's jobs: dataset, observations probe, its pack's share, copy, features, probe,
#: comparisons)
SWEEP_SEEDS = 93


def checkout(repo: Path, dest: Path) -> Path:
    """A copy of the workflow of ``repo`` (no results)."""
    dest.mkdir(parents=True)
    for name in COPY:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def run(repo: Path, *args: str) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, output) of one Snakemake command in ``repo``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        SNAKEMAKE + list(args), cwd=repo, env=env, capture_output=True, text=True, timeout=1800
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed in {repo}:\n{out[-3000:]}")
    return wall, cpu, out


def planned(out: str) -> int:
    """Jobs a dry run plans (0 for "Nothing to be done")."""
    if "Nothing to be done" in out:
        return 0
    m = re.search(r"^total\s+(\d+)\s*$", out, re.MULTILINE)
    return int(m.group(1)) if m else -1


def fake_results(repo: Path) -> None:
    """Every output of the demo, created empty, then marked up to date (mtimes, metadata)."""
    _, _, out = run(repo, "--cores", "1", "--summary")
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("output_file"))
    for line in lines[start + 1 :]:
        path = line.split("\t")[0].strip()
        if not path or " " in path:
            continue
        p = repo / path
        if Path(path).suffix:  # a file; the one output without a suffix is a directory
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch()
        else:
            p.mkdir(parents=True, exist_ok=True)
    run(repo, "--cores", "1", "--touch")


def sweep_config(repo: Path, seeds: int) -> Path:
    """config.yaml with ``seeds`` seeds in every sweep (``data_seeds: paired``: one dataset each)."""
    cfg = yaml.safe_load((repo / "config.yaml").read_text())
    cfg["name"] = "parse_bench"
    for sweep in cfg["simulation"]["sweeps"].values():
        sweep["seeds"] = list(range(seeds))
    path = repo / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def measure(label: str, repo: Path, args: list[str], repeat: int) -> dict:
    runs = [run(repo, *args) for _ in range(repeat)]
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    row = {
        "what": label,
        "jobs": planned(runs[-1][2]) if "-n" in args else "",
        "wall_min": min(walls),
        "wall_median": statistics.median(walls),
        "cpu_median": statistics.median(cpus),
    }
    print(
        f"{label:<28} jobs {row['jobs']!s:>5}  wall best {row['wall_min']:6.2f} s  "
        f"median {row['wall_median']:6.2f} s  CPU median {row['cpu_median']:6.2f} s",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=SWEEP_SEEDS, help="seeds per sweep of the sweep dry run")
    ap.add_argument("--skip-sweep", action="store_true")
    args = ap.parse_args(argv)
    print(f"checkout {args.repo.resolve()}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="linid-parse-") as tmp:
        demo = checkout(args.repo, Path(tmp) / "demo")
        measure("floor: snakemake --version", demo, ["--version"], args.repeat)
        measure("demo: dry run, no results", demo, ["--cores", "2", "-n"], args.repeat)
        fake_results(demo)
        row = measure("demo: no-op dry run", demo, ["--cores", "2", "-n"], args.repeat)
        if row["jobs"] != 0:
            print(f"  (not a no-op: {row['jobs']} jobs planned after faking the results)")
        if not args.skip_sweep:
            sweep = checkout(args.repo, Path(tmp) / "sweep")
            cfg = sweep_config(sweep, args.seeds)
            measure("sweep: dry run", sweep, ["--cores", "2", "-n", "--configfile", str(cfg)], args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
