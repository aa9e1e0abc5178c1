"""The image datasets checked when the workflow is read, against what the stages need.

Everything here reads file headers (the ``.npy`` headers inside an ``.npz``, the datasets of an
``.h5``) and, for the generic layout, the small factor table; no image is loaded, and neither torch
nor scikit-learn is imported (the workflow reads this module at parse time). What it refuses would
otherwise fail inside the first job that reads the file, or, worse, train on the wrong classes:

* a file that is not an ``.npz``/``.h5`` archive, a missing key, a layout mismatch (shape, dtype),
  a pickled object array;
* ``subsample`` larger than the file, images that are not 64×64 (every model, the ``pixels``
  baseline's feature size included, is built for 64×64, as [R]'s);
* sizes that leave a statistic undefined: a validation or test split of fewer than 2 images (the
  probes' Pearson r), an epoch whose last training batch holds one image (BatchNorm), a factor with
  one value (csi's target arithmetic divides by the second-smallest value), fewer exported rows than
  ``export_activations.rows``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linid.images.layouts.generic import factor_header, image_shape
from linid.images.names import DSPRITES_IMAGES, IMAGE_SIZE
from linid.images.source import (
    MPI3D_N,
    DatasetFormatError,
    Source,
    expect,
    same_length,
)

#: models with BatchNorm layers (a training batch of one image leaves their statistics undefined)
BATCHNORM_MODELS = ("mlp", "cnn")


def _pickled(src: Source) -> None:
    for key, (_, dtype) in src.meta.items():
        if dtype.hasobject and src.kind == "npz":
            raise DatasetFormatError(
                f"{src.path}: key {key!r} is a pickled object array, which linid never loads (it "
                "can run code); save numbers as numeric arrays and names as np.array(names, dtype=str)"
            )


def _header(path: Path, layout: str) -> tuple[int, tuple[int, ...]]:
    """(images, (C, H, W)) from the headers of ``path`` in ``layout``; DatasetFormatError else."""
    src = Source(path)
    _pickled(src)
    if layout == "dsprites":
        n = expect(src, "imgs", (None, 64, 64), "uint8 images [n, 64, 64] with values {0, 1}", "ub")[0]
        same_length(src, n, "latents_values", expect(
            src, "latents_values", (None, 6), "float [n, 6] (color, shape, scale, orientation, posX, "
            "posY)", "f")[0])
        return n, (1, 64, 64)
    if layout in ("shapes3d", "mpi3d", "mpi3d_real"):
        n = expect(src, "images", (None, 64, 64, 3), "uint8 images [n, 64, 64, 3]", "u")[0]
        if layout == "shapes3d":
            same_length(src, n, "labels", expect(src, "labels", (None, 6), "float [n, 6]", "f")[0])
        elif src.has("indices"):
            same_length(src, n, "indices", expect(src, "indices", (None,), "integer grid rows [n]", "iu")[0])
        elif n != MPI3D_N:
            raise DatasetFormatError(
                f"{src.path}: key 'images': expected the full grid of {MPI3D_N} images, got {n}; a "
                "subsample file must name its grid rows in an 'indices' key")
        return n, (3, 64, 64)
    # generic: [n, H, W], [n, H, W, C] or [n, C, H, W], float factors [n, k] with at least two values each
    got = image_shape(src)
    n = got[0]
    if len(got) == 3:
        chw = (1, *got[1:])
    elif got[1] in (1, 3):
        chw = tuple(got[1:])
    elif got[3] in (1, 3):
        chw = (got[3], got[1], got[2])
    else:
        raise DatasetFormatError(f"{src.path}: key 'images': expected 1 or 3 channels first or last, "
                                 f"got shape {got}")
    names, categorical = factor_header(src, n)
    if categorical not in names:
        raise DatasetFormatError(f"{src.path}: key 'categorical': {categorical!r} is not one of "
                                 f"factor_names {names}")
    factors = np.asarray(src.read("factors"), dtype=np.float64)  # [n, k]: small next to the images
    if factors.size and not np.all(np.isfinite(factors)):
        raise DatasetFormatError(f"{src.path}: key 'factors' holds NaN/inf values")
    for j, name in enumerate(names):
        if np.unique(factors[:, j]).size < 2:
            raise DatasetFormatError(
                f"{src.path}: key 'factors': factor {name!r} takes a single value; every factor needs "
                "at least 2 (the targets divide by a factor's second-smallest value; the class factor "
                "needs 2 classes)")
    return n, chw


def dataset_problems(name: str, d: dict, images: dict) -> list[str]:
    """Every problem of image dataset ``name`` (its config ``d``) for the configured stages."""
    where = f"config key images.datasets.{name}"
    layout, path, subsample = d.get("layout", "dsprites"), d.get("path", ""), d.get("subsample")
    if path:
        try:
            n, chw = _header(Path(path), layout)
        except DatasetFormatError as err:
            return [f"{where}.path (layout {layout}): {err}"]
        except (OSError, ValueError) as err:  # h5py / zipfile on a damaged file
            return [f"{where}.path = {path!r} (layout {layout}): cannot be read ({err})"]
    else:
        n, chw = DSPRITES_IMAGES, (1, IMAGE_SIZE, IMAGE_SIZE)
    if subsample is not None and subsample > n:
        return [f"{where}.subsample = {subsample}: the dataset holds only {n} images"]
    n = n if subsample is None else subsample
    out = []
    models = images.get("models") or ["pixels", "mlp", "cnn"]
    encoders = [m for m in models if m != "pixels"]
    if chw[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        out.append(f"{where}.path = {path!r}: images are {chw[1]}×{chw[2]}, but the models "
                   f"({', '.join(models)}) are built for {IMAGE_SIZE}×{IMAGE_SIZE} images, as in [R]; "
                   f"resize the images to {IMAGE_SIZE}×{IMAGE_SIZE}")
    train, val, test = (len(i) for i in split_indices_sizes(n))
    if min(val, test) < 2:
        out.append(f"{where}: {n} images leave {val} validation and {test} test images (10 % each); "
                   "the probes' Pearson r needs at least 2: use at least 20 images")
    batch = (images.get("train") or {}).get("batch_size", 4096)
    bn = [m for m in encoders if m in BATCHNORM_MODELS]
    if bn and train % batch == 1:
        out.append(f"{where}: the {train} training images leave a last batch of 1 image at "
                   f"images.train.batch_size = {batch}; the BatchNorm layers of {', '.join(bn)} need at "
                   "least 2 per batch: change the batch size or subsample by one image")
    export = images.get("export_activations") or {}
    if export.get("enabled") and export.get("rows", 2000) > n:
        out.append(f"config key images.export_activations.rows = {export.get('rows', 2000)}: dataset "
                   f"{name} holds only {n} images")
    return out


def split_indices_sizes(n: int) -> tuple[range, range, range]:
    """The sizes of csi's train/val/test split of ``n`` images (linid.images.data.split_indices)."""
    num = int(n * 0.1)
    return range(n - 2 * num), range(num), range(num)

