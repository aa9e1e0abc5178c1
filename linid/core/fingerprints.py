"""Code fingerprints of the pipeline's stages, computed from the import graph (no map kept by hand).

A stage's fingerprint covers every ``linid`` module its rule script imports, transitively, plus the
``__init__`` of each package on the way. Passed to the rule as a tracked param, it reruns the stage
when any of that code changes and only then: editing one experiment's code never reruns the other's.
Fingerprints hash the syntax tree without docstrings, so comments, formatting and docstrings do
not count; a string written as a statement of its own (a docstring anywhere) is no code either.

Every module is parsed once per process, however many stages reach it: the syntax tree's hash and
its imports are cached by the file's text. Snakemake reads the Snakefile again in every job's
process, so the workflow also keeps them on disk (``cache``: a JSON file keyed by a hash of each
file's text), and a job parses no module at all. Both caches are keyed by content: an edited file
is a new key, so neither can hand out a stale fingerprint.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

PACKAGE = "linid"


#: changes whenever the tree hash does (the on-disk cache keys carry it): 2 = docstrings stripped
VERSION = 2


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
        node.value.value, str
    )


@lru_cache(maxsize=1024)
def _parsed(text: str) -> ast.Module:
    """The syntax tree without docstrings: every statement that is a bare string (a module's,
    class's or function's docstring, or a string written as an attribute's note) is dropped, so
    editing prose reruns nothing. Code that reads ``__doc__`` would not rerun: linid's stages do not."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and any(_is_docstring(n) for n in body):
            node.body = [n for n in body if not _is_docstring(n)] or [ast.Pass()]
    return tree


@lru_cache(maxsize=1024)
def _tree_hash(text: str) -> str:
    return hashlib.sha256(ast.dump(_parsed(text), annotate_fields=False).encode()).hexdigest()[:12]


def source_fingerprint(path: str | Path) -> str:
    """Hash of a module's syntax tree: comment, formatting and docstring edits do not change it,
    code edits do."""
    return _tree_hash(Path(path).read_text())


def module_file(root: Path, module: str) -> Path | None:
    """``linid/a/b.py`` or ``linid/a/b/__init__.py`` for ``linid.a.b``; None when neither exists."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _statements(tree: ast.Module):
    """Every statement of a module, nested ones included (imports inside functions, ``if``, ``try``)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend(getattr(node, field, None) or ())


@lru_cache(maxsize=1024)
def _imported(text: str, current: str, is_package: bool) -> frozenset[str]:
    """Modules named by the ``import`` / ``from … import …`` statements of a module (``linid`` ones)."""
    out: set[str] = set()
    for node in _statements(_parsed(text)):
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


class FingerprintCache:
    """Tree hashes and imports of module texts, kept in a JSON file between processes.

    Keyed by a hash of the text (and the module's name, which relative imports depend on), so an
    entry is never stale; a missing, unreadable or concurrently replaced file only costs a parse.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.entries: dict[str, list] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}
        self.dirty = False
        self.modules: dict[tuple[Path, str], tuple[str, frozenset[str]] | None] = {}

    def module(self, root: Path, module: str) -> tuple[str, frozenset[str]] | None:
        """(tree hash, linid imports) of ``module`` under ``root``, None when it is no module (an
        attribute: ``from linid.x import func``); each module is read once per process."""
        key = (root, module)
        if key not in self.modules:
            path = module_file(root, module)
            self.modules[key] = (
                None if path is None else self.info(path.read_text(), module, path.name == "__init__.py")
            )
        return self.modules[key]

    def info(self, text: str, module: str, is_package: bool) -> tuple[str, frozenset[str]]:
        """(tree hash, linid imports) of a module's text."""
        key = f"{hashlib.sha1(text.encode()).hexdigest()} {module} {int(is_package)} v{VERSION}"
        if (hit := self.entries.get(key)) is not None:
            return hit[0], frozenset(hit[1])
        value = _tree_hash(text), _imported(text, module, is_package)
        self.entries[key] = [value[0], sorted(value[1])]
        self.dirty = True
        return value

    def save(self) -> None:
        """Write the file (atomically) when it gained entries; a failure to write is not an error."""
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(self.entries, f)
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass


def _info(text: str, module: str, is_package: bool, cache: FingerprintCache | None):
    if cache is not None:
        return cache.info(text, module, is_package)
    return _tree_hash(text), _imported(text, module, is_package)


def _walk(root: Path, todo: list[str], cache: FingerprintCache | None, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every existing ``linid`` module reached from ``todo`` through imports, with its tree hash;
    the modules named in ``skip`` are neither hashed nor followed."""
    found: dict[str, str] = {}
    absent: set[str] = set(skip)  # attributes (`from linid.x import func`), not modules
    while todo:
        for mod in _with_parents(todo.pop()):
            if mod in found or mod in absent:
                continue
            if cache is not None:
                info = cache.module(root, mod)
            elif (path := module_file(root, mod)) is not None:
                info = _info(path.read_text(), mod, path.name == "__init__.py", None)
            else:
                info = None
            if info is None:
                absent.add(mod)
                continue
            found[mod], imports = info
            todo.extend(imports)
    return found


def _closure(root: Path, script: str | Path, cache: FingerprintCache | None = None,
             skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every ``linid`` module a script reaches through imports, with its tree hash."""
    return _walk(root, list(_info(Path(script).read_text(), "__main__", False, cache)[1]), cache, skip)


def modules_fingerprint(root: str | Path, modules: tuple[str, ...], cache: FingerprintCache | None = None,
                        skip: tuple[str, ...] = ()) -> str:
    """Combined fingerprint of ``modules`` and every ``linid`` module they import, but ``skip``
    (e.g. one plug-in's module, imported by name at run time and so in no script's closure)."""
    h = hashlib.sha256()
    for mod, tree_hash in sorted(_walk(Path(root), list(modules), cache, skip).items()):
        h.update(mod.encode())
        h.update(tree_hash.encode())
    return h.hexdigest()[:12]


def import_closure(root: str | Path, script: str | Path) -> list[str]:
    """Every ``linid`` module a script reaches through imports, sorted (packages included)."""
    return sorted(_closure(Path(root), script))


def stage_fingerprint(root: str | Path, script: str | Path, cache: FingerprintCache | None = None,
                      skip: tuple[str, ...] = ()) -> str:
    """Combined fingerprint of every module in ``import_closure(root, script)`` but ``skip``;
    ``cache`` keeps the modules' tree hashes and imports between processes (call its ``save``
    when done). ``skip`` names registries: lists of plug-ins whose entries reach a job through its
    params or through the plug-in's own fingerprint (:func:`modules_fingerprint`), so that adding an
    entry reruns nothing that does not use it."""
    h = hashlib.sha256()
    for mod, tree_hash in sorted(_closure(Path(root), script, cache, skip).items()):
        h.update(mod.encode())
        h.update(tree_hash.encode())
    return h.hexdigest()[:12]


def module_closure(modules: tuple[str, ...], root: str | Path | None = None) -> dict[str, str]:
    """Every ``linid`` module that ``modules`` reach through imports (themselves included), with its
    tree hash: what a checkpoint's code fingerprint covers, found from the import graph."""
    return _walk(Path(root) if root is not None else Path(__file__).resolve().parents[2], list(modules), None)
