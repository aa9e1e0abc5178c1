"""Helpers shared by several test modules: a copy of the workflow to run, and malformed configs."""

import copy
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
SCHEMA_FILE = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def validated(cfg: dict) -> dict:
    """``cfg`` checked against the schema, its defaults filled in (the workflow's
    ``validate_config`` fills the same, tested; it adds the cross-field checks, which a unit test's
    partial config need not pass)."""
    from snakemake.utils import validate

    validate(cfg, str(SCHEMA_FILE))
    return cfg
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
COPY = ["Snakefile", "config.yaml", "workflow", "linid", "envs", "configs", "README.md", "slurm"]


def make_checkout(dest: Path) -> Path:
    """A copy of the workflow (not the results) in which the test may edit code."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def smk(repo: Path, *args: str, config: Path | None = None, check: bool = True, env=None) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + ["--cores", "2", "--configfile", str(config or repo / "tiny.yaml"), *args]
    e = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    e.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=e, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}")
    return proc


def planned_jobs(repo: Path, config: Path | None = None) -> dict[str, int]:
    """Jobs a dry run would execute, per rule (parsed from Snakemake's job stats table)."""
    proc = smk(repo, "--dry-run", config=config)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    stats = out.split("Job stats:")[1]
    jobs = {}
    for line in stats.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        if m.group(1) != "total":
            jobs[m.group(1)] = int(m.group(2))
    return jobs


@contextmanager
def signal_after_steps(n: int, sig: int):
    """Send ``sig`` to this process right after the n-th optimiser step (inside the training loop)."""
    original = torch.optim.Adam.step
    counter = {"k": 0}

    def step(self, *a, **k):
        out = original(self, *a, **k)
        counter["k"] += 1
        if counter["k"] == n:
            os.kill(os.getpid(), sig)
        return out

    torch.optim.Adam.step = step
    try:
        yield
    finally:
        torch.optim.Adam.step = original


def _set(cfg, path, value):
    cfg = copy.deepcopy(cfg)
    node = cfg
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is _DELETE:
        node.pop(keys[-1])
    else:
        node[keys[-1]] = value
    return cfg


_DELETE = object()
S = "simulation.sweeps.supervised"

BAD = [
    (f"{S}.axes.laten_dim", [2], "unknown key(s) 'laten_dim'"),
    ("simulation.trian", {}, "unknown key(s) 'trian'"),
    ("nmae", "x", "unknown key(s) 'nmae'"),
    (f"{S}.axes.latent_dim", [1, 5], "latent_dim[0] = 1"),
    (f"{S}.axes.latent_dim", [], "latent_dim = []"),
    (f"{S}.axes.latent_dim", [2, 2], "no duplicates"),
    (f"{S}.axes.latent_dim", ["five"], "latent_dim[0] = 'five'"),
    (f"{S}.axes.latent_dim", [2.5], "latent_dim[0] = 2.5"),
    (f"{S}.axes.n_classes", [1], "n_classes[0] = 1"),
    (f"{S}.axes.kappa", [0], "kappa[0] = 0"),
    (f"{S}.axes.kappa", [-1.0], "kappa[0] = -1.0"),
    (f"{S}.axes.label_noise", [1.5], "label_noise[0] = 1.5"),
    (f"{S}.axes.label_noise", [-0.1], "label_noise[0] = -0.1"),
    (f"{S}.axes.conditional", ["cauchy"], "one of 'vmf', 'laplace', 'normal'"),
    (f"{S}.axes.cluster_prior", ["gauss"], "one of 'uniform', 'laplace', 'normal'"),
    (f"{S}.methods", ["simclr"], "one of 'supervised', 'diet'"),
    (f"{S}.methods", [], "methods = []"),
    (f"{S}.seeds", [0.5], "seeds[0] = 0.5"),
    (f"{S}.seeds", ["a"], "seeds[0] = 'a'"),
    (f"{S}.seeds", [1, 1], "no duplicates"),
    (f"{S}.seeds", _DELETE, "'seeds' is a required property"),
    (f"{S}.design", "random", "one of 'grid', 'one_factor'"),
    ("simulation.train.steps", 0, "steps = 0"),
    ("simulation.train.steps", 1.5, "steps = 1.5"),
    ("simulation.train.steps", "1000", "steps = '1000'"),
    ("simulation.train.lr", -1, "lr = -1"),
    ("simulation.train.batch_size", 0, "batch_size = 0"),
    (f"{S}.base", {"n_instances": 10}, "n_classes = 100 > n_instances = 10"),
    (f"{S}.axes.n_instances", [1], "n_instances[0] = 1"),
    (f"{S}.data_seeds", "pairs", "data_seeds = 'pairs'"),
    (f"{S}.normalize_w", ["yes"], "normalize_w[0] = 'yes'"),
    (f"{S}.axes.cond_beta", [0], "cond_beta[0] = 0"),
    (f"{S}.axes.conditional", ["tlaplace"], "'truncated_laplace', 'gennorm'"),
    ("simulation.data.cond_quantile", 1.0, "cond_quantile = 1.0"),
    ("simulation.train.epochs", 0, "epochs = 0"),
    ("simulation.data.n_eval", 100, "must be >= probe.n_affine + probe.n_linear"),
    ("simulation.sweeps", {}, "sweeps = {}"),
    ("name", "bad name/x", "name = 'bad name/x'"),
    # numbers the schema's bounds let through: NaN, ±inf, and integers written as floats
    ("simulation.train.lr", float("nan"), "lr = nan: must be a finite number"),
    (f"{S}.axes.kappa", [float("inf")], "kappa[0] = inf: must be a finite number"),
    (f"{S}.axes.label_noise", [float("nan")], "label_noise[0] = nan: must be a finite number"),
    ("simulation.train.steps", 1000.0, "steps = 1000.0: must be an integer"),
    (f"{S}.seeds", [0, 1.0], "seeds[1] = 1.0: must be an integer"),
    (f"{S}.axes.latent_dim", [2.0], "latent_dim[0] = 2.0: must be an integer"),
    ("family.train.batch_size", 64.0, "batch_size = 64.0: must be an integer"),
]


#: the environment variables that would point a test's MLflow calls elsewhere
TRACKING_VARS = ("MLFLOW_TRACKING_URI", "LINID_TRACKING_DISABLED", "LINID_EXPERIMENT", "LINID_TRACKING_OFFLINE")


def clear_tracking_env(monkeypatch) -> None:
    for var in TRACKING_VARS:
        monkeypatch.delenv(var, raising=False)


def sqlite_store(tmp_path: Path, monkeypatch) -> dict:
    """A new SQLite MLflow store and journal folder under ``tmp_path`` ({"uri", "pending"})."""
    from linid.pipeline.context import sqlite_uri

    clear_tracking_env(monkeypatch)
    return {"uri": sqlite_uri(tmp_path / "mlflow.db"), "pending": tmp_path / "pending"}


def store_runs(uri: str, experiment: str = "exp", deleted: bool = False) -> list:
    """The experiment's runs in the store at ``uri`` (live ones, or every one with ``deleted``)."""
    from mlflow.entities import ViewType

    from linid.pipeline.store import mlflow_client

    exp = mlflow_client(uri).get_experiment_by_name(experiment)
    view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
    return mlflow_client(uri).search_runs([exp.experiment_id], run_view_type=view)


@contextmanager
def edited(path: Path, text: str):
    """``path`` with ``text`` appended, restored afterwards."""
    original = path.read_text()
    path.write_text(original + text)
    try:
        yield
    finally:
        path.write_text(original)
