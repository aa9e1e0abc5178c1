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
smallNORB and anything else). docs/images.md documents every layout and transform.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linid.core.io import atomic_path
from linid.core.npz import read_npy_header
from linid.images import dsprites

LAYOUTS: tuple[str, ...] = ("dsprites", "shapes3d", "mpi3d", "mpi3d_real", "generic")

#: factor names, in column order, as the fb loaders set ``lat_names`` (dsprites: after
#: ``factors_to_use=['shape', 'scale', 'orientation', 'posX', 'posY']``, as csi passes it)
FACTOR_NAMES: dict[str, tuple[str, ...]] = {
    "dsprites": ("shape", "scale", "orientation", "posX", "posY"),
    "shapes3d": ("floorCol", "wallCol", "objCol", "objSize", "objType", "objAzimuth"),
    "mpi3d": ("objCol", "objShape", "objSize", "cameraHeight", "backCol", "posX", "posY"),
    "mpi3d_real": ("objCol", "objShape", "objSize", "cameraHeight", "backCol", "posX", "posY"),
    "cars3d": ("elevation", "azimuth", "object_type"),
    "smallnorb": ("category", "instance", "elevation", "rotation", "lighting"),
}

#: factor roles verbatim from csi ``dislib/main.py`` (its dicts ``categorical``, ``continuous``,
#: ``manifold`` (here ``periodic``) and ``other``); csi trains on ``categorical[0]``
CSI_ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "dsprites": {"categorical": ("shape",), "continuous": ("scale", "posX", "posY"),
                 "periodic": ("orientation",), "other": ()},
    "shapes3d": {"categorical": ("objType",), "continuous": ("objSize", "objAzimuth"),
                 "periodic": ("floorCol", "wallCol", "objCol"), "other": ()},
    "mpi3d": {"categorical": ("objShape",), "continuous": ("posX", "posY"), "periodic": (),
              "other": ("objCol", "objSize", "cameraHeight", "backCol")},
    "mpi3d_real": {"categorical": ("objShape",), "continuous": ("posX", "posY"), "periodic": (),
                   "other": ("objCol", "objSize", "cameraHeight", "backCol")},
    "cars3d": {"categorical": ("object_type",), "continuous": ("elevation",),
               "periodic": ("azimuth",), "other": ()},
    "smallnorb": {"categorical": ("category", "instance"), "continuous": ("elevation",),
                  "periodic": ("rotation",), "other": ("lighting",)},
}

#: image channels per data set (csi ``num_channels``)
NUM_CHANNELS: dict[str, int] = {"dsprites": 1, "shapes3d": 3, "mpi3d": 3, "mpi3d_real": 3,
                                "cars3d": 3, "smallnorb": 1}

#: MPI3D factor grid (fb ``datasets/mpi3d.py``): row-major, posY fastest, 1,036,800 images
MPI3D_SIZES: tuple[int, ...] = (6, 6, 2, 3, 3, 40, 40)
MPI3D_N: int = int(np.prod(MPI3D_SIZES))
SHAPES3D_N: int = 480_000


class DatasetFormatError(ValueError):
    """A data file that does not match its layout; the message names file, key and expectation."""


