"""Stage fingerprints follow imports: each stage covers exactly the linid code its script reaches."""

from pathlib import Path

import pytest

from linid.core import fingerprints
from linid.core.fingerprints import import_closure, source_fingerprint, stage_fingerprint

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow" / "scripts"


@pytest.fixture
def lib(tmp_path):
    """A tiny package: a imports b (relative), b imports c; d stands alone; the script imports a."""
    pkg = tmp_path / "linid"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""pkg"""\n')
    (pkg / "sub" / "__init__.py").write_text('"""sub"""\n')
    (pkg / "sub" / "a.py").write_text("from .b import f\n\nX = f()\n")
    (pkg / "sub" / "b.py").write_text("from linid import c\n\ndef f():\n    return c.g()\n")
    (pkg / "c.py").write_text("def g():\n    return 1\n")
    (pkg / "d.py").write_text("Y = 2\n")
    script = tmp_path / "script.py"
    script.write_text("from linid.sub.a import X\n")
    return tmp_path, script


def test_closure_is_transitive_and_includes_packages(lib):
    root, script = lib
    assert import_closure(root, script) == ["linid", "linid.c", "linid.sub", "linid.sub.a", "linid.sub.b"]


def test_code_edits_change_the_fingerprint_comments_and_unrelated_modules_do_not(lib):
    root, script = lib
    before = stage_fingerprint(root, script)
    (root / "linid" / "c.py").write_text("def g():\n    return 1  # a comment\n")
    assert stage_fingerprint(root, script) == before
    (root / "linid" / "d.py").write_text("Y = 3\n")  # not reached by the script
    assert stage_fingerprint(root, script) == before
    (root / "linid" / "c.py").write_text("def g():\n    return 2\n")  # reached through b
    assert stage_fingerprint(root, script) != before


def test_source_fingerprint_ignores_formatting(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = [1, 2]\n")
    b.write_text("x = [\n    1,\n    2,\n]  # same\n")
    assert source_fingerprint(a) == source_fingerprint(b)


def test_the_experiments_share_no_science_module():
    sim = set(import_closure(ROOT, SCRIPTS / "train.py"))
    fam = set(import_closure(ROOT, SCRIPTS / "family_train.py"))
    assert "linid.sim.training" in sim and "linid.family.training" in fam
    assert not any(m.startswith("linid.family") for m in sim)
    assert not any(m.startswith("linid.sim") for m in fam)
    # probes read arrays only: no torch-side module reaches them
    probe = set(import_closure(ROOT, SCRIPTS / "probe.py"))
    assert not any(m.startswith(("linid.sim", "linid.family", "linid.report")) for m in probe)


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_every_rule_script_has_a_fingerprint(script):
    closure = import_closure(ROOT, SCRIPTS / script)
    assert "linid.pipeline.tracking" in closure  # every job logs its run
    assert len(stage_fingerprint(ROOT, SCRIPTS / script)) == 12


def test_every_module_is_parsed_once_however_many_stages_reach_it(monkeypatch):
    # the workflow fingerprints ~25 stages whose closures overlap (~300 module visits); each module's
    # syntax tree is built once per process, and an edited file (a new text) is parsed again
    for cached in (fingerprints._parsed, fingerprints._tree_hash, fingerprints._imported):
        cached.cache_clear()
    parsed = []
    real = fingerprints.ast.parse
    monkeypatch.setattr(fingerprints.ast, "parse", lambda text, *a, **k: parsed.append(text) or real(text, *a, **k))
    scripts = sorted(SCRIPTS.glob("*.py"))
    first = {s.name: stage_fingerprint(ROOT, s) for s in scripts}
    second = {s.name: stage_fingerprint(ROOT, s) for s in scripts}
    modules = set().union(*(import_closure(ROOT, s) for s in scripts))
    texts = {fingerprints.module_file(ROOT, m).read_text() for m in modules} | {s.read_text() for s in scripts}
    assert sorted(parsed) == sorted(texts)  # each distinct text once, nothing twice
    assert sum(len(import_closure(ROOT, s)) for s in scripts) > 2 * len(modules)  # closures overlap
    assert second == first


def test_the_disk_cache_spares_every_parse_and_is_never_stale(lib, monkeypatch):
    root, script = lib
    path = root / "cache" / "fingerprints.json"
    plain = stage_fingerprint(root, script)
    first = fingerprints.FingerprintCache(path)
    assert stage_fingerprint(root, script, first) == plain
    first.save()
    # a later process (a job re-reading the Snakefile): the same answer without one parse
    for cached in (fingerprints._parsed, fingerprints._tree_hash, fingerprints._imported):
        cached.cache_clear()
    monkeypatch.setattr(fingerprints.ast, "parse", lambda *a, **k: pytest.fail("parsed despite the cache"))
    assert stage_fingerprint(root, script, fingerprints.FingerprintCache(path)) == plain
    monkeypatch.undo()
    # an edit is a new text: a new key, a new fingerprint (the old entry cannot answer for it)
    (root / "linid" / "c.py").write_text("def g():\n    return 2\n")
    edited = stage_fingerprint(root, script, fingerprints.FingerprintCache(path))
    assert edited != plain and edited == stage_fingerprint(root, script)
    # a garbage cache file costs a parse, never a wrong answer
    path.write_text("{not json")
    assert stage_fingerprint(root, script, fingerprints.FingerprintCache(path)) == edited


def test_checkpoint_code_covers_every_module_the_trainers_import():
    """The checkpoints' code fingerprints come from the import graph: every module a trainer imports
    is covered (none listed by hand, so none can be missed), and nothing the trainers never import."""
    from linid.core.fingerprints import module_closure
    from linid.images.training import TRAINING_CODE as IMAGE_CODE
    from linid.sim.objectives import REGISTRY
    from linid.sim.training import TRAINING_CODE

    sim = module_closure(TRAINING_CODE)
    assert {"linid.sim.models", "linid.sim.process", "linid.sim.samplers", "linid.sim.config", "linid.sim.packed",
            "linid.core.errors", "linid.core.training", "linid.runtime", "linid.names"} <= set(sim)
    # objectives are imported by name at run time: each registered one is covered all the same
    assert {s.module for s in REGISTRY.values()} | {"linid.sim.objectives.base"} <= set(sim)
    assert not any(m.startswith(("linid.report", "linid.pipeline", "linid.images")) for m in sim)
    images = module_closure(IMAGE_CODE)
    assert {"linid.images.models", "linid.images.names", "linid.core.checkpoints"} <= set(images)
    assert not any(m.startswith("linid.sim") for m in images)


def test_with_a_cache_every_module_file_is_read_once_per_process(monkeypatch):
    # the workflow asks for ~35 stage fingerprints on every parse (once per job under SLURM): with
    # the cache each module file is read and hashed once, however many stages reach it
    reads = []
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self) or real(self, *a, **k))
    cache = fingerprints.FingerprintCache(Path("/nonexistent/fingerprints.json"))
    scripts = sorted(SCRIPTS.glob("*.py"))
    got = {s.name: stage_fingerprint(ROOT, s, cache) for s in scripts}
    modules = [r for r in reads if r not in scripts]
    assert len(modules) == len(set(modules)) and len(modules) > 30
    assert got == {s.name: stage_fingerprint(ROOT, s) for s in scripts}  # the same answers without it
