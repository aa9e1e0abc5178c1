"""The DeepMind dSprites npz (``imgs``, ``latents_values``), as the fb loader reads it."""

from __future__ import annotations

import numpy as np

from linid.images import dsprites
from linid.images.source import (
    FACTOR_NAMES,
    DatasetFormatError,
    ImageDataset,
    Source,
    channel_first,
    expect,
    roles,
    same_length,
)


def dsprites_scaler():
    """sklearn's MinMaxScaler fitted on the extremes of the dSprites grid (all six columns).

    Its transform gives bit-for-bit the values of ``minmax_scale`` over the full official file,
    whatever rows are transformed.
    """
    from sklearn.preprocessing import MinMaxScaler  # here: the workflow reads headers at parse time

    levels = dsprites.LATENT_LEVELS
    return MinMaxScaler().fit(np.array([[lv.min() for lv in levels], [lv.max() for lv in levels]]))


def load(src: Source) -> ImageDataset:
    n = expect(src, "imgs", (None, 64, 64), "uint8 images [n, 64, 64] with values {0, 1}",
                "ub")[0]
    same_length(src, n, "latents_values", expect(
        src, "latents_values", (None, 6), "float [n, 6] (color, shape, scale, orientation, posX, "
        "posY)", "f")[0])
    if src.has("latents_classes"):
        same_length(src, n, "latents_classes", expect(
            src, "latents_classes", (None, 6), "integer [n, 6]", "iu")[0])
    values = src.read("latents_values").astype(np.float64)
    lo = np.array([lv.min() for lv in dsprites.LATENT_LEVELS])
    hi = np.array([lv.max() for lv in dsprites.LATENT_LEVELS])
    if values.size:
        bad = (values.min(0) < lo - 1e-9) | (values.max(0) > hi + 1e-9)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise DatasetFormatError(
                f"{src.path}: key 'latents_values': column {j} ({dsprites.LATENT_NAMES[j]}) must "
                f"lie in the grid range [{lo[j]}, {hi[j]}], got [{values[:, j].min()}, "
                f"{values[:, j].max()}]")
    factors = dsprites_scaler().transform(values)[:, 1:] if n else np.zeros((0, 5))
    imgs = src.read("imgs")
    return ImageDataset("dsprites", channel_first(imgs), np.ascontiguousarray(factors),
                        **roles("dsprites", FACTOR_NAMES["dsprites"]))
