# Shared by every rule: the validated config, one plan per experiment, the hooks, code() and targets.
import os
import sys
from functools import cache

sys.path.insert(0, workflow.basedir)

from linid.core.fingerprints import FingerprintCache, stage_fingerprint
from linid.images.names import DSPRITES_IMAGES, EPOCH_COST, UNTRAINED, untrained
from linid.names import HEADS, LAYERS
from linid.pipeline import cluster
from linid.pipeline.config import ConfigError, validate_config
from linid.pipeline.context import job_environment, mark_workflow_process
from linid.pipeline.packs import copy_member
from linid.pipeline.plans.compare import ComparePlan
from linid.pipeline.plans.family import FamilyPlan
from linid.pipeline.plans.sim import MEMBER_DIR, PACK_DIR, TRAINED, SimPlan
from linid.pipeline.shards import capped
from linid.pipeline.store import send_at_exit
from linid.text.cells import text_cells

# -- config: the schema's defaults filled in, then every problem named (before any job) ---------
try:
    validate_config(config, SCHEMA)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

# -- the plans: records, params and resources of every experiment (linid/pipeline/plans/) ---------
SIM = config["simulation"]
SIMP = SimPlan(config)
FAMP = FamilyPlan(config)
CMP = ComparePlan(config, SIMP, FAMP)
COMPARE = config["compare"]
PUBLISHED = "workflow/resources/published_reizinger2025.csv"


wildcard_constraints:
    data=r"d\d+_C\d+_N\d+_k[^/]+_s\d+",
    method="supervised|diet",
    head="|".join(HEADS),
    seed=r"\d+",
    pack=r"[a-z]+_[a-z]+_d\d+_w\d+_t\d+_p\d+",
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


# -- SLURM: checked before anything is submitted, in the main process (each job re-reads this) ----
ARGS = cluster.command_line(sys._getframe())
if ARGS is not None and ARGS.executor == "slurm" and workflow.is_main_process:
    defaults = workflow.resource_settings.default_resources
    notes, problem = cluster.slurm_preflight(
        defaults, os.environ, not cluster.submits(ARGS)
    )
    print(*notes, sep="\n", file=sys.stderr)
    if problem:
        raise WorkflowError(problem)

# -- every job's environment and the MLflow journals (sent once the workflow ends) --------------
TRACKING = job_environment(config, workflow.basedir)
TRACK = config["tracking"]["enabled"]
if workflow.is_main_process:
    mark_workflow_process()  # its jobs stop when it is killed (context.watch_workflow)
    if TRACK and cluster.runs_jobs(ARGS):
        # journals waiting from an earlier run go out even when this one has nothing to do
        send_at_exit(TRACKING["uri"], TRACKING["pending"])


def send_journals():
    if TRACK:
        from linid.pipeline.store import send_pending

        print(send_pending(TRACKING["uri"], TRACKING["pending"]))


onstart:
    # seconds, not minutes: an unreachable store is reported once and every job journals its run
    if TRACK:
        from linid.pipeline.store import try_store

        try_store(TRACKING["uri"], config["name"], TRACKING["pending"])


onsuccess:
    send_journals()
    if TRACK and SIM["enabled"]:
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


def runtime_cap(rule_name, minutes):
    limit = config["resources"]["max_runtime_minutes"]
    return capped(rule_name, "runtime", minutes, limit, "resources.max_runtime_minutes")


def mem_cap(rule_name, mb):
    limit = config["resources"]["max_mem_mb"]
    return capped(rule_name, "mem_mb", mb, limit, "resources.max_mem_mb")


# -- [R] §4.2 DisLib images: datasets, models, seeds as records -----------------------------------
IMG = config["images"]
IMG_DATASET_DEFAULTS = {
    "layout": "dsprites",
    "path": "",
    "subsample": None,
    "subsample_seed": 0,
}
IMG_DATASETS = (
    {n: {**IMG_DATASET_DEFAULTS, **d} for n, d in IMG["datasets"].items()}
    if IMG["enabled"]
    else {}
)
IMG_MODELS = [
    (ds, m, rep) for ds in IMG_DATASETS for m in IMG["models"] for rep in IMG["seeds"]
]
IMG_TRAINED = [(ds, m, rep) for ds, m, rep in IMG_MODELS if m != "pixels"]
# the controls: every trained model type probed at its seed's initialisation (no training job)
IMG_CONTROLS = (
    [(ds, untrained(m), rep) for ds, m, rep in IMG_TRAINED]
    if IMG["probe"]["untrained"]
    else []
)
IMG_PROBED = IMG_MODELS + IMG_CONTROLS
# what one probe job reads (whether the controls exist is the workflow's business, not the probe's)
IMG_PROBE = {k: v for k, v in IMG["probe"].items() if k != "untrained"}
IMG_PROBE_MODELS = "|".join(["pixels", "linear", "mlp", "cnn", *UNTRAINED])
PUBLISHED_TABLE4 = "workflow/resources/published_reizinger2025_table4.csv"
# what image_train writes per model (image_probe and image_activations read it)
IMG_TRAIN_OUT = {
    "model": "results/images/models/{dataset}/{model}/seed{seed}/model.pt",
    "curve": "results/images/models/{dataset}/{model}/seed{seed}/curve.csv",
    "summary": "results/images/models/{dataset}/{model}/seed{seed}/train.json",
}


