"""Shared numeric helpers of every probe and comparison: z-scoring and Pearson's r (one home)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def zscore_fit(x: ArrayLike, eps: float = 1e-12) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Mean, std and the mask of non-constant columns (std > eps·max(1, |mean|)) of x."""
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    return mu, sd, sd > eps * np.maximum(1.0, np.abs(mu))


def zscore(x: ArrayLike, eps: float = 1e-12, fit_rows: ArrayLike | None = None) -> Array:
    """(x − mean) / std per column, with the statistics of ``fit_rows`` (default: every row);
    columns constant there (``zscore_fit``) are dropped."""
    x = np.asarray(x, dtype=np.float64)
    mu, sd, keep = zscore_fit(x if fit_rows is None else x[np.asarray(fit_rows)], eps)
    return (x[:, keep] - mu[keep]) / sd[keep]


def pearson(a: ArrayLike, b: ArrayLike) -> float:
    """Pearson's r of two vectors; NaN when either is constant."""
    da = np.asarray(a, dtype=np.float64) - np.mean(a)
    db = np.asarray(b, dtype=np.float64) - np.mean(b)
    den = float(np.sqrt((da @ da) * (db @ db)))
    return float(da @ db / den) if den > 0 else float("nan")
