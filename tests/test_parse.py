"""Reading the workflow is cheap: no torch, scikit-learn, matplotlib, MLflow or SciPy at parse time.

Snakemake reads the Snakefile in its main process and again in every job's process (on every node
under SLURM), so whatever the Snakefile imports is paid once per job. These tests make the heavy
packages unimportable and still read the workflow of every experiment.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import TINY, make_checkout

#: imported by the jobs, never by the workflow's parse (pandas is not here: Snakemake's SLURM executor
#: plugin imports it whenever Snakemake starts)
BLOCKED = ("torch", "sklearn", "matplotlib", "mlflow", "scipy")


@pytest.fixture(scope="module")
def blocked(tmp_path_factory) -> Path:
    """A folder of stand-in packages that refuse to be imported (put first on PYTHONPATH)."""
    folder = tmp_path_factory.mktemp("blocked")
    for name in BLOCKED:
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(
            f"raise ImportError('{name} is blocked: reading the workflow must not import it')\n"
        )
    return folder


def every_experiment(path: Path) -> Path:
    """The tiny config with the image experiment and bring-your-own (on its activations) turned on."""
    cfg = yaml.safe_load(TINY.read_text())
    cfg["images"] = {
        "enabled": True,
        "datasets": {"dsprites": {"subsample": 300}},
        "models": ["pixels", "mlp"],
        "seeds": [0, 1],
        "export_activations": {"enabled": True, "rows": 100},
    }
    cfg["byo"] = {"enabled": True, "source": "images", "images_dataset": "dsprites", "svcca_k": 5}
    cfg["simulation"]["train"]["pack_size"] = 2
    path.write_text(yaml.safe_dump(cfg))
    return path


def dry_run(repo: Path, config: Path, blocked: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = str(blocked)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "-n", "--configfile", str(config), *extra]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300)


def test_the_blocked_packages_really_are_blocked(blocked):
    env = {**os.environ, "PYTHONPATH": str(blocked)}
    for name in BLOCKED:
        proc = subprocess.run([sys.executable, "-c", f"import {name}"], env=env, capture_output=True, text=True)
        assert proc.returncode != 0 and "is blocked" in proc.stderr, name


def test_the_workflow_of_every_experiment_parses_without_torch_or_sklearn(tmp_path, blocked):
    repo = make_checkout(tmp_path / "repo")
    proc = dry_run(repo, every_experiment(repo / "all.yaml"), blocked)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # every experiment's jobs were planned: the parse reached each rule file's helpers
    for rule in ("generate_dataset", "rule train:", "trained_model", "family_train", "compare_family", "image_train",
                 "image_probe", "byo_probe", "byo_compare", "paper_comparison"):
        assert rule in out, f"{rule} missing from the dry run:\n{out[-3000:]}"

