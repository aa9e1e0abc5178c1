"""End to end: the DisLib experiment on a rendered dSprites subsample, its exported activations
through the bring-your-own stages, the digits example, what reruns, and bad input refused early."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers import make_checkout, planned_jobs, smk

CONFIG = {
    "name": "tiny_images",
    "simulation": {"enabled": False},
    "images": {
        "enabled": True,
        "datasets": {"dsprites": {"layout": "dsprites", "subsample": 1200}},
        "models": ["pixels", "mlp"],
        "seeds": [0, 1],
        "train": {"batch_size": 64, "max_epochs": 1, "eval_batch_size": 512},
        "probe": {"batch_size": 512},
        "export_activations": {"enabled": True, "rows": 300},
    },
    "byo": {"enabled": True, "source": "images", "images_dataset": "dsprites", "svcca_k": 20, "n_rep": 2},
}
FACTORS = ["shape", "scale", "orientation", "posX", "posY"]


def _write(repo: Path, name: str, cfg: dict) -> Path:
    path = repo / name
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = make_checkout(tmp_path_factory.mktemp("linid_images"))
    smk(r, config=_write(r, "images.yaml", CONFIG))
    return r


def _runs(repo: Path, experiment: str) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri("sqlite:///" + str(repo / "results" / "mlflow.db"))
    return mlflow.search_runs(experiment_names=[experiment], max_results=10000)


def test_image_tables_have_every_model_seed_and_factor(repo):
    res = repo / "results"
    table = pd.read_csv(res / "tables" / "image_probes.csv")
    assert {"dataset", "model", "factor", "seed", "pearson_r", "role"} <= set(table.columns)
    assert len(table) == 3 * 2 * len(FACTORS)  # pixels, mlp and its untrained control (mlp_init)
    assert set(table["factor"]) == set(FACTORS) and table["pearson_r"].between(-1, 1).all()
    assert (table.loc[table["factor"] == "shape", "role"] == "categorical").all()
    assert (table["split"] == "val").all() and (table["n_eval"] == 120).all() and (table["n_train"] == 960).all()
    enc = table.groupby("model")["encoder"].unique().map(list).to_dict()
    assert enc == {"pixels": ["input"], "mlp": ["trained"], "mlp_init": ["untrained"]}
    # the control is the trained model's own start: same seeds, no epochs, a different probe result
    ctrl, mlp = (table[table["model"] == m].set_index(["seed", "factor"]) for m in ("mlp_init", "mlp"))
    assert (ctrl["epochs"] == 0).all() and (mlp["epochs"] == 1).all()
    assert (ctrl["model_seed"] == mlp["model_seed"]).all()
    assert not np.allclose(ctrl["pearson_r"], mlp.loc[ctrl.index, "pearson_r"], atol=1e-3)
    md = (res / "tables" / "image_probes.md").read_text().splitlines()
    assert md[0] == "| dataset | factor | x (pixels) | f_MLP(x) | f_MLP(x) untrained |"
    assert md[2].startswith("| dsprites | category (shape) |") and "orientation" not in "\n".join(md)
    assert md[2].count("±") == 3  # every column filled
    paper = pd.read_csv(res / "tables" / "image_paper_comparison.csv")
    ran = paper[paper["status"] != "not run"]
    assert len(ran) == 8 and (ran["status"] == "reduced budget").all()  # 4 factors × pixels, mlp
    mlp_rows = ran[ran["model"] == "mlp"]
    assert (mlp_rows["control_model"] == "mlp_init").all() and (mlp_rows["control_n_seeds"] == 2).all()
    summary_init = table[table["model"] == "mlp_init"].groupby("factor")["pearson_r"].mean()
    cat = mlp_rows[mlp_rows["factor"] == "category"].iloc[0]
    assert cat["control_mean"] == pytest.approx(summary_init["shape"])
    assert ran.loc[ran["model"] == "pixels", "control_model"].isna().all()  # no control for the input
    assert "untrained (control)" in (res / "tables" / "image_paper_comparison.md").read_text()
    # the report's entries: the Markdown tables and every row of the tidy CSV as pages
    assert "untrained (control)" in (res / "tables" / "image_paper_comparison.html").read_text()
    assert "<td>dsprites</td><td>category (shape)</td>" in (res / "tables" / "image_probes.html").read_text()
    assert (res / "tables" / "image_probes_table.html").read_text().count("<tr>") == len(table) + 1
    assert not (res / "images" / "models" / "dsprites" / "mlp_init").exists()  # nothing was trained for it
    for name in ("images/image_probes", "images/training_curves"):
        assert (res / "figures" / f"{name}.png").stat().st_size > 5000
    summary = json.loads((res / "images" / "models" / "dsprites" / "mlp" / "seed1" / "train.json").read_text())
    assert summary["seed"] == 43 and summary["epochs"] == 1 and summary["n_classes"] == 3
    # the rendered source is in the official file's schema
    src = np.load(res / "images" / "source" / "dsprites.npz")
    assert src["imgs"].shape == (1200, 64, 64) and src["latents_values"].shape == (1200, 6)
    assert not list((res / "checkpoints").rglob("*.ckpt"))


def test_exported_activations_go_through_the_byo_stages(repo):
    res = repo / "results"
    act = np.load(res / "images" / "activations" / "dsprites" / "mlp_seed0.npz")
    assert list(act["layers"]) == ["block1", "block2", "block3"] and act["block3"].shape == (300, 512)
    layers = pd.read_csv(res / "tables" / "byo_layers.csv")
    pairs = {(a, b) for a, b in zip(layers["model_a"], layers["model_b"], strict=True)}
    assert len(pairs) == 6  # 4 models: pixels × 2 seeds, mlp × 2 seeds
    same = layers[(layers["model_a"] == "pixels_seed0") & (layers["model_b"] == "pixels_seed1")]
    assert same["mcca"].iloc[0] == pytest.approx(1.0, abs=1e-6)  # the same pixels
    mlp = layers[(layers["model_a"] == "mlp_seed0") & (layers["model_b"] == "mlp_seed1")]
    assert len(mlp) == 9 and mlp["mcca"].between(0, 1 + 1e-9).all()
    probes = pd.read_csv(res / "tables" / "byo_probes.csv")
    assert set(probes["kind"]) == {"continuous", "binary", "label"}
    assert set(probes.loc[probes["kind"] == "continuous", "factor"]) == {"scale", "posX", "posY"}
    assert (res / "figures" / "byo" / "layer_matrix.png").stat().st_size > 5000
    assert (res / "tables" / "byo_layers.html").read_text().count("<tr>") == len(layers) + 1
    assert "<th>model</th><th>layer</th>" in (res / "tables" / "byo_probes.html").read_text()


def test_every_image_and_byo_job_is_one_mlflow_run(repo):
    runs = _runs(repo, "tiny_images")
    counts = runs["tags.linid.rule"].value_counts().to_dict()
    assert counts == {
        "render_dsprites": 1, "image_data": 1, "image_train": 2, "image_probe": 6, "image_activations": 4,
        "image_activation_factors": 1, "image_tables": 1, "image_curves": 1,
        "byo_probe": 4, "byo_compare": 6, "byo_tables": 1,
    }
    train = runs[runs["tags.linid.rule"] == "image_train"]
    assert train["metrics.val_accuracy"].between(0, 1).all() and train["metrics.loss"].notna().all()
    probes = runs[runs["tags.linid.rule"] == "image_probe"]
    assert probes["metrics.pearson_r.posX"].notna().all()
    assert set(probes["params.encoder"]) == {"input", "trained", "untrained"}


def test_what_reruns_after_a_change(repo):
    assert planned_jobs(repo, config=repo / "images.yaml") == {}
    split = json.loads(json.dumps(CONFIG))
    split["images"]["probe"]["split"] = "test"
    jobs = planned_jobs(repo, config=_write(repo, "split.yaml", split))
    assert jobs == {"image_probe": 6, "image_tables": 1, "all": 1}
    epochs = json.loads(json.dumps(CONFIG))
    epochs["images"]["train"]["max_epochs"] = 2
    jobs = planned_jobs(repo, config=_write(repo, "epochs.yaml", epochs))
    # the untrained controls do not depend on training: only the trained models' probes rerun
    assert jobs["image_train"] == 2 and jobs["image_probe"] == 2 and jobs["image_activations"] == 2
    assert "render_dsprites" not in jobs and "image_data" not in jobs
    off = json.loads(json.dumps(CONFIG))
    off["images"]["probe"]["untrained"] = False  # the controls leave the tables; nothing is recomputed
    assert planned_jobs(repo, config=_write(repo, "nocontrols.yaml", off)) == {"image_tables": 1, "all": 1}
    assert jobs["byo_compare"] == 5  # every pair with an mlp in it; the pixels pair stays


def test_the_digits_example_runs_and_agrees_more_when_trained(repo, tmp_path):
    cfg = {"name": "tiny_byo", "simulation": {"enabled": False},
           "byo": {"enabled": True, "source": "digits", "n_rep": 2}}
    smk(repo, config=_write(repo, "digits.yaml", cfg))
    layers = pd.read_csv(repo / "results" / "tables" / "byo_layers.csv")
    diag = layers[layers["layer_a"] == layers["layer_b"]]
    last = diag[diag["layer_a"] == "hidden3"]
    trained = last[~last["model_b"].eq("mlp_init") & ~last["model_a"].eq("mlp_init")]["mcca"]
    control = last[last["model_b"].eq("mlp_init") | last["model_a"].eq("mlp_init")]["mcca"]
    assert len(trained) == 3 and len(control) == 3 and trained.mean() > control.mean() + 0.05
    probes = pd.read_csv(repo / "results" / "tables" / "byo_probes.csv")
    label = probes[(probes["kind"] == "label") & (probes["layer"] == "hidden3") & (probes["model"] == "mlp_seed0")]
    assert label["value"].iloc[0] > 0.85


def test_bad_image_and_byo_input_is_refused_before_any_job(repo, tmp_path):
    bad = json.loads(json.dumps(CONFIG))
    bad["images"]["datasets"]["shapes3d"] = {"layout": "shapes3d", "path": str(tmp_path / "missing.h5")}
    proc = smk(repo, "--dry-run", config=_write(repo, "bad1.yaml", bad), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "images.datasets.shapes3d.path" in out and "no such file" in out
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, h=np.ones((10, 3)))
    np.savez(b, h=np.ones((12, 3)))
    cfg = {"name": "bad_byo", "simulation": {"enabled": False},
           "byo": {"enabled": True, "models": {"a": str(a), "b": str(b)}}}
    proc = smk(repo, "--dry-run", config=_write(repo, "bad2.yaml", cfg), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "invalid byo files" in out and str(b) in out
    k = json.loads(json.dumps(CONFIG))
    k["byo"]["svcca_k"] = None
    proc = smk(repo, "--dry-run", config=_write(repo, "bad3.yaml", k), check=False)
    assert proc.returncode != 0 and "byo.svcca_k" in proc.stdout + proc.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
