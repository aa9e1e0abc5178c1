"""Code fingerprints of the pipeline's stages, computed from the import graph (no map kept by hand).

A stage's fingerprint covers every ``linid`` module its rule script imports, transitively, plus the
``__init__`` of each package on the way. Passed to the rule as a tracked param, it reruns the stage
when any of that code changes and only then: editing one experiment's code never reruns the other's.
Fingerprints hash the syntax tree, so comments and formatting do not count; docstrings do.

Every module is parsed once per process, however many stages reach it: the syntax tree's hash and
its imports are cached by the file's text (an edited file is a new text, so a cache can never
hand out a stale fingerprint). Snakemake reads the Snakefile in every job's process too.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "linid"


@lru_cache(maxsize=1024)
def _parsed(text: str) -> ast.Module:
    return ast.parse(text)


@lru_cache(maxsize=1024)
def _tree_hash(text: str) -> str:
    return hashlib.sha256(ast.dump(_parsed(text), annotate_fields=False).encode()).hexdigest()[:12]


def source_fingerprint(path: str | Path) -> str:
    """Hash of a module's syntax tree: comment and formatting edits do not change it, code edits do."""
    return _tree_hash(Path(path).read_text())


def module_file(root: Path, module: str) -> Path | None:
    """``linid/a/b.py`` or ``linid/a/b/__init__.py`` for ``linid.a.b``; None when neither exists."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1024)
def _imported(text: str, current: str, is_package: bool) -> frozenset[str]:
    """Modules named by the ``import`` / ``from … import …`` statements of a module (``linid`` ones)."""
    out: set[str] = set()
    for node in ast.walk(_parsed(text)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the current package
                parts = current.split(".")
                parts = parts if is_package else parts[:-1]
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from linid import x` imports linid.x
    return frozenset(m for m in out if m == PACKAGE or m.startswith(PACKAGE + "."))


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_closure(root: str | Path, script: str | Path) -> list[str]:
    """Every ``linid`` module a script reaches through imports, sorted (packages included)."""
    root = Path(root)
    todo = list(_imported(Path(script).read_text(), "__main__", False))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        for mod in _with_parents(name):
            if mod in seen:
                continue
            path = module_file(root, mod)
            if path is None:  # an attribute (`from linid.x import func`), not a module
                continue
            seen.add(mod)
            todo.extend(_imported(path.read_text(), mod, path.name == "__init__.py"))
    return sorted(seen)


def stage_fingerprint(root: str | Path, script: str | Path) -> str:
    """Combined fingerprint of every module in ``import_closure(root, script)``."""
    root = Path(root)
    h = hashlib.sha256()
    for mod in import_closure(root, script):
        h.update(mod.encode())
        h.update(source_fingerprint(module_file(root, mod)).encode())
    return h.hexdigest()[:12]
