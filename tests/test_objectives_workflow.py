"""End to end: two objectives on one process through the real Snakefile (issue 29).

The objectives table and figure, the probes of an objective without a head, one MLflow run per
job, the pair comparison of InfoNCE's seeds, and what reruns when an objective's code or the
registry changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import ROOT, edited, make_checkout, planned_jobs, smk

# a real workflow run (~1 min on 2 cores) and 4 dry runs: in the slow set (`pytest -m slow`)
pytestmark = pytest.mark.slow

CONFIG = ROOT / "tests" / "data" / "objectives_tiny.yaml"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    r = make_checkout(tmp_path_factory.mktemp("objectives"))
    shutil.copy2(CONFIG, r / "tiny.yaml")
    smk(r)
    return r


def test_two_objectives_on_one_process_side_by_side(repo):
    res = repo / "results"
    probes = pd.read_csv(res / "tables" / "probes.csv")
    assert sorted(probes["method"]) == ["infonce", "infonce", "supervised", "supervised"]
    assert probes["dataset_id"].nunique() == 1  # one process (data seed 0) for both objectives
    nce = probes[probes["method"] == "infonce"]
    assert nce["r2_w_v"].isna().all() and nce["mae_w_v"].isna().all()  # no head: no W → v probe
    for col in ("r2_affine_x", "r2_affine_init_bn", "gain_x", "r2_affine_lo", "r2_affine_hi"):
        assert nce[col].notna().all(), col
    table = pd.read_csv(res / "tables" / "objectives.csv")
    assert list(table["method"]) == ["supervised", "infonce"] and table["n_runs"].eq(2).all()
    assert table["r2_affine_ci_lo"].notna().all() and (table["r2_affine_ci_hi"] <= 1).all()
    md = (res / "tables" / "objectives.md").read_text()
    assert "| objective | n | R²_a |" in md and "| infonce | 2 |" in md
    assert (res / "figures" / "objectives.png").stat().st_size > 5000
    pairs = pd.read_csv(res / "tables" / "pairs.csv")
    assert set(pairs["method"].dropna()) == {"supervised", "infonce"}


def test_every_job_of_an_objective_has_its_mlflow_run(repo):
    import mlflow

    mlflow.set_tracking_uri("sqlite:///" + str(repo / "results" / "mlflow.db"))
    runs = mlflow.search_runs(experiment_names=["objectives_tiny"], max_results=1000)
    train = runs[runs["tags.linid.rule"] == "train"]
    assert sorted(train["tags.linid.wc.method"]) == ["infonce", "infonce", "supervised", "supervised"]
    assert runs["tags.linid.rule"].eq("objectives").sum() == 1


def test_an_objectives_code_reruns_its_models_only_and_the_registry_reruns_nothing(repo):
    lib = repo / "linid" / "sim" / "objectives"
    assert planned_jobs(repo) == {}
    with edited(lib / "infonce.py", "\n\ndef _unused() -> int:\n    return 1\n"):
        jobs = planned_jobs(repo)
        assert jobs["train"] == 2 and jobs["extract_features"] == 2 and jobs["probe"] == 2, jobs
        assert "generate_dataset" not in jobs
    with edited(lib / "base.py", "\n\ndef _unused() -> int:\n    return 1\n"):  # both objectives' code
        assert planned_jobs(repo)["train"] == 4
    # a registration's description, or a new objective registered: no model is retrained
    init = lib / "__init__.py"
    with edited(init, "\n\n_EXTRA_NOTE = 'a registry edit is no model code'\n"):
        assert planned_jobs(repo) == {}
