"""Figures of the simulation sweep (docs/science.md §3: mean ± std over seeds per sweep cell).

Every figure function takes a pandas DataFrame and an output path *stem* (a Path without suffix),
writes ``<stem>.png`` (dpi 150) and ``<stem>.pdf``, closes the figure and returns the written paths.

Inputs are the aggregated tables of the pipeline:

- the *probes* table, one row per trained model (sweep axes, ``method``, ``seed`` and the probe
  metrics ``r2_affine``, ``r2_linear``, ``mae_sv``, ``r2_w_v``, ``mcc_*``, ``r2_knn``);
- the *curves* table, one row per logged training point (``step``, ``loss``, ``monitor_r2``).

Aggregation is over every row that falls in a plotted group: slice the table first (by
``experiment`` or with :func:`select_base`) when it mixes cells that differ on other axes.

Matplotlib only, with the non-interactive Agg backend; no snakemake / mlflow imports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from linid.config import CELL_AXES

__all__ = [
    "METRIC_LABELS",
    "SWEEP_AXES",
    "cell_means",
    "cell_stds",
    "heatmap",
    "metric_vs_axis",
    "metric_vs_classes",
    "paper_comparison",
    "select_base",
    "summarise",
    "training_curves",
]

SWEEP_AXES: tuple[str, ...] = CELL_AXES

METRIC_LABELS: dict[str, str] = {
    "r2_affine": "R²$_a$ (affine probe)",
    "r2_linear": "R²$_o$ (linear probe, no intercept)",
    "mae_sv": "MAE$_o$ (singular values vs 1/κ)",
    "r2_w_v": "R²$_a$ (W rows → cluster vectors)",
    "r2_w_v_linear": "R²$_o$ (W rows → cluster vectors)",
    "mae_w_v": "MAE$_o$ (W rows → cluster vectors, singular values vs 1)",
    "mcc_pearson": "MCC (Pearson)",
    "mcc_spearman": "MCC (Spearman)",
    "mcc_pearson_aligned": "MCC (Pearson, aligned)",
    "mcc_spearman_aligned": "MCC (Spearman, aligned)",
    "r2_knn": "R² (kNN probe)",
    "monitor_r2": "monitor R²",
    "loss": "cross-entropy loss",
}

AXIS_LABELS: dict[str, str] = {
    "latent_dim": "latent dimension d",
    "n_classes": "number of classes |C|",
    "kappa": "concentration κ",
    "conditional": "conditional distribution",
    "cluster_prior": "cluster-vector prior",
    "label_noise": "label-noise probability p",
    "cond_beta": "conditional shape / bound β",
    "prior_shape": "cluster-prior shape p",
    "prior_scale": "cluster-prior scale",
    "step": "training step",
}

METHOD_STYLES: dict[str, dict[str, Any]] = {
    "supervised": {"color": "tab:blue", "marker": "o", "linestyle": "-"},
    "diet": {"color": "tab:orange", "marker": "s", "linestyle": "--"},
}

DPI = 150


# ----------------------------------------------------------------------------- helpers


def _label(name: str) -> str:
    """Human-readable label of a metric or axis column."""
    return METRIC_LABELS.get(name) or AXIS_LABELS.get(name) or name


def _is_unit_metric(metric: str) -> bool:
    """True for R² / MCC metrics, whose natural colour scale tops out at 1."""
    return metric.startswith(("r2", "mcc", "monitor_r2"))


def _check(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ValueError unless ``df`` is a non-empty DataFrame holding ``columns``."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} is missing required column(s) {missing}; it has {list(map(str, df.columns))}"
        )
    if df.empty:
        raise ValueError(f"{what} is empty (no rows to plot)")


def _methods(df: pd.DataFrame) -> list[str]:
    """Methods present in ``df``: known ones first (supervised, diet), then the rest sorted."""
    present = [str(m) for m in pd.unique(df["method"].astype(str))]
    known = [m for m in METHOD_STYLES if m in present]
    return known + sorted(m for m in present if m not in METHOD_STYLES)


def _method_style(method: str, i: int) -> dict[str, Any]:
    """Colour / marker / line style of one method (fallback: cycle by index)."""
    if method in METHOD_STYLES:
        return dict(METHOD_STYLES[method])
    markers = "^vD<>P*X"
    return {"color": f"C{(i + 2) % 10}", "marker": markers[i % len(markers)], "linestyle": "-."}


def _is_categorical(s: pd.Series) -> bool:
    """True when a column holds strings / categories rather than numbers."""
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


def _fmt(v: Any) -> str:
    """Compact text of an axis value (5.0 -> '5', 0.1 -> '0.1')."""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def _save(fig: Figure, stem: str | Path) -> list[Path]:
    """Write ``<stem>.png`` (dpi 150) and ``<stem>.pdf``, close the figure, return the paths."""
    stem = Path(stem)
    if stem.suffix.lower() in {".png", ".pdf"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.parent / (stem.name + ".png"), stem.parent / (stem.name + ".pdf")]
    try:
        fig.savefig(paths[0], dpi=DPI)  # constrained layout already fits every label
        fig.savefig(paths[1])
    finally:
        plt.close(fig)
    return paths


def _seed_note(counts: pd.Series) -> str:
    """'n = 3 seeds per point' or 'n = 2–5 ...' from per-group counts."""
    counts = counts[counts > 0]
    if counts.empty:
        return "no finite values"
    lo, hi = int(counts.min()), int(counts.max())
    n = f"{lo}" if lo == hi else f"{lo}–{hi}"
    return f"mean ± std over n = {n} model(s) per point"


def summarise(df: pd.DataFrame, by: Sequence[str], metric: str) -> pd.DataFrame:
    """Mean, std and count of ``metric`` (NaNs skipped) per group of ``by``, as columns."""
    _check(df, [*by, metric], "table")
    values = pd.to_numeric(df[metric], errors="coerce")
    g = values.groupby([df[c] for c in by], sort=True, dropna=False)
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count()})
    return out.reset_index()


def _cell_agg(df: pd.DataFrame, metric: str, stat: str) -> pd.DataFrame:
    """Pivot of one statistic of ``metric``: index latent_dim, columns n_classes."""
    s = summarise(df, ["latent_dim", "n_classes"], metric)
    table = s.pivot(index="latent_dim", columns="n_classes", values=stat)
    return table.sort_index(axis=0).sort_index(axis=1)


def cell_means(df: pd.DataFrame, metric: str = "r2_affine") -> pd.DataFrame:
    """Mean of ``metric`` over seeds per (latent_dim, n_classes) cell: index d, columns |C|."""
    return _cell_agg(df, metric, "mean")


def cell_stds(df: pd.DataFrame, metric: str = "r2_affine") -> pd.DataFrame:
    """Sample std of ``metric`` over seeds per (latent_dim, n_classes) cell (NaN for one seed)."""
    return _cell_agg(df, metric, "std")


def _color_limits(values: np.ndarray, metric: str) -> tuple[float, float]:
    """Colour range: [min(0, data min), 1] for R²/MCC, the data range otherwise."""
    finite = values[np.isfinite(values)]
    if _is_unit_metric(metric):
        lo = min(0.0, float(finite.min())) if finite.size else 0.0
        return lo, 1.0
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


# ----------------------------------------------------------------------------- selection


def _matches(col: pd.Series, value: Any) -> pd.Series:
    """Boolean mask of ``col == value``, tolerant to int/float (5 == 5.0) and to NaN == NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return col.isna()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        num = pd.to_numeric(col, errors="coerce").astype(float)
        return pd.Series(
            np.isclose(num.to_numpy(), float(value), rtol=1e-9, atol=1e-12), index=col.index
        )
    return col.astype(str) == str(value)


