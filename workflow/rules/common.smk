# Helpers shared by every rule: the validated config, the sweep as records, params, resources, targets.
import os
import sys
from functools import cache
from types import SimpleNamespace

sys.path.insert(0, workflow.basedir)

from snakemake.utils import validate

from linid.family.config import AngleData
from linid.images.names import DSPRITES_IMAGES, EPOCH_COST, UNTRAINED, untrained
from linid.names import CELL_AXES, GRID_AXES, HEADS, LAYERS
from linid.pipeline.cells import cell_steps, expand, family_cells, sweep_base
from linid.pipeline.cluster import slurm_preflight
from linid.pipeline.config import (
    ConfigError,
    check_config,
    fields_of,
    load_schema,
    semantic_problems,
)
from linid.pipeline.context import job_environment, mark_workflow_process
from linid.core.fingerprints import FingerprintCache, stage_fingerprint
from linid.pipeline.packs import plan_packs
from linid.pipeline.shards import capped, pair_shards, pairs_runtime, shard_seeds
from linid.pipeline.store import send_at_exit
from linid.sim.config import DGPConfig, TrainConfig
from linid.text.cells import text_cells

# -- config: the schema (with its defaults filled in), then the cross-field checks ---------------
SCHEMA = os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
try:
    try:
        validate(config, SCHEMA)
    except WorkflowError:
        # the same schema, one clear line per problem
        check_config(config, load_schema(SCHEMA))
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
    dataset=r"[a-z][a-z0-9_]*",
    model="pixels|linear|mlp|cnn",
    bmodel=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    bmodel_a=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    bmodel_b=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    M=r"\d+",
    part=r"\d+",
    tcell=r"[A-Za-z0-9_.]+",
    tseed=r"\d+",


# -- SLURM: before anything is submitted, in the main process (each job re-reads this file) -----
def command_line():
    """Snakemake's parsed command line, profile included (None when run through its Python API):
    Snakemake picks the executor only after reading the Snakefile, so ``workflow`` cannot say yet.
    """
    frame = sys._getframe()
    while frame is not None:
        args = frame.f_locals.get("args")
        if hasattr(args, "executor") and hasattr(args, "dryrun"):
            return args
        frame = frame.f_back
    return None


# options under which Snakemake reads the workflow but submits no job (a report on a laptop, …)
NO_SUBMIT = (
    "dryrun",
    "lint",
    "dag",
    "rulegraph",
    "filegraph",
    "d3dag",
    "summary",
    "detailed_summary",
    "list_rules",
    "list_target_rules",
    "list_changes",
    "list_untracked",
    "unlock",
    "cleanup_metadata",
    "cleanup_shadow",
    "touch",
    "print_compilation",
    "archive",
    "delete_all_output",
    "delete_temp_output",
    "containerize",
    "export_cwl",
    "conda_create_envs_only",
    "generate_unit_tests",
)
ARGS = command_line()
if ARGS is not None and ARGS.executor == "slurm" and workflow.is_main_process:
    submits = getattr(ARGS, "report_after_run", False) or not (
        getattr(ARGS, "report", None) or any(getattr(ARGS, a, None) for a in NO_SUBMIT)
    )
    notes, problem = slurm_preflight(
        workflow.resource_settings.default_resources, os.environ, not submits
    )
    for note in notes:
        print(note, file=sys.stderr)
    if problem:
        raise WorkflowError(problem)


# -- every job's environment and the MLflow journals (sent once the workflow ends) --------------
TRACKING = job_environment(config, workflow.basedir)
RUNS_JOBS = ARGS is None or not any(getattr(ARGS, a, None) for a in NO_SUBMIT)
if workflow.is_main_process:
    mark_workflow_process()  # its jobs stop when it is killed (context.watch_workflow)
    if config["tracking"]["enabled"] and RUNS_JOBS:
        # journals waiting from an earlier run go out even when this one has nothing to do
        send_at_exit(TRACKING["uri"], TRACKING["pending"])


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
    if config["tracking"]["enabled"] and SIM["enabled"]:
        from linid.pipeline.store import runs_table_link

        if link := runs_table_link(TRACKING["uri"], config["name"]):
            print(link)


