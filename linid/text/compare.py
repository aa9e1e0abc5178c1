"""Replica × replica and learned × truth comparisons of word embeddings, on held-out words.

Every comparison takes two embedding matrices of the same words, ``a`` (n, p) and ``b`` (n, p'),
row i the same word. The words are put in a seeded random order; maps are fitted on the first
half and scored on the second (words not used to fit the map):

* ``r2_ab`` / ``r2_ba``: R² of the affine map a → b / b → a (uniform average over b's
  coordinates; invariant to rescaling each coordinate, so the same after [K]'s standardisation);
* ``r2w_ab`` / ``r2w_ba``: the same with the target whitened (its fit-half principal axes, each
  scaled to unit variance): invariant to any invertible linear change of the target's basis, so
  a target direction that carries little variance counts as much as the others;
* ``mcca`` / ``cca_min``: the mean and the smallest canonical correlation over all compared words
  (linid.probes.cca, as [K] reports them).

A linearly identified pair (b = A a + c, A invertible) scores 1 everywhere.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from linid.probes.arrays import Array, check_pair
from linid.probes.cca import cca
from linid.probes.regression import r2_affine
from linid.probes.sizes import comparison_rows

METRICS = ["r2_ab", "r2_ba", "r2w_ab", "r2w_ba", "mcca", "cca_min"]
PAIR_COLUMNS = ["space", "state", "kind", "a", "b", *METRICS, "n_words", "note"]
_EPS = 1e-8


def whiten(x: Array, fit_rows: int) -> Array:
    """x centred and rotated onto the principal axes of its first ``fit_rows`` rows, each axis
    scaled to unit variance there; axes with variance ≤ 1e-8 · the largest are dropped."""
    fit = x[:fit_rows]
    mu = fit.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(fit, rowvar=False).reshape(x.shape[1], x.shape[1]))
    keep = evals > _EPS * max(evals.max(), 0.0)
    if not keep.any():
        raise ValueError("cannot whiten: the fit rows have no variance")
    return (x - mu) @ evecs[:, keep] / np.sqrt(evals[keep])


def compare_embeddings(a, b, seed: int) -> dict:
    """Every metric of the module doc for one pair, words in ``default_rng(seed)`` order.

    Undefined (every metric NaN, ``note`` saying why) when the words do not exceed what the
    measures need (:func:`linid.probes.sizes.comparison_rows`: more words than the two embeddings'
    summed dimensions for CCA, an affine fit on half of them): never a number that reads as
    agreement. The config check refuses such a cell before any job where it can know."""
    n, p, q = np.shape(a)[0], np.shape(a)[-1], np.shape(b)[-1]
    need = comparison_rows(p, q)
    if n < need:
        note = (f"undefined: {n} compared word(s) for a {p}-D and a {q}-D embedding; CCA and the affine "
                f"fits need at least {need}")
        return {**dict.fromkeys(METRICS, float("nan")), "n_words": int(n), "note": note}
    x, y = check_pair(a, b, names=("a", "b"), min_rows=need)
    order = np.random.default_rng(seed).permutation(x.shape[0])
    x, y = x[order], y[order]
    h = x.shape[0] // 2
    rho = cca(x, y)
    return {
        "r2_ab": r2_affine(x, y),
        "r2_ba": r2_affine(y, x),
        "r2w_ab": r2_affine(x, whiten(y, h)),
        "r2w_ba": r2_affine(y, whiten(x, h)),
        "mcca": float(rho.mean()),
        "cca_min": float(rho.min()),
        "n_words": int(x.shape[0]),
        "note": "",
    }


def cell_pairs(
    embeddings: dict[int, dict[str, np.ndarray]],
    words: np.ndarray,
    truth: dict[str, np.ndarray] | None,
    seed: int,
) -> pd.DataFrame:
    """Every pair of replicas, and every replica against the truth, in both spaces and states.

    ``embeddings``: seed → {"q", "r", "q_init", "r_init"} (V, M) arrays; ``truth``: {"q", "r"}
    (V, rank) or None. Rows: space q|r, state trained|untrained (the same seeds' initial
    models), kind replicas|truth, a, b (seeds; b = "truth"), the metrics, n_words, note (why a
    row's metrics are undefined; empty otherwise).
    """
    rows = []
    seeds = sorted(embeddings)
    for space in ("q", "r"):
        for state, key in (("trained", space), ("untrained", f"{space}_init")):
            for sa, sb in combinations(seeds, 2):
                m = compare_embeddings(embeddings[sa][key][words], embeddings[sb][key][words], seed)
                rows.append({"space": space, "state": state, "kind": "replicas", "a": str(sa), "b": str(sb), **m})
            if truth is None:
                continue
            for s in seeds:
                m = compare_embeddings(embeddings[s][key][words], truth[space][words], seed)
                rows.append({"space": space, "state": state, "kind": "truth", "a": str(s), "b": "truth", **m})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def overlay(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[K] Figure 1: each coordinate of a and b standardised over the words, then a linear map
    (no bias) A fitted by least squares from a to b; returns (a_std, b_std, a_std A)."""
    x, y = check_pair(a, b, names=("a", "b"), min_rows=2)
    xs = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    ys = (y - y.mean(0)) / np.where(y.std(0) > 0, y.std(0), 1.0)
    A, *_ = np.linalg.lstsq(xs, ys, rcond=None)
    return xs, ys, xs @ A