def select_base(df: pd.DataFrame, base: Mapping[str, Any], keep: Sequence[str]) -> pd.DataFrame:
    """Rows equal to ``base`` on every sweep axis except those in ``keep`` (one-factor slices).

    Only the axes of :data:`SWEEP_AXES` are compared; other keys of ``base`` are ignored, and an
    axis absent from ``base`` is not constrained. Numbers compare tolerantly (5 == 5.0).
    """
    if isinstance(keep, str):
        keep = [keep]
    unknown = [k for k in keep if k not in SWEEP_AXES]
    if unknown:
        raise ValueError(
            f"select_base: keep names unknown sweep axis/axes {unknown}; known: {list(SWEEP_AXES)}"
        )
    fixed = [a for a in SWEEP_AXES if a in base and a not in keep]
    _check(df, fixed + [k for k in keep], "probes table")
    mask = pd.Series(True, index=df.index)
    for axis in fixed:
        mask &= _matches(df[axis], base[axis])
    return df.loc[mask]


# ----------------------------------------------------------------------------- figures


def heatmap(df: pd.DataFrame, stem: str | Path, metric: str = "r2_affine") -> list[Path]:
    """Heatmap of mean ± std ``metric`` per (latent_dim, n_classes) cell, one panel per method."""
    _check(df, ["method", "latent_dim", "n_classes", metric], "probes table")
    methods = _methods(df)
    d_all = sorted(pd.unique(df["latent_dim"]))
    c_all = sorted(pd.unique(df["n_classes"]))
    means, stds, counts = {}, {}, []
    for m in methods:
        sub = df[df["method"].astype(str) == m]
        mu = cell_means(sub, metric).reindex(index=d_all, columns=c_all)
        sd = cell_stds(sub, metric).reindex(index=d_all, columns=c_all)
        means[m], stds[m] = mu, sd
        counts.append(summarise(sub, ["latent_dim", "n_classes"], metric)["n"])
    stacked = np.concatenate([means[m].to_numpy(dtype=float).ravel() for m in methods])
    vmin, vmax = _color_limits(stacked, metric)
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
        ax.set_xticks(range(len(c_all)), [_fmt(c) for c in c_all])
        ax.set_yticks(range(len(d_all)), [_fmt(d) for d in d_all])
        ax.set_xlabel(_label("n_classes"))
        ax.set_ylabel(_label("latent_dim"))
        ax.set_title(f"{m}")
    assert image is not None
    cbar = fig.colorbar(image, ax=list(axes[0]), shrink=0.9)
    cbar.set_label(f"mean {_label(metric)}")
    fig.suptitle(f"{_label(metric)} per cell\n{_seed_note(pd.concat(counts))}", fontsize=10)
    return _save(fig, stem)


