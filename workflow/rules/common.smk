# Helpers shared by every rule: config validation, the sweep table, paths, params and resources.
import os
import sys

sys.path.insert(0, workflow.basedir)

from snakemake.utils import validate

from linid.config import ConfigError, check_config, expand, load_schema
from linid.tracking import config_hash, git_commit, sqlite_uri
from linid.workflow import code_hash

SCHEMA = "../schemas/config.schema.yaml"
try:
    check_config(config, load_schema(os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")))
except ConfigError as err:
    raise WorkflowError(str(err)) from None
validate(config, SCHEMA)

SIM = config["simulation"]
SPECS = expand(SIM) if SIM["enabled"] else []
DATASETS = {s.cell.dataset_id: s.cell for s in SPECS}
MODELS = sorted({s.key for s in SPECS})


wildcard_constraints:
    data=r"d\d+_C\d+_k[^_/]+_[a-z]+_[a-z]+_p[^_/]+_s\d+",
    method="supervised|diet",
    seed=r"\d+",


# -- environment of every job: library on the path, tracking context (not params: moving the
# -- tracking store or committing code must not rerun finished jobs) ------------------------------
os.environ["PYTHONPATH"] = os.pathsep.join(
    [workflow.basedir] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
os.environ.setdefault(
    "MLFLOW_TRACKING_URI",
    config["tracking"]["uri"] or sqlite_uri("results/mlflow.db"),
)
os.environ["LINID_EXPERIMENT"] = config["name"]
os.environ["LINID_CONFIG_HASH"] = config_hash(config)
os.environ.setdefault("LINID_GIT_COMMIT", git_commit(workflow.basedir))
os.environ.setdefault("LINID_MLFLOW_PENDING", os.path.abspath("results/.mlflow_pending"))
if not config["tracking"]["enabled"]:
    os.environ["LINID_TRACKING_DISABLED"] = "1"


onstart:
    if config["tracking"]["enabled"]:
        from linid.tracking import ensure_experiment

        ensure_experiment(os.environ["MLFLOW_TRACKING_URI"], config["name"])


onsuccess:
    if config["tracking"]["enabled"]:
        from linid.tracking import replay_pending

        n = replay_pending(os.environ["LINID_MLFLOW_PENDING"])
        print(f"linid: wrote {n} job run(s) to MLflow at {os.environ['MLFLOW_TRACKING_URI']}")


onerror:
    if config["tracking"]["enabled"]:
        from linid.tracking import replay_pending

        n = replay_pending(os.environ["LINID_MLFLOW_PENDING"])
        print(f"linid: wrote {n} job run(s) to MLflow at {os.environ['MLFLOW_TRACKING_URI']}")


# -- library code each stage depends on: a change reruns that stage (params are tracked) ---------
CODE = {
    "dataset": code_hash(workflow.basedir, "data", "io"),
    "train": code_hash(workflow.basedir, "data", "models", "training", "io"),
    "features": code_hash(workflow.basedir, "data", "models", "training", "features", "io"),
    "probe": code_hash(workflow.basedir, "metrics", "io"),
    "aggregate": code_hash(workflow.basedir, "tables", "io"),
    "figures": code_hash(workflow.basedir, "plotting", "tables"),
}


# -- params --------------------------------------------------------------------------------------
def dataset_params(wildcards):
    """Everything that determines one dataset (DGPConfig fields)."""
    cell = DATASETS[wildcards.data]
    data = SIM["data"]
    return {
        "latent_dim": cell.latent_dim,
        "n_classes": cell.n_classes,
        "kappa": cell.kappa,
        "conditional": cell.conditional,
        "cluster_prior": cell.cluster_prior,
        "label_noise": cell.label_noise,
        "seed": cell.data_seed,
        "n_instances": data["n_instances"],
        "mixing_layers": data["mixing_layers"],
        "mixing_slope": data["mixing_slope"],
        "cond_candidates": data["cond_candidates"],
        "cond_quantile": data["cond_quantile"],
        "cond_strategy": data["cond_strategy"],
    }


def train_params(wildcards):
    """TrainConfig fields of one model."""
    t = SIM["train"]
    keys = ("steps", "batch_size", "lr", "normalize_w", "temperature", "learn_temperature")
    keys += ("log_every", "eval_every", "checkpoint_every", "chunk_steps", "bn_batches")
    return {"method": wildcards.method, "seed": int(wildcards.seed), **{k: t[k] for k in keys}}


def checkpoint_path(wildcards):
    """Resume file of a training job: outside its outputs, so a killed job keeps it."""
    return f"results/checkpoints/sim/{wildcards.data}/{wildcards.method}/seed{wildcards.seed}.ckpt"


def cell_kappa(wildcards):
    return DATASETS[wildcards.data].kappa


# -- resources -----------------------------------------------------------------------------------
def train_runtime(wildcards, attempt):
    """Minutes: the budget in 10k-step units × per-10k estimate at d=10, scaled by d, × attempt."""
    d = DATASETS[wildcards.data].latent_dim
    per10k = config["resources"]["train_minutes_per_10k_steps"]
    est = SIM["train"]["steps"] / 10_000 * per10k * max(d / 10, 0.5)
    return int(max(10, 1.5 * est) * attempt)


def train_mem(wildcards, attempt):
    return config["resources"]["train_mem_mb"] * attempt


# -- targets -------------------------------------------------------------------------------------
def model_files(pattern):
    return [pattern.format(data=d, method=m, seed=s) for d, m, s in MODELS]


def probe_rows():
    """One row per (sweep, model): the identifying columns of probes.csv."""
    return [s.row() for s in SPECS]


def all_outputs():
    if not SPECS:
        return []
    return [rules.aggregate_probes.output.table, rules.figures.output.heatmap]


def extra_axes():
    """Sweep axes beyond d and |C| that take more than one value (each gets its own figure)."""
    values = {}
    for s in SPECS:
        for a in ("kappa", "conditional", "cluster_prior", "label_noise"):
            values.setdefault(a, set()).add(getattr(s.cell, a))
    return sorted(a for a, v in values.items() if len(v) > 1)


def sweep_bases():
    """Base cell of every sweep (the slice each one-factor figure varies around)."""
    from linid.config import DEFAULT_BASE

    return {name: {**DEFAULT_BASE, **sweep.get("base", {})} for name, sweep in SIM["sweeps"].items()}
