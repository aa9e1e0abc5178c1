"""One process, several objectives: R²_a, MCC and the gain over x per objective, with intervals.

The comparison keeps only the datasets that more than one objective was trained on (the same
process: same data seed, d, |C|, N, κ) and pools each objective's runs of a cell (data seed ×
model seed), as ``probes_summary`` does: mean, std, n and the t-interval of the mean, beside the
controls on the same draws (the observations x, the same seed's untrained encoder).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from linid.names import CELL_AXES, GAIN, control_column, label
from linid.report.style import check, fmt, method_style, ordered_methods, save
from linid.report.tables import md_cell, summarize

#: the trained metrics of the comparison, each with the controls shown beside it
METRICS: tuple[str, ...] = ("r2_affine", "mcc_pearson", GAIN)
CONTROLS_SHOWN: tuple[str, ...] = ("x", "init_bn")
KEYS = [*CELL_AXES, "normalize_w", "steps", "batch_size"]


def shared_datasets(probes: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``probes`` whose dataset (cell axes + data seed) more than one method trained on."""
    check(probes, [*CELL_AXES, "data_seed", "method"], "probes table")
    by = [*CELL_AXES, "data_seed"]
    methods = probes.groupby(by, dropna=False)["method"].transform("nunique")
    return probes[methods > 1]


def objectives_summary(probes: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per cell and objective: each of ``METRICS`` and its controls, mean/std/n/t-interval."""
    shared = shared_datasets(probes)
    columns = [m for m in METRICS] + [control_column(m, c) for m in ("r2_affine", "mcc_pearson") for c in CONTROLS_SHOWN]
    keys = [k for k in KEYS if k in shared] + ["method"]
    out = summarize(shared, keys, columns, count="n_runs", level=level)
    order = {m: i for i, m in enumerate(ordered_methods(out))} if len(out) else {}
    out = out.assign(_o=out["method"].map(order)).sort_values([*keys[:-1], "_o"]).drop(columns="_o")
    return out.assign(level=level).reset_index(drop=True)


def _ci(r: pd.Series, m: str, digits: int) -> str:
    mean, lo, hi = r[f"{m}_mean"], r[f"{m}_ci_lo"], r[f"{m}_ci_hi"]
    if not np.isfinite(mean):
        return "–"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _mean(r: pd.Series, m: str, digits: int) -> str:
    value = r[f"{m}_mean"]
    return f"{value:.{digits}f}" if np.isfinite(value) else "–"


def markdown(summary: pd.DataFrame, digits: int = 3) -> str:
    """objectives.md: one line per cell and objective, the cell axes that vary, then each metric's
    mean [t-interval] and its controls' means."""
    level = float(summary["level"].iloc[0]) if len(summary) else 0.95
    varying = [k for k in KEYS if k in summary and summary[k].astype(str).nunique() > 1]
    shared = [k for k in KEYS if k in summary and k not in varying and len(summary)]
    lines = [
        "One process, several objectives: every objective trained on the same datasets (same data "
        f"seeds, d, |C|, N, κ) at the same steps × batch. Mean [{100 * level:g} % t-interval] over "
        "the runs (data seed × model seed) of a cell; x: the observations (no encoder); untrained: "
        "the same seed's encoder at initialisation (precise-BN statistics), read through the same "
        "objective's representation; gain: R²_a − R²_a(x) per run on the same draws. A positive "
        "pair is two observations: an InfoNCE step encodes 2 × batch inputs.",
        "",
        "Shared by every row: " + ", ".join(f"{c} = {md_cell(summary[c].iloc[0])}" for c in shared) + ".",
        "",
    ]
    header = [*varying, "objective", "n", "R²_a", "R²_a x", "R²_a untrained", "MCC", "MCC x", "MCC untrained",
              "gain over x"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in summary.iterrows():
        cells = [md_cell(r[k]) for k in varying] + [str(r["method"]), str(int(r["n_runs"]))]
        cells += [_ci(r, "r2_affine", digits)]
        cells += [_mean(r, control_column("r2_affine", c), digits) for c in CONTROLS_SHOWN]
        cells += [_ci(r, "mcc_pearson", digits)]
        cells += [_mean(r, control_column("mcc_pearson", c), digits) for c in CONTROLS_SHOWN]
        cells += [_ci(r, GAIN, digits)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figure(summary: pd.DataFrame, stem: str | Path) -> list[Path]:
    """One panel per metric (R²_a, MCC, gain over x); x: the cells (the varying axes), one marker
    per objective with its t-interval; the controls as short dashed (x) and dotted (untrained)
    ticks of the objective's colour beside it."""
    check(summary, ["method", *(f"{m}_mean" for m in METRICS)], "objectives summary")
    varying = [k for k in KEYS if k in summary and summary[k].astype(str).nunique() > 1] or ["n_classes"]
    cells = summary[varying].astype(str).agg(", ".join, axis=1) if varying else pd.Series([""] * len(summary))
    names = list(dict.fromkeys(cells))
    methods = ordered_methods(summary)
    width = 0.8 / max(len(methods), 1)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.6 * len(METRICS), 4.2), constrained_layout=True)
    for ax, metric in zip(np.atleast_1d(axes), METRICS, strict=True):
        for i, m in enumerate(methods):
            style = method_style(m, i)
            rows = summary[summary["method"].astype(str) == m]
            xs = np.array([names.index(c) for c in cells[rows.index]], dtype=float) + (i - (len(methods) - 1) / 2) * width
            mean = rows[f"{metric}_mean"].to_numpy(dtype=float)
            lo, hi = rows[f"{metric}_ci_lo"].to_numpy(dtype=float), rows[f"{metric}_ci_hi"].to_numpy(dtype=float)
            err = np.vstack([np.where(np.isfinite(lo), mean - lo, 0), np.where(np.isfinite(hi), hi - mean, 0)])
            ax.errorbar(xs, mean, yerr=err, fmt=style.get("marker", "o"), color=style["color"], capsize=3,
                        label=m, linestyle="none")
            if metric != GAIN:
                for control, ls in zip(CONTROLS_SHOWN, ("--", ":"), strict=True):
                    col = f"{control_column(metric, control)}_mean"
                    for x, v in zip(xs, rows[col].to_numpy(dtype=float), strict=True):
                        ax.hlines(v, x - width / 2.2, x + width / 2.2, color=style["color"], linestyle=ls, linewidth=1.2)
        if metric == GAIN:
            ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(names)), names, rotation=0)
        ax.set_xlabel(", ".join(label(v) for v in varying))
        ax.set_ylabel(label(metric))
        ax.grid(True, axis="y", alpha=0.3)
    handles, labels_ = np.atleast_1d(axes)[0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="grey", linestyle="--"), plt.Line2D([], [], color="grey", linestyle=":")]
    labels_ += ["observations x", "untrained encoder (precise-BN)"]
    fig.legend(handles, labels_, loc="outside lower center", ncols=len(labels_), fontsize=8)
    n = summary["n_runs"]
    level = float(summary["level"].iloc[0]) if len(summary) else 0.95
    runs = fmt(n.min()) if n.min() == n.max() else f"{fmt(n.min())}–{fmt(n.max())}"
    fig.suptitle(f"One process, {len(methods)} objectives (same datasets, same steps × batch): mean and "
                 f"{100 * level:g} % t-interval over {runs} runs per point", fontsize=10)
    return save(fig, stem)
