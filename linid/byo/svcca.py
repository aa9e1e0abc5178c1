"""[K] Figure 4's SVCCA protocol (google-research linear_identifiability/
identifiability_of_GPT_2_models.ipynb: compute_svd, get_cca_similarity_fast, compute_correlations):
layers of two models matched from the end (or by name), each compared by the sorted SVCCA
coefficients at several k.

For one pair of layers x (n, p), y (n, q), row i the same token: standardise each feature over the
rows, take the top-k left singular vectors U_x[:, :k], U_y[:, :k] of the standardised matrices; the
coefficients are the singular values of U_x[:, :k]ᵀ U_y[:, :k], sorted descending (the canonical
correlations of the two k-dimensional principal subspaces). k is capped at each matrix's numerical
rank. [K] uses every row (no held-out split); with ``heldout`` the principal directions are fitted on
the first half of a seeded permutation of the rows and the coefficients are the canonical
correlations of the second half's projections onto them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linid.probes.arrays import Array, check_pair
from linid.probes.cca import cca
from linid.probes.stats import zscore

MATCHES = ("from_end", "by_name")
COLUMNS = ["layer_a", "layer_b", "offset", "k", "index", "rho"]
_EPS = 1e-8


def _top_left(z: Array, k: int) -> Array:
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    r = int(np.count_nonzero(s >= _EPS * s[0])) if s.size and s[0] > 0 else 0
    return u[:, : min(k, r)]


def svcca_coefficients(x, y, k: int) -> Array:
    """σ(U_x[:, :k]ᵀ U_y[:, :k]) of the feature-standardised x and y, descending (module doc)."""
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    a, b = check_pair(x, y, names=("x", "y"), min_rows=2)
    ua, ub = _top_left(zscore(a, _EPS), int(k)), _top_left(zscore(b, _EPS), int(k))
    if ua.shape[1] == 0 or ub.shape[1] == 0:
        raise ValueError("SVCCA is undefined when every feature is constant")
    return np.sort(np.clip(np.linalg.svd(ua.T @ ub, compute_uv=False), 0.0, 1.0))[::-1]


def svcca_heldout(x, y, k: int, seed: int) -> Array:
    """The same on held-out rows: principal directions from the first half of a ``seed``
    permutation (standardised with its statistics), canonical correlations of the second half."""
    a, b = check_pair(x, y, names=("x", "y"), min_rows=8)
    order = np.random.default_rng(seed).permutation(a.shape[0])
    h = a.shape[0] // 2
    proj = []
    for m in (a[order], b[order]):
        mu, sd = m[:h].mean(0), m[:h].std(0)
        keep = sd > _EPS * np.maximum(1.0, np.abs(mu))
        z = (m[:, keep] - mu[keep]) / sd[keep]
        _, s, vt = np.linalg.svd(z[:h], full_matrices=False)
        r = int(np.count_nonzero(s >= _EPS * s[0]))
        proj.append(z[h:] @ vt[: min(int(k), r)].T)
    return cca(proj[0], proj[1])


def match_layers(layers_a: list[str], layers_b: list[str], match: str, n_last: int | None) -> list[tuple[str, str, int]]:
    """(layer_a, layer_b, offset): ``from_end`` pairs the i-th last layers (offset −i, i = 1 …
    n_last, at most the shorter model's depth); ``by_name`` pairs equal names (offset: position
    from the end in model a)."""
    if match not in MATCHES:
        raise ValueError(f"unknown match {match!r}; expected one of {MATCHES}")
    if match == "from_end":
        n = min(len(layers_a), len(layers_b), n_last or max(len(layers_a), len(layers_b)))
        return [(layers_a[-i], layers_b[-i], -i) for i in range(1, n + 1)]
    common = [x for x in layers_a if x in set(layers_b)]
    if not common:
        raise ValueError("match by_name: the two models share no layer name")
    return [(x, x, layers_a.index(x) - len(layers_a)) for x in common]


def protocol_table(model_a: dict[str, Array], model_b: dict[str, Array], *, ks: list[int], match: str,
                   n_last: int | None, heldout: bool, seed: int) -> pd.DataFrame:
    """Long table: one row per (matched layer pair, k, coefficient index) with its coefficient ρ."""
    rows = []
    for la, lb, off in match_layers(list(model_a), list(model_b), match, n_last):
        for k in ks:
            rho = (svcca_heldout(model_a[la], model_b[lb], k, seed) if heldout
                   else svcca_coefficients(model_a[la], model_b[lb], k))
            rows += [{"layer_a": la, "layer_b": lb, "offset": off, "k": int(k), "index": i, "rho": float(v)}
                     for i, v in enumerate(rho)]
    return pd.DataFrame(rows, columns=COLUMNS)


def adjacent_pairs(names: list[str]) -> list[tuple[str, str]]:
    """Consecutive names in the order given (``pairs: adjacent``; the notebook itself averages every
    pair of its four sizes, ``pairs: all``)."""
    return list(zip(names[:-1], names[1:], strict=True))