def _errorbar(ax: plt.Axes, s: pd.DataFrame, x: Any, label: str, **style: Any) -> None:
    """Mean line with ±std error bars (std 0 where a group has a single model)."""
    ax.errorbar(
        x,
        s["mean"].to_numpy(dtype=float),
        yerr=s["std"].fillna(0.0).to_numpy(dtype=float),
        label=label,
        capsize=3,
        linewidth=1.6,
        markersize=5,
        elinewidth=1.0,
        **style,
    )


def _unit_ylim(ax: plt.Axes, metric: str) -> None:
    """For R²/MCC metrics, extend the y-axis to show the ceiling at 1 (dotted reference line)."""
    if _is_unit_metric(metric):
        _, hi = ax.get_ylim()
        ax.set_ylim(top=max(hi, 1.02))
        ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":", zorder=0)


def metric_vs_classes(df: pd.DataFrame, stem: str | Path, metric: str = "r2_affine") -> list[Path]:
    """``metric`` vs number of classes (log x), one line per latent_dim, one panel per method."""
    _check(df, ["method", "latent_dim", "n_classes", metric], "probes table")
    methods = _methods(df)
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
        s = summarise(sub, ["latent_dim", "n_classes"], metric)
        counts.append(s["n"])
        for color, d in zip(colors, dims, strict=False):
            sd = s[(s["latent_dim"] == d) & (s["n"] > 0)]
            if sd.empty:
                continue
            x = sd["n_classes"].to_numpy(dtype=float)
            _errorbar(ax, sd, x, f"d = {_fmt(d)}", color=color, marker="o")
        ax.set_xscale("log")
        classes = sorted(pd.unique(sub["n_classes"]))
        ax.set_xticks([float(c) for c in classes], [_fmt(c) for c in classes])
        ax.minorticks_off()
        ax.set_xlabel(_label("n_classes") + " (log scale)")
        ax.set_ylabel(_label(metric))
        ax.set_title(m)
        ax.grid(True, alpha=0.3)
        if ax.has_data():
            ax.legend(title="latent dim", fontsize=8, title_fontsize=8, loc="best")
    axes[0][0].relim()
    axes[0][0].autoscale_view()
    _unit_ylim(axes[0][0], metric)  # shared y: once, after every panel has its data
    fig.suptitle(f"{_label(metric)} vs |C|\n{_seed_note(pd.concat(counts))}", fontsize=10)
    return _save(fig, stem)


def metric_vs_axis(
    df: pd.DataFrame, axis: str, stem: str | Path, metric: str = "r2_affine"
) -> list[Path]:
    """``metric`` vs one sweep axis (categorical for strings), one line per method, mean ± std."""
    _check(df, ["method", axis, metric], "probes table")
    methods = _methods(df)
    categorical = _is_categorical(df[axis])
    s = summarise(df.assign(method=df["method"].astype(str)), ["method", axis], metric)
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
        _errorbar(ax, sm, x, m, **_method_style(m, i))
    if categorical:
        ax.set_xticks(range(len(levels)), levels, rotation=20 if len(levels) > 4 else 0)
        ax.set_xlim(-0.5, len(levels) - 0.5)
    else:
        vals = np.asarray(levels, dtype=float)
        if vals.size > 1 and vals.min() > 0 and vals.max() / vals.min() >= 20:
            ax.set_xscale("log")
            ax.minorticks_off()
        if 0 < vals.size <= 12:
            ax.set_xticks(vals, [_fmt(v) for v in levels])
    ax.set_xlabel(_label(axis))
    ax.set_ylabel(_label(metric))
    ax.grid(True, alpha=0.3)
    if ax.has_data():
        ax.legend(title="method", fontsize=8, title_fontsize=8, loc="best")
    _unit_ylim(ax, metric)
    ax.set_title(f"{_label(metric)} vs {_label(axis)}\n{_seed_note(s['n'])}", fontsize=10)
    return _save(fig, stem)


