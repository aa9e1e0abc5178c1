"""Atomic file outputs, and reads that name a corrupt input.

Outputs are written to a temporary file in the same folder and renamed over the target, so a job
killed half-way never leaves a truncated file that a downstream job would accept. The temporary
file gets the permissions a plain ``open`` would (0666 less the umask), not ``mkstemp``'s 0600, so
a group on a shared cluster can read the results. An input that cannot be parsed (a file truncated
by a full disk, a copy or a crash outside linid) stops the job with :class:`CorruptFile`, which names
the file and how to rebuild it.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import tempfile
import zipfile
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
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.filename is None:  # a write through an open handle: name the file it was for
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except RuntimeError as exc:
        if (failure := _write_failure(exc, path)) is not None:
            raise failure from exc
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


#: how torch.save reports a failed write (a full disk): a RuntimeError naming neither file nor cause
TORCH_WRITE_FAILURE = ("PytorchStreamWriter", "inline_container", "iostream error")


def _write_failure(exc: RuntimeError, path: Path) -> OSError | None:
    """torch.save's RuntimeError for a failed write as the OSError it is, naming ``path``
    (ENOSPC when its file system has less than 1 MiB left; None: not a write failure)."""
    if not any(mark in str(exc) for mark in TORCH_WRITE_FAILURE):
        return None
    try:
        full = shutil.disk_usage(path.parent).free < 2**20
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return OSError(errno.EIO, f"writing failed ({exc})", str(path))


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class CorruptFile(RuntimeError):
    """An input file exists but cannot be parsed."""


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Turn any failure to parse ``path`` inside the block into :class:`CorruptFile` naming it (a
    missing file stays FileNotFoundError)."""
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as exc:
        raise CorruptFile(
            f"{path} is corrupt or truncated ({type(exc).__name__}: {exc}). Delete it and run "
            "snakemake again: the rule that writes it rebuilds it, and what depends on it reruns"
        ) from exc


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read now (a corrupt file raises :class:`CorruptFile`)."""
    with reading(path), np.load(path) as f:
        return {k: f[k] for k in f.files}


def read_json(path: str | Path) -> Any:
    with reading(path):
        return json.loads(Path(path).read_text())


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
