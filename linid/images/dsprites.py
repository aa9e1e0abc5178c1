"""A deterministic, vectorised dSprites renderer on the official factor grid.

dSprites (Matthey et al. 2017, deepmind/dsprites-dataset) is the full product of six factors,
stored row-major with the last factor fastest: color (1), shape (3), scale (6), orientation (40),
posX (32), posY (32) = 737,280 binary 64×64 images. The official file is
``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` with ``imgs`` uint8 [n, 64, 64],
``latents_values`` float64 [n, 6] and ``latents_classes`` int64 [n, 6].

This module rebuilds the same grid, in the same order, with its own analytic shapes: every pixel is
lit when the majority of a 3×3 grid of sub-pixel sample points falls inside the shape (a square, an
ellipse or a heart). The geometry, in pixel units of the 64×64 canvas (x = column, y = row, pixel
(r, c) covers [c, c+1) × [r, r+1)):

* centre: ``(x, y) = (14 + 36·posX, 14 + 36·posY)`` px, so posX moves the sprite along the
  columns (left → right) and posY along the rows (top → bottom); position 0..1 spans 14..50 px,
  the range where every shape at scale 1 (at most 12.73 px from its centre) stays inside the
  canvas with the outermost ring of pixels dark;
* size at scale 1 (``scale`` multiplies every length): square side 18 px; ellipse semi-axes 12 px
  (horizontal at orientation 0) and 6 px; heart the curve (x² + y² − 1)³ − x²y³ ≤ 0 in units of
  9 px (20.5 px wide, 20.1 px tall), its bounding box centred on the position, lobes up;
* orientation θ turns the shape counter-clockwise as displayed (rows drawn downwards).

No random numbers are used; the result depends only on the factor levels (cos/sin come from a
table of the 40 orientation levels), so rendering in any chunking gives identical bytes.
See docs/images.md for how these images differ from the official ones.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from linid.core.io import atomic_path
from linid.images.names import DSPRITES_IMAGES, DSPRITES_LATENT_SIZES, IMAGE_SIZE

LATENT_NAMES: tuple[str, ...] = ("color", "shape", "scale", "orientation", "posX", "posY")
LATENT_SIZES: tuple[int, ...] = DSPRITES_LATENT_SIZES
N_IMAGES: int = DSPRITES_IMAGES  # 737,280

#: the official factor levels (``latents_values`` takes its columns from these), by factor
LATENT_LEVELS: tuple[np.ndarray, ...] = (
    np.array([1.0]),
    np.array([1.0, 2.0, 3.0]),  # 1 = square, 2 = ellipse, 3 = heart
    np.linspace(0.5, 1.0, 6),
    np.linspace(0.0, 2.0 * np.pi, 40),  # 0 and 2π both present, as in the official file
    np.linspace(0.0, 1.0, 32),
    np.linspace(0.0, 1.0, 32),
)
SHAPE_NAMES: tuple[str, ...] = ("square", "ellipse", "heart")

#: geometry in pixels at scale 1 (module docstring)
POSITION_MARGIN = 14.0  # px; centre = margin + (64 − 2·margin)·pos
SQUARE_HALF_SIDE = 9.0
ELLIPSE_SEMI_AXES = (12.0, 6.0)
HEART_UNIT = 9.0
HEART_Y_CENTRE = 0.118  # bounding box of the implicit heart: x ∈ ±1.139, y ∈ [−1, 1.236]
SUPERSAMPLE = 3  # sub-pixel samples per axis; a pixel is lit when more than half are inside
WINDOW = 32  # shapes are evaluated on a WINDOW × WINDOW patch around their centre

_COS = np.cos(LATENT_LEVELS[3])
_SIN = np.sin(LATENT_LEVELS[3])


def latent_classes(indices: np.ndarray | None = None) -> np.ndarray:
    """Level index of every factor for grid rows ``indices`` (all 737,280 when None): int64 [n, 6].

    Row i of the official file is ``np.unravel_index(i, LATENT_SIZES)`` (row-major, posY fastest).
    """
    if indices is None:
        idx = np.arange(N_IMAGES, dtype=np.int64)
    else:
        idx = np.asarray(indices)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be a 1-D integer array, got {idx.dtype} {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= N_IMAGES):
            raise ValueError(
                f"indices must lie in [0, {N_IMAGES}), got [{idx.min()}, {idx.max()}]"
            )
    return np.stack(np.unravel_index(idx, LATENT_SIZES), axis=1).astype(np.int64)


def latent_values(classes: np.ndarray) -> np.ndarray:
    """The official factor values of level indices ``classes`` [n, 6]: float64 [n, 6]."""
    classes = _check_classes(classes)
    return np.stack([LATENT_LEVELS[j][classes[:, j]] for j in range(6)], axis=1)


def _check_classes(classes: np.ndarray) -> np.ndarray:
    classes = np.asarray(classes)
    if classes.ndim != 2 or classes.shape[1] != 6 or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"classes must be an integer array [n, 6], got {classes.dtype} "
                         f"{classes.shape}")
    if classes.size:
        lo, hi = classes.min(axis=0), classes.max(axis=0)
        bad = (lo < 0) | (hi >= np.array(LATENT_SIZES))
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ValueError(f"classes[:, {j}] ({LATENT_NAMES[j]}) must lie in "
                             f"[0, {LATENT_SIZES[j]}), got [{lo[j]}, {hi[j]}]")
    return classes.astype(np.int64, copy=False)


def _inside(shape: int, u: np.ndarray, v: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Point-in-shape test in the shape's own frame (v points up), at scale ``s`` [n, 1, 1]."""
    if shape == 1:
        return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE * s
    if shape == 2:
        a, b = ELLIPSE_SEMI_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= s * s
    x = u / (HEART_UNIT * s)
    y = v / (HEART_UNIT * s) + np.float32(HEART_Y_CENTRE)
    x2 = x * x
    r = x2 + y * y - 1
    return r * r * r - x2 * y * y * y <= 0


