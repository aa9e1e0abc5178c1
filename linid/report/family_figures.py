"""Figures of model-to-model comparisons ([K] family): mCCA vs K, CCA spectra, two models aligned."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap

from linid.names import label
from linid.probes.regression import affine_predict
from linid.report.style import check, errorbar, save, unit_cap

LAYER_STYLE = {
    "f": {"color": "C0", "ls": "-", "label": "f (in family), trained"},
    "hidden": {"color": "C1", "ls": "-", "label": "hidden layer (outside), trained"},
    "f_untrained": {"color": "C0", "ls": ":", "label": "f, untrained"},
    "hidden_untrained": {"color": "C1", "ls": ":", "label": "hidden layer, untrained"},
}


def mcca_vs_classes(pairs: pd.DataFrame, stem: str | Path, metric: str = "mcca") -> list[Path]:
    """mCCA (mean ± std over seed pairs) vs K, one panel per M; the diversity boundary K = M + 1."""
    check(pairs, ["rep_dim", "n_classes", "layer", metric], "mcca_vs_classes")
    dims = sorted(pairs["rep_dim"].unique())
    fig, axes = plt.subplots(1, len(dims), figsize=(max(5.2, 4.2 * len(dims)), 3.9), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, m in zip(axes[0], dims, strict=True):
        part = pairs[pairs["rep_dim"] == m]
        for layer, style in LAYER_STYLE.items():
            s = part[part["layer"] == layer].groupby("n_classes")[metric].agg(["mean", "std"])
            if s.empty:
                continue
            errorbar(ax, s, s.index.to_numpy(dtype=float), style["label"], cap=unit_cap(metric),
                     marker="o", color=style["color"], ls=style["ls"])
        ax.axvspan(0, m + 0.5, color="0.9", zorder=0)
        ax.axvline(m + 1, color="0.4", lw=0.8, ls="--")
        ax.text(m + 1, 0.02, " K = M+1", color="0.3", fontsize=8, va="bottom")
        ax.set_xscale("log")
        ks = sorted(part["n_classes"].unique())
        ax.minorticks_off()
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlim(min(ks) * 0.8, max(ks) * 1.25)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("classes K")
        ax.set_title(f"M = {m} (shaded: K < M+1)")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel(label(metric))
    fig.suptitle("mean ± std over seed pairs", fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize=7, ncols=2,
               frameon=False)  # outside the panels: never over the data
    return save(fig, stem)


def cca_spectra(spectra: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Sorted CCA spectra (mean over seed pairs) per layer, one panel per family cell.

    ``spectra``: the long table of canonical correlations (``cell, layer, seed_a, seed_b, index, rho``).
    """
    check(spectra, ["cell", "layer", "index", "rho"], "cca_spectra")
    cells = list(dict.fromkeys(spectra["cell"]))
    ncol = min(4, len(cells))
    nrow = math.ceil(len(cells) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, cell in zip(axes.flat, cells, strict=False):
        part = spectra[spectra["cell"] == cell]
        for layer, style in LAYER_STYLE.items():
            rows = part[part["layer"] == layer]
            if rows.empty:
                continue
            spec = rows.groupby("index")["rho"].mean().sort_index().to_numpy()
            # direction i of n at (i − ½)/n, so spectra of different length share the axis; a short
            # spectrum is a few discrete values: markers, joined only to guide the eye
            x = (np.arange(1, len(spec) + 1) - 0.5) / len(spec)
            marker = "o" if len(spec) <= 12 else None
            ax.plot(x, spec, color=style["color"], ls=style["ls"], marker=marker, ms=5, lw=1,
                    label=f"{style['label']} ({len(spec)} directions)")
        ax.set_xlim(0, 1)
        ax.set_title(cell_title(cell), fontsize=9)
        ax.set_xlabel("sorted direction (fraction of width)")
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(cells):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("canonical correlation\n(mean over seed pairs)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize=7, ncols=min(len(labels), 4),
               frameon=False)
    return save(fig, stem)


def cell_title(cell: str) -> str:
    """'K6_s0_M2' → 'K = 6 classes, M = 2 (data seed 0)'; any other id as it is."""
    m = re.fullmatch(r"K(\d+)_s(\d+)_M(\d+)", str(cell))
    return f"K = {m[1]} classes, M = {m[3]} (data seed {m[2]})" if m else str(cell)


def class_ticks(n_classes: int, most: int = 10) -> list[int]:
    """Whole class indices 0 … n_classes − 1 for a colour bar: all of them up to ``most``, else every
    k-th, the last class always ticked."""
    step = max(1, math.ceil(n_classes / most))
    ticks = list(range(0, n_classes, step))
    if ticks[-1] != n_classes - 1:
        if len(ticks) > 1 and n_classes - 1 - ticks[-1] <= step / 2:
            ticks[-1] = n_classes - 1  # too close to the last: replaced by it
        else:
            ticks.append(n_classes - 1)
    return ticks


def alignment(
    fa: np.ndarray, fb: np.ndarray, labels: np.ndarray, stem: str | Path, title: str = ""
) -> list[Path]:
    """Two models' 2-D representations, and model B mapped onto A by the least-squares linear map."""
    if fa.shape[1] < 2 or fb.shape[1] < 2:
        raise ValueError("alignment needs representations with at least 2 dimensions")
    aligned = affine_predict(fb, fa)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained")
    # classes are integers: one colour per class and a colour bar ticked at whole classes only
    n_classes = int(np.max(labels)) + 1 if len(labels) else 1
    # hsv is cyclic, as the angle bins are: n colours spaced round it (its last equals its first)
    cmap = ListedColormap(plt.get_cmap("hsv")(np.arange(n_classes) / n_classes))
    norm = BoundaryNorm(np.arange(n_classes + 1) - 0.5, n_classes)
    kw = {"c": labels, "cmap": cmap, "norm": norm, "s": 4, "alpha": 0.7, "linewidths": 0}
    points = axes[0].scatter(fa[:, 0], fa[:, 1], **kw)
    axes[0].set_title("model A: f(x)")
    axes[1].scatter(fb[:, 0], fb[:, 1], **kw)
    axes[1].set_title("model B: f(x)")
    axes[2].scatter(fa[:, 0], fa[:, 1], c="0.8", s=4, linewidths=0, label="A")
    axes[2].scatter(aligned[:, 0], aligned[:, 1], **{**kw, "s": 2}, label="B, linearly aligned")
    axes[2].set_title("B after the fitted linear map (grey: A)")
    for ax, who in zip(axes, ("A", "B", "A"), strict=True):
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(f"{who}: f(x)$_1$")
        ax.set_ylabel(f"{who}: f(x)$_2$")
    bar = fig.colorbar(points, ax=list(axes), shrink=0.8, label="class y (angle bin of x)")
    bar.set_ticks(class_ticks(n_classes))
    bar.minorticks_off()
    axes[2].legend(fontsize=7, loc="best", markerscale=3)
    if title:
        fig.suptitle(title)
    return save(fig, stem)
