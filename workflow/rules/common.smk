# Helpers shared by every rule: the validated config, the sweep as records, params, resources, targets.
import os
import sys
from functools import cache
from types import SimpleNamespace

sys.path.insert(0, workflow.basedir)

from snakemake.utils import validate

from linid.family.data import AngleData
from linid.names import CELL_AXES, GRID_AXES, HEADS, LAYERS
from linid.pipeline.cells import cell_steps, expand, family_cells, sweep_base
from linid.pipeline.config import (
    ConfigError,
    check_config,
    fields_of,
    load_schema,
    semantic_problems,
)
from linid.pipeline.context import job_environment
from linid.pipeline.fingerprints import stage_fingerprint
from linid.pipeline.packs import plan_packs
from linid.sim.process import DGPConfig
from linid.sim.training import TrainConfig

# -- config: the schema (with its defaults filled in), then the cross-field checks ---------------
SCHEMA = os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
try:
    try:
        validate(config, SCHEMA)
    except WorkflowError:
        check_config(
            config, load_schema(SCHEMA)
        )  # the same schema, one clear line per problem
        raise
    if problems := semantic_problems(config, load_schema(SCHEMA)):
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))
except ConfigError as err:
    raise WorkflowError(str(err)) from None


# -- the sweep as records: ids and paths are built from them, never parsed back -----------------
SIM = config["simulation"]
SPECS = expand(SIM) if SIM["enabled"] else []
DATASETS = {s.cell.dataset_id: s.cell for s in SPECS}
MODELS = sorted({s.key for s in SPECS})
# pack_size 1: one `train` job per model; >= 2: one `train_pack_<id>` job per pack (packs.py)
PACK_SIZE = SIM["train"]["pack_size"]
PACKS = plan_packs(MODELS, DATASETS, SIM["train"], PACK_SIZE) if PACK_SIZE > 1 else []
# what training writes per model, whichever rule trains it
TRAINED = {
    "model": "results/sim/models/{data}/{method}/{head}/seed{seed}/model.pt",
    "curve": "results/sim/models/{data}/{method}/{head}/seed{seed}/curve.csv",
    "summary": "results/sim/models/{data}/{method}/{head}/seed{seed}/train.json",
}
FAM = config["family"]
FAM_CELLS = family_cells(FAM)
FAM_DATASETS = {c.dataset_id: c for c in FAM_CELLS}
COMPARE = config["compare"]
PUBLISHED = "workflow/resources/published_reizinger2025.csv"


wildcard_constraints:
    data=r"d\d+_C\d+_N\d+_k[^/]+_s\d+",
    method="supervised|diet",
    head="|".join(HEADS),
    seed=r"\d+",
    fdata=r"K\d+_s\d+",
    M=r"\d+",


# -- every job's environment and the MLflow journals (sent once the workflow ends) --------------
TRACKING = job_environment(config, workflow.basedir)


def send_journals():
    if config["tracking"]["enabled"]:
        from linid.pipeline.store import send_pending

        print(send_pending(TRACKING["uri"], TRACKING["pending"]))


onstart:
    # seconds, not minutes: an unreachable store is reported once and every job journals its run
    if config["tracking"]["enabled"]:
        from linid.pipeline.store import try_store

        try_store(TRACKING["uri"], config["name"], TRACKING["pending"])


onsuccess:
    send_journals()


onerror:
    send_journals()


# -- code: a rule reruns when a linid module its script imports changes (params are tracked) ----
@cache
def code(script):
    """Fingerprint of the linid modules ``workflow/scripts/<script>`` reaches through imports."""
    return stage_fingerprint(
        workflow.basedir, os.path.join(workflow.basedir, "workflow/scripts", script)
    )


# -- params: built from the records and the dataclasses' own fields ------------------------------
def dataset_params(wildcards):
    """The DGPConfig of one dataset: the cell's axes, its data seed and the data section."""
    cell = DATASETS[wildcards.data]
    return fields_of(DGPConfig, SIM["data"], cell.axes(), {"seed": cell.data_seed})


def model_train_params(data, method, head, seed):
    """The TrainConfig of one model: the train section, its method, head, seed and step budget."""
    steps = cell_steps(SIM["train"], DATASETS[data].n_instances)
    model = {
        "method": method,
        "seed": int(seed),
        "normalize_w": HEADS[head],
        "steps": steps,
    }
    return fields_of(TrainConfig, SIM["train"], model)


def train_params(wildcards):
    w = wildcards
    return model_train_params(w.data, w.method, w.head, w.seed)


def checkpoint_path(wildcards):
    """Resume file of a training job: outside its outputs, so a killed job keeps it."""
    w = wildcards
    return f"results/checkpoints/sim/{w.data}/{w.method}/{w.head}/seed{w.seed}.ckpt"


# -- packs: one job, several models; outputs stay one set of files per model ----------------------
def pack_files(pack, pattern):
    return [
        pattern.format(data=d, method=m, head=h, seed=s) for d, m, h, s in pack.members
    ]


def pack_params(pack):
    """Every member's identity and TrainConfig, in output order."""
    return [
        {
            "data": d,
            "method": m,
            "head": h,
            "seed": s,
            "train": model_train_params(d, m, h, s),
        }
        for d, m, h, s in pack.members
    ]


def inherit_train_settings(rule_name):
    """The profile's or command line's ``set-resources`` for ``train`` (partition, GPU model, CPUs)
    apply to ``rule_name`` too, unless it has its own: SLURM settings name rules, and pack rules are
    many. (Snakemake reads them by rule name when a rule is defined, so call this before.)
    """
    settings = workflow.resource_settings._parsed_overwrite_resources
    if "train" in settings and rule_name not in settings:
        settings[rule_name] = settings["train"]


