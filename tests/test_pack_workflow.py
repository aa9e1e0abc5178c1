"""End to end with ``pack_size: 2``: packs train the models, outputs stay one set per model, and
adding a seed reruns only the partial packs, leaving the old members' numbers bit for bit."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers import TINY, make_checkout, planned_jobs, smk

CELLS = ("d2_C8_N64_k10_vmf_uniform_p0_s0",)


def _config(seeds) -> dict:
    cfg = yaml.safe_load(TINY.read_text())
    cfg["name"] = "tiny_pack"
    sweep = cfg["simulation"]["sweeps"]["tiny"]
    sweep["axes"] = {"latent_dim": [2], "n_classes": [8]}
    sweep["seeds"] = list(seeds)
    cfg["simulation"]["train"]["pack_size"] = 2
    cfg["family"]["enabled"] = False
    cfg["compare"] = {"enabled": False}
    return cfg


def _write(repo: Path, name: str, cfg: dict) -> Path:
    path = repo / name
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    repo = make_checkout(tmp_path_factory.mktemp("linid_pack"))
    smk(repo, config=_write(repo, "pack.yaml", _config([0, 1, 2])))
    return repo


def _models(repo: Path) -> list[Path]:
    return sorted((repo / "results" / "sim" / "models").glob("*/*/*/seed*/model.pt"))


def test_packs_write_one_set_of_files_per_model(packed):
    models = _models(packed)
    assert len(models) == 6  # supervised + DIET × seeds 0–2
    for model in models:
        summary = json.loads((model.parent / "train.json").read_text())
        assert summary["pack"].startswith(("supervised_free_d2_w8_t40_p", "diet_free_d2_w64_t40_p"))
        assert summary["pack_size"] == (2 if summary["pack"].endswith("p0") else 1)
        assert len(pd.read_csv(model.parent / "curve.csv")) == 1 + 4  # step 0, log_every 10 of 40
    table = pd.read_csv(packed / "results" / "tables" / "probes.csv")
    assert len(table) == 6 and table["r2_affine"].notna().all()
    logs = sorted(p.name for p in (packed / "results" / "logs" / "train_pack").glob("*.log"))
    assert len(logs) == 4 and "pack supervised_free_d2_w8_t40_p0: 2 models" in (
        packed / "results" / "logs" / "train_pack" / "supervised_free_d2_w8_t40_p0.log").read_text()


def test_each_packed_model_has_its_own_mlflow_training_run(packed):
    import mlflow

    mlflow.set_tracking_uri("sqlite:///" + str(packed / "results" / "mlflow.db"))
    runs = mlflow.search_runs(experiment_names=["tiny_pack"], max_results=1000)
    train = runs[runs["tags.linid.rule"] == "train"]
    assert len(train) == 6 and train["tags.linid.pack"].notna().all()
    assert train["metrics.monitor_r2"].notna().all() and (train["status"] == "FINISHED").all()
    assert train["tags.linid.job_key"].is_unique


def test_adding_a_seed_reruns_only_partial_packs_and_keeps_old_numbers(packed):
    res = packed / "results"
    old = {p: np.load(p) for p in sorted((res / "sim" / "features").glob("*/*/*/seed2.npz"))}
    old = {p: {k: v.copy() for k, v in z.items() if k not in ("job_uid", "train_uid")} for p, z in old.items()}
    old_full = {m: m.stat().st_mtime_ns for m in _models(packed) if "seed0" in str(m) or "seed1" in str(m)}
    cfg = _write(packed, "more.yaml", _config([0, 1, 2, 3]))
    jobs = planned_jobs(packed, cfg)
    pack_jobs = {k: v for k, v in jobs.items() if k.startswith("train_pack_")}
    # seed 3 joins seed 2 in each group's last pack; the full packs (seeds 0, 1) do not rerun
    assert pack_jobs == {"train_pack_supervised_free_d2_w8_t40_p1": 1, "train_pack_diet_free_d2_w64_t40_p1": 1}
    assert jobs["extract_features"] == jobs["probe"] == 4 and "generate_dataset" not in jobs
    smk(packed, config=cfg)
    assert {m: m.stat().st_mtime_ns for m in old_full} == old_full
    for path, arrays in old.items():
        with np.load(path) as new:
            for key, value in arrays.items():
                assert np.array_equal(new[key], value), (path, key)  # retrained in a new pack: same bits
    assert len(pd.read_csv(res / "tables" / "probes.csv")) == 8


def test_switching_pack_size_retrains_everything(packed):
    cfg = _config([0, 1, 2, 3])
    cfg["simulation"]["train"]["pack_size"] = 1
    jobs = planned_jobs(packed, _write(packed, "single.yaml", cfg))
    assert jobs["train"] == 8 and not any(k.startswith("train_pack_") for k in jobs)
    shutil.rmtree(packed / ".snakemake" / "locks", ignore_errors=True)


def test_slurm_settings_for_train_reach_every_pack(packed):
    """Profiles name rules; ``set-resources`` for ``train`` (partition, GPU model) apply to packs."""
    proc = smk(packed, "--dry-run", "--forceall", "--set-resources", "train:slurm_partition=gpu",
               "train_pack_diet_free_d2_w64_t40_p0:slurm_partition=big", config=packed / "pack.yaml")
    out = proc.stdout + proc.stderr
    blocks, name = {}, None
    for line in out.splitlines():
        if line.startswith("rule "):
            name = line[5:].rstrip(":")
        elif name:
            blocks[name] = blocks.get(name, "") + line + "\n"
    packs = {n: b for n, b in blocks.items() if n.startswith("train_pack_")}
    assert len(packs) == 4, sorted(packs)
    for name, job in packs.items():
        want = "slurm_partition=big" if name == "train_pack_diet_free_d2_w64_t40_p0" else "slurm_partition=gpu"
        assert want in job, (name, job)
