"""Figures of the [R] simulation sweep (docs/science.md §3: mean ± std over seeds per sweep cell).

Every figure takes a table and an output path *stem*, writes ``<stem>.png`` and ``<stem>.pdf`` and
returns the written paths. Inputs: the probes table (one row per trained model) and the curves
table (one row per logged training point). Aggregation is over every row of a plotted group:
slice the table first (:mod:`linid.report.selection`) when it mixes cells that differ elsewhere.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from linid.names import CELL_AXES, label
from linid.report.style import (
    METHOD_STYLES,
    cell_colors,
    check,
    color_limits,
    errorbar,
    fmt,
    is_categorical,
    method_style,
    ordered_methods,
    save,
    seed_note,
    unit_ylim,
)
from linid.report.tables import summarize


def stats(df: pd.DataFrame, by: list[str], metric: str) -> pd.DataFrame:
    """Mean, std and count of finite values of ``metric`` per group of ``by``, as columns."""
    check(df, [*by, metric], "table")
    s = summarize(df, by, [metric], count="rows", per_metric_counts=True).drop(columns="rows")
    return s.rename(columns={f"{metric}_mean": "mean", f"{metric}_std": "std", f"{metric}_n": "n"})


def _cell_agg(df: pd.DataFrame, metric: str, stat: str) -> pd.DataFrame:
    """Pivot of one statistic of ``metric``: index latent_dim, columns n_classes."""
    s = stats(df, ["latent_dim", "n_classes"], metric)
    table = s.pivot(index="latent_dim", columns="n_classes", values=stat)
    return table.sort_index(axis=0).sort_index(axis=1)


def cell_means(df: pd.DataFrame, metric: str = "r2_affine") -> pd.DataFrame:
    """Mean of ``metric`` over seeds per (latent_dim, n_classes) cell: index d, columns |C|."""
    return _cell_agg(df, metric, "mean")


def cell_stds(df: pd.DataFrame, metric: str = "r2_affine") -> pd.DataFrame:
    """Sample std of ``metric`` over seeds per (latent_dim, n_classes) cell (NaN for one seed)."""
    return _cell_agg(df, metric, "std")


def heatmap(df: pd.DataFrame, stem: str | Path, metric: str = "r2_affine") -> list[Path]:
    """Heatmap of mean ± std ``metric`` per (latent_dim, n_classes) cell, one panel per method."""
    check(df, ["method", "latent_dim", "n_classes", metric], "probes table")
    methods = ordered_methods(df)
    d_all = sorted(pd.unique(df["latent_dim"]))
    c_all = sorted(pd.unique(df["n_classes"]))
    means, stds, counts = {}, {}, []
    for m in methods:
        sub = df[df["method"].astype(str) == m]
        mu = cell_means(sub, metric).reindex(index=d_all, columns=c_all)
        sd = cell_stds(sub, metric).reindex(index=d_all, columns=c_all)
        means[m], stds[m] = mu, sd
        counts.append(stats(sub, ["latent_dim", "n_classes"], metric)["n"])
    stacked = np.concatenate([means[m].to_numpy(dtype=float).ravel() for m in methods])
    vmin, vmax = color_limits(stacked, metric)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.9")

    n = len(methods)
    cell_w = 0.9 if len(c_all) > 6 else 1.1
    w = max(3.6, 1.2 + cell_w * len(c_all))
    h = max(3.0, 1.4 + 0.75 * len(d_all))
    fig, axes = plt.subplots(1, n, figsize=(w * n + 1.0, h), squeeze=False, constrained_layout=True)
    image = None
    fontsize = 9 if len(c_all) <= 6 else 7
    for ax, m in zip(axes[0], methods, strict=False):
        mu = means[m].to_numpy(dtype=float)
        sd = stds[m].to_numpy(dtype=float)
        image = ax.imshow(
            np.ma.masked_invalid(mu), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", origin="lower"
        )
        for i in range(mu.shape[0]):
            for j in range(mu.shape[1]):
                if not np.isfinite(mu[i, j]):
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=fontsize, color="0.4")
                    continue
                r, g, b, _ = cmap((mu[i, j] - vmin) / (vmax - vmin) if vmax > vmin else 0.5)
                color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                ax.text(
                    j,
                    i + 0.1,
                    f"{mu[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=fontsize + 1,
                    fontweight="bold",
                    color=color,
                )
                if np.isfinite(sd[i, j]):
                    ax.text(
                        j,
                        i - 0.22,
                        f"±{sd[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=fontsize - 1,
                        color=color,
                    )
        ax.set_xticks(range(len(c_all)), [fmt(c) for c in c_all])
        ax.set_yticks(range(len(d_all)), [fmt(d) for d in d_all])
        ax.set_xlabel(label("n_classes"))
        ax.set_ylabel(label("latent_dim"))
        ax.set_title(f"{m}")
    assert image is not None
    cbar = fig.colorbar(image, ax=list(axes[0]), shrink=0.9)
    cbar.set_label(f"mean {label(metric)}")
    fig.suptitle(f"{label(metric)} per cell\n{seed_note(pd.concat(counts))}", fontsize=10)
    return save(fig, stem)


def metric_vs_classes(df: pd.DataFrame, stem: str | Path, metric: str = "r2_affine") -> list[Path]:
    """``metric`` vs number of classes (log x), one line per latent_dim, one panel per method."""
    check(df, ["method", "latent_dim", "n_classes", metric], "probes table")
    methods = ordered_methods(df)
    dims = sorted(pd.unique(df["latent_dim"]))
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(len(dims), 1)))
    fig, axes = plt.subplots(
        1,
        len(methods),
        figsize=(4.8 * len(methods), 3.8),
        squeeze=False,
        sharey=True,
        constrained_layout=True,
    )
    counts = []
    for ax, m in zip(axes[0], methods, strict=False):
        sub = df[df["method"].astype(str) == m]
        s = stats(sub, ["latent_dim", "n_classes"], metric)
        counts.append(s["n"])
        for color, d in zip(colors, dims, strict=False):
            sd = s[(s["latent_dim"] == d) & (s["n"] > 0)]
            if sd.empty:
                continue
            x = sd["n_classes"].to_numpy(dtype=float)
            errorbar(ax, sd, x, f"d = {fmt(d)}", color=color, marker="o")
        ax.set_xscale("log")
        classes = sorted(pd.unique(sub["n_classes"]))
        ax.set_xticks([float(c) for c in classes], [fmt(c) for c in classes])
        ax.minorticks_off()
        ax.set_xlabel(label("n_classes") + " (log scale)")
        ax.set_ylabel(label(metric))
        ax.set_title(m)
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(title="latent dim", fontsize=8, title_fontsize=8, loc="best")
    axes[0][0].relim()
    axes[0][0].autoscale_view()
    unit_ylim(axes[0][0], metric)  # shared y: once, after every panel has its data
    fig.suptitle(f"{label(metric)} vs |C|\n{seed_note(pd.concat(counts))}", fontsize=10)
    return save(fig, stem)


def metric_vs_axis(
    df: pd.DataFrame, axis: str, stem: str | Path, metric: str = "r2_affine"
) -> list[Path]:
    """``metric`` vs one sweep axis (categorical for strings), one line per method, mean ± std."""
    check(df, ["method", axis, metric], "probes table")
    methods = ordered_methods(df)
    categorical = is_categorical(df[axis])
    s = stats(df.assign(method=df["method"].astype(str)), ["method", axis], metric)
    if categorical:
        levels = sorted(pd.unique(df[axis].astype(str)))
        pos = {v: i for i, v in enumerate(levels)}
    else:
        levels = sorted(pd.unique(pd.to_numeric(df[axis], errors="coerce").dropna()))
    width = max(5.0, min(12.0, 1.0 + 0.9 * len(levels))) if categorical else 5.6
    fig, ax = plt.subplots(figsize=(width, 4.0), constrained_layout=True)
    dodge = 0.08 if categorical and len(methods) > 1 else 0.0
    for i, m in enumerate(methods):
        sm = s[(s["method"] == m) & (s["n"] > 0)]
        if sm.empty:
            continue
        if categorical:
            sm = sm.assign(_x=sm[axis].astype(str).map(pos)).sort_values("_x")
            x = sm["_x"].to_numpy(dtype=float) + dodge * (i - (len(methods) - 1) / 2)
        else:
            sm = sm.sort_values(axis)
            x = pd.to_numeric(sm[axis]).to_numpy(dtype=float)
        errorbar(ax, sm, x, m, **method_style(m, i))
    if categorical:
        ax.set_xticks(range(len(levels)), levels, rotation=20 if len(levels) > 4 else 0)
        ax.set_xlim(-0.5, len(levels) - 0.5)
    else:
        vals = np.asarray(levels, dtype=float)
        if vals.size > 1 and vals.min() > 0 and vals.max() / vals.min() >= 20:
            ax.set_xscale("log")
            ax.minorticks_off()
        if 0 < vals.size <= 12:
            ax.set_xticks(vals, [fmt(v) for v in levels])
    ax.set_xlabel(label(axis))
    ax.set_ylabel(label(metric))
    ax.grid(True, alpha=0.3)
    if ax.has_data():
        ax.legend(title="method", fontsize=8, title_fontsize=8, loc="best")
    unit_ylim(ax, metric)
    ax.set_title(f"{label(metric)} vs {label(axis)}\n{seed_note(s['n'])}", fontsize=10)
    return save(fig, stem)


_CURVE_ID = ("experiment", "method", *CELL_AXES, "data_seed", "seed")


def training_curves(curves: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Loss and monitor R² vs step, one thin line per model, coloured by (method, d, |C|) cell."""
    required = ["method", "latent_dim", "n_classes", "seed", "step", "loss", "monitor_r2"]
    check(curves, required, "curves table")
    id_cols = [c for c in _CURVE_ID if c in curves.columns]
    cell_cols = ["method", "latent_dim", "n_classes"]
    cells = (
        curves[cell_cols]
        .drop_duplicates()
        .assign(
            _m=lambda t: (
                t["method"]
                .astype(str)
                .map(
                    lambda m: (
                        list(METHOD_STYLES).index(m) if m in METHOD_STYLES else len(METHOD_STYLES)
                    )
                )
            )
        )
        .sort_values(["_m", "method", "latent_dim", "n_classes"])
        .drop(columns="_m")
    )
    keys = [tuple(r) for r in cells.itertuples(index=False)]
    colors = dict(zip(keys, cell_colors(len(keys)), strict=False))
    n_models = curves[id_cols].drop_duplicates().shape[0]
    alpha = float(np.clip(3.0 / math.sqrt(max(n_models, 1)), 0.15, 0.9))  # fade as lines pile up

    legend_rows = math.ceil(len(keys) / 4)
    fig, (ax_loss, ax_r2) = plt.subplots(
        1, 2, figsize=(11.0, 3.9 + 0.2 * legend_rows), constrained_layout=True
    )
    segs: dict[str, dict[tuple, list[np.ndarray]]] = {"loss": {}, "monitor_r2": {}}
    for model, g in curves.groupby(id_cols, sort=False, dropna=False):
        model = model if isinstance(model, tuple) else (model,)
        ident = dict(zip(id_cols, model, strict=False))
        key = tuple(ident[c] for c in cell_cols)
        g = g.sort_values("step")
        for col in ("loss", "monitor_r2"):
            xy = np.column_stack(
                [
                    pd.to_numeric(g["step"], errors="coerce").to_numpy(dtype=float),
                    pd.to_numeric(g[col], errors="coerce").to_numpy(dtype=float),
                ]
            )
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy):
                segs[col].setdefault(key, []).append(xy)
    for ax, col in ((ax_loss, "loss"), (ax_r2, "monitor_r2")):
        for key, lines in segs[col].items():
            ls = "--" if key[0] == "diet" else "-"
            single = [ln for ln in lines if len(ln) == 1]
            lc = LineCollection(
                [ln for ln in lines if len(ln) > 1],
                colors=[colors[key]],
                linewidths=1.0,
                alpha=alpha,
                linestyles=ls,
            )
            ax.add_collection(lc)
            if single:
                pts = np.vstack(single)
                ax.scatter(pts[:, 0], pts[:, 1], color=colors[key], s=10, alpha=alpha)
        if segs[col]:
            ax.autoscale_view()
            allpts = np.vstack([ln for lines in segs[col].values() for ln in lines])
            if (
                col == "loss"
                and (allpts[:, 1] > 0).all()
                and allpts[:, 1].max() / allpts[:, 1].min() > 10
            ):
                ax.set_yscale("log")
        else:
            ax.text(
                0.5,
                0.5,
                f"no finite {col} values",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="0.4",
            )
        ax.set_xlabel(label("step"))
        ax.set_ylabel(label(col))
        ax.grid(True, alpha=0.3)
    if segs["monitor_r2"]:
        unit_ylim(ax_r2, "monitor_r2")
    ax_loss.set_title("training loss")
    ax_r2.set_title("monitor R² (affine probe during training)")
    handles = [
        Line2D(
            [],
            [],
            color=colors[k],
            linestyle="--" if k[0] == "diet" else "-",
            linewidth=2,
            label=f"{k[0]}, d={fmt(k[1])}, |C|={fmt(k[2])}",
        )
        for k in keys
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        title="cell (method, d, |C|)",
        fontsize=7 if len(handles) > 12 else 8,
        title_fontsize=8,
        ncol=min(len(handles), 4),
        frameon=False,
    )
    fig.suptitle(
        f"Training curves: {n_models} model(s) in {len(keys)} cell(s), one line per model",
        fontsize=11,
    )
    return save(fig, stem)