onerror:
    send_journals()


# -- code: a rule reruns when a linid module its script imports changes (params are tracked) ----
# modules' tree hashes and imports, kept between processes: every job re-reads this file
FINGERPRINTS = FingerprintCache(".snakemake/linid/fingerprints.json")


@cache
def code(script):
    """Fingerprint of the linid modules ``workflow/scripts/<script>`` reaches through imports."""
    path = os.path.join(workflow.basedir, "workflow/scripts", script)
    fingerprint = stage_fingerprint(workflow.basedir, path, FINGERPRINTS)
    FINGERPRINTS.save()
    return fingerprint


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
        est = [train_minutes(SimpleNamespace(data=d), 1) for d, *_ in pack.members]
        cost = config["resources"]["pack_model_cost"]
        return runtime_cap(
            f"train_pack_{pack.id}", int(est[0] + cost * sum(est[1:])) * attempt
        )

    return runtime


def train_work(data):
    """Estimated work of one model in 10k-step units at d = 10 (train_runtime's scaling, no floor)."""
    cell = DATASETS[data]
    steps = cell_steps(SIM["train"], cell.n_instances)
    return steps / 10_000 * max(cell.latent_dim / 10, 0.5)


def pack_priority(pack):
    """Scheduling priority: the pack's estimated work, so the heaviest packs start first and the
    last jobs to run are short ones (no core idles behind a long pack started late)."""
    return int(1000 * sum(train_work(d) for d, *_ in pack.members))


# a dataset unlocks its training jobs: generate every one before any training starts
DATASET_PRIORITY = max((pack_priority(p) for p in PACKS), default=0) + 1


def pack_mem(pack):
    """MB: train_mem_mb plus train_mem_mb_per_packed_model for every further member, x attempt."""

    def mem(wildcards, attempt):
        res = config["resources"]
        extra = (len(pack.members) - 1) * res["train_mem_mb_per_packed_model"]
        return mem_cap(f"train_pack_{pack.id}", (res["train_mem_mb"] + extra) * attempt)

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


# -- resources: every request held at what a scheduler accepts (shards.capped) --------------------
def runtime_cap(rule_name, minutes):
    limit = config["resources"]["max_runtime_minutes"]
    return capped(rule_name, "runtime", minutes, limit, "resources.max_runtime_minutes")


def mem_cap(rule_name, mb):
    limit = config["resources"]["max_mem_mb"]
    return capped(rule_name, "mem_mb", mb, limit, "resources.max_mem_mb")


def train_runtime(wildcards, attempt):
    return runtime_cap("train", train_minutes(wildcards, attempt))


def train_minutes(wildcards, attempt):
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
    return mem_cap("train", config["resources"]["train_mem_mb"] * attempt)


def family_train_runtime(wildcards, attempt):
    """Minutes for all seeds of a family cell: steps × seeds in 10k-step units, small-MLP rate."""
    per10k = config["resources"]["train_minutes_per_10k_steps"]
    est = FAM["train"]["steps"] * len(FAM["seeds"]) / 10_000 * per10k * 0.5
    return runtime_cap("family_train", int(max(10, 1.5 * est) * attempt))


# -- [R] targets and the rows of the tables ------------------------------------------------------
def model_files(pattern):
    """``pattern`` (with {data}, {method}, {head}, {seed}) for every model, in MODELS order."""
    return [pattern.format(data=d, method=m, head=h, seed=s) for d, m, h, s in MODELS]


def dataset_files(pattern):
    """``pattern`` (with {data}) for every simulation dataset, in DATASETS order."""
    return [pattern.format(data=d) for d in DATASETS]


def probe_rows():
    """One row per (sweep, model): the identifying columns of probes.csv."""
    return [s.row() for s in SPECS]


def extra_axes():
    """Sweep axes beyond the grid's that take more than one value within one sweep and method
    (each gets its own figure). An axis that differs only between sweeps or methods (e.g. N,
    10,240 for supervised and 1,000 for DIET) gets none: its figure would confound the two.
    """
    values = {}
    for s in SPECS:
        for a in CELL_AXES:
            if a not in GRID_AXES:
                values.setdefault((a, s.experiment, s.method), set()).add(
                    getattr(s.cell, a)
                )
    return sorted({a for (a, *_), v in values.items() if len(v) > 1})


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


