"""Every pair of seeds of one cell compared layer by layer (both experiments' model-to-model table)."""

from __future__ import annotations

import itertools

import numpy as np

from linid.names import LAYERS
from linid.probes.cca import compare_pair


def label_span(g: np.ndarray) -> float:
    """The diversity condition measured: σ_M / σ_1 of the centred label embeddings G − mean(G).

    The rows of G − mean(G) span the same space as the differences g(k) − g(0). 1 means the
    differences spread evenly over all M directions; 0 means they miss a direction (always so
    when K ≤ M), and then f is not pinned down along it. Scale-free: unchanged by G → cG.
    """
    arr = np.asarray(g, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"g must have shape (K, M) with K, M ≥ 1, got {arr.shape}")
    if arr.shape[0] <= arr.shape[1]:  # K ≤ M: K centred rows have rank ≤ K − 1 < M, exactly
        return 0.0
    sv = np.linalg.svd(arr - arr.mean(axis=0), compute_uv=False)
    if sv[0] == 0:
        return 0.0
    return float(sv[-1] / sv[0])


def pairwise(
    features: dict[str, np.ndarray],
    layers: tuple[str, ...],
    svcca_k: int,
    pairs: list[tuple[int, int]] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Every pair of seeds, layer by layer: (pair rows, spectrum rows).

    A pair row holds mCCA, its smallest canonical correlation, SVCCA_k and the affine R² both ways
    (``r2_affine`` is their mean); a spectrum row is one canonical correlation (``index`` 0 =
    the largest) of one pair and layer. ``features`` holds ``<layer>_s<seed>`` arrays and
    ``seeds``; ``g_s<seed>`` arrays, when present, give ``g_span``.

    ``pairs``: only these (seed_a, seed_b) pairs, in this order (one shard of a cell's pairs,
    linid.pipeline.shards); None: every pair of ``seeds``.

    ``g_span`` (trained layers only): the smaller of the two models' ``label_span`` — whether the
    learned g-differences span R^M, the diversity condition the theorem needs; NaN where the
    features carry no g (e.g. the [R] simulation models).
    """
    seeds = [int(s) for s in features["seeds"]]
    span = {
        s: label_span(features[f"g_s{s}"]) if f"g_s{s}" in features else float("nan") for s in seeds
    }
    rows, spectra = [], []
    todo = itertools.combinations(seeds, 2) if pairs is None else [(int(a), int(b)) for a, b in pairs]
    for a, b in todo:
        for layer in layers:
            trained = not layer.endswith("_untrained")
            fa, fb = features[f"{layer}_s{a}"], features[f"{layer}_s{b}"]
            k = max(1, min(svcca_k, fa.shape[1], fb.shape[1]))
            m = compare_pair(fa, fb, svcca_k=k)
            rows.append(
                {
                    "layer": layer,
                    "in_family": LAYERS.get(layer, True),
                    "seed_a": a,
                    "seed_b": b,
                    "mcca": m["mcca"],
                    "cca_min": min(m["cca_spectrum"]),
                    "svcca": m["svcca"],
                    "svcca_k": k,
                    "r2_ab": m["r2_ab"],
                    "r2_ba": m["r2_ba"],
                    "r2_affine": 0.5 * (m["r2_ab"] + m["r2_ba"]),
                    "g_span": min(span[a], span[b]) if trained else float("nan"),
                }
            )
            spectra += [
                {"layer": layer, "seed_a": a, "seed_b": b, "index": i, "rho": rho}
                for i, rho in enumerate(m["cca_spectrum"])
            ]
    return rows, spectra


def merge_parts(paths: list[str]):
    """The CSV tables of a cell's shards, in shard order, as one table (rows sorted by seed pair)."""
    import pandas as pd

    frames = [pd.read_csv(p) for p in paths]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    keys = [k for k in ("seed_a", "seed_b", "layer", "index") if k in table]
    return table.sort_values(keys, kind="stable", ignore_index=True) if keys else table