def _render_params(
    shape: np.ndarray, scale: np.ndarray, cos: np.ndarray, sin: np.ndarray,
    cx: np.ndarray, cy: np.ndarray,
) -> np.ndarray:
    """Render one chunk from per-image parameters (all float64 [n] except the int ``shape``)."""
    n = shape.shape[0]
    out = np.zeros((n, IMAGE_SIZE + 2 * WINDOW, IMAGE_SIZE + 2 * WINDOW), dtype=np.uint8)
    if n == 0:
        return out[:, WINDOW:-WINDOW, WINDOW:-WINDOW]
    half = WINDOW // 2
    r0 = np.floor(cy).astype(np.int64) - half  # first row / column of each image's window
    c0 = np.floor(cx).astype(np.int64) - half
    ar = np.arange(WINDOW)
    count = np.zeros((n, WINDOW, WINDOW), dtype=np.uint8)
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    for code in (1, 2, 3):
        rows = np.flatnonzero(shape == code)
        if rows.size == 0:
            continue
        c, s = cos[rows, None, None], sin[rows, None, None]
        sc = scale[rows, None, None].astype(np.float32)
        hits = np.zeros((rows.size, WINDOW, WINDOW), dtype=np.uint8)
        for oy in offsets:
            # displacement from the centre, y flipped so that it points up on the screen
            dy = (cy[rows, None] - (r0[rows, None] + ar + oy))[:, :, None]
            for ox in offsets:
                dx = ((c0[rows, None] + ar + ox) - cx[rows, None])[:, None, :]
                u = (c * dx + s * dy).astype(np.float32)  # rotate the point by −θ
                v = (c * dy - s * dx).astype(np.float32)
                hits += _inside(code, u, v, sc)
        count[rows] = hits
    lit = (2 * count > SUPERSAMPLE * SUPERSAMPLE).astype(np.uint8)
    pad_r = (r0 + WINDOW)[:, None, None] + ar[None, :, None]
    pad_c = (c0 + WINDOW)[:, None, None] + ar[None, None, :]
    out[np.arange(n)[:, None, None], pad_r, pad_c] = lit
    return out[:, WINDOW:-WINDOW, WINDOW:-WINDOW]


def centre_px(pos: np.ndarray) -> np.ndarray:
    """Pixel coordinate of a sprite centre for position(s) ``pos`` ∈ [0, 1] (x or y alike)."""
    return POSITION_MARGIN + (IMAGE_SIZE - 2.0 * POSITION_MARGIN) * np.asarray(pos, dtype=float)


