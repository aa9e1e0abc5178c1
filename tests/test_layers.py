"""The library reads top-down: no module imports a module of a higher layer (docs/layout.md "Layers").

Read from the syntax tree of every module (function-level imports included), so the check needs
none of the packages the modules import.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "linid"

#: bottom to top; a module may import its own layer and the layers below, never one above
LAYERS: tuple[tuple[str, ...], ...] = (
    ("linid", "linid.names", "linid.runtime", "linid.core"),  # shared utilities and vocabulary
    ("linid.probes",),  # identifiability measures on arrays
    ("linid.sim", "linid.family", "linid.images", "linid.byo", "linid.text"),  # the experiments
    ("linid.report",),  # tables and figures of every experiment
    ("linid.pipeline",),  # the machinery of the workflow: config, cells, tracking, fingerprints
)


def layer(module: str) -> int:
    """Index in LAYERS of the longest prefix naming ``module``'s package."""
    best, depth = None, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and name.count(".") > depth:
                best, depth = i, name.count(".")
    assert best is not None, f"{module} belongs to no layer: add its package to LAYERS"
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def linid_imports(path: Path) -> set[str]:
    """Every ``linid`` module named by an import statement of ``path`` (absolute imports)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import; linid imports absolutely"
            out.add(node.module or "")
    return {m for m in out if m == "linid" or m.startswith("linid.")}


MODULES = sorted(LIB.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_a_higher_layer(path):
    me = module_name(path)
    upward = [m for m in sorted(linid_imports(path)) if layer(m) > layer(me)]
    assert not upward, f"{me} (layer {layer(me)}) imports upward: {upward}"


def test_every_package_has_a_layer_and_the_check_sees_imports():
    packages = {module_name(p) for p in LIB.rglob("__init__.py")}
    assert {layer(p) for p in packages} == set(range(len(LAYERS)))
    # the walk does find imports: the trainer reaches its config and the probes
    assert {"linid.sim.config", "linid.probes.regression"} <= linid_imports(LIB / "sim" / "training.py")
    assert layer("linid.pipeline.cells") > layer("linid.report.paper") > layer("linid.sim.training")


def _graph() -> dict[str, set[str]]:
    """module → the linid modules it imports (attributes resolved to their module)."""
    names = {module_name(p) for p in MODULES}
    graph = {}
    for path in MODULES:
        targets = set()
        for m in linid_imports(path):
            while m not in names and "." in m:  # `from linid.x import func`: the module linid.x
                m = m.rsplit(".", 1)[0]
            targets.add(m)
        graph[module_name(path)] = targets - {module_name(path)}
    return graph


def test_no_import_circle_in_the_library():
    """No module reaches itself through imports (function-level ones included): one trainer, one
    direction (sim.training imports sim.packed, never the reverse)."""
    graph = _graph()
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " → ".join([*path[path.index(n):], n]))
            if n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_no_experiment_imports_another():
    """Experiments share only the layers below them (e.g. checkpoints and the training loop live in
    linid.core): images, family, text, byo never import linid.sim, and so on."""
    experiments = LAYERS[2]
    for m, targets in _graph().items():
        mine = next((e for e in experiments if m == e or m.startswith(e + ".")), None)
        if mine is None:
            continue
        others = {t for t in targets for e in experiments if e != mine and (t == e or t.startswith(e + "."))}
        if mine == "linid.byo":  # the worked BYO examples generate their stand-in data with text's truth
            others -= {t for t in others if t.startswith("linid.text")}
        assert not others, f"{m} imports another experiment: {sorted(others)}"


def test_the_image_experiment_imports_nothing_of_the_simulation():
    """Its loop and checkpoints come from linid.core (docs/layout.md "One training loop")."""
    found = {m for path in (LIB / "images").rglob("*.py") for m in linid_imports(path)}
    assert found and not {m for m in found if m == "linid.sim" or m.startswith("linid.sim.")}
