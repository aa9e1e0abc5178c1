"""What every image layout shares: the data set record, its error, the published factor names and
roles, and reading a file's keys, shapes and dtypes from its headers before any array is loaded."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linid.core.npz import read_npy_header

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
        check_roles(self.name, "factor_names", self.factor_names, self.categorical,
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


def check_roles(where: str, key: str, names: tuple[str, ...], categorical: str,
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


class Source:
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


def expect(src: Source, key: str, shape: tuple, expected: str, kinds: str) -> tuple[int, ...]:
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


def same_length(src: Source, n: int, key: str, m: int) -> None:
    if m != n:
        raise DatasetFormatError(f"{src.path}: key {key!r}: expected {n} rows (one per image), "
                                 f"got {m}")


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


def roles(name: str, factor_names: tuple[str, ...]) -> dict:
    r = CSI_ROLES[name]
    # csi lists smallNORB's 'instance' as a second categorical factor and trains on the first;
    # the other listed categoricals are kept as 'other' here
    return {"factor_names": factor_names, "categorical": r["categorical"][0],
            "continuous": r["continuous"], "periodic": r["periodic"],
            "other": r["other"] + r["categorical"][1:]}
