"""Pipeline vs an independent re-implementation of the official code, cell by cell.

Reads the pipeline's ``<results>/tables/probes.csv`` (e.g. after
``snakemake --configfile benchmarks/reference_cells.yaml --cores 2``), runs
``benchmarks/official_reference.py`` on every (cell, seed) found there with the same budget (steps,
batch size), and prints a Markdown table: the pipeline's mean ± std next to the reference's, for
R²_a (W rows free) or R²_o and MAE_o (W rows renormalised). Seeds are matched by number only: the
two implementations draw from different random streams, so agreement is within seed-to-seed spread.

    python benchmarks/compare_reference.py --results results --jobs 2 [--out table.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CONDITIONALS = {"vmf": 0, "laplace": 1, "normal": 2}


def reference_args(row: pd.Series) -> list[str]:
    """The official-style command line of one pipeline run (same cell, budget and seed number)."""
    if row["conditional"] not in CONDITIONALS or row["cluster_prior"] != "uniform":
        raise ValueError(f"the reference covers vmf/laplace/normal and a uniform prior: {dict(row)}")
    args = [
        "--method", "sup" if row["method"] == "supervised" else "diet",
        "--n", str(int(row["latent_dim"])), "--nr-clusters", str(int(row["n_classes"])),
        "--nr-indices", str(int(row["n_instances"])), "--c-param", str(float(row["kappa"])),
        "--c-p", str(CONDITIONALS[row["conditional"]]), "--steps", str(int(row["steps"])),
        "--batch-size", str(int(row["batch_size"])), "--seed", str(int(row["seed"])),
        "--n-log-steps", "0", "--threads", "1", "--quiet",
    ]  # fmt: skip
    if str(row["normalize_w"]).lower() == "true":
        args.append("--normalize-rows-W")
    return args


def run_reference(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, str(HERE / "official_reference.py"), *args, "--json", str(out)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        return json.loads(out.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", help="the pipeline's results folder")
    p.add_argument("--jobs", type=int, default=2, help="reference runs at once (1 thread each)")
    p.add_argument("--out", default=None, help="also write the Markdown table here")
    a = p.parse_args()
    table = pd.read_csv(Path(a.results) / "tables" / "probes.csv")
    table = table.drop_duplicates(subset=["dataset_id", "method", "normalize_w", "seed"])
    rows = [r for _, r in table.iterrows()]
    with ThreadPoolExecutor(a.jobs) as pool:
        refs = list(pool.map(lambda r: run_reference(reference_args(r)), rows))
    records = []
    for row, ref in zip(rows, refs, strict=True):
        unit = str(row["normalize_w"]).lower() == "true"
        pairs = [("R²_o", "r2_linear", "r2_ortho"), ("MAE_o", "mae_sv", "sv_mae")] if unit else [
            ("R²_a", "r2_affine", "r2_affine")]
        for name, ours, theirs in pairs:
            records.append({
                "cell": f"{row['method']} d={row['latent_dim']} |C|={row['n_classes']} "
                        f"N={row['n_instances']} κ={row['kappa']:g} {row['conditional']}"
                        + (" unit W" if unit else ""),
                "metric": name, "seed": int(row["seed"]), "pipeline": float(row[ours]),
                "reference": float(ref[theirs]), "budget": f"{int(row['steps'])} × {int(row['batch_size'])}",
            })  # fmt: skip
    df = pd.DataFrame(records)
    g = df.groupby(["cell", "metric", "budget"], sort=False)
    summary = g.agg(
        pipeline_mean=("pipeline", "mean"), pipeline_std=("pipeline", "std"),
        reference_mean=("reference", "mean"), reference_std=("reference", "std"), seeds=("seed", "count"),
    ).reset_index()  # fmt: skip
    lines = [
        "| cell | metric | steps × batch | seeds | pipeline | official-style reference | Δ |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        lines.append(
            f"| {r['cell']} | {r['metric']} | {r['budget']} | {r['seeds']} | "
            f"{r['pipeline_mean']:.3f} ± {r['pipeline_std']:.3f} | "
            f"{r['reference_mean']:.3f} ± {r['reference_std']:.3f} | "
            f"{r['pipeline_mean'] - r['reference_mean']:+.3f} |"
        )
    lines += ["", "Per seed:", "", "| cell | metric | seed | pipeline | reference |", "|---|---|---|---|---|"]
    for _, r in df.iterrows():
        lines.append(
            f"| {r['cell']} | {r['metric']} | {r['seed']} | {r['pipeline']:.4f} | {r['reference']:.4f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