def render(classes: np.ndarray, *, chunk: int = 1024) -> np.ndarray:
    """Render the images of factor levels ``classes`` [n, 6] (rows of :func:`latent_classes`).

    Returns uint8 [n, 64, 64] with values {0, 1}. Vectorised over ``chunk`` images at a time (the
    temporaries of 1024 images take tens of MB; blocks of 256–1024 were the fastest here, larger
    ones fall out of cache); deterministic, and the same bytes for every ``chunk``.
    """
    classes = _check_classes(classes)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    out = np.empty((classes.shape[0], IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, classes.shape[0], chunk):
        k = classes[start:start + chunk]
        out[start:start + chunk] = _render_params(
            k[:, 1] + 1, LATENT_LEVELS[2][k[:, 2]], _COS[k[:, 3]], _SIN[k[:, 3]],
            centre_px(LATENT_LEVELS[4][k[:, 4]]), centre_px(LATENT_LEVELS[5][k[:, 5]]),
        )
    return out


def render_values(
    shape: np.ndarray, scale: np.ndarray, orientation: np.ndarray, pos_x: np.ndarray,
    pos_y: np.ndarray, *, chunk: int = 1024,
) -> np.ndarray:
    """Render off-grid factor values: shape codes 1..3, scale (1 = full size), angle in radians,
    positions in [0, 1]; all broadcast to [n]. Same geometry as :func:`render`.
    """
    shape, scale, orientation, pos_x, pos_y = np.broadcast_arrays(
        np.asarray(shape), *(np.asarray(a, dtype=np.float64)
                             for a in (scale, orientation, pos_x, pos_y)))
    shape = np.atleast_1d(shape).astype(np.int64)
    if not np.isin(shape, (1, 2, 3)).all():
        raise ValueError(f"shape codes must be 1, 2 or 3, got {np.unique(shape)}")
    scale, orientation, pos_x, pos_y = (np.atleast_1d(a) for a in (scale, orientation, pos_x,
                                                                     pos_y))
    if scale.size and (scale.min() <= 0 or scale.max() > 1.0):
        raise ValueError(f"scale must lie in (0, 1] so that the sprite fits, got "
                         f"[{scale.min()}, {scale.max()}]")
    for name, p in (("pos_x", pos_x), ("pos_y", pos_y)):
        if p.size and (p.min() < 0 or p.max() > 1):
            raise ValueError(f"{name} must lie in [0, 1], got [{p.min()}, {p.max()}]")
    out = np.empty((shape.shape[0], IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    cos, sin = np.cos(orientation), np.sin(orientation)
    cx, cy = centre_px(pos_x), centre_px(pos_y)
    for a in range(0, shape.shape[0], chunk):
        b = a + chunk
        out[a:b] = _render_params(shape[a:b], scale[a:b], cos[a:b], sin[a:b], cx[a:b], cy[a:b])
    return out


def subsample(n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` distinct grid images drawn uniformly with ``default_rng(seed)``."""
    if not 0 <= n <= N_IMAGES:
        raise ValueError(f"cannot draw n={n} distinct images from the {N_IMAGES} of the dSprites "
                         f"grid (need 0 <= n <= {N_IMAGES})")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(N_IMAGES, size=n, replace=False)).astype(np.int64)


def _write_npy_member(zf: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype, chunks):
    """Stream an array into ``zf`` as ``name.npy``, from an iterable of row blocks."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape}
    with zf.open(name + ".npy", "w", force_zip64=True) as fp:
        np.lib.format.write_array_header_2_0(fp, header)
        rows = 0
        for block in chunks:
            block = np.ascontiguousarray(block, dtype=dtype)
            rows += block.shape[0]
            fp.write(block.tobytes())
        if rows != shape[0]:
            raise RuntimeError(f"wrote {rows} rows of {name}, expected {shape[0]}")


def write_npz(
    path: str | os.PathLike, indices: np.ndarray | None = None, *, compress: bool = True,
    chunk: int = 1024,
) -> None:
    """Write rendered grid rows ``indices`` (all when None) in the official dSprites npz schema.

    Keys: ``imgs`` uint8 [n, 64, 64], ``latents_values`` float64 [n, 6], ``latents_classes``
    int64 [n, 6], and ``metadata``, a JSON string (the official file has a pickled dict there).
    Images are rendered and streamed ``chunk`` at a time, so memory stays bounded even for all
    737,280; the file appears atomically (temporary file in the same folder, then ``os.replace``).
    """
    path = Path(path)
    classes = latent_classes(indices)
    n = classes.shape[0]
    meta = {"generator": "linid.images.dsprites", "latents_names": list(LATENT_NAMES),
            "latents_sizes": list(LATENT_SIZES), "n": n, "image_size": IMAGE_SIZE,
            "supersample": SUPERSAMPLE}
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as f, zipfile.ZipFile(
        f, "w", compression=mode, allowZip64=True
    ) as zf:
        imgs = (render(classes[a:a + chunk], chunk=chunk) for a in range(0, n, chunk))
        _write_npy_member(zf, "imgs", (n, IMAGE_SIZE, IMAGE_SIZE), np.uint8, imgs)
        small = {"latents_values": latent_values(classes), "latents_classes": classes,
                 "metadata": np.array(json.dumps(meta))}
        for key, arr in small.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as fp:
                np.lib.format.write_array(fp, arr, allow_pickle=False)
