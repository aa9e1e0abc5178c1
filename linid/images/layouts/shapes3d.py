"""The DeepMind ``3dshapes.h5`` (``images``, ``labels``), min-max scaled as the fb loader does."""

from __future__ import annotations

import numpy as np

from linid.images.source import (
    FACTOR_NAMES,
    ImageDataset,
    Source,
    channel_first,
    expect,
    roles,
    same_length,
)


def load(src: Source) -> ImageDataset:
    n = expect(src, "images", (None, 64, 64, 3), "uint8 images [n, 64, 64, 3]", "u")[0]
    same_length(src, n, "labels", expect(
        src, "labels", (None, 6), "float [n, 6] (floor_hue, wall_hue, object_hue, scale, shape, "
        "orientation)", "f")[0])
    from sklearn.preprocessing import minmax_scale

    labels = src.read("labels").astype(np.float64)
    factors = minmax_scale(labels) if n else labels  # fb: over the rows of the loaded file
    return ImageDataset("shapes3d", channel_first(src.read("images")), factors,
                        **roles("shapes3d", FACTOR_NAMES["shapes3d"]))
