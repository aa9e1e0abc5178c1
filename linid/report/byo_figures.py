"""Figures of the bring-your-own-activations analysis (docs/byo.md §4).

Both functions take a table, an output path *stem*, write ``<stem>.png`` and ``<stem>.pdf``
(:func:`linid.report.style.save`) and return the written paths.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from linid.report.style import cell_colors, check, save

# The metric plotted per probe kind when probe_bars is not told otherwise.
DEFAULT_PROBE_METRICS = {"continuous": "r2", "binary": "accuracy", "label": "accuracy"}
MAX_ANNOTATED = 12  # annotate heatmap cells when both sides have at most this many layers


def _ordered(values: pd.Series) -> list[str]:
    """Distinct values as str, in order of first appearance (the file's layer order)."""
    return [str(v) for v in pd.unique(values.astype(str))]


def layer_matrices(table: pd.DataFrame, stem: str | Path, metric: str = "mcca") -> list[Path]:
    """[K] Fig. 4: one heatmap per model pair, layer_a (y) × layer_b (x), colour = metric in [0, 1].

    ``table``: :func:`linid.byo.compare.layer_matrix` rows, with ``model_a`` / ``model_b`` columns
    when it holds several pairs (without them it is one pair). Values below 0 (an R²) are shown at
    the bottom of the colour scale; cells are annotated with the value up to 12 × 12 layers.
    """
    check(table, ["layer_a", "layer_b", metric], "layer-matrix table")
    t = table.copy()
    for col in ("model_a", "model_b"):
        if col not in t.columns:
            t[col] = col[-1]
    t[["model_a", "model_b"]] = t[["model_a", "model_b"]].astype(str)
    pairs = list(dict.fromkeys(zip(t["model_a"], t["model_b"], strict=True)))
    ncols = min(len(pairs), 3)
    nrows = math.ceil(len(pairs) / ncols)
    sizes = [
        (len(_ordered(g["layer_a"])), len(_ordered(g["layer_b"])))
        for _, g in t.groupby(["model_a", "model_b"], sort=False)
    ]
    side = max(2.6, 0.45 * max(max(s) for s in sizes) + 1.2)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(side * ncols + 1.0, side * nrows),
        squeeze=False,
        layout="constrained",
    )
    cmap = plt.get_cmap("viridis")
    image = None
    for ax, (ma, mb) in zip(axes.flat, pairs, strict=False):
        g = t[(t["model_a"] == ma) & (t["model_b"] == mb)]
        ya, xb = _ordered(g["layer_a"]), _ordered(g["layer_b"])
        mat = (
            g.assign(layer_a=g["layer_a"].astype(str), layer_b=g["layer_b"].astype(str))
            .pivot_table(index="layer_a", columns="layer_b", values=metric, aggfunc="mean")
            .reindex(index=ya, columns=xb)
            .to_numpy(dtype=float)
        )
        image = ax.imshow(mat, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(xb)), xb, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(ya)), ya, fontsize=8)
        ax.set_xlabel(f"layer of {mb}")
        ax.set_ylabel(f"layer of {ma}")
        ax.set_title(f"{ma} vs {mb}", fontsize=10)
        if len(ya) <= MAX_ANNOTATED and len(xb) <= MAX_ANNOTATED:
            for i in range(len(ya)):
                for j in range(len(xb)):
                    v = mat[i, j]
                    if np.isfinite(v):
                        shade = cmap(float(np.clip(v, 0.0, 1.0)))
                        dark = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] < 0.5
                        ax.text(
                            j,
                            i,
                            f"{v:.2f}",
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="white" if dark else "black",
                        )
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label=metric)
    return save(fig, stem)


