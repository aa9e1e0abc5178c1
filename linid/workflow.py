"""Helpers for the Snakefile that are plain Python (so they can be unit-tested)."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path


def source_fingerprint(path: str | Path) -> str:
    """Hash of a module's syntax tree: comment and formatting edits do not change it, code edits do."""
    tree = ast.parse(Path(path).read_text())
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()[:12]


def code_hash(root: str | Path, *modules: str) -> str:
    """Combined fingerprint of ``linid.<module>`` sources, passed to a rule as a tracked param."""
    h = hashlib.sha256()
    for m in modules:
        h.update(m.encode())
        h.update(source_fingerprint(Path(root) / "linid" / f"{m}.py").encode())
    return h.hexdigest()[:12]