@cache
def sim_shards(data, method, head):
    """A cell's seed pairs cut into compare_sim_part jobs (compare.max_pairs_per_job)."""
    seeds = sim_compare_groups()[(data, method, head)]
    return pair_shards(seeds, COMPARE["max_pairs_per_job"])


def sim_part_pairs(wildcards):
    w = wildcards
    return sim_shards(w.data, w.method, w.head)[int(w.part)]


def sim_part_seeds(wildcards):
    return shard_seeds(sim_part_pairs(wildcards))


def sim_part_features(wildcards):
    w = wildcards
    pattern = rules.extract_features.output.features
    return [
        pattern.format(data=w.data, method=w.method, head=w.head, seed=s)
        for s in sim_part_seeds(w)
    ]


def sim_part_files(output):
    """The compare_sim_part ``output`` files of one cell, for compare_sim to merge."""

    def files(wildcards):
        w = wildcards
        pattern = getattr(rules.compare_sim_part.output, output)
        n = len(sim_shards(w.data, w.method, w.head))
        return [
            pattern.format(data=w.data, method=w.method, head=w.head, part=i)
            for i in range(n)
        ]

    return files


def family_compare_runtime(wildcards, attempt):
    """Minutes: every seed pair of a family cell x resources.compare_seconds_per_pair, x attempt."""
    n = len(FAM["seeds"])
    per_pair = config["resources"]["compare_seconds_per_pair"]
    minutes = pairs_runtime(n * (n - 1) // 2, per_pair, attempt)
    return runtime_cap("compare_family", minutes)


def sim_part_runtime(wildcards, attempt):
    """Minutes: the part's pairs x resources.compare_seconds_per_pair (at least 5), x attempt."""
    per_pair = config["resources"]["compare_seconds_per_pair"]
    minutes = pairs_runtime(len(sim_part_pairs(wildcards)), per_pair, attempt)
    return runtime_cap("compare_sim_part", minutes)


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


# -- [R] §4.2 images, bring your own activations, [K] word embeddings: one plan each -----------
from linid.pipeline.plans.byo import ByoPlan
from linid.pipeline.plans.images import ImagesPlan
from linid.pipeline.plans.text import TextPlan

IMAGES = ImagesPlan(config)
BYO_PLAN = ByoPlan(config, IMAGES)
if problems := BYO_PLAN.file_problems():
    raise WorkflowError("invalid byo files:\n  - " + "\n  - ".join(problems))
TEXT_PLAN = TextPlan(config)


# their final targets (the rules' outputs: called once every rule file is read)
def image_outputs():
    """The image experiment's final targets (none when it is off)."""
    if not IMAGES.datasets:
        return []
    out = [rules.image_tables.output.table]
    if IMAGES.trained:
        out.append(rules.image_curves.output.figure)
    if IMAGES.export["enabled"]:
        out += IMAGES.files(rules.image_activations.output.activations)
        out += [
            rules.image_activation_factors.output.factors.format(dataset=d)
            for d in IMAGES.datasets
        ]
    return out


def byo_outputs():
    """The bring-your-own experiment's final targets (none when it is off)."""
    if not BYO_PLAN.models:
        return []
    out = [rules.byo_tables.output.layers]
    if BYO_PLAN.svcca["enabled"]:
        out.append(rules.byo_svcca_figure.output.figure)
    return out


def text_outputs():
    """The text experiment's final targets (none when it is off)."""
    if not TEXT_PLAN.cells:
        return []
    return [rules.text_tables.output.summary, rules.text_figures.output.overlay]


def all_outputs():
    out = image_outputs() + byo_outputs() + text_outputs()
    if SPECS:
        out += [rules.aggregate_probes.output.table, rules.figures.output.heatmap]
        out += [rules.paper_comparison.output.table]
    if FAM_CELLS or sim_compare_groups():
        out += [rules.aggregate_pairs.output.table]
    if FAM_CELLS:
        out += [rules.family_figures.output.mcca]
    return out
