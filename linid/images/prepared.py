"""The prepared dataset every image job reads: one ``.npz`` per configured dataset.

``image_data`` loads a source file in its published layout (``linid.images.data.load``: the
official dSprites file or its rendered twin, Shapes3D, MPI3D, the generic schema), optionally keeps
a seeded subsample of rows, and writes this file; training, probes and activation exports read only
it. Keys: ``images`` uint8/float [n, C, H, W]; ``factors`` float64 [n, k] (as the official loader
sees them); ``factor_names``, ``continuous``, ``periodic``, ``other`` (string arrays);
``categorical`` (string); ``name`` (string); ``rows`` int64 [n] (the source rows kept).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linid.core.io import atomic_path, load_npz
from linid.images.data import ImageDataset

KEYS = ("images", "factors", "factor_names", "categorical", "continuous", "periodic", "other", "name", "rows")


def subsample_rows(n_rows: int, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` distinct rows out of ``n_rows`` (all rows when ``n`` is None)."""
    if n is None:
        return np.arange(n_rows)
    if not 1 <= n <= n_rows:
        raise ValueError(f"subsample of {n} rows requested, but the dataset has {n_rows}")
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=n, replace=False))


def save_prepared(path: str | Path, ds: ImageDataset, rows: np.ndarray) -> None:
    """Write ``ds`` (already restricted to ``rows``) atomically, compressed."""
    with atomic_path(Path(path), ".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                images=ds.images,
                factors=np.asarray(ds.factors, dtype=np.float64),
                factor_names=np.array(ds.factor_names, dtype=str),
                categorical=np.array(ds.categorical),
                continuous=np.array(ds.continuous, dtype=str),
                periodic=np.array(ds.periodic, dtype=str),
                other=np.array(ds.other, dtype=str),
                name=np.array(ds.name),
                rows=np.asarray(rows, dtype=np.int64),
            )


def load_prepared(path: str | Path) -> tuple[ImageDataset, np.ndarray]:
    """The dataset and the source rows it holds."""
    a = load_npz(path)
    missing = [k for k in KEYS if k not in a]
    if missing:
        raise ValueError(f"{path}: not a prepared image dataset (missing {', '.join(missing)}); "
                         "delete it and rerun snakemake to rebuild it")
    ds = ImageDataset(
        name=str(a["name"]),
        images=a["images"],
        factors=a["factors"],
        factor_names=tuple(str(x) for x in a["factor_names"]),
        categorical=str(a["categorical"]),
        continuous=tuple(str(x) for x in a["continuous"]),
        periodic=tuple(str(x) for x in a["periodic"]),
        other=tuple(str(x) for x in a["other"]),
    )
    return ds, a["rows"]


def role(ds: ImageDataset, factor: str) -> str:
    """categorical | continuous | periodic | other."""
    if factor == ds.categorical:
        return "categorical"
    for name in ("continuous", "periodic", "other"):
        if factor in getattr(ds, name):
            return name
    return "other"
