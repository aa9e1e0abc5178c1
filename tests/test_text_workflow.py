"""End to end: the text experiment ([K] Figure 1) through the real Snakefile on tests/configs/text_tiny.yaml:
tables, figures, one MLflow run per job, nothing reruns, bad input refused before any job."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from tests.helpers import ROOT, make_checkout, planned_jobs, smk

pytestmark = pytest.mark.slow
CONFIG = ROOT / "tests" / "configs" / "text_tiny.yaml"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = make_checkout(tmp_path_factory.mktemp("linid_text"))
    shutil.copy(CONFIG, r / "text.yaml")
    smk(r, config=r / "text.yaml")
    return r


def test_tables_show_identifiability_and_its_failure(repo):
    s = pd.read_csv(repo / "results" / "tables" / "text_summary.csv").set_index(
        ["cell", "kind", "space", "state"]).sort_index()
    assert len(s) == 2 * 2 * 2 * 2 and {"r2w_ci_lo", "mcca_mean", "rank", "diverse"} <= set(s.columns)
    full, low = s.loc["rank2"], s.loc["rank1"]
    for space in ("q", "r"):
        assert full.loc[("replicas", space, "trained"), "r2w_mean"] > 0.9
        assert full.loc[("truth", space, "trained"), "r2w_mean"] > 0.9
        assert full.loc[("truth", space, "untrained"), "r2w_mean"] < 0.5
        assert low.loc[("truth", space, "trained"), "r2w_mean"] < full.loc[("truth", space, "trained"), "r2w_mean"] - 0.1
    pairs = pd.read_csv(repo / "results" / "tables" / "text_pairs.csv")
    assert len(pairs) == 2 * 2 * 2 * (1 + 2)  # cells × spaces × states × (1 replica pair + 2 vs truth)
    md = (repo / "results" / "tables" / "text_summary.md").read_text()
    assert "| rank2 |" in md and "| rank1 |" in md
    for f in ("overlay", "agreement"):
        assert (repo / "results" / "figures" / "text" / f"{f}.png").stat().st_size > 5000


def test_every_text_job_is_one_mlflow_run(repo):
    import mlflow

    mlflow.set_tracking_uri("sqlite:///" + str(repo / "results" / "mlflow.db"))
    runs = mlflow.search_runs(experiment_names=["text_tiny"], max_results=1000)
    assert runs["tags.linid.rule"].value_counts().to_dict() == {
        "text_corpus": 2, "text_train": 4, "text_compare": 2, "text_tables": 1, "text_figures": 1}
    train = runs[runs["tags.linid.rule"] == "text_train"]
    assert (train["metrics.heldout_nll"] < train["metrics.heldout_nll_untrained"]).all()
    corpus = runs[runs["tags.linid.rule"] == "text_corpus"]
    assert corpus["metrics.truth_nll"].notna().all()


def test_nothing_reruns_and_a_change_reruns_its_cell_only(repo):
    assert planned_jobs(repo, config=repo / "text.yaml") == {}
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["text"]["train"]["steps"] = 401
    (repo / "steps.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned_jobs(repo, config=repo / "steps.yaml")
    assert jobs.get("text_train") == 4 and "text_corpus" not in jobs


def test_bad_text_input_is_refused_before_any_job(repo):
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["text"]["corpus"].update(source="text", path="no/such.txt")
    (repo / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(repo, "--dry-run", config=repo / "bad.yaml", check=False)
    assert proc.returncode != 0 and "text.corpus.path = 'no/such.txt': no such file" in proc.stdout + proc.stderr
    cfg["text"]["corpus"].update(source="generated", path="")
    cfg["text"]["axes"] = {"rank": [3]}
    (repo / "bad2.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(repo, "--dry-run", config=repo / "bad2.yaml", check=False)
    assert proc.returncode != 0 and "true_dim" in proc.stdout + proc.stderr
