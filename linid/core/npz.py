"""Reading ``.npy`` headers without loading arrays (one reader for every experiment's file checks)."""

from __future__ import annotations

from typing import IO

import numpy as np


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
