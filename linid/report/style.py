"""What every figure shares: checks of the input table, styles, number formats, saving PNG + PDF."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from linid.names import has_ceiling_one

METHOD_STYLES: dict[str, dict[str, Any]] = {
    "supervised": {"color": "tab:blue", "marker": "o", "linestyle": "-"},
    "diet": {"color": "tab:orange", "marker": "s", "linestyle": "--"},
    "infonce": {"color": "tab:green", "marker": "^", "linestyle": "-."},
}

DPI = 150


# ----------------------------------------------------------------------------- helpers


def is_unit_metric(metric: str) -> bool:
    """True for R² / MCC / correlation metrics, whose natural colour scale tops out at 1."""
    return has_ceiling_one(metric)


def check(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
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


def ordered_methods(df: pd.DataFrame) -> list[str]:
    """Methods present in ``df``: known ones first (supervised, diet), then the rest sorted."""
    present = [str(m) for m in pd.unique(df["method"].astype(str))]
    known = [m for m in METHOD_STYLES if m in present]
    return known + sorted(m for m in present if m not in METHOD_STYLES)


def method_style(method: str, i: int) -> dict[str, Any]:
    """Colour / marker / line style of one method (fallback: cycle by index)."""
    if method in METHOD_STYLES:
        return dict(METHOD_STYLES[method])
    markers = "^vD<>P*X"
    return {"color": f"C{(i + 2) % 10}", "marker": markers[i % len(markers)], "linestyle": "-."}


def is_categorical(s: pd.Series) -> bool:
    """True when a column holds strings / categories rather than numbers."""
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


def fmt(v: Any) -> str:
    """Compact text of an axis value (5.0 -> '5', 0.1 -> '0.1')."""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def save(fig: Figure, stem: str | Path) -> list[Path]:
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


def seed_note(counts: pd.Series) -> str:
    """'n = 3 seeds per point' or 'n = 2–5 ...' from per-group counts."""
    counts = counts[counts > 0]
    if counts.empty:
        return "no finite values"
    lo, hi = int(counts.min()), int(counts.max())
    n = f"{lo}" if lo == hi else f"{lo}–{hi}"
    return f"mean ± std over n = {n} model(s) per point"


def color_limits(values: np.ndarray, metric: str) -> tuple[float, float]:
    """Colour range: [min(0, data min), 1] for R²/MCC, the data range otherwise."""
    finite = values[np.isfinite(values)]
    if is_unit_metric(metric):
        lo = min(0.0, float(finite.min())) if finite.size else 0.0
        return lo, 1.0
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def errorbar(
    ax: plt.Axes, s: pd.DataFrame, x: Any, label: str, cap: float | None = None, **style: Any
) -> None:
    """Mean line with ±std error bars (std 0 where a group has a single model).

    ``cap``: the metric's ceiling (1 for R² and MCC); the upper bar stops there, since no run can score
    above it, so a bar above 1 would only be an artefact of a symmetric std."""
    mean = s["mean"].to_numpy(dtype=float)
    std = s["std"].fillna(0.0).to_numpy(dtype=float)
    upper = std if cap is None else np.clip(np.minimum(std, cap - mean), 0.0, None)
    ax.errorbar(
        x,
        mean,
        yerr=np.vstack([std, upper]),
        label=label,
        capsize=3,
        linewidth=1.6,
        markersize=5,
        elinewidth=1.0,
        **style,
    )


def unit_cap(metric: str) -> float | None:
    """The ceiling of ``metric`` for error bars: 1 for R²/MCC metrics, none otherwise."""
    return 1.0 if is_unit_metric(metric) else None


def unit_ylim(ax: plt.Axes, metric: str) -> None:
    """For R²/MCC metrics, extend the y-axis to show the ceiling at 1 (dotted reference line)."""
    if is_unit_metric(metric):
        _, hi = ax.get_ylim()
        ax.set_ylim(top=max(hi, 1.02))
        ax.axhline(1.0, color="0.6", linewidth=0.8, linestyle=":", zorder=0)


def cell_colors(n: int) -> list[Any]:
    """``n`` distinguishable colours (tab10 / tab20, then a continuous map)."""
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return list(plt.get_cmap("turbo")(np.linspace(0.05, 0.95, n)))
