"""Snakemake's records of how each output was made, kept beside ``results/`` as well.

Snakemake decides that a setting or the code changed from its records in ``.snakemake/metadata``
(one small file per output: the params, code and input it was made with). Without them it compares
file times only, so deleting ``.snakemake/`` would silently forget every setting changed since:
"Nothing to be done" over results made with other settings. The workflow therefore mirrors the
records into ``results/.snakemake_metadata`` when a run ends, and puts them back when it starts and
finds ``.snakemake/metadata`` empty or gone (Snakemake reads the folder only after the workflow is
read). Both are plain file copies: no record is parsed or changed.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

#: Snakemake's records (its file backend, the default) and their copy beside the results
METADATA = ".snakemake/metadata"
BACKUP = "results/.snakemake_metadata"


def _files(folder: Path) -> dict[str, os.stat_result]:
    out = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            out[str(path.relative_to(folder))] = path.stat()
    return out


def _any_file(folder: Path) -> bool:
    """Whether ``folder`` holds a file (stops at the first: this runs at every start)."""
    for _, _, names in os.walk(folder):
        if names:
            return True
    return False


def save_records(metadata: str | Path = METADATA, backup: str | Path = BACKUP) -> int:
    """Mirror ``metadata`` into ``backup`` (new and changed files copied, files gone removed);
    the number of files copied. Nothing when there are no records or no ``results/`` folder yet."""
    metadata, backup = Path(metadata), Path(backup)
    source = _files(metadata) if metadata.is_dir() else {}
    if not source or not backup.parent.is_dir():
        return 0
    copy = _files(backup) if backup.is_dir() else {}
    copied = 0
    for rel, st in source.items():
        old = copy.get(rel)
        if old is None or (old.st_size, old.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(metadata / rel, backup / rel)  # keeps the time: compared next run
            copied += 1
    for rel in copy.keys() - source.keys():
        (backup / rel).unlink(missing_ok=True)
    return copied


def keep_records() -> None:
    """:func:`save_records` at the end of a run (``atexit``): a failure (a read-only or full
    ``results/``) is one line, never a traceback after Snakemake's own summary."""
    try:
        save_records()
    except OSError as exc:
        print(f"linid: WARNING: could not keep Snakemake's records in {BACKUP} ({exc})", file=sys.stderr)


def restore_records(metadata: str | Path = METADATA, backup: str | Path = BACKUP) -> int:
    """Put the records back when ``metadata`` is empty or gone and ``backup`` holds some; the
    number of files restored (0: nothing to do)."""
    metadata, backup = Path(metadata), Path(backup)
    if not backup.is_dir() or _any_file(metadata):
        return 0
    kept = _files(backup)
    for rel in kept:
        (metadata / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(backup / rel, metadata / rel)
    return len(kept)


def restored_note(n: int) -> str:
    return (
        f"linid: .snakemake/metadata was gone: restored Snakemake's records of how results/ was "
        f"made ({n} files, from {BACKUP}), so a setting or code changed since still reruns what it "
        f"touches (to forget them, delete {BACKUP} as well)"
    )
