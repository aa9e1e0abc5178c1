"""One validation for every probe: finite 2-D float64 arrays, paired by rows, and the half/half split.

Probes that fit something fit on the first ``n // 2`` rows and score on the rest. Rows are never
shuffled: callers pass i.i.d. draws, so the halves are independent.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def as_matrix(x: ArrayLike, name: str) -> Array:
    """Convert to a float64 2-D array with finite entries, or raise ValueError naming ``name``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, dim), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return arr


def check_pair(
    a: ArrayLike, b: ArrayLike, names: tuple[str, str] = ("features", "latents"), min_rows: int = 4
) -> tuple[Array, Array]:
    """Validate two 2-D finite arrays with the same number of rows (at least ``min_rows``)."""
    x = as_matrix(a, names[0])
    y = as_matrix(b, names[1])
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same number of rows, "
            f"got {x.shape[0]} and {y.shape[0]}"
        )
    if x.shape[0] < min_rows:
        raise ValueError(
            f"need at least {min_rows} rows of {names[0]}/{names[1]}, got {x.shape[0]}"
        )
    return x, y


def halves(x: Array, y: Array) -> tuple[Array, Array, Array, Array]:
    """Split rows into (x_fit, y_fit, x_test, y_test): first ``n // 2`` rows fit, the rest test."""
    h = x.shape[0] // 2
    return x[:h], y[:h], x[h:], y[h:]
