"""Mean correlation coefficient (MCC): do single features match single latents, one to one?"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata
from sklearn.linear_model import LinearRegression

from linid.probes.arrays import Array, check_pair, halves

MCC_METHODS = ("pearson", "spearman")


def _standardise_columns(x: Array) -> Array:
    """Centre and scale each column to unit std; constant columns become all zeros."""
    centred = x - x.mean(axis=0)
    std = centred.std(axis=0)
    scale = np.where(std > 1e-12 * (1.0 + np.abs(x).max(axis=0)), std, np.inf)
    return centred / scale


def mcc(a: ArrayLike, b: ArrayLike, method: str = "pearson") -> float:
    """MCC = mean over a Hungarian one-to-one matching π of |corr(a_i, b_π(i))| (min(m, d) pairs).

    ``method`` is "pearson" or "spearman" (Pearson on column ranks). Constant columns have
    correlation 0 with everything.
    """
    if method not in MCC_METHODS:
        raise ValueError(f"unknown MCC method {method!r}; expected one of {MCC_METHODS}")
    x, y = check_pair(a, b, names=("a", "b"), min_rows=2)
    if method == "spearman":
        x = rankdata(x, axis=0)
        y = rankdata(y, axis=0)
    n = x.shape[0]
    corr = np.abs(_standardise_columns(x).T @ _standardise_columns(y)) / n
    corr = np.clip(corr, 0.0, 1.0)
    r, c = linear_sum_assignment(corr, maximize=True)
    return float(corr[r, c].mean())


def mcc_aligned(features: ArrayLike, latents: ArrayLike, method: str = "pearson") -> float:
    """Aligned MCC: ẑ = A f + b fit on the first half, then mcc(ẑ, z) on the second half."""
    if method not in MCC_METHODS:
        raise ValueError(f"unknown MCC method {method!r}; expected one of {MCC_METHODS}")
    x, y = check_pair(features, latents)
    x_fit, y_fit, x_test, y_test = halves(x, y)
    pred = LinearRegression().fit(x_fit, y_fit).predict(x_test)
    return mcc(pred, y_test, method=method)