def probe_bars(
    table: pd.DataFrame, stem: str | Path, metrics: dict[str, str] | None = None
) -> list[Path]:
    """One panel per factor: its metric (by kind, ``metrics`` or DEFAULT_PROBE_METRICS) per layer.

    ``table``: :func:`linid.byo.probes.probe_layer` rows with ``model`` and ``layer`` columns.
    Bars are grouped by layer (x, in order of appearance) and coloured by model; error bars are the
    std over repetitions where there is one. Binary accuracies get a dotted chance line at 0.5.
    """
    check(table, ["model", "layer", "factor", "kind", "metric", "value"], "probe table")
    chosen = {**DEFAULT_PROBE_METRICS, **(metrics or {})}
    t = table.copy()
    t[["model", "layer", "factor", "kind"]] = t[["model", "layer", "factor", "kind"]].astype(str)
    t = t[t["metric"].astype(str) == t["kind"].map(chosen)]
    if t.empty:
        raise ValueError(f"probe table holds none of the plotted metrics {chosen}")
    factors = list(dict.fromkeys(zip(t["factor"], t["kind"], strict=True)))
    models = _ordered(t["model"])
    colors = dict(zip(models, cell_colors(len(models)), strict=True))
    ncols = min(len(factors), 3)
    nrows = math.ceil(len(factors) / ncols)
    n_layers = len(_ordered(t["layer"]))
    width = max(3.2, 0.3 * n_layers * len(models) + 1.5)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, 2.8 * nrows), squeeze=False, layout="constrained"
    )
    for ax, (factor, kind) in zip(axes.flat, factors, strict=False):
        g = t[(t["factor"] == factor) & (t["kind"] == kind)]
        layers = _ordered(g["layer"])
        bar_w = 0.8 / len(models)
        for i, model in enumerate(models):
            s = g[g["model"] == model].set_index("layer")
            xs = [k for k, layer in enumerate(layers) if layer in s.index]
            if not xs:
                continue
            vals = np.array([float(s.loc[layers[k], "value"]) for k in xs])
            err = None
            if "std" in s.columns:
                e = np.array([float(s.loc[layers[k], "std"]) for k in xs])
                err = np.where(np.isfinite(e), e, 0.0) if np.isfinite(e).any() else None
            ax.bar(
                np.array(xs) + (i - (len(models) - 1) / 2) * bar_w,
                vals,
                width=bar_w,
                yerr=err,
                capsize=2,
                color=colors[model],
                label=model,
            )
        metric = chosen[kind]
        if kind == "binary" and metric == "accuracy":
            ax.axhline(0.5, color="0.5", linestyle=":", linewidth=1.0, zorder=0)
        lo = min(0.0, float(np.nanmin(g["value"].to_numpy(dtype=float))))
        ax.set_ylim(lo, 1.02)
        ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{factor} ({kind}): {metric}", fontsize=10)
        ax.grid(axis="y", linewidth=0.5, alpha=0.5)
    for ax in list(axes.flat)[len(factors) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(models), 6), fontsize=8)
    return save(fig, stem)


def _layer_label(offset: int) -> str:
    """The notebook's legend: offset −1 is "last layer", −5 "(last − 4)th layer"."""
    return "last layer" if offset == -1 else f"(last − {-offset - 1})th layer"


def svcca_panels(table: pd.DataFrame, stem: str | Path, offsets=(-1, -5, -9, -13)) -> list[Path]:
    """[K] Figure 4 as identifiability_of_GPT_2_models.ipynb draws it: one panel per k, one curve per
    layer offset from the end (those present), each the sorted SVCCA coefficients averaged over every
    model pair in the table, against their index."""
    check(table, ["model_a", "model_b", "offset", "k", "index", "rho"], "svcca_panels")
    present = [o for o in offsets if o in set(table["offset"])] or sorted(set(table["offset"]))[-4:][::-1]
    ks = sorted(table["k"].unique())
    n_pairs = len(set(zip(table["model_a"], table["model_b"], strict=True)))
    fig, axes = plt.subplots(1, len(ks), figsize=(3.6 * len(ks), 3.4), squeeze=False, layout="constrained",
                             sharey=True)
    for ax, k in zip(axes[0], ks, strict=True):
        part = table[table["k"] == k]
        for i, off in enumerate(present):
            mean = part[part["offset"] == off].groupby("index")["rho"].mean()
            if not mean.empty:
                ax.plot(mean.index, mean.to_numpy(), color=f"C{i}", lw=1.4, label=_layer_label(off))
        ax.set_title(f"{k} principal components", fontsize=10)
        ax.set_xlabel("CCA coefficient index")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel(f"mean correlation coefficient ({n_pairs} pair{'s' if n_pairs != 1 else ''})")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", fontsize=8, ncols=min(4, len(labels)), frameon=False)
    return save(fig, stem)
