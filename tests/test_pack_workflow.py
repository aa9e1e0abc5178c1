"""End to end with ``pack_size: 2``: one ``train`` job per pack, outputs stay one set per model
(copied out of the pack's folder by ``trained_model``), and adding a seed reruns only the partial
packs, leaving the old members' numbers bit for bit."""

from __future__ import annotations

import json
import re
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
    logs = sorted(p.name for p in (packed / "results" / "logs" / "train").glob("*.log"))
    assert len(logs) == 4 and "pack supervised_free_d2_w8_t40_p0: 2 models" in (
        packed / "results" / "logs" / "train" / "supervised_free_d2_w8_t40_p0.log").read_text()
    # the model's own files are its pack's, copied out byte for byte
    member = packed / "results" / "sim" / "packs" / "supervised_free_d2_w8_t40_p0" / CELLS[0] / "supervised" / "free"
    for name in ("model.pt", "curve.csv", "train.json"):
        assert (member / "seed0" / name).read_bytes() == (
            packed / "results" / "sim" / "models" / CELLS[0] / "supervised" / "free" / "seed0" / name).read_bytes()


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
    # seed 3 joins seed 2 in each group's last pack; the full packs (seeds 0, 1) do not rerun
    assert _planned_packs(packed, cfg) == {"supervised_free_d2_w8_t40_p1", "diet_free_d2_w64_t40_p1"}
    assert jobs["train"] == 2 and jobs["trained_model"] == 4
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
    # a pack of one per model: every model retrains (the packs' contents changed)
    assert jobs["train"] == 8 and jobs["trained_model"] == 8
    shutil.rmtree(packed / ".snakemake" / "locks", ignore_errors=True)


def test_slurm_settings_for_train_reach_every_pack(packed):
    """Profiles name rules: ``set-resources`` for ``train`` (partition, GPU model) reach every pack,
    and the runtime and memory scale with the pack's members."""
    proc = smk(packed, "--dry-run", "--forceall", "--set-resources", "train:slurm_partition=gpu",
               config=packed / "pack.yaml")
    blocks = _train_jobs(proc.stdout + proc.stderr)
    assert len(blocks) == 4, sorted(blocks)
    for pack, job in blocks.items():
        assert "slurm_partition=gpu" in job, (pack, job)
    two, one = blocks["diet_free_d2_w64_t40_p0"], blocks["diet_free_d2_w64_t40_p1"]
    mem = [int(re.search(r"mem_mb=(\d+)", b).group(1)) for b in (two, one)]
    assert mem[0] > mem[1], mem


def _train_jobs(out: str) -> dict[str, str]:
    """The dry run's ``train`` jobs: pack id → the job's block of lines."""
    blocks, current = {}, None
    for line in out.splitlines():
        if line.startswith("rule "):
            current = line == "rule train:"
            block = []
        elif current:
            block.append(line)
            if m := re.search(r"wildcards: pack=(\S+)", line):
                blocks[m.group(1)] = block
    return {k: "\n".join(v) for k, v in blocks.items()}


def _planned_packs(repo: Path, config: Path) -> set[str]:
    proc = smk(repo, "--dry-run", config=config)
    return set(_train_jobs(proc.stdout + proc.stderr))
