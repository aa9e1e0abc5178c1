"""The promises a week-long sweep needs, each proven through the real Snakefile.

- a job killed by SIGTERM (SLURM's time limit / preemption signal) resumes, bit-for-bit;
- 8 jobs logging at once to the SQLite store lose no run and no metric;
- a malformed config is refused before any work, naming the key, and nothing under results/ changes.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from tests.helpers import BAD, SNAKEMAKE, TINY, _set, make_checkout

MODEL = "results/sim/models/d2_C8_N64_k10_vmf_uniform_p0_s0/supervised/free/seed0"
#: the one-model config's training job: a pack of one (supervised, free head, d = 2, |C| = 8, 1,500 steps)
PACK = "supervised_free_d2_w8_t1500_p0"


def _config(tmp: Path, name: str, edit) -> Path:
    cfg = yaml.safe_load(TINY.read_text())
    cfg["family"] = {"enabled": False}
    edit(cfg)
    path = tmp / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _run(repo: Path, config: Path, *args: str, env=None) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + [*args, "--cores", "2", "--configfile", str(config)]  # targets first
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env or _env(), timeout=900)


# -- resume after SIGTERM ----------------------------------------------------------------------


def _one_model(cfg: dict) -> None:
    sweep = cfg["simulation"]["sweeps"]["tiny"]
    sweep["axes"] = {"latent_dim": [2], "n_classes": [8]}
    sweep["methods"], sweep["seeds"] = ["supervised"], [0]
    cfg["simulation"]["train"].update(steps=1500, checkpoint_every=25, log_every=25, eval_every=250, chunk_steps=5)


def _train_pids(repo: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", r"\.snakemake/scripts/tmp.*\.train\.py"], capture_output=True, text=True)
    pids = []
    for pid in out.stdout.split():
        try:
            if Path(f"/proc/{pid}/cwd").resolve() == repo.resolve():
                pids.append(int(pid))
        except OSError:
            continue
    return pids


def test_sigterm_then_rerun_resumes_exactly(tmp_path):
    ref = make_checkout(tmp_path / "ref")
    cut = make_checkout(tmp_path / "cut")
    config = _config(tmp_path, "one.yaml", _one_model)
    target = f"{MODEL}/model.pt"
    proc = _run(ref, config, target)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # the interrupted run: SIGTERM to the training process at a random point after a checkpoint
    cmd = SNAKEMAKE + [target, "--cores", "2", "--configfile", str(config)]
    sm = subprocess.Popen(cmd, cwd=cut, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    ckpt = cut / f"results/checkpoints/sim/packs/{PACK}.ckpt"
    deadline = time.monotonic() + 300
    while not ckpt.exists():
        assert sm.poll() is None, "training finished before the first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.0))
    pids = _train_pids(cut)
    assert pids, "training process not found"
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    out, _ = sm.communicate(timeout=300)
    assert sm.returncode != 0, out[-3000:]
    assert ckpt.exists()
    assert not (cut / target).exists()  # no declared output from the killed job
    log = (cut / f"results/logs/train/{PACK}.log").read_text()
    stopped = int(re.search(r"received SIGTERM at step (\d+); checkpoint saved", log).group(1))
    assert 0 < stopped < 1500, log[-2000:]

    proc = _run(cut, config, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (cut / f"results/logs/train/{PACK}.log").read_text()
    resumed = int(re.search(r"resuming from checkpoint .* at step (\d+)", log).group(1))
    assert resumed == stopped  # resumed exactly where the signal stopped it
    assert not ckpt.exists()  # removed once the outputs exist

    a = torch.load(ref / target, weights_only=True)
    b = torch.load(cut / target, weights_only=True)
    for part in ("encoder", "head"):
        for k, v in a[part].items():
            assert torch.equal(v, b[part][k]), (part, k)
    ca = pd.read_csv(ref / MODEL / "curve.csv").drop(columns="seconds")
    cb = pd.read_csv(cut / MODEL / "curve.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(ca, cb)
    sa = yaml.safe_load((ref / MODEL / "train.json").read_text())
    sb = yaml.safe_load((cut / MODEL / "train.json").read_text())
    assert sa["final_loss"] == sb["final_loss"] and sa["final_monitor_r2"] == sb["final_monitor_r2"]
    assert sb["resumed_from"] == resumed and sa["resumed_from"] == 0


# -- 8 jobs at once against SQLite --------------------------------------------------------------


def test_eight_concurrent_jobs_lose_no_run_or_metric(tmp_path):
    repo = make_checkout(tmp_path / "load")

    def edit(cfg):
        cfg["simulation"]["sweeps"]["tiny"]["axes"] = {"latent_dim": [2, 3], "n_classes": [4, 8]}
        cfg["simulation"]["train"].update(steps=200, log_every=2, eval_every=100, checkpoint_every=100)

    config = _config(tmp_path, "load.yaml", edit)
    train_target = [
        f"results/sim/models/{d}/{m}/free/seed{s}/train.json"
        for d in ("d2_C4_N64_k10_vmf_uniform_p0_s0", "d3_C8_N64_k10_vmf_uniform_p0_s0")
        for m in ("supervised", "diet")
        for s in (0, 1)
    ]
    env = _env(LINID_MLFLOW_FLUSH_SECONDS="0")  # every log call is a write: maximum contention
    cmd = SNAKEMAKE + [*train_target, "--cores", "8", "--configfile", str(config)]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = "".join(p.read_text() for p in (repo / "results/logs").rglob("*.log"))
    assert "Traceback" not in logs and "giving up" not in logs  # retries may happen; failures may not
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = "sqlite:///" + str(repo / "results" / "mlflow.db")
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["tiny"], max_results=1000)
    train = runs[runs["tags.linid.rule"] == "train"]
    assert len(train) == 8 and train["status"].eq("FINISHED").all()
    client = MlflowClient(uri)
    counts = {}
    for run_id in train["run_id"]:
        counts[run_id] = len(client.get_metric_history(run_id, "loss"))
        # step 0 (the initial model) and the two evaluations at steps 100 and 200
        assert sorted(m.step for m in client.get_metric_history(run_id, "monitor_r2")) == [0, 100, 200]
    # step 0 (the first batch's loss on the initial weights) and 200 steps / log_every 2: every one arrived
    assert set(counts.values()) == {101}, counts
    assert not list((repo / "results" / ".mlflow_pending").glob("*.json"))


# -- malformed configs --------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A checkout with a finished tiny run (its results must survive every bad config)."""
    root = tmp_path_factory.mktemp("bad")
    repo = make_checkout(root / "repo")
    config = _config(root, "ok.yaml", lambda c: c["simulation"]["sweeps"]["tiny"]["axes"].update(latent_dim=[2]))
    proc = _run(repo, config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return repo


FAMILY_BAD = [
    ("family.axes.rep_dim", [0], "rep_dim[0] = 0"),
    ("family.seeds", [0], "seeds = [0]"),
    ("family.data.angle_range", "tau", "one of '2pi', 'pi'"),
]


@pytest.mark.parametrize("path,value,msg", BAD + FAMILY_BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD + FAMILY_BAD])
def test_bad_config_refused_before_any_work(finished, tmp_path, path, value, msg):
    good = yaml.safe_load((ROOT_CONFIG).read_text())
    bad = _set(good, path, value)
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(bad))
    before = _snapshot(finished / "results")
    proc = _run(finished, config)
    assert proc.returncode != 0
    assert msg in proc.stderr, proc.stderr[-2000:]
    assert "invalid config" in proc.stderr
    assert _snapshot(finished / "results") == before


