"""Cross-model comparisons of Roeder, Metz & Kingma (2021), docs/science.md §4.

Every function takes two models' features on the *same* held-out inputs: ``a`` (n, p) and
``b`` (n, q), row i of both being the same input. Linear identifiability says b = A a (+ c) for
an invertible A, which makes every canonical correlation 1 and both affine R² equal 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from linid.probes.arrays import Array, check_pair
from linid.probes.regression import r2_affine
from linid.probes.sizes import cca_rows
from linid.probes.stats import zscore

# --------------------------------------------------------------------------- CCA


def _orth_basis(x: Array, eps: float) -> Array:
    """Q (n, r): orthonormal basis of the centred column space, r = #{s_i ≥ eps·s_max}."""
    xc = x - x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    if s.size == 0 or s[0] <= 0.0:
        return u[:, :0]
    return u[:, s >= eps * s[0]]


def _cca_centred_bases(qa: Array, qb: Array) -> Array:
    """ρ = σ(Qaᵀ Qb), clipped to [0, 1] and sorted descending; ValueError when the rows do not
    exceed the two ranks (:func:`linid.probes.sizes.cca_rows`: some ρ would be 1 by construction)."""
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        raise ValueError(
            "CCA is undefined for a constant (rank-0) feature matrix: "
            f"rank(a) = {qa.shape[1]}, rank(b) = {qb.shape[1]}"
        )
    n, p, q = qa.shape[0], qa.shape[1], qb.shape[1]
    if n < cca_rows(p, q):
        raise ValueError(
            f"CCA is undefined on {n} rows for {p} + {q} directions: centred, both lie in "
            f"{n - 1} dimensions, so {p + q - n + 1} canonical correlation(s) would be 1 whatever "
            f"the data; it needs at least {cca_rows(p, q)} rows"
        )
    rho = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.sort(np.clip(rho, 0.0, 1.0))[::-1]


def cca(a: ArrayLike, b: ArrayLike, eps: float = 1e-8) -> Array:
    """Canonical correlations ρ_i = σ_i(Qaᵀ Qb), Qa, Qb orthonormal bases of the centred a, b."""
    x, y = check_pair(a, b, names=("a", "b"), min_rows=2)
    return _cca_centred_bases(_orth_basis(x, eps), _orth_basis(y, eps))


def mean_cca(a: ArrayLike, b: ArrayLike) -> float:
    """mCCA = (1/r) Σ_i ρ_i over the r = min(rank a, rank b) canonical correlations."""
    return float(np.mean(cca(a, b)))


def top_k_directions(x: Array, k: int, eps: float) -> Array:
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
    x, y = check_pair(a, b, names=("a", "b"), min_rows=2)
    za, zb = zscore(x, eps), zscore(y, eps)
    if za.shape[1] == 0 or zb.shape[1] == 0:
        raise ValueError(
            "SVCCA is undefined when every feature is constant: "
            f"{za.shape[1]} non-constant feature(s) in a, {zb.shape[1]} in b"
        )
    return cca(top_k_directions(za, int(k), eps), top_k_directions(zb, int(k), eps), eps=eps)


def compare_pair(a: ArrayLike, b: ArrayLike, svcca_k: int | None = None) -> dict:
    """All docs/science.md §4 measures for one pair: mCCA, CCA spectrum, mean SVCCA_k, R²(a→b), R²(b→a)."""
    x, y = check_pair(a, b, names=("a", "b"))
    spectrum = cca(x, y)
    k = min(x.shape[1], y.shape[1]) if svcca_k is None else svcca_k
    return {
        "mcca": float(np.mean(spectrum)),
        "cca_spectrum": [float(v) for v in spectrum],
        "svcca": float(np.mean(svcca(x, y, k))),
        "r2_ab": r2_affine(x, y),
        "r2_ba": r2_affine(y, x),
    }
