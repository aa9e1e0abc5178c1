"""Layer × layer comparison of two models on the same samples (docs/byo.md §3, [K] Fig. 4).

Every cell is :func:`linid.probes.cca.compare_pair` of one layer of model a and one of model b:
mean CCA, mean SVCCA, the smallest canonical correlation and both affine R² (fit on one half of
the rows, scored on the other). Rows are first put in a seeded random order (and cut to
``max_rows``), so the halves are random even when the files are sorted, e.g. by class.

Wide layers: CCA and an affine fit on n/2 rows overfit when a layer has more columns than the rows
can compare (linid.probes.sizes: two layers of w columns need 2w + 4 rows; canonical correlations
of independent data go to 1). Such a layer raises ValueError, unless ``svcca_k`` is given: then it
is reduced, before every measure, to the top-``svcca_k`` principal directions of its z-scored
columns (the SVCCA reduction), and ``svcca_k`` must be ≤ (rows − 4)/2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from linid.probes.arrays import Array, as_matrix
from linid.probes.cca import compare_pair, top_k_directions
from linid.probes.sizes import max_compared_width
from linid.probes.stats import zscore

MATRIX_COLUMNS = [
    "layer_a",
    "layer_b",
    "mcca",
    "svcca",
    "cca_min",
    "r2_ab",
    "r2_ba",
    "n_rows",
    "dim_a",
    "dim_b",
    "note",
]
_EPS = 1e-8  # linid.probes.cca's rank / constant-column tolerance


def _rows(model: dict[str, ArrayLike], which: str) -> dict[str, Array]:
    if not model:
        raise ValueError(f"model {which} has no layers")
    out = {str(k): as_matrix(v, f"model {which}, layer '{k}'") for k, v in model.items()}
    return out


def constant_layer(x: Array) -> bool:
    """Every column constant over these rows (a dead layer: all zero after a ReLU, say)."""
    x = np.asarray(x, dtype=np.float64)
    return bool(x.shape[0] < 2 or np.all(np.ptp(x, axis=0) <= _EPS * np.maximum(1.0, np.abs(x).max())))


def _prepare(layer: Array, which: str, name: str, svcca_k: int | None) -> Array:
    """The layer itself, or its top-svcca_k SVCCA directions when it is wider than the rows can
    compare (:func:`linid.probes.sizes.max_compared_width`, (rows − 4)/2)."""
    n, p = layer.shape
    widest = max_compared_width(n)
    if p <= widest:
        return layer
    if svcca_k is None:
        raise ValueError(
            f"model {which}, layer '{name}' has {p} columns but only {n} rows: CCA and the affine "
            f"R² are meaningless beyond (rows − 4)/2 = {widest} columns; give more rows, or "
            f"svcca_k ≤ {widest} to reduce wide layers to their top-svcca_k principal directions"
        )
    z = zscore(layer, _EPS)
    if z.shape[1] == 0:
        raise ValueError(f"model {which}, layer '{name}': every column is constant")
    return top_k_directions(z, svcca_k, _EPS)


def layer_matrix(
    model_a: dict[str, np.ndarray],
    model_b: dict[str, np.ndarray],
    *,
    svcca_k: int | None,
    max_rows: int | None,
    seed: int,
) -> pd.DataFrame:
    """One row per (layer_a, layer_b), in layer order: mcca, svcca, cca_min, r2_ab, r2_ba.

    Rows: a ``default_rng(seed)`` permutation of all samples, cut to the first ``max_rows``
    (None: all). ``svcca_k``: the k of SVCCA (None: min(width_a, width_b)), and the reduction of
    layers wider than rows/2 (see the module doc). Extra columns: n_rows (rows used) and dim_a,
    dim_b (columns entering the measures: svcca_k for a reduced layer).
    """
    a = _rows(model_a, "a")
    b = _rows(model_b, "b")
    ns = {x.shape[0] for x in (*a.values(), *b.values())}
    if len(ns) != 1:
        sizes = {f"a:{k}": v.shape[0] for k, v in a.items()}
        sizes |= {f"b:{k}": v.shape[0] for k, v in b.items()}
        raise ValueError(f"every layer of both models needs the same rows, got {sizes}")
    n = ns.pop()
    if svcca_k is not None and (int(svcca_k) != svcca_k or svcca_k < 1):
        raise ValueError(f"svcca_k must be a positive integer or None, got {svcca_k!r}")
    if max_rows is not None and (int(max_rows) != max_rows or max_rows < 4):
        raise ValueError(f"max_rows must be an integer ≥ 4 or None, got {max_rows!r}")
    rows = np.random.default_rng(seed).permutation(n)
    if max_rows is not None:
        rows = rows[: int(max_rows)]
    m = rows.size
    if svcca_k is not None and svcca_k > max_compared_width(m):
        raise ValueError(f"svcca_k = {svcca_k} exceeds the (rows − 4)/2 = {max_compared_width(m)} "
                         f"directions the {m} rows used can compare")
    k = None if svcca_k is None else int(svcca_k)
    # a constant (dead) layer has no direction to compare: its cells are NaN with a note
    dead = {("a", name) for name, x in a.items() if constant_layer(x[rows])}
    dead |= {("b", name) for name, x in b.items() if constant_layer(x[rows])}
    pa = {name: x[rows] if ("a", name) in dead else _prepare(x[rows], "a", name, k) for name, x in a.items()}
    pb = {name: x[rows] if ("b", name) in dead else _prepare(x[rows], "b", name, k) for name, x in b.items()}

    out = []
    nan = float("nan")
    for la, xa in pa.items():
        for lb, xb in pb.items():
            which = [f"model {w}'s layer '{n}'" for w, n in (("a", la), ("b", lb)) if (w, n) in dead]
            if which:
                out.append({"layer_a": la, "layer_b": lb, "mcca": nan, "svcca": nan, "cca_min": nan,
                            "r2_ab": nan, "r2_ba": nan, "n_rows": m, "dim_a": xa.shape[1],
                            "dim_b": xb.shape[1],
                            "note": " and ".join(which) + " is constant on the rows used (dead): not compared"})
                continue
            try:
                r = compare_pair(xa, xb, svcca_k=k)
            except ValueError as e:
                raise ValueError(f"layer_a '{la}' vs layer_b '{lb}': {e}") from None
            out.append(
                {
                    "layer_a": la,
                    "layer_b": lb,
                    "mcca": r["mcca"],
                    "svcca": r["svcca"],
                    "cca_min": float(min(r["cca_spectrum"])),
                    "r2_ab": r["r2_ab"],
                    "r2_ba": r["r2_ba"],
                    "n_rows": m,
                    "dim_a": xa.shape[1],
                    "dim_b": xb.shape[1],
                    "note": "",
                }
            )
    return pd.DataFrame(out, columns=MATRIX_COLUMNS)
