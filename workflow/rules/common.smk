# Helpers shared by every rule: config validation, the sweep table, paths, params and resources.
import os
import re
import sys

sys.path.insert(0, workflow.basedir)

from snakemake.utils import validate

from linid.config import CELL_AXES, HEADS, ConfigError, cell_steps, check_config, expand, load_schema
from linid.workflow import code_hash, job_environment

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
FAM = config["family"]
FAM_CELLS = (
    [(f"K{k}_s{FAM['data_seed']}", m) for k in FAM["axes"]["n_classes"] for m in FAM["axes"]["rep_dim"]]
    if FAM["enabled"]
    else []
)
COMPARE = config["compare"]


wildcard_constraints:
    data=r"d\d+_C\d+_N\d+_k[^/]+_s\d+",
    method="supervised|diet",
    head="free|unit",
    seed=r"\d+",
    fdata=r"K\d+_s\d+",
    M=r"\d+",


# -- environment of every job: library on the path, tracking context (not params: moving the
# -- tracking store or committing code must not rerun finished jobs) ------------------------------
TRACKING = job_environment(config, workflow.basedir)


onstart:
    if config["tracking"]["enabled"]:
        from linid.tracking import ensure_experiment

        ensure_experiment(TRACKING["uri"], config["name"])


onsuccess:
    if config["tracking"]["enabled"]:
        from linid.tracking import replay_pending

        n = replay_pending(TRACKING["pending"])
        print(f"linid: wrote {n} job run(s) to MLflow at {TRACKING['uri']}")


onerror:
    if config["tracking"]["enabled"]:
        from linid.tracking import replay_pending

        n = replay_pending(TRACKING["pending"])
        print(f"linid: wrote {n} job run(s) to MLflow at {TRACKING['uri']}")


# -- library code each stage depends on: a change reruns that stage (params are tracked) ---------
CODE = {
    "dataset": code_hash(workflow.basedir, "data", "io"),
    "train": code_hash(workflow.basedir, "data", "models", "training", "io"),
    "features": code_hash(workflow.basedir, "data", "models", "training", "features", "io"),
    "probe": code_hash(workflow.basedir, "metrics", "io"),
    "aggregate": code_hash(workflow.basedir, "tables", "config", "io"),
    "figures": code_hash(workflow.basedir, "plotting", "tables", "config"),
    "family_data": code_hash(workflow.basedir, "family", "family_run", "io"),
    "family_train": code_hash(workflow.basedir, "family", "family_run", "training", "io"),
    "compare": code_hash(workflow.basedir, "compare", "family", "family_run", "io"),
    "family_figures": code_hash(workflow.basedir, "plotting", "compare", "tables"),
    "paper": code_hash(workflow.basedir, "paper", "plotting", "config"),
}
PUBLISHED = "workflow/resources/published_reizinger2025.csv"


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
        "cond_beta": cell.cond_beta,
        "prior_shape": cell.prior_shape,
        "prior_scale": cell.prior_scale,
        "seed": cell.data_seed,
        "n_instances": cell.n_instances,
        "mixing_layers": data["mixing_layers"],
        "mixing_slope": data["mixing_slope"],
        "cond_candidates": data["cond_candidates"],
        "cond_quantile": data["cond_quantile"],
        "cond_strategy": data["cond_strategy"],
    }


def train_params(wildcards):
    """TrainConfig fields of one model."""
    t = SIM["train"]
    keys = ("batch_size", "lr", "temperature", "learn_temperature")
    keys += ("log_every", "eval_every", "checkpoint_every", "chunk_steps", "bn_batches")
    return {
        "method": wildcards.method,
        "seed": int(wildcards.seed),
        "normalize_w": HEADS[wildcards.head],
        "steps": cell_steps(t, DATASETS[wildcards.data].n_instances),
        **{k: t[k] for k in keys},
    }


def checkpoint_path(wildcards):
    """Resume file of a training job: outside its outputs, so a killed job keeps it."""
    w = wildcards
    return f"results/checkpoints/sim/{w.data}/{w.method}/{w.head}/seed{w.seed}.ckpt"


def cell_kappa(wildcards):
    return DATASETS[wildcards.data].kappa


