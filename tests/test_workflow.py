"""End to end: the real Snakefile on a tiny config in a temporary copy of the repository.

Checks every output, the tidy table, the MLflow runs and tags, and what reruns after each kind of
change (params, training budget, a new sweep value, library code, plotting code, README).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import COPY, ROOT, SNAKEMAKE, TINY, edited, make_checkout, planned_jobs, smk  # noqa: F401


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    r = make_checkout(tmp_path_factory.mktemp("linid"))
    shutil.copy2(TINY, r / "tiny.yaml")
    t0 = time.perf_counter()
    proc = smk(r)
    (r / "first_run.log").write_text(proc.stdout + proc.stderr + f"\nwall {time.perf_counter() - t0:.1f}s\n")
    return r


def _runs(repo: Path, deleted: bool = False) -> pd.DataFrame:
    import mlflow
    from mlflow.entities import ViewType

    mlflow.set_tracking_uri("sqlite:///" + str(repo / "results" / "mlflow.db"))
    view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
    return mlflow.search_runs(experiment_names=["tiny"], run_view_type=view, max_results=10000)


N_MODELS = 2 * 2 * 2  # 2 cells × 2 methods × 2 seeds
N_DATASETS = 2
# datasets and their observation controls, train/features/probe per model, aggregate, figures, paper
# both objectives train on the same datasets: rule objectives sets them side by side
N_JOBS = 2 * N_DATASETS + 3 * N_MODELS + 3 + 1
N_FAMILY_CELLS = 2  # M = 2 × K ∈ {2, 6}, 3 seeds each
# family dataset/train/features/compare per cell; per (cell, method) one compare_sim_part (2 seeds:
# one pair, one shard) and compare_sim merging the shards; aggregate, figures
N_JOBS += 4 * N_FAMILY_CELLS + 2 * 4 + 2


def test_outputs_and_tidy_table(repo):
    res = repo / "results"
    table = pd.read_csv(res / "tables" / "probes.csv")
    required = ["experiment", "method", "latent_dim", "n_classes", "kappa", "conditional", "cluster_prior", "label_noise", "seed", "steps", "r2_affine", "r2_linear", "mae_sv", "r2_w_v", "mcc_pearson", "mcc_spearman"]
    assert set(required) <= set(table.columns)
    assert len(table) == N_MODELS
    assert len(table.drop_duplicates(["latent_dim", "n_classes", "method", "seed"])) == N_MODELS
    assert table["r2_affine"].between(-1, 1).all() and table["steps"].eq(40).all()
    assert table["r2_w_v"][table.method == "diet"].notna().all()  # 64 rows of W: enough to fit
    summary = pd.read_csv(res / "tables" / "probes_summary.csv")
    assert len(summary) == 4 and summary["n_seeds"].eq(2).all()
    md = (res / "tables" / "probes_summary.md").read_text()
    assert "±" in md and len([ln for ln in md.splitlines() if ln.startswith("| ")]) == 1 + 4  # header, 4 cells
    # controls on the same draws, beside (never instead of) each trained model, with intervals
    for col in ("r2_affine_x", "r2_affine_init", "r2_affine_init_bn", "gain_x", "r2_reverse",
                "r2_affine_lo", "r2_affine_hi", "mcc_pearson_aligned_x", "r2_knn_init_bn"):
        assert table[col].notna().all(), col
    assert (table["gain_x"] - (table["r2_affine"] - table["r2_affine_x"])).abs().max() < 1e-12
    assert (table["r2_affine_lo"] <= table["r2_affine"]).all() and (table["r2_affine"] <= table["r2_affine_hi"]).all()
    # the observations control is a property of the dataset: one value per dataset, and it is
    # the affine R² of z from x on the probe's rows (an independent computation here)
    assert table.groupby("dataset_id")["r2_affine_x"].nunique().eq(1).all()
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    for data, x_r2 in table.groupby("dataset_id")["r2_affine_x"].first().items():
        arrays = np.load(res / "sim" / "datasets" / f"{data}.npz")
        x, z = (arrays[k][:800].astype(np.float64) for k in ("eval_x", "eval_z"))
        pred = LinearRegression().fit(x[:400], z[:400]).predict(x[400:])
        assert x_r2 == pytest.approx(r2_score(z[400:], pred), abs=1e-9)
    assert {"r2_affine_ci_lo", "r2_affine_ci_hi", "gain_x_mean", "r2_affine_x_mean"} <= set(summary.columns)
    assert "R²_a untrained (BN)" in md and "gain over x" in md
    # curves start at step 0: the initial model's monitor R² and its loss (the first batch's, taken
    # before the first update; issue 28: the loss curve began at the first log point)
    curves = pd.read_csv(res / "tables" / "curves.csv")
    assert set(curves["step"]) == {0, 10, 20, 30, 40}
    first = curves[curves["step"] == 0]
    assert len(first) == N_MODELS and first["monitor_r2"].notna().all() and first["loss"].notna().all()
    for name in ("r2_heatmap", "r2_vs_classes", "training_curves", "paper_comparison"):
        assert (res / "figures" / f"{name}.png").stat().st_size > 5000
        assert (res / "figures" / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    for rule in ("generate_dataset", "train", "extract_features", "probe", "probe_observations"):
        assert list((res / "logs" / rule).rglob("*.log")), rule
    # the paper comparison lists every published value; the tiny cells (N = 64) match none of them
    paper = pd.read_csv(res / "tables" / "paper_comparison.csv")
    assert len(paper) == 115 and paper["status"].eq("not run").all()
    base = paper[(paper["table"] == "Table 3") & (paper["setting"] == "d = 5")]
    assert base["published"].tolist() == [0.998]
    # checkpoints are removed once the declared outputs exist
    assert not list((res / "checkpoints").rglob("*.ckpt"))
    # pairwise comparisons: family 2 cells × 3 pairs × 4 layers, simulation 4 groups × 1 pair × f
    pairs = pd.read_csv(res / "tables" / "pairs.csv")
    assert len(pairs) == 2 * 3 * 4 + 4 * 1
    for col in ("experiment", "cell", "layer", "seed_a", "seed_b", "mcca", "cca_min", "svcca", "r2_ab", "r2_ba"):
        assert col in pairs.columns, col
    assert pairs["mcca"].between(0, 1 + 1e-9).all()
    # one spectrum row per canonical correlation: f has rep_dim of them in every pair
    spectra = pd.read_csv(res / "tables" / "cca_spectra.csv")
    assert spectra["rho"].between(0, 1 + 1e-9).all()
    keys = ["experiment", "cell", "method", "head", "layer", "seed_a", "seed_b"]
    f_len = spectra[spectra["layer"] == "f"].groupby(keys, dropna=False).agg(n=("rho", "size"), d=("rep_dim", "first"))
    assert len(f_len) == 2 * 3 + 4 and (f_len["n"] == f_len["d"]).all()
    assert len(pd.read_csv(res / "tables" / "pairs_summary.csv")) == 2 * 4 + 4
    for name in ("mcca_vs_classes", "alignment", "cca_spectra"):
        assert (res / "figures" / "family" / f"{name}.png").stat().st_size > 5000


def test_mlflow_one_run_per_job_with_tags(repo):
    runs = _runs(repo)
    assert len(runs) == N_JOBS, runs["tags.linid.rule"].value_counts()
    assert runs["status"].eq("FINISHED").all()
    counts = runs["tags.linid.rule"].value_counts().to_dict()
    assert counts == {
        "generate_dataset": 2, "probe_observations": 2, "train": 8, "extract_features": 8, "probe": 8,
        "aggregate_probes": 1, "figures": 1,
        "paper_comparison": 1, "objectives": 1,
        "family_dataset": 2, "family_train": 2, "family_features": 2, "compare_family": 2, "compare_sim_part": 4, "compare_sim": 4,
        "aggregate_pairs": 1, "family_figures": 1,
    }
    for tag in ("rule", "wildcards", "config_hash", "git_commit", "host", "job_uid", "job_key"):
        assert runs[f"tags.linid.{tag}"].notna().all(), tag
    # every job but the datasets links to its upstream run ids, which exist
    ids = set(runs["run_id"])
    linked = runs[~runs["tags.linid.rule"].isin(["generate_dataset", "family_dataset"])]
    for value in linked["tags.linid.upstream_run_ids"]:
        assert value and set(value.split(",")) <= ids
    train = runs[runs["tags.linid.rule"] == "train"]
    assert train["metrics.monitor_r2"].notna().all() and train["metrics.loss"].notna().all()
    # a figure walks back to training: figures → aggregate → probes → features → train
    table = pd.read_csv(repo / "results" / "tables" / "probes.csv")
    assert set(table["train_run_id"]) == set(train["run_id"])
    # one table in the UI: every train run carries its model's final probe metrics (issue 12)
    copied = train.set_index("run_id")["metrics.probe.r2_affine"]
    expected = table.set_index("train_run_id")["r2_affine"]
    assert (copied.loc[expected.index] - expected).abs().max() < 1e-12
    assert train["params.dgp.latent_dim"].notna().all()


def report_results(page: str) -> dict:
    """The results block a Snakemake report embeds: path → {mime_type, data_uri, …}."""
    block = page.index('<script id="results">')  # a bundled library has its own `var results`
    start = page.index("var results = ", block) + len("var results = ")
    return json.JSONDecoder().raw_decode(page[start:])[0]


def test_report_is_generated(repo):
    smk(repo, "--report", "report.html")
    assert (repo / "report.html").stat().st_size > 10000
    results = report_results((repo / "report.html").read_text())
    # every entry opens in place (Snakemake shows images, HTML and PDF; anything else only downloads)
    viewable = {"image/png", "image/svg+xml", "image/jpeg", "text/html", "application/pdf"}
    assert {r["mime_type"] for r in results.values()} <= viewable, results.keys()
    for name in ("probes", "pairs"):  # issue 28: the tidy tables are pages, not CSV downloads
        page = next(r for p, r in results.items() if p.endswith(f"tables/{name}.html"))
        text = base64.b64decode(page["data_uri"].split("base64,", 1)[1]).decode()
        csv = pd.read_csv(repo / "results" / "tables" / f"{name}.csv")
        assert text.count("<tr>") == len(csv) + 1 and f"{len(csv)} rows" in text


def test_nothing_to_do_when_nothing_changed(repo):
    assert planned_jobs(repo) == {}
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\n<!-- a comment -->\n")
    assert planned_jobs(repo) == {}


def _with(repo: Path, name: str, edit) -> Path:
    cfg = yaml.safe_load((repo / "tiny.yaml").read_text())
    edit(cfg)
    path = repo / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_probe_setting_reruns_only_probes_and_below(repo):
    cfg = _with(repo, "probe.yaml", lambda c: c["simulation"]["probe"].update(knn_neighbors=5))
    assert planned_jobs(repo, cfg) == {
        "probe": N_MODELS, "probe_observations": N_DATASETS, "aggregate_probes": 1, "figures": 1,
        "paper_comparison": 1, "objectives": 1, "all": 1,
    }


def test_training_budget_reruns_training_not_data(repo):
    cfg = _with(repo, "steps.yaml", lambda c: c["simulation"]["train"].update(steps=50))
    jobs = planned_jobs(repo, cfg)
    assert "generate_dataset" not in jobs
    assert jobs["train"] == jobs["extract_features"] == jobs["probe"] == N_MODELS
    cfg = _with(repo, "lr.yaml", lambda c: c["simulation"]["train"].update(lr=0.002))
    assert planned_jobs(repo, cfg)["train"] == N_MODELS


def test_new_sweep_value_runs_only_new_cells(repo):
    cfg = _with(repo, "more.yaml", lambda c: c["simulation"]["sweeps"]["tiny"]["axes"].update(latent_dim=[2, 3, 4]))
    jobs = planned_jobs(repo, cfg)
    assert jobs["generate_dataset"] == 1 and jobs["train"] == 4 and jobs["probe"] == 4
    assert jobs["aggregate_probes"] == 1


def test_library_code_change_reruns_its_stage(repo):
    lib = repo / "linid"
    with edited(lib / "sim" / "models.py", "\n# a comment changes nothing\n"):
        assert planned_jobs(repo) == {}
    # models are built by training and read back by feature extraction; data do not import them
    with edited(lib / "sim" / "models.py", "\n\ndef _unused() -> int:\n    return 1\n"):
        jobs = planned_jobs(repo)
        assert "generate_dataset" not in jobs and jobs["train"] == N_MODELS
        assert jobs["extract_features"] == N_MODELS and "family_train" not in jobs
    with edited(lib / "report" / "sim_figures.py", "\n\nDPI_EXTRA = 1\n"):
        assert planned_jobs(repo) == {"figures": 1, "all": 1}


def test_one_experiments_code_never_reruns_the_other(repo):
    """Fingerprints follow imports: the [R] and [K] trainers share no module but the runtime."""
    lib = repo / "linid"
    family_models = {"family_dataset", "family_train", "family_features", "compare_family"}
    with edited(lib / "sim" / "training.py", "\n\nEXTRA = 1\n"):
        jobs = planned_jobs(repo)
        # no [K] model is retrained (only the shared pairs table and its figure follow)
        assert jobs["train"] == N_MODELS and not family_models & set(jobs), jobs
    with edited(lib / "family" / "training.py", "\n\nEXTRA = 1\n"):
        jobs = planned_jobs(repo)
        assert jobs["family_train"] == N_FAMILY_CELLS
        assert not {"generate_dataset", "train", "extract_features", "probe"} & set(jobs), jobs
    with edited(lib / "runtime.py", "\n\nEXTRA = 1\n"):  # the device choice serves both trainers
        jobs = planned_jobs(repo)
        assert jobs["train"] == N_MODELS and jobs["family_train"] == N_FAMILY_CELLS


def test_rerun_supersedes_old_mlflow_run(repo):
    target = "results/sim/probes/d2_C8_N64_k10_vmf_uniform_p0_s0/supervised/free/seed0.json"
    smk(repo, "--forcerun", "probe", "--allowed-rules", "probe", "--", target)
    runs = _runs(repo)
    key = runs["tags.linid.job_key"].str.contains("probe:data=d2_C8_N64_k10_vmf_uniform_p0_s0,head=free,method=supervised,seed=0")
    assert key.sum() == 1  # one live run for the job
    old = _runs(repo, deleted=True)
    sup = old[old["tags.linid.job_key"].str.contains("probe:data=d2_C8_N64_k10_vmf_uniform_p0_s0,head=free,method=supervised,seed=0", na=False)]
    assert len(sup) == 2 and sup["tags.linid.superseded_by"].notna().sum() == 1


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "configs").glob("*.yaml")))
def test_presets_pass_a_dry_run(tmp_path, preset):
    # --forceall: every job is planned, whatever results/ a local run left in the checkout
    proc = subprocess.run(
        SNAKEMAKE + ["--dry-run", "--forceall", "--config", f"preset={preset}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "This was a dry-run" in proc.stdout + proc.stderr
    if preset in ("paper_table2", "paper_table3"):
        # the paper's base cell: d = 5, |C| = 100, N = 10,240, κ = 10, vMF, uniform prior, 5 seeds
        for seed in range(5):
            assert f"d5_C100_N10240_k10_vmf_uniform_p0_s{seed}" in proc.stdout, preset
