"""Figures of the [R] simulation sweep (docs/science.md §3: mean ± std over seeds per sweep cell).

Every figure takes a table and an output path *stem*, writes ``<stem>.png`` and ``<stem>.pdf`` and
returns the written paths. Inputs: the probes table (one row per trained model) and the curves
table (one row per logged training point). Aggregation is over every row of a plotted group:
slice the table first (:mod:`linid.report.selection`) when it mixes cells that differ elsewhere.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from linid.names import CELL_AXES, CONTROLS, GAIN, label
from linid.report.style import (
    check,
    color_limits,
    errorbar,
    fmt,
    is_categorical,
    method_style,
    ordered_methods,
    save,
    seed_note,
    unit_cap,
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


def _heat_panel(ax, mu, sd, cmap, vmin, vmax, fontsize, signed=False, under=None) -> Any:
    """One d × |C| panel: colour = mean, text = mean (bold), ±std below, and an optional line
    ``under[i, j]`` (e.g. the control's value) at the bottom of each cell."""
    image = ax.imshow(np.ma.masked_invalid(mu), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto",
                      origin="lower")
    for i in range(mu.shape[0]):
        for j in range(mu.shape[1]):
            if not np.isfinite(mu[i, j]):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=fontsize, color="0.4")
                continue
            r, g, b, _ = cmap((mu[i, j] - vmin) / (vmax - vmin) if vmax > vmin else 0.5)
            color = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            text = f"{mu[i, j]:+.2f}" if signed else f"{mu[i, j]:.2f}"
            ax.text(j, i + 0.15, text, ha="center", va="center", fontsize=fontsize + 1,
                    fontweight="bold", color=color)
            if np.isfinite(sd[i, j]):
                ax.text(j, i - 0.08, f"±{sd[i, j]:.2f}", ha="center", va="center",
                        fontsize=fontsize - 1, color=color)
            if under is not None and under[i][j]:
                ax.text(j, i - 0.3, under[i][j], ha="center", va="center", fontsize=fontsize - 2,
                        color=color)
    return image


def heatmap(df: pd.DataFrame, stem: str | Path, metric: str = "r2_affine") -> list[Path]:
    """Heatmap of mean ± std ``metric`` per (latent_dim, n_classes) cell, one panel per method.

    When the table has the controls (``<metric>_x``, ``<metric>_init``), each cell also prints
    them, and a second row of panels shows the gain over the observations (``gain_x`` = R²_a −
    R²_a(x), per model on the same draws; diverging colours, 0 = no better than x).
    """
    check(df, ["method", "latent_dim", "n_classes", metric], "probes table")
    methods = ordered_methods(df)
    d_all = sorted(pd.unique(df["latent_dim"]))
    c_all = sorted(pd.unique(df["n_classes"]))
    x_col, init_col = f"{metric}_x", f"{metric}_init_bn"
    with_gain = metric == "r2_affine" and GAIN in df and np.isfinite(pd.to_numeric(df[GAIN])).any()

    def grid(sub: pd.DataFrame, col: str, stat: str) -> np.ndarray:
        return _cell_agg(sub, col, stat).reindex(index=d_all, columns=c_all).to_numpy(dtype=float)

    panels, counts = {}, []
    for m in methods:
        sub = df[df["method"].astype(str) == m]
        under = None
        if x_col in sub and init_col in sub:
            xs, inits = grid(sub, x_col, "mean"), grid(sub, init_col, "mean")
            under = [[f"x {a:.2f} · untrained {b:.2f}" if np.isfinite(a) else "" for a, b in zip(ra, rb, strict=True)]
                     for ra, rb in zip(xs, inits, strict=True)]
        panels[m] = {"mu": grid(sub, metric, "mean"), "sd": grid(sub, metric, "std"), "under": under}
        if with_gain:
            panels[m].update(gain=grid(sub, GAIN, "mean"), gain_sd=grid(sub, GAIN, "std"))
        counts.append(stats(sub, ["latent_dim", "n_classes"], metric)["n"])
    stacked = np.concatenate([panels[m]["mu"].ravel() for m in methods])
    vmin, vmax = color_limits(stacked, metric)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.9")

    n, rows = len(methods), 2 if with_gain else 1
    cell_w = 1.0 if len(c_all) > 6 else 1.35
    w = max(3.8, 1.2 + cell_w * len(c_all))
    h = max(3.0, 1.4 + 0.8 * len(d_all))
    fig, axes = plt.subplots(rows, n, figsize=(w * n + 1.2, h * rows), squeeze=False, layout="constrained")
    fontsize = 9 if len(c_all) <= 6 else 7
    image = gain_image = None
    for j, m in enumerate(methods):
        p = panels[m]
        image = _heat_panel(axes[0][j], p["mu"], p["sd"], cmap, vmin, vmax, fontsize, under=p["under"])
        axes[0][j].set_title(f"{m}: {label(metric)}", fontsize=9)
        if with_gain:
            lim = max(0.05, float(np.nanmax(np.abs(np.concatenate([panels[k]["gain"].ravel() for k in methods])))))
            gain_image = _heat_panel(axes[1][j], p["gain"], p["gain_sd"], plt.get_cmap("RdBu").with_extremes(bad="0.9"),
                                     -lim, lim, fontsize, signed=True)
            axes[1][j].set_title(f"{m}: gain over x (R²$_a$ − R²$_a$ of x)", fontsize=9)
        for r in range(rows):
            ax = axes[r][j]
            ax.set_xticks(range(len(c_all)), [fmt(c) for c in c_all])
            ax.set_yticks(range(len(d_all)), [fmt(d) for d in d_all])
            ax.set_xlabel(label("n_classes"))
            ax.set_ylabel(label("latent_dim"))
    cbar = fig.colorbar(image, ax=list(axes[0]), shrink=0.9)
    cbar.set_label(f"mean {label(metric)}")
    if gain_image is not None:
        fig.colorbar(gain_image, ax=list(axes[1]), shrink=0.9).set_label("mean gain over x")
    note = seed_note(pd.concat(counts))
    if "n_instances" in df:
        per = df.groupby(df["method"].astype(str))["n_instances"].unique()
        note += "; N = " + ", ".join(f"{', '.join(fmt(v) for v in sorted(per[m]))} ({m})" for m in methods)
    fig.suptitle(f"{label(metric)} per cell\n{note}", fontsize=10)
    return save(fig, stem)