def pack_runtime(pack):
    """Minutes: the first member's single-job estimate plus pack_model_cost x the others' (1.0: no
    packing gain assumed), x attempt."""

    def runtime(wildcards, attempt):
        est = [train_runtime(SimpleNamespace(data=d), 1) for d, *_ in pack.members]
        cost = config["resources"]["pack_model_cost"]
        return int(est[0] + cost * sum(est[1:])) * attempt

    return runtime


def pack_mem(pack):
    """MB: train_mem_mb plus train_mem_mb_per_packed_model for every further member, x attempt."""

    def mem(wildcards, attempt):
        res = config["resources"]
        extra = (len(pack.members) - 1) * res["train_mem_mb_per_packed_model"]
        return (res["train_mem_mb"] + extra) * attempt

    return mem


def cell_kappa(wildcards):
    return DATASETS[wildcards.data].kappa


def family_data_params(wildcards):
    """Everything that determines one family dataset: the AngleData, sizes and seed."""
    cell = FAM_DATASETS[wildcards.fdata]
    d = FAM["data"]
    task = fields_of(AngleData, d, {"n_classes": cell.n_classes})
    return {
        **task,
        "seed": cell.data_seed,
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


# -- resources -----------------------------------------------------------------------------------
def train_runtime(wildcards, attempt):
    """Minutes: the budget in 10k-step units × per-10k estimate at d=10, scaled by d, × attempt."""
    cell = DATASETS[wildcards.data]
    per10k = config["resources"]["train_minutes_per_10k_steps"]
    est = (
        cell_steps(SIM["train"], cell.n_instances)
        / 10_000
        * per10k
        * max(cell.latent_dim / 10, 0.5)
    )
    return int(max(10, 1.5 * est) * attempt)


def train_mem(wildcards, attempt):
    return config["resources"]["train_mem_mb"] * attempt


def family_train_runtime(wildcards, attempt):
    """Minutes for all seeds of a family cell: steps × seeds in 10k-step units, small-MLP rate."""
    per10k = config["resources"]["train_minutes_per_10k_steps"]
    est = FAM["train"]["steps"] * len(FAM["seeds"]) / 10_000 * per10k * 0.5
    return int(max(10, 1.5 * est) * attempt)


# -- [R] targets and the rows of the tables ------------------------------------------------------
def model_files(pattern):
    """``pattern`` (with {data}, {method}, {head}, {seed}) for every model, in MODELS order."""
    return [pattern.format(data=d, method=m, head=h, seed=s) for d, m, h, s in MODELS]


def probe_rows():
    """One row per (sweep, model): the identifying columns of probes.csv."""
    return [s.row() for s in SPECS]


def extra_axes():
    """Sweep axes beyond the grid's that take more than one value (each gets its own figure)."""
    values = {}
    for s in SPECS:
        for a in CELL_AXES:
            if a not in GRID_AXES:
                values.setdefault(a, set()).add(getattr(s.cell, a))
    return sorted(a for a, v in values.items() if len(v) > 1)


def sweep_bases():
    """Base cell of every sweep (the slice each one-factor figure varies around)."""
    return {name: sweep_base(sweep) for name, sweep in SIM.get("sweeps", {}).items()}


# -- model-to-model comparisons: the compared cells, as records ----------------------------------
def sim_compare_groups():
    """(dataset, method, head) → seeds, for every simulation cell with at least two seeds."""
    if not (SIM["enabled"] and COMPARE["enabled"]):
        return {}
    groups = {}
    for d, m, h, s in MODELS:
        groups.setdefault((d, m, h), []).append(s)
    return {k: sorted(v) for k, v in sorted(groups.items()) if len(v) >= 2}


def sim_compare_seeds(wildcards):
    return sim_compare_groups()[(wildcards.data, wildcards.method, wildcards.head)]


def sim_compare_features(wildcards):
    w = wildcards
    pattern = rules.extract_features.output.features
    return [
        pattern.format(data=w.data, method=w.method, head=w.head, seed=s)
        for s in sim_compare_seeds(w)
    ]


def family_files(pattern):
    return [pattern.format(fdata=c.dataset_id, M=c.rep_dim) for c in FAM_CELLS]


def compared_files(output):
    """One ``compare_*`` output per compared cell: family cells first, then simulation cells."""
    fam = family_files(getattr(rules.compare_family.output, output))
    pattern = getattr(rules.compare_sim.output, output)
    return fam + [
        pattern.format(data=d, method=m, head=h) for d, m, h in sim_compare_groups()
    ]


def compared_cells():
    """The identifying columns of every compared cell, in ``compared_files`` order."""
    out = [
        {
            "experiment": "family",
            "cell": c.cell_id,
            "method": "family",
            "head": "",
            "rep_dim": c.rep_dim,
            "n_classes": c.n_classes,
            "diverse": c.diverse,
        }
        for c in FAM_CELLS
    ]
    for d, m, h in sim_compare_groups():
        cell = DATASETS[d]
        # the head's rows play g: |C| class vectors (supervised) or N ≥ d + 1 instances (DIET)
        diverse = cell.n_classes >= cell.latent_dim + 1 if m == "supervised" else True
        out.append(
            {
                "experiment": "simulation",
                "cell": d,
                "method": m,
                "head": h,
                "rep_dim": cell.latent_dim,
                "n_classes": cell.n_classes,
                "diverse": diverse,
            }
        )
    return out


def family_cells_table():
    """Identifying columns of every family cell, in FAM_CELLS order."""
    return [
        {"fdata": c.dataset_id, "rep_dim": c.rep_dim, "n_classes": c.n_classes}
        for c in FAM_CELLS
    ]


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