# -- resources -----------------------------------------------------------------------------------
def train_runtime(wildcards, attempt):
    """Minutes: the budget in 10k-step units × per-10k estimate at d=10, scaled by d, × attempt."""
    d = DATASETS[wildcards.data].latent_dim
    per10k = config["resources"]["train_minutes_per_10k_steps"]
    steps = cell_steps(SIM["train"], DATASETS[wildcards.data].n_instances)
    est = steps / 10_000 * per10k * max(d / 10, 0.5)
    return int(max(10, 1.5 * est) * attempt)


def train_mem(wildcards, attempt):
    return config["resources"]["train_mem_mb"] * attempt


def family_train_runtime(wildcards, attempt):
    """Minutes for all seeds of a family cell: steps × seeds in 10k-step units, small-MLP rate."""
    per10k = config["resources"]["train_minutes_per_10k_steps"]
    est = FAM["train"]["steps"] * len(FAM["seeds"]) / 10_000 * per10k * 0.5
    return int(max(10, 1.5 * est) * attempt)


# -- targets -------------------------------------------------------------------------------------
def model_files(pattern):
    return [pattern.format(data=d, method=m, head=h, seed=s) for d, m, h, s in MODELS]


def probe_rows():
    """One row per (sweep, model): the identifying columns of probes.csv."""
    return [s.row() for s in SPECS]


def all_outputs():
    out = []
    if SPECS:
        out += [rules.aggregate_probes.output.table, rules.figures.output.heatmap]
        out += [rules.paper_comparison.output.table]
    if FAM_CELLS or sim_compare_groups():
        out += [rules.aggregate_pairs.output.table]
    if FAM_CELLS:
        out += [rules.family_figures.output.mcca]
    return out


# -- [K] family experiment and pairwise comparisons ---------------------------------------------
def family_data_params(wildcards):
    """Everything that determines one family dataset (AngleData + sizes + seed)."""
    d = FAM["data"]
    k, seed = (int(v) for v in re.match(r"K(\d+)_s(\d+)", wildcards.fdata).groups())
    return {
        "n_classes": k,
        "seed": seed,
        "sigma": d["sigma"],
        "angle_range": d["angle_range"],
        "input_dim": d["input_dim"],
        "n_train": d["n_train"],
        "n_eval": d["n_eval"],
    }


def family_train_params(wildcards):
    return {
        "rep_dim": int(wildcards.M),
        "seeds": list(FAM["seeds"]),
        "model": dict(FAM["model"]),
        "train": dict(FAM["train"]),
    }


def family_files(pattern):
    return [pattern.format(fdata=d, M=m) for d, m in FAM_CELLS]


def sim_compare_groups():
    """(dataset, method) → seeds, for every simulation cell with at least two seeds."""
    if not (SIM["enabled"] and COMPARE["enabled"]):
        return {}
    groups = {}
    for d, m, h, s in MODELS:
        groups.setdefault((d, m, h), []).append(s)
    return {k: sorted(v) for k, v in sorted(groups.items()) if len(v) >= 2}


def sim_compare_features(wildcards):
    w = wildcards
    seeds = sim_compare_groups()[(w.data, w.method, w.head)]
    pattern = rules.extract_features.output.features
    return [pattern.format(data=w.data, method=w.method, head=w.head, seed=s) for s in seeds]


def sim_compare_files():
    return [f"results/sim/compare/{d}/{m}/{h}.csv" for d, m, h in sim_compare_groups()]


def family_cells_table():
    """Identifying columns of every family cell, in FAM_CELLS order."""
    return [
        {"fdata": d, "rep_dim": m, "n_classes": int(d.split("_")[0][1:])} for d, m in FAM_CELLS
    ]


def extra_axes():
    """Sweep axes beyond d and |C| that take more than one value (each gets its own figure)."""
    values = {}
    for s in SPECS:
        for a in CELL_AXES[2:]:
            values.setdefault(a, set()).add(getattr(s.cell, a))
    return sorted(a for a, v in values.items() if len(v) > 1)


def sweep_bases():
    """Base cell of every sweep (the slice each one-factor figure varies around)."""
    from linid.config import DEFAULT_BASE, canonical_cell

    return {
        name: canonical_cell({**DEFAULT_BASE, **sweep.get("base", {})})
        for name, sweep in SIM.get("sweeps", {}).items()
    }