_CURVE_ID = ("experiment", "method", *SWEEP_AXES, "data_seed", "seed")


def _cell_colors(n: int) -> list[Any]:
    """``n`` distinguishable colours (tab10 / tab20, then a continuous map)."""
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return list(plt.get_cmap("turbo")(np.linspace(0.05, 0.95, n)))


def training_curves(curves: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Loss and monitor R² vs step, one thin line per model, coloured by (method, d, |C|) cell."""
    required = ["method", "latent_dim", "n_classes", "seed", "step", "loss", "monitor_r2"]
    _check(curves, required, "curves table")
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
    colors = dict(zip(keys, _cell_colors(len(keys)), strict=False))
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
        ax.set_xlabel(_label("step"))
        ax.set_ylabel(_label(col))
        ax.grid(True, alpha=0.3)
    if segs["monitor_r2"]:
        _unit_ylim(ax_r2, "monitor_r2")
    ax_loss.set_title("training loss")
    ax_r2.set_title("monitor R² (affine probe during training)")
    handles = [
        Line2D(
            [],
            [],
            color=colors[k],
            linestyle="--" if k[0] == "diet" else "-",
            linewidth=2,
            label=f"{k[0]}, d={_fmt(k[1])}, |C|={_fmt(k[2])}",
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
    return _save(fig, stem)


# --------------------------------------------------------------------------- [K] comparisons

LAYER_STYLE = {
    "f": {"color": "C0", "ls": "-", "label": "f (in family), trained"},
    "hidden": {"color": "C1", "ls": "-", "label": "hidden layer (outside), trained"},
    "f_untrained": {"color": "C0", "ls": ":", "label": "f, untrained"},
    "hidden_untrained": {"color": "C1", "ls": ":", "label": "hidden layer, untrained"},
}


def mcca_vs_classes(pairs: pd.DataFrame, stem: str | Path, metric: str = "mcca") -> list[Path]:
    """mCCA (mean ± std over seed pairs) vs K, one panel per M; the diversity boundary K = M + 1."""
    _check(pairs, ["rep_dim", "n_classes", "layer", metric], "mcca_vs_classes")
    dims = sorted(pairs["rep_dim"].unique())
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.4), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, m in zip(axes[0], dims, strict=True):
        part = pairs[pairs["rep_dim"] == m]
        for layer, style in LAYER_STYLE.items():
            s = part[part["layer"] == layer].groupby("n_classes")[metric].agg(["mean", "std"])
            if s.empty:
                continue
            ax.errorbar(s.index, s["mean"], yerr=s["std"].fillna(0), marker="o", capsize=3,
                        color=style["color"], ls=style["ls"], label=style["label"])
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
    axes[0][0].set_ylabel(_label(metric) if metric != "mcca" else "mean CCA between seeds")
    axes[0][-1].legend(fontsize=7, loc="best")
    return _save(fig, stem)


def cca_spectra(pairs: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Sorted CCA spectra (mean over seed pairs) per layer, one panel per family cell."""
    _check(pairs, ["cell", "layer", "cca_spectrum"], "cca_spectra")
    cells = list(dict.fromkeys(pairs["cell"]))
    ncol = min(4, len(cells))
    nrow = math.ceil(len(cells) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, cell in zip(axes.flat, cells, strict=False):
        part = pairs[pairs["cell"] == cell]
        for layer, style in LAYER_STYLE.items():
            rows = part[part["layer"] == layer]["cca_spectrum"]
            if rows.empty:
                continue
            spec = np.mean([np.array(s.split(), dtype=float) for s in rows], axis=0)
            x = np.arange(1, len(spec) + 1) / len(spec)
            ax.plot(x, spec, color=style["color"], ls=style["ls"], label=style["label"])
        ax.set_title(cell, fontsize=9)
        ax.set_xlabel("canonical direction (fraction of dim)")
        ax.set_ylim(0, 1.02)
    for ax in list(axes.flat)[len(cells):]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("canonical correlation")
    axes[0][0].legend(fontsize=7, loc="lower left")
    return _save(fig, stem)


def alignment(
    fa: np.ndarray, fb: np.ndarray, labels: np.ndarray, stem: str | Path, title: str = ""
) -> list[Path]:
    """Two models' 2-D representations, and model B mapped onto A by the least-squares linear map."""
    if fa.shape[1] < 2 or fb.shape[1] < 2:
        raise ValueError("alignment needs representations with at least 2 dimensions")
    design = np.hstack([fb, np.ones((len(fb), 1))])
    coef, *_ = np.linalg.lstsq(design, fa, rcond=None)
    aligned = design @ coef
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained")
    kw = {"c": labels, "cmap": "hsv", "s": 4, "alpha": 0.7, "linewidths": 0}
    axes[0].scatter(fa[:, 0], fa[:, 1], **kw)
    axes[0].set_title("model A: f(x)")
    axes[1].scatter(fb[:, 0], fb[:, 1], **kw)
    axes[1].set_title("model B: f(x)")
    axes[2].scatter(fa[:, 0], fa[:, 1], c="0.8", s=4, linewidths=0, label="A")
    axes[2].scatter(aligned[:, 0], aligned[:, 1], **{**kw, "s": 2}, label="B, linearly aligned")
    axes[2].set_title("B after the fitted linear map (grey: A)")
    for ax in axes:
        ax.set_aspect("equal", adjustable="datalim")
    if title:
        fig.suptitle(title)
    return _save(fig, stem)


# ----------------------------------------------------------------------------- paper comparison


def paper_comparison(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Published (x) vs reproduced (y) R² per matched row, coloured by the budget fraction.

    One marker per (published row, budget); error bars are the std over seeds; the diagonal is
    perfect agreement. MAE rows are left out (another scale). With no reproduced row the figure
    says so instead of being empty.
    """
    _check(table, ["published", "reproduced_mean", "budget_fraction", "metric", "table"], "comparison")
    done = table[(table["n_seeds"] > 0) & ~table["metric"].astype(str).str.startswith("mae")]
    fig, ax = plt.subplots(figsize=(6.2, 5.2), layout="constrained")
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, zorder=0)
    if done.empty:
        ax.text(0.5, 0.5, "no reproduced cell matches a published row", ha="center", va="center")
    else:
        frac = done["budget_fraction"].astype(float).clip(lower=1e-4)
        norm = matplotlib.colors.LogNorm(vmin=min(1e-3, float(frac.min())), vmax=1.0)
        markers = {"Table 2": "s", "Table 3": "o", "Table 5": "D"}
        for name, part in done.groupby("table"):
            pf = part["budget_fraction"].astype(float).clip(lower=1e-4)
            ax.errorbar(part["published"], part["reproduced_mean"],
                        yerr=part["reproduced_std"].fillna(0), fmt="none", ecolor="0.5", lw=0.8)
            sc = ax.scatter(part["published"], part["reproduced_mean"], c=pf, cmap="viridis",
                            norm=norm, marker=markers.get(name, "^"), s=46, edgecolor="k",
                            label=str(name), zorder=3)
        # one label per point: rows that land on the same spot share it
        labels: dict[tuple[float, float], list[str]] = {}
        for _, r in done.iterrows():
            key = (round(float(r["published"]), 3), round(float(r["reproduced_mean"]), 3))
            text = f"{r['table'].replace('Table ', 'T')} {r['setting']} {r['metric'].replace('r2_', 'R² ')}"
            labels.setdefault(key, []).append(text)
        for i, ((x, y), texts) in enumerate(sorted(labels.items())):
            ax.annotate("; ".join(texts), (x, y), fontsize=6, xytext=(-4, -10 - 7 * (i % 3)),
                        textcoords="offset points", ha="right")
        cb = fig.colorbar(sc, ax=ax)
        cb.set_label("budget: share of the paper's samples (log)")
        ax.legend(loc="upper left", fontsize=8)
        values = done[["published", "reproduced_mean"]].to_numpy(dtype=float)
        lo = max(0.0, math.floor((float(np.nanmin(values)) - 0.05) * 10) / 10)
        ax.set_xlim(lo, 1.01)
        ax.set_ylim(lo, 1.01)
    ax.set_xlabel("published (Reizinger et al. 2025)")
    ax.set_ylabel("reproduced (mean ± std over seeds)")
    ax.set_title("Published vs reproduced R²", fontsize=10)
    return _save(fig, stem)
