"""linid's own npz/h5 schema (Cars3D, smallNORB, anything else): read and write."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from linid.core.io import atomic_path
from linid.images.source import (
    DatasetFormatError,
    ImageDataset,
    Source,
    channel_first,
    check_roles,
    expect,
    same_length,
)


def image_shape(src: Source) -> tuple[int, ...]:
    """Shape of a generic file's ``images``: [n, H, W], [n, H, W, C] or [n, C, H, W], uint8 or float."""
    got, _ = src.require("images", "images [n, H, W], [n, H, W, C] or [n, C, H, W]")
    if len(got) not in (3, 4):
        raise DatasetFormatError(f"{src.path}: key 'images': expected [n, H, W], [n, H, W, C] or "
                                 f"[n, C, H, W], got shape {got}")
    expect(src, "images", (None,) * len(got), "uint8 or float images", "uf")
    return got


def factor_header(src: Source, n: int) -> tuple[tuple[str, ...], str]:
    """(factor names, class factor) of a generic file, from its headers and name arrays: ``factors``
    is [n, k] numeric, ``factor_names`` names its k columns, ``categorical`` is a string."""
    fshape = expect(src, "factors", (None, None), "float factors [n, k]", "fiu")
    same_length(src, n, "factors", fshape[0])
    names = src.strings("factor_names", f"a string array of {fshape[1]} factor names", False)
    if len(names) != fshape[1]:
        raise DatasetFormatError(f"{src.path}: key 'factor_names': expected {fshape[1]} names "
                                 f"(one per column of 'factors'), got {len(names)}")
    return names, src.strings("categorical", "a string scalar naming the class factor", True)


def load(src: Source) -> ImageDataset:
    got = image_shape(src)
    n = got[0]
    names, categorical = factor_header(src, n)
    roles = {}
    for role in ("periodic", "other", "continuous"):
        roles[role] = (src.strings(role, "a string array of factor names", False)
                       if src.has(role) else None)
    taken = {categorical, *(roles["periodic"] or ()), *(roles["other"] or ())}
    if roles["continuous"] is None:
        roles["continuous"] = tuple(f for f in names if f not in taken)
    roles = {k: v or () for k, v in roles.items()}
    check_roles(str(src.path), "factor_names", names, categorical, roles["continuous"],
                 roles["periodic"], roles["other"])
    name = src.strings("name", "a string scalar", True) if src.has("name") else src.path.stem
    images = src.read("images")
    try:
        images = channel_first(images)
    except ValueError as e:
        raise DatasetFormatError(f"{src.path}: key 'images': {e}") from e
    factors = src.read("factors").astype(np.float64)
    cat = names.index(categorical)
    levels: tuple[float, ...] = ()
    if not csi_grid(factors[:, cat]):
        factors[:, cat], found = category_codes(factors[:, cat])
        levels = tuple(float(v) for v in found)
    return ImageDataset(name, images, factors, names, categorical, **roles, category_levels=levels)


def csi_grid(values: np.ndarray) -> bool:
    """Whether the distinct values are multiples of the second-smallest one, the smallest being 0
    (0, h, 2h, … with levels possibly missing): the convention csi's target arithmetic assumes
    (the published sets; §3 of docs/images.md lists where its truncation still merges levels, which
    linid reproduces)."""
    levels = np.unique(np.asarray(values, dtype=np.float64))
    if levels.size < 2 or levels[0] != 0:
        return False
    ratio = levels / levels[1]
    return bool(np.allclose(ratio, np.round(ratio), rtol=0, atol=1e-6 * max(1.0, ratio[-1])))


def category_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes 0..K-1, the K sorted distinct values): a class factor as class indices.

    csi's target arithmetic (:func:`official_targets`: divide by the second-smallest value,
    truncate) reads the values 1, 2, 3 as the classes 0, 1, 1, and 0, 5, 7 as 0, 1, 1; a generic
    file whose class factor is no grid from 0 (:func:`csi_grid`) gets codes by sorted value instead.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size and not np.all(np.isfinite(values)):
        raise DatasetFormatError("the categorical factor holds NaN/inf values")
    levels, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.float64), levels


def save_generic(path: str | os.PathLike, data: ImageDataset) -> None:
    """Write ``data`` in the generic schema (.h5/.hdf5 by suffix, else .npz), atomically."""
    path = Path(path)
    arrays = {"images": data.images, "factors": np.asarray(data.factors, dtype=np.float64),
              "factor_names": np.array(data.factor_names, dtype=str),
              "categorical": np.array(data.categorical),
              "continuous": np.array(data.continuous, dtype=str),
              "periodic": np.array(data.periodic, dtype=str),
              "other": np.array(data.other, dtype=str), "name": np.array(data.name)}
    with atomic_path(path, path.suffix) as tmp:
        if path.suffix.lower() in (".h5", ".hdf5"):
            import h5py

            with h5py.File(tmp, "w") as f:
                for k, v in arrays.items():
                    text = v.dtype.kind == "U"
                    f.create_dataset(k, data=v.astype(object) if text else v,
                                     dtype=h5py.string_dtype() if text else None)
        else:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays)