@dataclass(frozen=True)
class ImageDataset:
    """Images with their generative factors and the factor roles of the official experiment.

    ``images`` is channel-first [n, C, H, W] (uint8 as stored, or float); ``factors`` float64
    [n, k] are the factor values as the official pipeline sees them (``data.lat_values``);
    ``categorical`` is the classification target; every other factor is in exactly one of
    ``continuous``, ``periodic`` and ``other``.
    """

    name: str
    images: np.ndarray = field(repr=False)
    factors: np.ndarray = field(repr=False)
    factor_names: tuple[str, ...]
    categorical: str
    continuous: tuple[str, ...] = ()
    periodic: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    #: the class factor's values in the file, in the order of the class indices it was mapped to
    #: (generic layout only; empty: the values are the published ones)
    category_levels: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"{self.name}: images must be [n, C, H, W], got {self.images.shape}")
        if self.factors.ndim != 2 or self.factors.shape[1] != len(self.factor_names):
            raise ValueError(f"{self.name}: factors must be [n, {len(self.factor_names)}] for "
                             f"{self.factor_names}, got {self.factors.shape}")
        if self.images.shape[0] != self.factors.shape[0]:
            raise ValueError(f"{self.name}: {self.images.shape[0]} images but "
                             f"{self.factors.shape[0]} factor rows")
        _check_roles(self.name, "factor_names", self.factor_names, self.categorical,
                     self.continuous, self.periodic, self.other)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def categorical_index(self) -> int:
        """Column of the classification target in ``factors`` (csi's ``cat_ind``)."""
        return self.factor_names.index(self.categorical)

    def column(self, name: str) -> np.ndarray:
        """The factor values of factor ``name``."""
        if name not in self.factor_names:
            raise ValueError(f"{self.name}: no factor {name!r}; factors are {self.factor_names}")
        return self.factors[:, self.factor_names.index(name)]


def _check_roles(where: str, key: str, names: tuple[str, ...], categorical: str,
                 continuous, periodic, other) -> None:
    if len(set(names)) != len(names):
        raise DatasetFormatError(f"{where}: key {key!r}: factor names must be distinct, got "
                                 f"{names}")
    seen: dict[str, str] = {}
    for role, members in (("categorical", (categorical,)), ("continuous", continuous),
                          ("periodic", periodic), ("other", other)):
        for m in members:
            if m not in names:
                raise DatasetFormatError(f"{where}: key {role!r}: factor {m!r} is not one of "
                                         f"factor_names {names}")
            if m in seen:
                raise DatasetFormatError(f"{where}: key {role!r}: factor {m!r} already has role "
                                         f"{seen[m]!r}")
            seen[m] = role


# ---------------------------------------------------------------- reading without loading ----


class _Source:
    """Keys, shapes and dtypes of an npz or h5 file, read from headers; arrays on demand."""

    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            raise DatasetFormatError(f"{path}: no such file")
        self.kind = "h5" if path.suffix.lower() in (".h5", ".hdf5") else "npz"
        self.meta: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        if self.kind == "h5":
            import h5py

            try:
                with h5py.File(path, "r") as f:
                    for k, v in f.items():
                        if isinstance(v, h5py.Dataset):
                            self.meta[k] = (tuple(v.shape), v.dtype)
                    self.attrs = dict(f.attrs)
            except OSError as e:
                raise DatasetFormatError(f"{path}: not a readable HDF5 file ({e})") from e
        else:
            self.attrs = {}
            try:
                with zipfile.ZipFile(path) as zf:
                    for info in zf.infolist():
                        if not info.filename.endswith(".npy"):
                            continue
                        with zf.open(info) as fp:
                            shape, dtype, _ = read_npy_header(fp)
                        self.meta[info.filename[:-4]] = (tuple(shape), dtype)
            except (zipfile.BadZipFile, ValueError) as e:
                raise DatasetFormatError(f"{path}: not a readable .npz archive ({e})") from e

    def require(self, key: str, expected: str) -> tuple[tuple[int, ...], np.dtype]:
        if key not in self.meta:
            raise DatasetFormatError(f"{self.path}: missing key {key!r}: expected {expected}; "
                                     f"keys present: {sorted(self.meta)}")
        return self.meta[key]

    def read(self, key: str) -> np.ndarray:
        if self.kind == "h5":
            import h5py

            with h5py.File(self.path, "r") as f:
                return np.asarray(f[key][()])
        with np.load(self.path, allow_pickle=False) as z:
            try:
                return z[key]
            except ValueError as e:  # numpy's "Object arrays cannot be loaded …" names neither
                raise DatasetFormatError(f"{self.path}: key {key!r} cannot be read ({e}); linid loads "
                                         "no pickled object arrays: save numbers as numeric arrays "
                                         "and names as np.array(names, dtype=str)") from None

    def strings(self, key: str, expected: str, scalar: bool) -> tuple[str, ...] | str:
        """A string scalar or string array from a dataset (or an h5 root attribute)."""
        if key in self.meta:
            raw = self.read(key)
        elif key in self.attrs:
            raw = np.asarray(self.attrs[key])
        else:
            self.require(key, expected)
        arr = np.asarray(raw)
        if arr.dtype.kind not in "USO":
            raise DatasetFormatError(f"{self.path}: key {key!r}: expected {expected}, got dtype "
                                     f"{arr.dtype}")
        items = [x.decode() if isinstance(x, bytes) else str(x) for x in arr.reshape(-1)]
        if scalar:
            if arr.ndim != 0 and arr.size != 1:
                raise DatasetFormatError(f"{self.path}: key {key!r}: expected {expected}, got "
                                         f"shape {arr.shape}")
            return items[0]
        if arr.ndim != 1 and arr.size:
            raise DatasetFormatError(f"{self.path}: key {key!r}: expected {expected}, got shape "
                                     f"{arr.shape}")
        return tuple(items)

    def has(self, key: str) -> bool:
        return key in self.meta or key in self.attrs