#: how the controls are drawn beside a trained line (same colour)
CONTROL_LINES: dict[str, dict[str, Any]] = {
    "x": {"linestyle": "--", "linewidth": 1.2, "marker": "x", "markersize": 5},
    "init_bn": {"linestyle": ":", "linewidth": 1.2, "marker": ".", "markersize": 5},
}


def metric_vs_classes(df: pd.DataFrame, stem: str | Path, metric: str = "r2_affine") -> list[Path]:
    """``metric`` vs number of classes (log x), one line per latent_dim, one panel per method; the
    controls on the same draws (``<metric>_x``, ``<metric>_init_bn``), when present, as dashed and
    dotted lines of the same colour."""
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
            errorbar(ax, sd, x, f"d = {fmt(d)}, trained", cap=unit_cap(metric), color=color, marker="o")
            for control, style in CONTROL_LINES.items():
                col = f"{metric}_{control}"
                if col not in sub or not pd.to_numeric(sub[col], errors="coerce").notna().any():
                    continue
                sc = stats(sub[sub["latent_dim"] == d], ["n_classes"], col)
                ax.plot(sc["n_classes"].to_numpy(dtype=float), sc["mean"].to_numpy(dtype=float),
                        color=color, label=f"d = {fmt(d)}, {CONTROLS[control]}", **style)
        ax.set_xscale("log")
        classes = sorted(pd.unique(sub["n_classes"]))
        ax.set_xticks([float(c) for c in classes], [fmt(c) for c in classes])
        ax.minorticks_off()
        ax.set_xlabel(label("n_classes") + " (log scale)")
        ax.set_ylabel(label(metric))
        ns = sorted(pd.unique(sub["n_instances"])) if "n_instances" in sub else []
        ax.set_title(f"{m} (N = {', '.join(fmt(v) for v in ns)})" if ns else m)
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8, loc="best")
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
        errorbar(ax, sm, x, m, cap=unit_cap(metric), **method_style(m, i))
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
_DIM_STYLES = ("-", "--", ":", "-.")


def chance_loss(curves: pd.DataFrame) -> pd.Series:
    """log K per row, the cross-entropy of a uniform guess: K = |C| (supervised) or N (DIET; |C|
    when the table has no ``n_instances``)."""
    k = pd.to_numeric(curves["n_classes"], errors="coerce").astype(float)
    if "n_instances" in curves:
        diet = curves["method"].astype(str) == "diet"
        k = k.where(~diet, pd.to_numeric(curves["n_instances"], errors="coerce").astype(float))
    return np.log(k.clip(lower=2))


