"""Figures of the text experiment: [K] Figure 1 (two replicas and their aligned overlay) per cell,
and the agreement of replicas with each other and with the truth, trained vs untrained."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from linid.report.style import check, save
from linid.text.compare import overlay

SERIES = [  # (kind, state, colour, marker, label)
    ("replicas", "trained", "C0", "o", "replica vs replica, trained"),
    ("truth", "trained", "C2", "s", "replica vs truth, trained"),
    ("replicas", "untrained", "C0", "x", "replica vs replica, untrained"),
    ("truth", "untrained", "C2", "+", "replica vs truth, untrained"),
]


def overlay_figure(panels: list[dict], n_words: int, stem: str | Path) -> list[Path]:
    """One row per cell: replica 1, replica 2 (each coordinate standardised over the compared
    words) and replica 1 mapped onto replica 2 by the least-squares 2×2 linear map, overlaid.
    ``panels``: {"title", "a", "b", "words", "names": (name a, name b)}; the first ``n_words``
    words (most frequent first) are drawn and labelled; the map is fitted on every compared word.
    Only the first two coordinates are drawn when the embedding has more."""
    if not panels:
        raise ValueError("overlay_figure needs at least one cell")
    fig, axes = plt.subplots(len(panels), 3, figsize=(11, 3.6 * len(panels)), squeeze=False, layout="constrained")
    for row, p in zip(axes, panels, strict=True):
        xs, ys, mapped = overlay(p["a"], p["b"])
        k = min(n_words, len(xs))
        words = [str(w) for w in p["words"][:k]]

        def pts(z):
            return z[:k, 0], (z[:k, 1] if z.shape[1] > 1 else np.zeros(k))

        for ax, z, color, title in ((row[0], xs, "C0", p["names"][0]), (row[1], ys, "C1", p["names"][1])):
            x, y = pts(z)
            ax.scatter(x, y, s=12, color=color)
            for i, w in enumerate(words):
                ax.annotate(w, (x[i], y[i]), fontsize=6, color="0.25")
            ax.set_title(f"{p['title']}: {title}", fontsize=9)
        x, y = pts(ys)
        mx, my = pts(mapped)
        row[2].scatter(x, y, s=16, color="C1", label=p["names"][1])
        row[2].scatter(mx, my, s=16, marker="x", color="C0", label=f"{p['names'][0]}, mapped")
        for i in range(k):
            row[2].plot([x[i], mx[i]], [y[i], my[i]], color="0.7", lw=0.6, zorder=0)
        row[2].set_title(f"{p['title']}: aligned overlay", fontsize=9)
        row[2].legend(fontsize=7, loc="best")
        for ax in row:
            ax.set_xlabel("coordinate 1 (standardised)")
            ax.set_ylabel("coordinate 2 (standardised)")
            ax.grid(True, alpha=0.3)
    return save(fig, stem)


def agreement_figure(summary: pd.DataFrame, stem: str | Path, metrics=("r2w", "mcca", "cca_min")) -> list[Path]:
    """Per metric a panel: x the cells (× space q / r), dots the mean over pairs with their
    t-interval, for replicas vs replicas and replicas vs truth, trained and untrained."""
    check(summary, ["cell", "kind", "space", "state", *(f"{m}_mean" for m in metrics)], "agreement_figure")
    cells = list(dict.fromkeys(summary["cell"]))
    spaces = ["q", "r"]
    names = {"r2w": "R² (whitened target), both ways", "mcca": "mean CCA", "cca_min": "smallest CCA"}
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.9), squeeze=False,
                             layout="constrained", sharey=True)
    slots = [(c, s) for c in cells for s in spaces]
    for ax, m in zip(axes[0], metrics, strict=True):
        for j, (kind, state, color, marker, label) in enumerate(SERIES):
            xs, ys, lo, hi = [], [], [], []
            for i, (c, s) in enumerate(slots):
                r = summary[(summary["cell"] == c) & (summary["space"] == s) & (summary["kind"] == kind)
                            & (summary["state"] == state)]
                if r.empty:
                    continue
                r = r.iloc[0]
                xs.append(i + (j - 1.5) * 0.12)
                ys.append(r[f"{m}_mean"])
                lo.append(r.get(f"{m}_ci_lo", np.nan))
                hi.append(r.get(f"{m}_ci_hi", np.nan))
            if not xs:
                continue
            ys, lo, hi = np.array(ys), np.array(lo), np.array(hi)
            err = np.nan_to_num(np.vstack([ys - lo, hi - ys]), nan=0.0)
            ax.errorbar(xs, ys, yerr=np.clip(err, 0, None), fmt=marker, color=color, capsize=2, label=label,
                        alpha=1.0 if state == "trained" else 0.6)
        ax.set_xticks(range(len(slots)), [f"{c}\n{s}" for c, s in slots], fontsize=8)
        ax.set_title(names.get(m, m), fontsize=10)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("agreement (1: identical up to a linear map)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize=7, ncols=4, frameon=False)
    return save(fig, stem)
