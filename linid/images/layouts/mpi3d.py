"""The MPI3D npz (``images`` in grid order, or a subsample naming its grid rows in ``indices``)."""

from __future__ import annotations

import numpy as np

from linid.images.source import (
    FACTOR_NAMES,
    MPI3D_N,
    MPI3D_SIZES,
    DatasetFormatError,
    ImageDataset,
    Source,
    channel_first,
    expect,
    roles,
    same_length,
)


def mpi3d_factors(indices: np.ndarray) -> np.ndarray:
    """The fb ``lat_values`` of MPI3D grid rows ``indices``: float64 [n, 7].

    fb builds ``np.linspace(0, 1, size)`` per factor in grid order and min-max scales the result,
    which leaves those values unchanged (every column already spans exactly [0, 1]).
    """
    idx = np.asarray(indices, dtype=np.int64)
    classes = np.unravel_index(idx, MPI3D_SIZES)
    return np.stack([np.linspace(0.0, 1.0, k)[c] for k, c in zip(MPI3D_SIZES, classes,
                                                                 strict=True)], axis=1)


def load(src: Source, name: str = "mpi3d") -> ImageDataset:
    n = expect(src, "images", (None, 64, 64, 3), "uint8 images [n, 64, 64, 3]", "u")[0]
    if src.has("indices"):  # linid extension: a subsample file names its grid rows
        same_length(src, n, "indices", expect(src, "indices", (None,),
                                                "integer grid rows [n]", "iu")[0])
        idx = src.read("indices").astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= MPI3D_N):
            raise DatasetFormatError(f"{src.path}: key 'indices': expected grid rows in "
                                     f"[0, {MPI3D_N}), got [{idx.min()}, {idx.max()}]")
    elif n != MPI3D_N:
        raise DatasetFormatError(
            f"{src.path}: key 'images': expected the full grid of {MPI3D_N} images "
            f"(sizes {MPI3D_SIZES}) whose row index implies the factors, got {n}; a subsample "
            f"file must name its grid rows in an 'indices' key")
    else:
        idx = np.arange(n)
    return ImageDataset(name, channel_first(src.read("images")), mpi3d_factors(idx),
                        **roles(name, FACTOR_NAMES[name]))
