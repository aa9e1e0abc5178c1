"""Identifiability metrics of Reizinger et al. (2025), docs/science.md §3.

Every probe regresses the ground truth from the encoder output: ``features`` (n, m) = f(x),
``latents`` (n, d) = z. Probes that fit something use a half/half split: fit on the first
``n // 2`` rows, score on the remaining rows. Rows are never shuffled here; the caller passes
fresh (i.i.d.) samples, so the first and second halves are independent draws.

Pure numpy / scipy / scikit-learn: no torch, so the module can be used on saved arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.stats import rankdata
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsRegressor

__all__ = [
    "MCC_METHODS",
    "PROBE_KEYS",
    "knn_r2",
    "linear_map",
    "mcc",
    "mcc_aligned",
    "probe_metrics",
    "r2_affine",
    "r2_linear",
    "r2_rows",
    "r2_rows_linear",
    "singular_value_mae",
]

MCC_METHODS = ("pearson", "spearman")

PROBE_KEYS = (
    "r2_affine",
    "r2_linear",
    "mae_sv",
    "sv_min",
    "sv_max",
    "r2_w_v",
    "r2_w_v_linear",
    "mae_w_v",
    "mcc_pearson",
    "mcc_spearman",
    "mcc_pearson_aligned",
    "mcc_spearman_aligned",
    "r2_knn",
)

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- validation


def _as_matrix(x: ArrayLike, name: str) -> Array:
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


def _check_pair(
    a: ArrayLike, b: ArrayLike, names: tuple[str, str] = ("features", "latents"), min_rows: int = 4
) -> tuple[Array, Array]:
    """Validate two 2-D finite arrays with the same number of rows (at least ``min_rows``)."""
    x = _as_matrix(a, names[0])
    y = _as_matrix(b, names[1])
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


def _halves(x: Array, y: Array) -> tuple[Array, Array, Array, Array]:
    """Split rows into (x_fit, y_fit, x_test, y_test): first ``n // 2`` rows fit, the rest test."""
    h = x.shape[0] // 2
    return x[:h], y[:h], x[h:], y[h:]


# --------------------------------------------------------------------------- regressions


def _r2_half_half(features: Array, latents: Array, fit_intercept: bool) -> float:
    x_fit, y_fit, x_test, y_test = _halves(features, latents)
    reg = LinearRegression(fit_intercept=fit_intercept).fit(x_fit, y_fit)
    return float(r2_score(y_test, reg.predict(x_test), multioutput="uniform_average"))


def r2_affine(features: ArrayLike, latents: ArrayLike) -> float:
    """R²_a: R² of z ≈ A f + b (least squares on the first half), mean over dims on the second."""
    x, y = _check_pair(features, latents)
    return _r2_half_half(x, y, fit_intercept=True)


def r2_linear(features: ArrayLike, latents: ArrayLike) -> float:
    """R²_o: R² of z ≈ A f, no intercept (fit on the first half), mean over dims on the second."""
    x, y = _check_pair(features, latents)
    return _r2_half_half(x, y, fit_intercept=False)


def linear_map(features: ArrayLike, latents: ArrayLike, half: bool = True) -> Array:
    """A = argmin_A Σ‖z − A f‖² (no intercept) over the first half, or all rows; A is (d, m)."""
    x, y = _check_pair(features, latents)
    x_fit, y_fit = _halves(x, y)[:2] if half else (x, y)
    reg = LinearRegression(fit_intercept=False).fit(x_fit, y_fit)
    return np.asarray(reg.coef_, dtype=np.float64).reshape(y.shape[1], x.shape[1])