ROOT_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def test_missing_preset_file_is_refused(finished):
    before = _snapshot(finished / "results")
    cmd = SNAKEMAKE + ["--cores", "2", "--config", "preset=no_such_preset"]
    proc = subprocess.run(cmd, cwd=finished, capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode != 0
    assert "config key preset = 'no_such_preset'" in proc.stderr
    presets = sorted(p.stem for p in (finished / "configs").glob("*.yaml"))
    assert len(presets) >= 5
    assert f"allowed: {', '.join(presets)}" in proc.stderr
    # a --configfile that does not exist: Snakemake itself refuses, naming the file
    proc = _run(finished, finished / "configs" / "no_such_preset.yaml")
    assert proc.returncode != 0 and "no_such_preset.yaml" in proc.stderr
    assert _snapshot(finished / "results") == before


def test_bad_config_in_fresh_checkout_creates_nothing(tmp_path):
    repo = make_checkout(tmp_path / "fresh")
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(_set(yaml.safe_load(ROOT_CONFIG.read_text()), "simulation.train.steps", -5)))
    proc = _run(repo, config)
    assert proc.returncode != 0 and "steps = -5" in proc.stderr
    assert not (repo / "results").exists()
    shutil.rmtree(repo / ".snakemake", ignore_errors=True)
