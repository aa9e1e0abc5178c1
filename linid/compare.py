"""Cross-model comparisons of Roeder, Metz & Kingma (2021), docs/science.md §4.

Every function takes two models' features on the *same* held-out inputs: ``a`` (n, p) and
``b`` (n, q), row i of both being the same input. Linear identifiability says b = A a (+ c) for
an invertible A, which makes every canonical correlation 1 and both linear R² equal 1.

Pure numpy: no torch, so the module can be used on saved arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "cca",
    "compare_pair",
    "linear_r2",
    "mean_cca",
    "svcca",
]

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
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return arr


def _check_pair(a: ArrayLike, b: ArrayLike, min_rows: int = 2) -> tuple[Array, Array]:
    """Validate two finite 2-D arrays with equal row counts (at least ``min_rows``)."""
    x = _as_matrix(a, "a")
    y = _as_matrix(b, "b")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"a and b must hold the same inputs (same number of rows), "
            f"got {x.shape[0]} and {y.shape[0]}"
        )
    if x.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} rows, got {x.shape[0]}")
    return x, y


# --------------------------------------------------------------------------- CCA


def _orth_basis(x: Array, eps: float) -> Array:
    """Q (n, r): orthonormal basis of the centred column space, r = #{s_i ≥ eps·s_max}."""
    xc = x - x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    if s.size == 0 or s[0] <= 0.0:
        return u[:, :0]
    return u[:, s >= eps * s[0]]


def _cca_centred_bases(qa: Array, qb: Array) -> Array:
    """ρ = σ(Qaᵀ Qb), clipped to [0, 1] and sorted descending."""
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        raise ValueError(
            "CCA is undefined for a constant (rank-0) feature matrix: "
            f"rank(a) = {qa.shape[1]}, rank(b) = {qb.shape[1]}"
        )
    rho = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.sort(np.clip(rho, 0.0, 1.0))[::-1]


def cca(a: ArrayLike, b: ArrayLike, eps: float = 1e-8) -> Array:
    """Canonical correlations ρ_i = σ_i(Qaᵀ Qb), Qa, Qb orthonormal bases of the centred a, b."""
    x, y = _check_pair(a, b)
    return _cca_centred_bases(_orth_basis(x, eps), _orth_basis(y, eps))


def mean_cca(a: ArrayLike, b: ArrayLike) -> float:
    """mCCA = (1/r) Σ_i ρ_i over the r = min(rank a, rank b) canonical correlations."""
    return float(np.mean(cca(a, b)))


def _zscore(x: Array, eps: float) -> Array:
    """(x − mean) / std per feature; features with std ≤ eps·max(1, |mean|) are dropped."""
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    keep = sd > eps * np.maximum(1.0, np.abs(mu))
    return (x[:, keep] - mu[keep]) / sd[keep]


def _top_k_directions(x: Array, k: int, eps: float) -> Array:
    """U_k S_k: the top-k left singular directions of x, scaled (k capped at the numerical rank)."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    if s.size == 0 or s[0] <= 0.0:
        return x[:, :0]
    r = int(np.count_nonzero(s >= eps * s[0]))
    kk = min(k, r)
    return u[:, :kk] * s[:kk]


def svcca(a: ArrayLike, b: ArrayLike, k: int, eps: float = 1e-8) -> Array:
    """SVCCA: ρ = CCA(U_k^a S_k^a, U_k^b S_k^b) of the z-scored features' top-k SVD subspaces."""
    if int(k) != k or k < 1:
        raise ValueError(f"svcca needs an integer k ≥ 1, got {k!r}")
    x, y = _check_pair(a, b)
    za, zb = _zscore(x, eps), _zscore(y, eps)
    if za.shape[1] == 0 or zb.shape[1] == 0:
        raise ValueError(
            "SVCCA is undefined when every feature is constant: "
            f"{za.shape[1]} non-constant feature(s) in a, {zb.shape[1]} in b"
        )
    return cca(_top_k_directions(za, int(k), eps), _top_k_directions(zb, int(k), eps), eps=eps)


# --------------------------------------------------------------------------- regression


def _r2_uniform(y_true: Array, y_pred: Array) -> float:
    """R² = mean_j [1 − Σ(y_j − ŷ_j)² / Σ(y_j − ȳ_j)²]; a constant column scores 1 if exact else 0."""
    ss_res = ((y_true - y_pred) ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    safe = ss_tot > 0.0
    r2 = np.where(
        safe, 1.0 - ss_res / np.where(safe, ss_tot, 1.0), np.where(ss_res == 0.0, 1.0, 0.0)
    )
    return float(np.mean(r2))


def linear_r2(a: ArrayLike, b: ArrayLike) -> float:
    """R² of b ≈ a W + c, least squares on the first n//2 rows, scored on the rest (mean over dims)."""
    x, y = _check_pair(a, b, min_rows=4)
    h = x.shape[0] // 2
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(design[:h], y[:h], rcond=None)
    return _r2_uniform(y[h:], design[h:] @ coef)


# --------------------------------------------------------------------------- summary


def compare_pair(a: ArrayLike, b: ArrayLike, svcca_k: int | None = None) -> dict:
    """All docs/science.md §4 measures for one pair: mCCA, CCA spectrum, mean SVCCA_k, R²(a→b), R²(b→a)."""
    x, y = _check_pair(a, b, min_rows=4)
    spectrum = cca(x, y)
    k = min(x.shape[1], y.shape[1]) if svcca_k is None else svcca_k
    return {
        "mcca": float(np.mean(spectrum)),
        "cca_spectrum": [float(v) for v in spectrum],
        "svcca": float(np.mean(svcca(x, y, k))),
        "r2_ab": linear_r2(x, y),
        "r2_ba": linear_r2(y, x),
    }