def singular_value_mae(
    features: ArrayLike, latents: ArrayLike, kappa: float, beta: float = 1.0
) -> tuple[float, Array]:
    """MAE_o = mean_i |σ_i(A) − β/κ| for the no-intercept map A (z ≈ A f); returns (mae, σ desc).

    Theory: f∘g = (κ/β)·O with O orthogonal, so z = (β/κ)·Oᵀ f and every σ_i(A) equals β/κ.
    A is fitted on all rows, as the official ``orthogonal_linear_disentanglement`` does.
    """
    if not (math.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa must be a positive finite number, got {kappa!r}")
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive finite number, got {beta!r}")
    a = linear_map(features, latents, half=False)
    sv = np.sort(np.linalg.svd(a, compute_uv=False))[::-1]
    mae = float(np.mean(np.abs(sv - beta / kappa)))
    return mae, sv


def r2_rows(rows: ArrayLike, targets: ArrayLike, intercept: bool = True) -> float:
    """W → v: R² of v ≈ A w + b (rows of W fit on the first half), uniform average on the second.

    ``intercept=False`` fits v ≈ A w (R²_o of the rows, for row-normalised heads). Returns ``nan``
    when the problem is under-determined: the fit half (first ``k // 2`` rows) has fewer than
    ``m + 1 + intercept`` rows (m = row dimension; the fit has m + intercept parameters per
    target), or the test half has fewer than 2 rows (R² is undefined on a single sample).
    """
    w, v = _check_pair(rows, targets, names=("rows", "targets"), min_rows=1)
    k, m = w.shape
    n_fit = k // 2
    if n_fit < m + 1 + int(intercept) or k - n_fit < 2:
        return float("nan")
    return _r2_half_half(w, v, fit_intercept=intercept)


def r2_rows_linear(rows: ArrayLike, targets: ArrayLike) -> float:
    """W → v without intercept: ``r2_rows(rows, targets, intercept=False)``."""
    return r2_rows(rows, targets, intercept=False)


# --------------------------------------------------------------------------- MCC


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
    x, y = _check_pair(a, b, names=("a", "b"), min_rows=2)
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
    x, y = _check_pair(features, latents)
    x_fit, y_fit, x_test, y_test = _halves(x, y)
    pred = LinearRegression().fit(x_fit, y_fit).predict(x_test)
    return mcc(pred, y_test, method=method)


# --------------------------------------------------------------------------- nonlinear control


def knn_r2(features: ArrayLike, latents: ArrayLike, n_neighbors: int = 10) -> float:
    """R² of z ≈ mean of z over the k nearest neighbours of f (fit half standardised), second half.

    A nonlinear control: it is high whenever z is a smooth function of f, linear or not.
    """
    if int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    x, y = _check_pair(features, latents)
    x_fit, y_fit, x_test, y_test = _halves(x, y)
    if x_fit.shape[0] < n_neighbors:
        raise ValueError(
            f"knn_r2 needs at least n_neighbors={n_neighbors} rows in the fit half, "
            f"got {x_fit.shape[0]}"
        )
    mu = x_fit.mean(axis=0)
    sd = x_fit.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    knn = KNeighborsRegressor(n_neighbors=int(n_neighbors)).fit((x_fit - mu) / sd, y_fit)
    pred = knn.predict((x_test - mu) / sd)
    return float(r2_score(y_test, pred, multioutput="uniform_average"))


# --------------------------------------------------------------------------- full report


def probe_metrics(
    features: ArrayLike,
    latents: ArrayLike,
    *,
    kappa: float,
    n_affine: int = 8192,
    n_linear: int = 4096,
    beta: float = 1.0,
    w_rows: ArrayLike | None = None,
    w_targets: ArrayLike | None = None,
    knn_neighbors: int = 10,
) -> dict[str, float]:
    """docs/science.md §3 report: rows [0, n_a) → R²_a, MCC, kNN; rows [n_a, n_a + n_o) → R²_o, MAE_o.

    Raw MCC uses all ``n_affine`` rows (nothing is fitted); aligned MCC and the regressions use
    the half/half split inside their block. ``r2_w_v`` regresses ``w_targets`` (the cluster
    vectors) from ``w_rows`` (the rows of W) and is nan when ``w_rows`` is None or too few rows.
    Extra rows beyond ``n_affine + n_linear`` are ignored. Returns plain Python floats.
    """
    for name, val in (("n_affine", n_affine), ("n_linear", n_linear)):
        if int(val) != val or val < 4:
            raise ValueError(f"{name} must be an integer >= 4, got {val!r}")
    n_affine, n_linear = int(n_affine), int(n_linear)
    x, y = _check_pair(features, latents, min_rows=1)
    need = n_affine + n_linear
    if x.shape[0] < need:
        raise ValueError(
            f"probe_metrics needs n_affine + n_linear = {n_affine} + {n_linear} = {need} rows, "
            f"got {x.shape[0]}"
        )
    xa, ya = x[:n_affine], y[:n_affine]
    xo, yo = x[n_affine:need], y[n_affine:need]

    mae, sv = singular_value_mae(xo, yo, kappa=kappa, beta=beta)

    if w_rows is None:
        r2_wv = r2_wv_lin = mae_wv = float("nan")
    else:
        if w_targets is None:
            raise ValueError("w_targets must be given together with w_rows")
        r2_wv = r2_rows(w_rows, w_targets)
        r2_wv_lin = r2_rows_linear(w_rows, w_targets)
        # official W → v MAE_o: singular values of the no-intercept map rows → v against 1
        k_rows, m_cols = np.shape(w_rows)
        enough = k_rows >= max(4, m_cols)
        mae_wv = singular_value_mae(w_rows, w_targets, kappa=1.0)[0] if enough else float("nan")

    out = {
        "r2_affine": r2_affine(xa, ya),
        "r2_linear": r2_linear(xo, yo),
        "mae_sv": mae,
        "sv_min": float(sv.min()),
        "sv_max": float(sv.max()),
        "r2_w_v": r2_wv,
        "r2_w_v_linear": r2_wv_lin,
        "mae_w_v": mae_wv,
        "mcc_pearson": mcc(xa, ya, "pearson"),
        "mcc_spearman": mcc(xa, ya, "spearman"),
        "mcc_pearson_aligned": mcc_aligned(xa, ya, "pearson"),
        "mcc_spearman_aligned": mcc_aligned(xa, ya, "spearman"),
        "r2_knn": knn_r2(xa, ya, n_neighbors=knn_neighbors),
    }
    return {k: float(out[k]) for k in PROBE_KEYS}
