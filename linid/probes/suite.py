"""The full probe report of one model (docs/science.md §3): every number of a probes.csv row."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from linid.names import CONTROL_METRICS, PROBE_METRICS
from linid.probes.arrays import check_pair
from linid.probes.mcc import mcc, mcc_aligned
from linid.probes.regression import (
    knn_r2,
    r2_affine,
    r2_linear,
    r2_reverse,
    r2_rows,
    r2_rows_linear,
    singular_value_mae,
)
from linid.probes.sizes import probe_block_problems


def _blocks(features: ArrayLike, latents: ArrayLike, n_affine: int, n_linear: int, knn_neighbors: int):
    """The R²_a block (rows [0, n_affine)) and the R²_o block (the next n_linear rows); sizes
    checked by :func:`linid.probes.sizes.probe_block_problems`, the rule the config check uses."""
    for name, val in (("n_affine", n_affine), ("n_linear", n_linear)):
        if int(val) != val or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    n_affine, n_linear = int(n_affine), int(n_linear)
    x, y = check_pair(features, latents, min_rows=1)
    if problems := probe_block_problems(max(x.shape[1], y.shape[1]), n_affine, n_linear, knn_neighbors):
        raise ValueError("; ".join(problems))
    need = n_affine + n_linear
    if x.shape[0] < need:
        raise ValueError(
            f"probe_metrics needs n_affine + n_linear = {n_affine} + {n_linear} = {need} rows, "
            f"got {x.shape[0]}"
        )
    return x[:n_affine], y[:n_affine], x[n_affine:need], y[n_affine:need]


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
    xa, ya, xo, yo = _blocks(features, latents, n_affine, n_linear, knn_neighbors)
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
        **_shared(xa, ya, xo, yo, knn_neighbors),
        "mae_sv": mae,
        "sv_min": float(sv.min()),
        "sv_max": float(sv.max()),
        "r2_w_v": r2_wv,
        "r2_w_v_linear": r2_wv_lin,
        "mae_w_v": mae_wv,
        "mcc_spearman": mcc(xa, ya, "spearman"),
    }
    return {k: float(out[k]) for k in PROBE_METRICS}


def control_metrics(
    features: ArrayLike,
    latents: ArrayLike,
    *,
    n_affine: int = 8192,
    n_linear: int = 4096,
    knn_neighbors: int = 10,
) -> dict[str, float]:
    """The ``CONTROL_METRICS`` of features that were not trained (observations x, an untrained
    encoder), on the same rows and splits as :func:`probe_metrics` scores a trained model."""
    xa, ya, xo, yo = _blocks(features, latents, n_affine, n_linear, knn_neighbors)
    return _shared(xa, ya, xo, yo, knn_neighbors)


def _shared(xa, ya, xo, yo, knn_neighbors: int) -> dict[str, float]:
    """The metrics a trained model and its controls share (``CONTROL_METRICS``), on the blocks."""
    out = {
        "r2_affine": r2_affine(xa, ya),
        "r2_linear": r2_linear(xo, yo),
        "mcc_pearson": mcc(xa, ya, "pearson"),
        "mcc_pearson_aligned": mcc_aligned(xa, ya, "pearson"),
        "mcc_spearman_aligned": mcc_aligned(xa, ya, "spearman"),
        "r2_knn": knn_r2(xa, ya, n_neighbors=knn_neighbors),
        "r2_reverse": r2_reverse(xa, ya),
    }
    return {k: float(out[k]) for k in CONTROL_METRICS}
