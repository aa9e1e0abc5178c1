"""`pip install .` installs the whole library, declares what it imports, and has one version."""

import ast
import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
import venv
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml

import linid

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _source_modules() -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "linid").rglob("*.py")
    )


def test_a_non_editable_install_holds_every_module_and_imports_outside_the_tree(tmp_path):
    # build from a copy, so that setuptools leaves no build/ or egg-info in the checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "linid", src / "linid", ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    py = env_dir / "bin" / "python"
    # this test's own environment (torch, numpy, ...) behind the fresh venv's site-packages;
    # a .pth line is a path only: an editable linid install there is not activated
    site_dir = next((env_dir / "lib").glob("python3*/site-packages"))
    (site_dir / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
         "--no-build-isolation", "--no-index", "--quiet", str(src)],
        check=True, cwd=tmp_path, env=env, timeout=300,
    )

    modules = _source_modules()
    assert "linid.pipeline.config" in modules and "linid.sim.training" in modules
    probe = (
        "import importlib, importlib.metadata as md, json, sys\n"
        "mods = json.loads(sys.argv[1])\n"
        "files = {m: importlib.import_module(m).__file__ for m in mods}\n"
        "import linid\n"
        "print(json.dumps({'files': files, 'version': linid.__version__,\n"
        "                  'dist': md.version('linid'), 'requires': md.requires('linid')}))\n"
    )
    out = subprocess.run(
        [str(py), "-c", probe, json.dumps(modules)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    for mod, path in got["files"].items():
        assert Path(path).is_relative_to(site_dir), f"{mod} imported from {path}, not the install"
    assert got["version"] == got["dist"] == linid.__version__
    requires = {r.split(";")[0].split(">")[0].split("=")[0].strip().lower() for r in got["requires"]}
    assert {"h5py", "snakemake", "torch", "mlflow"} <= requires


def test_every_imported_package_is_declared():
    declared = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower()
                for d in PYPROJECT["project"]["dependencies"]}
    dist_of = packages_distributions()
    missing = set()
    files = [*(ROOT / "linid").rglob("*.py"), *(ROOT / "workflow" / "scripts").glob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "linid":
                    continue
                dists = {d.lower() for d in dist_of.get(top, [top])}
                if not dists & declared:
                    missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not in pyproject dependencies: {sorted(missing)}"


def test_one_version_license_and_citation():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "linid.__version__"}
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(cff["version"]) == linid.__version__
    cited = [cff["preferred-citation"], *cff["references"]]
    arxiv = {i["value"] for c in cited for i in c.get("identifiers", [])}
    assert {"arXiv:2410.21869", "arXiv:2007.00810"} <= arxiv
