"""Pipeline vs an independent re-implementation of the official code, cell by cell, with statistics.

Reads the pipeline's ``<results>/tables/probes.csv`` (e.g. after
``snakemake --configfile benchmarks/reference_stats.yaml --cores 2``), runs
``benchmarks/official_reference.py`` on every (cell, seed) found there with the same budget (steps,
batch size), and prints Markdown tables:

* per cell and metric (R²_a with W's rows free; R²_o and MAE_o with unit-norm rows), for each side
  n, mean ± std and a 95 % t-interval, and the two-sided p-values of Welch's t-test and the
  Mann–Whitney U test between the sides (scipy.stats);
* the controls of both sides: the affine R² of the true latents z from the observations x on the
  held-out draws the metric is measured on (pipeline: rows [0, n_affine) of ``eval_x`` / ``eval_z``
  in ``<results>/sim/datasets/<dataset_id>.npz``, first half fitted, second half scored, as the
  probe; reference: its final evaluation's 8192 draws), and the reference's untrained encoder on
  those draws;
* every run: the metric, the final training loss, the x → z control and cond(g) (the product of
  the mixing layers' condition numbers) on both sides.

Seeds are matched by number only: the two implementations draw from different random streams, so
the runs of a side are independent draws of the process and model (with ``data_seeds: paired`` on
the pipeline side, seed s trains on its own dataset s, as the reference draws everything from
``--seed``), and the tests compare two independent samples.

    python benchmarks/compare_reference.py --results results --jobs 2 [--n-affine 8192] [--out t.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

HERE = Path(__file__).resolve().parent
CONDITIONALS = {"vmf": 0, "laplace": 1, "normal": 2}


def t_interval(x, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, std with ddof 1, lower, upper) of the two-sided t-interval for the mean of ``x``."""
    x = np.asarray(x, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan"), float("nan")
    std = float(x.std(ddof=1))
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * std / np.sqrt(len(x))
    return mean, std, mean - half, mean + half


def two_sample_tests(a, b) -> dict[str, float]:
    """Two-sided p-values: Welch's t-test (unequal variances) and the Mann–Whitney U test."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(len(a), len(b)) < 2:
        return {"welch_p": float("nan"), "mannwhitney_p": float("nan")}
    welch = stats.ttest_ind(a, b, equal_var=False)
    mwu = stats.mannwhitneyu(a, b, alternative="two-sided")
    return {"welch_p": float(welch.pvalue), "mannwhitney_p": float(mwu.pvalue)}


def affine_r2(x: np.ndarray, z: np.ndarray) -> float:
    """Affine R² of z from x: LinearRegression on the first half of the rows, R² on the rest."""
    half = len(x) // 2
    reg = LinearRegression().fit(x[:half], z[:half])
    return float(r2_score(z[half:], reg.predict(x[half:])))


def pipeline_controls(results: Path, dataset_id: str, n_affine: int) -> dict[str, float]:
    """x → z affine R² on the probe's rows of the dataset's held-out set, and cond(g)."""
    with np.load(results / "sim" / "datasets" / f"{dataset_id}.npz") as data:
        x, z = data["eval_x"][:n_affine], data["eval_z"][:n_affine]
        cond = float(np.prod(data["condition_numbers"]))
    return {"x_r2": affine_r2(x, z), "cond_g": cond}


def reference_args(row: pd.Series) -> list[str]:
    """The official-style command line of one pipeline run (same cell, budget and seed number)."""
    if row["conditional"] not in CONDITIONALS or row["cluster_prior"] != "uniform":
        raise ValueError(
            f"the reference covers vmf/laplace/normal and a uniform prior: {dict(row)}"
        )
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


def fmt_side(x) -> tuple[str, str]:
    """'mean ± std' and '[lower, upper]' of the 95 % t-interval."""
    mean, std, lo, hi = t_interval(x)
    return f"{mean:.3f} ± {std:.3f}", f"[{lo:.3f}, {hi:.3f}]"


def md_row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default="results", help="the pipeline's results folder")
    p.add_argument("--jobs", type=int, default=2, help="reference runs at once (1 thread each)")
    p.add_argument(
        "--n-affine", type=int, default=8192,
        help="rows of the held-out set the probe's R²_a uses (config simulation.probe.n_affine)",
    )  # fmt: skip
    p.add_argument("--out", default=None, help="also write the Markdown tables here")
    a = p.parse_args()
    results = Path(a.results)
    table = pd.read_csv(results / "tables" / "probes.csv")
    table = table.drop_duplicates(subset=["dataset_id", "method", "normalize_w", "seed"])
    rows = [r for _, r in table.iterrows()]
    with ThreadPoolExecutor(a.jobs) as pool:
        refs = list(pool.map(lambda r: run_reference(reference_args(r)), rows))
    records = []
    for row, ref in zip(rows, refs, strict=True):
        unit = str(row["normalize_w"]).lower() == "true"
        pairs = [("R²_o", "r2_linear", "r2_ortho"), ("MAE_o", "mae_sv", "sv_mae")] if unit else [
            ("R²_a", "r2_affine", "r2_affine")]  # fmt: skip
        ctrl = pipeline_controls(results, row["dataset_id"], a.n_affine)
        for name, ours, theirs in pairs:
            records.append({
                "cell": f"{row['method']} d={row['latent_dim']} \\|C\\|={row['n_classes']} "
                        f"N={row['n_instances']} κ={row['kappa']:g} {row['conditional']}"
                        + (" unit W" if unit else ""),
                "metric": name, "seed": int(row["seed"]),
                "budget": f"{int(row['steps'])} × {int(row['batch_size'])}",
                "pipeline": float(row[ours]), "reference": float(ref[theirs]),
                # losses: mean of the last 100 steps on both sides
                "p_loss": float(row["final_loss"]), "r_loss": float(ref["loss_last100_mean"]),
                "p_x": ctrl["x_r2"], "r_x": float(ref["r2_affine_x"]),
                "r_init": float(ref["r2_affine_untrained"]),
                "p_cond": ctrl["cond_g"], "r_cond": float(np.prod(ref["layer_conds"])),
            })  # fmt: skip
    df = pd.DataFrame(records)
    lines = [
        md_row("cell", "metric", "steps × batch", "side", "n", "mean ± std", "95 % CI", "Welch p",
               "Mann–Whitney p"),
        md_row(*["---"] * 9),
    ]  # fmt: skip
    for (cell, metric, budget), g in df.groupby(["cell", "metric", "budget"], sort=False):
        tests = two_sample_tests(g["pipeline"], g["reference"])
        pv = [f"{tests['welch_p']:.3g}", f"{tests['mannwhitney_p']:.3g}"]
        for side in ("pipeline", "reference"):
            lines.append(md_row(cell, metric, budget, side, len(g), *fmt_side(g[side]), *pv))
            pv = ["", ""]
    lines += [
        "", "Controls on the held-out draws (affine R² of z; mean ± std, [min, max]):", "",
        md_row("cell", "side", "n", "from x (no encoder)", "untrained encoder"),
        md_row(*["---"] * 5),
    ]  # fmt: skip
    cells = df.drop_duplicates(subset=["cell", "seed"])
    for cell, g in cells.groupby("cell", sort=False):
        for side, cols in (("pipeline", ["p_x"]), ("reference", ["r_x", "r_init"])):
            vals = [f"{fmt_side(g[c])[0]} [{g[c].min():.3f}, {g[c].max():.3f}]" for c in cols]
            lines.append(md_row(cell, side, len(g), *vals, *["–"] * (2 - len(vals))))
    lines += [
        "", "Per run (seed numbers match by name only; loss: mean of the last 100 steps):", "",
        md_row("cell", "metric", "seed", "pipeline", "loss", "x → z", "cond(g)", "reference",
               "loss", "x → z", "untrained", "cond(g)"),
        md_row(*["---"] * 12),
    ]  # fmt: skip
    for _, r in df.iterrows():
        lines.append(md_row(
            r["cell"], r["metric"], r["seed"], f"{r['pipeline']:.4f}", f"{r['p_loss']:.3f}",
            f"{r['p_x']:.3f}", f"{r['p_cond']:.1f}", f"{r['reference']:.4f}", f"{r['r_loss']:.3f}",
            f"{r['r_x']:.3f}", f"{r['r_init']:.3f}", f"{r['r_cond']:.1f}",
        ))  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