def image_rendered(dataset):
    return not IMG_DATASETS[dataset]["path"]


def image_source(wildcards):
    """The file ``image_data`` reads: the user's, or the rendered dSprites grid."""
    if image_rendered(wildcards.dataset):
        return {
            "source": f"results/images/source/{wildcards.dataset}.npz",
            "meta": f"results/images/source/{wildcards.dataset}.json",
        }
    return {"source": IMG_DATASETS[wildcards.dataset]["path"]}


def render_params(wildcards):
    d = IMG_DATASETS[wildcards.dataset]
    return {"subsample": d["subsample"], "subsample_seed": d["subsample_seed"]}


def image_data_params(wildcards):
    """Layout and rows of one dataset (a rendered grid is already subsampled when rendered)."""
    d = IMG_DATASETS[wildcards.dataset]
    rows = None if image_rendered(wildcards.dataset) else d["subsample"]
    return {
        "layout": d["layout"],
        "rows": rows,
        "subsample_seed": d["subsample_seed"],
    }


def image_seed(wildcards):
    """The official seed of repetition ``seed``: seed_offset + rep."""
    return IMG["seed_offset"] + int(wildcards.seed)


def image_epochs(model):
    return IMG["train"]["max_epochs_by_model"].get(model, IMG["train"]["max_epochs"])


def image_train_params(wildcards):
    skip = ("allow_cpu", "max_epochs_by_model")
    t = {k: v for k, v in IMG["train"].items() if k not in skip}
    t["max_epochs"] = image_epochs(wildcards.model)
    return {"model": wildcards.model, "seed": image_seed(wildcards), **t}


def image_model_input(wildcards):
    """The trained model and its summary (none for the pixels and the untrained controls)."""
    if wildcards.model == "pixels" or wildcards.model in UNTRAINED:
        return {}
    w = wildcards
    return {
        "model": IMG_TRAIN_OUT["model"].format(
            dataset=w.dataset, model=w.model, seed=w.seed
        ),
        "summary": IMG_TRAIN_OUT["summary"].format(
            dataset=w.dataset, model=w.model, seed=w.seed
        ),
    }


def image_checkpoint(wildcards):
    w = wildcards
    return f"results/checkpoints/images/{w.dataset}/{w.model}/seed{w.seed}.ckpt"


def image_fraction(dataset):
    """Fraction of the full dataset a configured dataset keeps (for the paper comparison)."""
    d = IMG_DATASETS[dataset]
    if d["subsample"] is None:
        return 1.0
    if d["layout"] == "dsprites":
        return d["subsample"] / DSPRITES_IMAGES
    return float("nan")  # the file's size is known only once it is read


def image_runtime(wildcards, attempt):
    """Minutes: image_train_minutes at 100 epochs of the full data, scaled by both, x attempt."""
    d = IMG_DATASETS[wildcards.dataset]
    frac = image_fraction(wildcards.dataset)
    frac = 1.0 if frac != frac else frac
    full = config["resources"]["image_train_minutes"]
    epochs = image_epochs(wildcards.model)
    return runtime_cap(
        "image_train", int(max(10, full * frac * epochs / 100) * attempt)
    )


def image_train_priority(wildcards):
    """The heaviest trainings first: the job's relative cost (epochs x images x an epoch's cost)."""
    frac = image_fraction(wildcards.dataset)
    frac = 1.0 if frac != frac else frac
    m = wildcards.model
    return 1 + EPOCH_COST[m] * image_epochs(m) * frac


def image_mem(wildcards, attempt):
    return mem_cap("image jobs", config["resources"]["image_train_mem_mb"] * attempt)


def image_files(pattern, models=None):
    models = IMG_MODELS if models is None else models
    return [pattern.format(dataset=d, model=m, seed=s) for d, m, s in models]


def image_budgets():
    """Per (dataset, model): the fraction of the images and the epochs (a control: 0)."""
    models = list(dict.fromkeys(m for _, m, _ in IMG_PROBED))
    return [
        {
            "dataset": d,
            "model": m,
            "data_fraction": image_fraction(d),
            "max_epochs": 0 if m in UNTRAINED else image_epochs(m),
        }
        for d in IMG_DATASETS
        for m in models
    ]


def image_curve_keys():
    return [{"dataset": d, "model": m, "seed": int(s)} for d, m, s in IMG_TRAINED]


