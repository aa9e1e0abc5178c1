"""Reading ``.npy`` headers and ``.npz`` archives without loading arrays (one reader for every
experiment's file checks): member headers, streamed chunks, NaN/inf counts."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

CHUNK_BYTES = 1 << 24  # 16 MiB per read when streaming a member for NaN/inf


def read_npy_header(f: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, bool]:
    """(shape, dtype, fortran order) from the header of an ``.npy`` stream (format 1.0, 2.0 or 3.0);
    ValueError when the stream is not an ``.npy`` array."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    elif version == (3, 0):  # utf-8 field names; numpy has no public reader for it
        shape, fortran, dtype = np.lib.format._read_array_header(f, version)
    else:
        raise ValueError(f".npy format version {version} is not supported")
    return tuple(int(s) for s in shape), np.dtype(dtype), bool(fortran)


@dataclass(frozen=True)
class NpzEntry:
    """What the ``.npy`` header of one archive member says."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool


class Unreadable(Exception):
    """The file is not a readable ``.npz`` archive (message says why)."""


def _entry_of(f: IO[bytes]) -> NpzEntry:
    shape, dtype, fortran = read_npy_header(f)
    return NpzEntry(shape, dtype, fortran)


def npz_index(path: Path) -> dict[str, NpzEntry]:
    """Array name → header of every member of the ``.npz`` at ``path``, in archive order."""
    if not path.exists():
        raise Unreadable("file does not exist")
    if not path.is_file():
        raise Unreadable("is not a regular file")
    try:
        with path.open("rb") as f:
            head = f.read(6)
        if head == b"\x93NUMPY":
            raise Unreadable(
                "is a single .npy array, not an .npz archive (write it with np.savez)"
            )
        out: dict[str, NpzEntry] = {}
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    raise Unreadable(
                        f"member {info.filename!r} is not a .npy array: not an np.savez archive"
                    )
                with zf.open(info) as member:
                    try:
                        out[info.filename[: -len(".npy")]] = _entry_of(member)
                    except ValueError as e:
                        raise Unreadable(
                            f"member {info.filename!r} is not a .npy array: {e}"
                        ) from None
        return out
    except zipfile.BadZipFile:
        raise Unreadable("is not an .npz archive (np.savez / np.savez_compressed)") from None
    except OSError as e:
        raise Unreadable(f"cannot be read: {e}") from None


def npz_chunks(path: Path, key: str, entry: NpzEntry) -> Iterator[np.ndarray]:
    """The values of one member as flat arrays of at most ~16 MiB (memory order, any layout)."""
    itemsize = entry.dtype.itemsize
    total = int(np.prod(entry.shape)) * itemsize
    step = max(itemsize, CHUNK_BYTES // itemsize * itemsize)
    with zipfile.ZipFile(path) as zf, zf.open(key + ".npy") as f:
        _entry_of(f)
        done = 0
        while done < total:
            buf = f.read(min(step, total - done))
            if not buf:
                break
            done += len(buf)
            yield np.frombuffer(buf, dtype=entry.dtype)


def count_nonfinite(path: Path, key: str, entry: NpzEntry) -> int:
    if entry.dtype.kind != "f":
        return 0
    return sum(int(c.size - np.count_nonzero(np.isfinite(c))) for c in npz_chunks(path, key, entry))


def load_member(path: Path, key: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        return np.asarray(z[key])


def describe(entry: NpzEntry) -> str:
    return f"shape {entry.shape}, dtype {entry.dtype}"
