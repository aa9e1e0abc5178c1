"""Atomic file outputs: write to a temporary file in the same folder, then rename over the target.

A job killed half-way therefore never leaves a truncated file that a downstream job would accept.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path`` (os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write(path: str | Path, writer: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``writer(tmp)`` and atomically move the result to ``path``."""
    with atomic_path(path, suffix) as tmp:
        writer(tmp)


def atomic_savez(path: str | Path, **arrays: np.ndarray) -> None:
    """np.savez_compressed, atomically."""
    with atomic_path(path, ".npz") as tmp, open(tmp, "wb") as fh:  # a handle: no ".npz" appended
        np.savez_compressed(fh, **arrays)


def atomic_json(path: str | Path, obj: Any) -> None:
    """JSON dump (sorted keys, NaN allowed), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_default) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
