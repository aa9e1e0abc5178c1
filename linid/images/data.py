"""Image data sets of the DisLib experiment in their published layouts ([R] §4.2).

The official code (klindtlab/csi ``dislib/main.py``, ``get_data``) loads each data set with the
loaders of facebookresearch/disentangling-correlated-factors (``datasets/*.py``), then

* takes ``data.imgs``, makes it channel-first and divides by 255 (:func:`to_float`);
* turns ``data.lat_values`` into integer targets (:func:`official_targets`);
* splits the rows 80/10/10 with a global-seed permutation (:func:`split_indices`);
* trains a classifier on one categorical factor and reads every factor out linearly.

:func:`load` reads a file into an :class:`ImageDataset` whose ``factors`` are exactly the
``lat_values`` those loaders produce, with the factor roles of ``dislib/main.py``. Layouts:
``dsprites`` (the DeepMind npz), ``shapes3d`` (the DeepMind ``3dshapes.h5``), ``mpi3d`` /
``mpi3d_real`` (the MPI3D npz) and ``generic`` (linid's own npz/h5 schema, used for Cars3D,
smallNORB and anything else), one module each in :mod:`linid.images.layouts`. docs/images.md
documents every layout and transform.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from linid.images.layouts import LOADERS
from linid.images.layouts.dsprites import dsprites_scaler
from linid.images.layouts.generic import category_codes, csi_grid, save_generic
from linid.images.layouts.mpi3d import mpi3d_factors
from linid.images.source import (
    CSI_ROLES,
    FACTOR_NAMES,
    MPI3D_N,
    MPI3D_SIZES,
    NUM_CHANNELS,
    SHAPES3D_N,
    DatasetFormatError,
    ImageDataset,
    Source,
    channel_first,
)

__all__ = [
    "CSI_ROLES", "FACTOR_NAMES", "LAYOUTS", "MPI3D_N", "MPI3D_SIZES", "NUM_CHANNELS", "SHAPES3D_N",
    "DatasetFormatError", "ImageDataset", "category_codes", "channel_first", "csi_grid",
    "dsprites_scaler", "load", "mpi3d_factors", "official_targets", "save_generic", "split_indices",
    "to_float",
]

LAYOUTS: tuple[str, ...] = tuple(LOADERS)


def load(path: str | os.PathLike, layout: str) -> ImageDataset:
    """Read an image data set stored in ``layout`` (one of :data:`LAYOUTS`).

    Keys, shapes and dtypes are checked from the file headers before any array is read; a
    mismatch raises :class:`DatasetFormatError` (a ``ValueError``) naming file, key and what was
    expected.
    """
    if layout not in LAYOUTS:
        raise DatasetFormatError(f"{path}: unknown layout {layout!r}; expected one of {LAYOUTS}")
    return LOADERS[layout](Source(Path(path)))


# ----------------------------------------------------------------- the official transforms ---


def official_targets(factors: np.ndarray) -> np.ndarray:
    """csi's integer targets: each column divided by its second-smallest distinct value, truncated.

    Exactly ``targets[:, i] /= np.unique(targets[:, i])[1]; targets.astype(int)`` of
    ``dislib/main.py``. On an evenly spaced grid starting at 0 this is the level index, up to
    floating-point truncation (docs/images.md lists where it is not).
    """
    targets = np.array(factors, dtype=np.float64, copy=True)
    if targets.ndim != 2:
        raise ValueError(f"factors must be [n, k], got {targets.shape}")
    for i in range(targets.shape[1]):
        levels = np.unique(targets[:, i])
        if levels.size < 2:
            raise ValueError(f"factor column {i} has {levels.size} distinct value(s); csi divides "
                             f"by the second-smallest, so it needs at least 2")
        targets[:, i] /= levels[1]
    return targets.astype(np.int64)


def split_indices(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """csi's split: a permutation by ``np.random.seed(seed); np.random.choice(n, n, False)``.

    val = the first ``int(0.1 n)``, test = the next ``int(0.1 n)``, train = the rest. Uses
    ``np.random.RandomState(seed)``, the same stream, so no global state is touched.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    indices = np.random.RandomState(seed).choice(n, n, replace=False)
    num_val = int(n * 0.1)
    num_test = int(n * 0.1)
    return (indices[num_val + num_test:], indices[:num_val],
            indices[num_val:num_val + num_test])


_U8_TO_FLOAT = (np.arange(256) / 255.0).astype(np.float32)


def to_float(images: np.ndarray) -> np.ndarray:
    """csi's network input: channel-first ``images / 255.`` as float32 (for every dtype).

    csi divides in float64 and the training loop casts to float32; uint8 input goes through a
    table of those 256 values, which is the same result. dSprites' {0, 1} images become
    {0, 1/255}, as in csi.
    """
    images = channel_first(np.asarray(images))
    if images.dtype == np.uint8:
        return _U8_TO_FLOAT[images]
    return (images / 255.0).astype(np.float32)