def _expect(src: _Source, key: str, shape: tuple, expected: str, kinds: str) -> tuple[int, ...]:
    """Check that ``key`` exists with a shape matching ``shape`` (None = any) and dtype kind."""
    got, dtype = src.require(key, expected)
    ok = len(got) == len(shape) and all(s is None or s == g for s, g in zip(shape, got,
                                                                             strict=True))
    if not ok:
        raise DatasetFormatError(f"{src.path}: key {key!r}: expected {expected}, got shape {got}")
    if dtype.kind not in kinds:
        raise DatasetFormatError(f"{src.path}: key {key!r}: expected {expected}, got dtype "
                                 f"{dtype}")
    return got


def _same_length(src: _Source, n: int, key: str, m: int) -> None:
    if m != n:
        raise DatasetFormatError(f"{src.path}: key {key!r}: expected {n} rows (one per image), "
                                 f"got {m}")


# ----------------------------------------------------------------------------- layouts ------


def channel_first(images: np.ndarray) -> np.ndarray:
    """[n, H, W] → [n, 1, H, W]; [n, H, W, C] (C ∈ {1, 3}) → [n, C, H, W]; [n, C, H, W] as is.

    Views, not copies (as csi's ``reshape`` / ``np.transpose``).
    """
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4:
        if images.shape[1] in (1, 3):
            return images
        if images.shape[-1] in (1, 3):
            return np.transpose(images, (0, 3, 1, 2))
    raise ValueError(f"images must be [n, H, W], [n, H, W, C] or [n, C, H, W] with C in (1, 3), "
                     f"got {images.shape}")


def _roles(name: str, factor_names: tuple[str, ...]) -> dict:
    r = CSI_ROLES[name]
    # csi lists smallNORB's 'instance' as a second categorical factor and trains on the first;
    # the other listed categoricals are kept as 'other' here
    return {"factor_names": factor_names, "categorical": r["categorical"][0],
            "continuous": r["continuous"], "periodic": r["periodic"],
            "other": r["other"] + r["categorical"][1:]}


def dsprites_scaler():
    """sklearn's MinMaxScaler fitted on the extremes of the dSprites grid (all six columns).

    Its transform gives bit-for-bit the values of ``minmax_scale`` over the full official file,
    whatever rows are transformed.
    """
    from sklearn.preprocessing import MinMaxScaler  # here: the workflow reads headers at parse time

    levels = dsprites.LATENT_LEVELS
    return MinMaxScaler().fit(np.array([[lv.min() for lv in levels], [lv.max() for lv in levels]]))