def image_outputs():
    if not IMG_DATASETS:
        return []
    out = [rules.image_tables.output.table]
    if IMG_TRAINED:
        out.append(rules.image_curves.output.figure)
    if IMG["export_activations"]["enabled"]:
        out += image_files(rules.image_activations.output.activations)
        out += [
            rules.image_activation_factors.output.factors.format(dataset=d)
            for d in IMG_DATASETS
        ]
    return out


# -- bring your own activations: models and factors as paths --------------------------------------
BYO = config["byo"]
BYO_DIGITS = {"seeds": [0, 1, 2], "hidden": [64, 64, 32], "epochs": 40}
if not BYO["enabled"]:
    BYO_MODELS, BYO_FACTORS = {}, ""
elif BYO["source"] == "files":
    BYO_MODELS, BYO_FACTORS = dict(BYO["models"]), BYO["factors"]
    from linid.byo.files import check_inputs

    if problems := check_inputs(BYO_FACTORS or None, BYO_MODELS, BYO):
        raise WorkflowError("invalid byo files:\n  - " + "\n  - ".join(problems))
elif BYO["source"] == "digits":
    BYO_MODELS = {
        f"mlp_seed{s}": f"results/byo/digits/mlp_seed{s}.npz"
        for s in BYO_DIGITS["seeds"]
    }
    BYO_MODELS["mlp_init"] = "results/byo/digits/mlp_init.npz"
    BYO_FACTORS = "results/byo/digits/factors.npz"
elif BYO["source"] == "text_lm":
    from linid.byo.config import TEXT_LM as BYO_TEXT_LM

    BYO_MODELS = {m: f"results/byo/text_lm/{m}.npz" for m in BYO_TEXT_LM["models"]}
    BYO_FACTORS = ""
else:  # the image experiment's exported activations
    _ds = BYO["images_dataset"]
    BYO_MODELS = {
        f"{m}_seed{s}": f"results/images/activations/{_ds}/{m}_seed{s}.npz"
        for m in IMG["models"]
        for s in IMG["seeds"]
    }
    BYO_FACTORS = f"results/images/activations/{_ds}/factors.npz"
BYO_TEXT_LM_FILES = list(BYO_MODELS.values()) if BYO["source"] == "text_lm" else []
BYO_NAMES = list(BYO_MODELS)
BYO_PAIRS = [(a, b) for i, a in enumerate(BYO_NAMES) for b in BYO_NAMES[i + 1 :]]


def byo_model_file(wildcards):
    return BYO_MODELS[wildcards.bmodel]


def byo_pair_files(wildcards):
    return {"a": BYO_MODELS[wildcards.bmodel_a], "b": BYO_MODELS[wildcards.bmodel_b]}


SVCCA_P = BYO["svcca_protocol"]
if SVCCA_P["pairs"] == "adjacent":
    BYO_SVCCA_PAIRS = list(zip(BYO_NAMES[:-1], BYO_NAMES[1:]))
else:
    BYO_SVCCA_PAIRS = BYO_PAIRS


def byo_outputs():
    if not BYO_MODELS:
        return []
    out = [rules.byo_tables.output.layers]
    if SVCCA_P["enabled"]:
        out.append(rules.byo_svcca_figure.output.figure)
    return out


# -- [K] Figure 1, word embeddings: the cells as records ------------------------------------------
TEXT = config["text"]
TEXT_CELLS = {c.cell_id: c for c in text_cells(TEXT)}


def text_corpus_params(wildcards):
    """The corpus section of one cell (its axes applied)."""
    return dict(TEXT_CELLS[wildcards.tcell].corpus)


def text_train_params(wildcards):
    cell = TEXT_CELLS[wildcards.tcell]
    return {"seed": int(wildcards.tseed), "model": cell.model, "train": cell.train}


def text_models(wildcards):
    pattern = "results/text/models/{tcell}/seed{tseed}.npz"
    return [pattern.format(tcell=wildcards.tcell, tseed=s) for s in TEXT["seeds"]]


def text_train_runtime(wildcards, attempt):
    """Minutes: steps in 10k-step units at the family's small-model rate, x attempt."""
    per10k = config["resources"]["train_minutes_per_10k_steps"]
    steps = TEXT_CELLS[wildcards.tcell].train["steps"]
    return int(max(10, 1.5 * steps / 10_000 * per10k * 0.5) * attempt)


def text_cell_files(pattern):
    return [pattern.format(tcell=c) for c in TEXT_CELLS]


def text_outputs():
    if not TEXT_CELLS:
        return []
    return [rules.text_tables.output.summary, rules.text_figures.output.overlay]


def all_outputs():
    out = image_outputs() + byo_outputs() + text_outputs()
    if SIMP.specs:
        out += [rules.aggregate_probes.output.table, rules.figures.output.heatmap]
        out += [rules.paper_comparison.output.table]
    if CMP.any():
        out += [rules.aggregate_pairs.output.table]
    if FAMP.cells:
        out += [rules.family_figures.output.mcca]
    return out