def training_curves(curves: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Per method (columns): the loss relative to chance (loss / log K, so heads of different size
    share one axis; 1 = a uniform guess) and the monitor R² (from step 0, the initial model) vs
    step, one thin line per model; colour = |C|, line style = d."""
    required = ["method", "latent_dim", "n_classes", "seed", "step", "loss", "monitor_r2"]
    check(curves, required, "curves table")
    id_cols = [c for c in _CURVE_ID if c in curves.columns]
    curves = curves.assign(rel_loss=pd.to_numeric(curves["loss"], errors="coerce") / chance_loss(curves))
    methods = ordered_methods(curves)
    classes = sorted(pd.unique(curves["n_classes"]))
    dims = sorted(pd.unique(curves["latent_dim"]))
    palette = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(len(classes), 1)))
    colors = dict(zip(classes, palette, strict=False))
    styles = {d: _DIM_STYLES[i % len(_DIM_STYLES)] for i, d in enumerate(dims)}
    n_models = curves[id_cols].drop_duplicates().shape[0]
    alpha = float(np.clip(3.0 / math.sqrt(max(n_models / max(len(methods), 1), 1)), 0.2, 0.9))
    fig, axes = plt.subplots(2, len(methods), figsize=(5.4 * len(methods), 6.6), squeeze=False,
                             sharex="col", layout="constrained")
    for j, m in enumerate(methods):
        sub = curves[curves["method"].astype(str) == m]
        for col, ax in (("rel_loss", axes[0][j]), ("monitor_r2", axes[1][j])):
            lines, line_colors, line_styles, dots = [], [], [], []
            for model, g in sub.groupby(id_cols, sort=False, dropna=False):
                ident = dict(zip(id_cols, model if isinstance(model, tuple) else (model,), strict=False))
                g = g.sort_values("step")
                xy = np.column_stack([pd.to_numeric(g["step"], errors="coerce").to_numpy(dtype=float),
                                      pd.to_numeric(g[col], errors="coerce").to_numpy(dtype=float)])
                xy = xy[np.isfinite(xy).all(axis=1)]
                color, style = colors[ident["n_classes"]], styles[ident["latent_dim"]]
                if len(xy) > 1:
                    lines.append(xy)
                    line_colors.append(color)
                    line_styles.append(style)
                if col == "monitor_r2" and len(xy):
                    dots.append((xy, color))
            if lines:
                ax.add_collection(LineCollection(lines, colors=line_colors, linestyles=line_styles,
                                                 linewidths=1.1, alpha=alpha))
                ax.autoscale_view()
            for xy, color in dots:  # the evaluation points, so a sparse curve shows its samples
                ax.scatter(xy[:, 0], xy[:, 1], color=color, s=9, alpha=alpha, zorder=3)
            if not lines and not dots:
                ax.text(0.5, 0.5, f"no finite {col} values", transform=ax.transAxes, ha="center",
                        va="center", color="0.4")
            ax.grid(True, alpha=0.3)
        axes[0][j].set_title(f"{m}: loss / log K (1 = chance; step 0 = initial model)", fontsize=10)
        axes[0][j].set_ylabel("cross-entropy / log K")
        axes[1][j].set_title(f"{m}: monitor R² (step 0 = initial model)", fontsize=10)
        axes[1][j].set_ylabel(label("monitor_r2"))
        axes[1][j].set_xlabel(label("step"))
        if axes[1][j].has_data():
            lo, _ = axes[1][j].get_ylim()
            axes[1][j].set_ylim(max(lo, -0.05), 1.02)
            axes[1][j].axhline(1.0, color="0.6", linewidth=0.8, linestyle=":", zorder=0)
    handles = [Line2D([], [], color=colors[c], linewidth=2, label=f"|C| = {fmt(c)}") for c in classes]
    if len(dims) > 1:
        handles += [Line2D([], [], color="0.3", linestyle=styles[d], label=f"d = {fmt(d)}") for d in dims]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, ncol=min(len(handles), 6),
               frameon=False)
    fig.suptitle(f"Training curves: {n_models} model(s), one line per model", fontsize=11)
    return save(fig, stem)