def _load_dsprites(src: _Source) -> ImageDataset:
    n = _expect(src, "imgs", (None, 64, 64), "uint8 images [n, 64, 64] with values {0, 1}",
                "ub")[0]
    _same_length(src, n, "latents_values", _expect(
        src, "latents_values", (None, 6), "float [n, 6] (color, shape, scale, orientation, posX, "
        "posY)", "f")[0])
    if src.has("latents_classes"):
        _same_length(src, n, "latents_classes", _expect(
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
                        **_roles("dsprites", FACTOR_NAMES["dsprites"]))


def _load_shapes3d(src: _Source) -> ImageDataset:
    n = _expect(src, "images", (None, 64, 64, 3), "uint8 images [n, 64, 64, 3]", "u")[0]
    _same_length(src, n, "labels", _expect(
        src, "labels", (None, 6), "float [n, 6] (floor_hue, wall_hue, object_hue, scale, shape, "
        "orientation)", "f")[0])
    from sklearn.preprocessing import minmax_scale

    labels = src.read("labels").astype(np.float64)
    factors = minmax_scale(labels) if n else labels  # fb: over the rows of the loaded file
    return ImageDataset("shapes3d", channel_first(src.read("images")), factors,
                        **_roles("shapes3d", FACTOR_NAMES["shapes3d"]))


def mpi3d_factors(indices: np.ndarray) -> np.ndarray:
    """The fb ``lat_values`` of MPI3D grid rows ``indices``: float64 [n, 7].

    fb builds ``np.linspace(0, 1, size)`` per factor in grid order and min-max scales the result,
    which leaves those values unchanged (every column already spans exactly [0, 1]).
    """
    idx = np.asarray(indices, dtype=np.int64)
    classes = np.unravel_index(idx, MPI3D_SIZES)
    return np.stack([np.linspace(0.0, 1.0, k)[c] for k, c in zip(MPI3D_SIZES, classes,
                                                                 strict=True)], axis=1)


def _load_mpi3d(src: _Source, name: str) -> ImageDataset:
    n = _expect(src, "images", (None, 64, 64, 3), "uint8 images [n, 64, 64, 3]", "u")[0]
    if src.has("indices"):  # linid extension: a subsample file names its grid rows
        _same_length(src, n, "indices", _expect(src, "indices", (None,),
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
                        **_roles(name, FACTOR_NAMES[name]))


def _load_generic(src: _Source) -> ImageDataset:
    got, _ = src.require("images", "images [n, H, W], [n, H, W, C] or [n, C, H, W]")
    if len(got) not in (3, 4):
        raise DatasetFormatError(f"{src.path}: key 'images': expected [n, H, W], [n, H, W, C] or "
                                 f"[n, C, H, W], got shape {got}")
    _expect(src, "images", (None,) * len(got), "uint8 or float images", "uf")
    n = got[0]
    fshape = _expect(src, "factors", (None, None), "float factors [n, k]", "fiu")
    _same_length(src, n, "factors", fshape[0])
    names = src.strings("factor_names", f"a string array of {fshape[1]} factor names", False)
    if len(names) != fshape[1]:
        raise DatasetFormatError(f"{src.path}: key 'factor_names': expected {fshape[1]} names "
                                 f"(one per column of 'factors'), got {len(names)}")
    categorical = src.strings("categorical", "a string scalar naming the class factor", True)
    roles = {}
    for role in ("periodic", "other", "continuous"):
        roles[role] = (src.strings(role, "a string array of factor names", False)
                       if src.has(role) else None)
    taken = {categorical, *(roles["periodic"] or ()), *(roles["other"] or ())}
    if roles["continuous"] is None:
        roles["continuous"] = tuple(f for f in names if f not in taken)
    roles = {k: v or () for k, v in roles.items()}
    _check_roles(str(src.path), "factor_names", names, categorical, roles["continuous"],
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


def load(path: str | os.PathLike, layout: str) -> ImageDataset:
    """Read an image data set stored in ``layout`` (one of :data:`LAYOUTS`).

    Keys, shapes and dtypes are checked from the file headers before any array is read; a
    mismatch raises :class:`DatasetFormatError` (a ``ValueError``) naming file, key and what was
    expected.
    """
    if layout not in LAYOUTS:
        raise DatasetFormatError(f"{path}: unknown layout {layout!r}; expected one of {LAYOUTS}")
    src = _Source(Path(path))
    if layout == "dsprites":
        return _load_dsprites(src)
    if layout == "shapes3d":
        return _load_shapes3d(src)
    if layout in ("mpi3d", "mpi3d_real"):
        return _load_mpi3d(src, layout)
    return _load_generic(src)


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
