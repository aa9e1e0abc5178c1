"""Regression probes (docs/science.md §3): how well a linear (or, as a control, kNN) map recovers targets.

Every function takes ``features`` (n, m) and ``targets`` (n, d) with row i of both from the same
input; fits on the first half and scores R² (uniform average over target dims) on the second.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsRegressor

from linid.probes.arrays import Array, check_pair, halves


def _r2_half_half(features: Array, latents: Array, fit_intercept: bool) -> float:
    x_fit, y_fit, x_test, y_test = halves(features, latents)
    reg = LinearRegression(fit_intercept=fit_intercept).fit(x_fit, y_fit)
    return float(r2_score(y_test, reg.predict(x_test), multioutput="uniform_average"))


def r2_affine(features: ArrayLike, latents: ArrayLike) -> float:
    """R²_a: R² of z ≈ A f + b (least squares on the first half), mean over dims on the second."""
    x, y = check_pair(features, latents)
    return _r2_half_half(x, y, fit_intercept=True)


def r2_linear(features: ArrayLike, latents: ArrayLike) -> float:
    """R²_o: R² of z ≈ A f, no intercept (fit on the first half), mean over dims on the second."""
    x, y = check_pair(features, latents)
    return _r2_half_half(x, y, fit_intercept=False)


def affine_predict(features: ArrayLike, targets: ArrayLike) -> Array:
    """ẑ = A f + b, least squares fitted on all rows and evaluated on them (e.g. to align two models)."""
    x, y = check_pair(features, targets, min_rows=2)
    return LinearRegression().fit(x, y).predict(x)


def linear_map(features: ArrayLike, latents: ArrayLike, half: bool = True) -> Array:
    """A = argmin_A Σ‖z − A f‖² (no intercept) over the first half, or all rows; A is (d, m)."""
    x, y = check_pair(features, latents)
    x_fit, y_fit = halves(x, y)[:2] if half else (x, y)
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
    w, v = check_pair(rows, targets, names=("rows", "targets"), min_rows=1)
    k, m = w.shape
    n_fit = k // 2
    if n_fit < m + 1 + int(intercept) or k - n_fit < 2:
        return float("nan")
    return _r2_half_half(w, v, fit_intercept=intercept)


def r2_rows_linear(rows: ArrayLike, targets: ArrayLike) -> float:
    """W → v without intercept: ``r2_rows(rows, targets, intercept=False)``."""
    return r2_rows(rows, targets, intercept=False)


def knn_r2(features: ArrayLike, latents: ArrayLike, n_neighbors: int = 10) -> float:
    """R² of z ≈ mean of z over the k nearest neighbours of f (fit half standardised), second half.

    A nonlinear control: it is high whenever z is a smooth function of f, linear or not.
    """
    if int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")
    x, y = check_pair(features, latents)
    x_fit, y_fit, x_test, y_test = halves(x, y)
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


def r2_affine_interval(
    features: ArrayLike,
    latents: ArrayLike,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of R²_a over the held-out draws.

    Each replicate resamples the fit half and the score half (rows with replacement, each within
    its own half, as multinomial row counts), refits z ≈ A f + b by weighted least squares and
    scores the uniform-average R² on the resampled score half: the interval covers the fit's and
    the score's sampling noise. Returns (lo, hi) at ``level``; ``n_boot`` replicates from ``seed``.
    """
    if int(n_boot) != n_boot or n_boot < 10:
        raise ValueError(f"n_boot must be an integer >= 10, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    x, y = check_pair(features, latents)
    x_fit, y_fit, x_test, y_test = halves(x, y)
    rng = np.random.default_rng(seed)
    a_fit = np.hstack([x_fit, np.ones((len(x_fit), 1))])
    a_test = np.hstack([x_test, np.ones((len(x_test), 1))])
    scores = []
    for b0 in range(0, int(n_boot), 64):  # 64 replicates at a time bounds the memory
        nb = min(64, int(n_boot) - b0)
        wf, wt = _row_counts(rng, nb, len(x_fit)), _row_counts(rng, nb, len(x_test))
        weighted = wf[:, :, None] * a_fit[None]  # (nb, n_fit, p + 1)
        gram = weighted.transpose(0, 2, 1) @ a_fit
        coef = np.linalg.pinv(gram, hermitian=True) @ (weighted.transpose(0, 2, 1) @ y_fit)
        resid = y_test[None] - a_test[None] @ coef  # (nb, n_test, d)
        ss_res = np.einsum("bn,bnk->bk", wt, resid**2)
        mean = wt @ y_test / len(x_test)  # (nb, d)
        ss_tot = np.einsum("bn,bnk->bk", wt, (y_test[None] - mean[:, None]) ** 2)
        # sklearn's r2_score convention for a constant target: 1 if predicted exactly, else 0
        ok = ss_tot > 0
        r2 = np.where(ok, 1 - ss_res / np.where(ok, ss_tot, 1.0), (ss_res == 0) * 1.0)
        scores.append(r2.mean(1))
    tail = (1 - level) / 2
    lo, hi = np.quantile(np.concatenate(scores), [tail, 1 - tail])
    return float(lo), float(hi)


def _row_counts(rng: np.random.Generator, n_rep: int, n: int) -> Array:
    """How often each of n rows is drawn in each of n_rep resamples with replacement, (n_rep, n)."""
    idx = rng.integers(0, n, (n_rep, n)) + n * np.arange(n_rep)[:, None]
    return np.bincount(idx.ravel(), minlength=n_rep * n).reshape(n_rep, n).astype(np.float64)


def r2_reverse(features: ArrayLike, latents: ArrayLike) -> float:
    """Reverse probe: R² of f ≈ A z + b (fit on the first half, score on the second).

    Near 1: the features hold nothing beyond an affine image of the latents; low: f(x) carries
    directions z does not explain (e.g. a nonlinear mixing's curvature in the observations).
    """
    x, y = check_pair(features, latents)
    return _r2_half_half(y, x, fit_intercept=True)
