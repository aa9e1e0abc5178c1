"""`snakemake --profile slurm` against a real single-node SLURM cluster started from nothing.

Runs when LINID_TEST_SLURM=1 (`.ci/run` sets it) as root on Debian: tests/slurm/cluster.sh installs
Debian's SLURM packages, starts munged, mariadbd, slurmdbd, slurmctld and slurmd (one node with a
fake GPU), and stops them at the end. Checks that every non-local job went through SLURM, that GPU
rules were given a GPU, that the tables equal a local run's, and that a rerun submits nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import SNAKEMAKE, TINY, make_checkout

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "slurm" / "cluster.sh"


def _local_rules() -> set[str]:
    """Rules marked ``localrule: True`` in workflow/rules (they run in the main process, not SLURM)."""
    out = set()
    for path in (ROOT / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"^(?=rule \w+:)", path.read_text(), flags=re.M):
            m = re.match(r"rule (\w+):", block)
            if m and re.search(r"^\s+localrule: True", block, flags=re.M):
                out.add(m.group(1))
    return out


LOCAL_RULES = _local_rules()
GPU_RULES = {"train", "extract_features", "family_train"}

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("LINID_TEST_SLURM") != "1" or sys.platform != "linux" or os.geteuid() != 0,
        reason="real-SLURM test: set LINID_TEST_SLURM=1 and run as root (CI does)",
    ),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm")
    subprocess.run(["bash", str(CLUSTER), "install"], check=True, timeout=600)
    up = subprocess.run(["bash", str(CLUSTER), "up", str(state)], capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stderr[-3000:]
    env = dict(os.environ)
    for line in up.stdout.splitlines():
        m = re.match(r"export (\w+)=(.*)", line)
        if m:
            env[m.group(1)] = m.group(2)
    try:
        yield env
    finally:
        subprocess.run(["bash", str(CLUSTER), "down", str(state)], timeout=120)


def _config(path: Path) -> Path:
    cfg = yaml.safe_load(TINY.read_text())
    cfg["simulation"]["sweeps"]["tiny"]["axes"]["latent_dim"] = [2]
    cfg["simulation"]["sweeps"]["tiny"]["methods"] = ["supervised"]  # 2 models: 2 probes, 1 pair
    cfg["family"]["axes"]["n_classes"] = [6]
    cfg["resources"]["gpus"] = 1  # GPU rules ask for one; the fake GPU has no CUDA, CPU is allowed
    cfg["simulation"]["train"]["allow_cpu"] = True
    path.write_text(yaml.safe_dump(cfg))
    return path


def _sacct(env) -> dict[str, str]:
    out = subprocess.run(
        ["timeout", "20", "sacct", "-n", "-X", "-P", "-S", "now-2hours", "-o", "jobid,state,alloctres"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout
    return {line.split("|")[0]: line for line in out.splitlines() if line.strip()}


def test_profile_runs_the_tiny_workflow_on_slurm(cluster, tmp_path):
    env = {**cluster, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    repo = make_checkout(tmp_path / "cluster")
    config = _config(tmp_path / "slurm_tiny.yaml")
    before = set(_sacct(env))
    t0 = time.perf_counter()
    cmd = SNAKEMAKE + ["--profile", "slurm", "--configfile", str(config), "--verbose",
                       "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
                       "--latency-wait", "5",
                       "--cores", "2",  # the test node has 2 CPUs: a grouped submission asks ≤ 2
                       "--set-resources", "train:cpus_per_task=1", "extract_features:cpus_per_task=1"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=900)
    wall = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    (tmp_path / "slurm_run.log").write_text(out)
    assert proc.returncode == 0, out[-6000:]
    sbatch = [line.strip() for line in out.splitlines() if "sbatch call:" in line]
    print(f"\nSLURM run wall time {wall:.1f} s, {len(sbatch)} submissions")
    print("\n".join(s for s in sbatch if "rule_train" in s or "--gpus" in s)[:2000])
    assert any("--gpus=1" in s for s in sbatch)

    jobs = _sacct(env)
    new = {j: line for j, line in jobs.items() if j not in before}
    assert new and all("COMPLETED" in line for line in new.values()), new

    import mlflow

    mlflow.set_tracking_uri("sqlite:///" + str(repo / "results" / "mlflow.db"))
    runs = mlflow.search_runs(experiment_names=["tiny"], max_results=1000)
    remote = runs[~runs["tags.linid.rule"].isin(LOCAL_RULES)]
    local = runs[runs["tags.linid.rule"].isin(LOCAL_RULES)]
    assert len(remote) and remote["tags.linid.slurm_job_id"].notna().all()
    assert set(remote["tags.linid.slurm_job_id"]) <= set(new)  # sacct lists every one
    assert "tags.linid.slurm_job_id" not in local or local["tags.linid.slurm_job_id"].isna().all()
    gpu = remote[remote["tags.linid.rule"].isin(GPU_RULES)]
    assert len(gpu) and gpu["tags.linid.cuda_visible_devices"].eq("0").all()
    for job_id in set(gpu["tags.linid.slurm_job_id"]):
        assert "gres/gpu=1" in new[job_id], new[job_id]
    # probes of a cell went out as one grouped submission
    probes = remote[remote["tags.linid.rule"] == "probe"]
    assert probes["tags.linid.slurm_job_id"].nunique() == 1 < len(probes)

    # the same config run locally gives the same table (CPU, same seeds: the same numbers)
    ref = make_checkout(tmp_path / "local")
    loc = subprocess.run(SNAKEMAKE + ["--cores", "2", "--configfile", str(config)], cwd=ref,
                         capture_output=True, text=True, env=env, timeout=900)
    assert loc.returncode == 0, loc.stderr[-3000:]
    a = pd.read_csv(repo / "results/tables/probes.csv")
    b = pd.read_csv(ref / "results/tables/probes.csv")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 2
    keys = ["method", "latent_dim", "n_classes", "seed"]
    pd.testing.assert_frame_equal(a[keys], b[keys])
    for col in ("r2_affine", "r2_linear", "mcc_pearson"):
        assert (a[col] - b[col]).abs().max() < 1e-6, col

    # a rerun submits nothing
    n_jobs = len(_sacct(env))
    again = subprocess.run(SNAKEMAKE + ["--profile", "slurm", "--cores", "2", "--configfile", str(config)], cwd=repo,
                           capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    assert len(_sacct(env)) == n_jobs
