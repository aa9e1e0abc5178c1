# Shared by every rule: the validated config, one plan per experiment, the hooks, code() and targets.
import os
import sys
from functools import cache

sys.path.insert(0, workflow.basedir)

from linid.core.fingerprints import (
    FingerprintCache,
    modules_fingerprint,
    stage_fingerprint,
)
from linid.names import HEADS, LAYERS
from linid.pipeline import cluster
from linid.pipeline.config import ConfigError, validate_config
from linid.pipeline.context import job_environment, mark_workflow_process, set_project
from linid.pipeline.packs import copy_member, incomplete_packs, lost_members_message
from linid.pipeline.plans.byo import ByoPlan
from linid.pipeline.plans.compare import ComparePlan
from linid.pipeline.plans.family import FamilyPlan
from linid.pipeline.plans.images import ImagesPlan
from linid.pipeline.plans.sim import MEMBER_DIR, PACK_DIR, TRAINED, SimPlan
from linid.pipeline.plans.text import TextPlan
from linid.pipeline.store import relocate_store, send_at_exit
from linid.sim.objectives import METHODS, REGISTRY

# -- config: the schema's defaults filled in, then every problem named (before any job) ---------
try:
    # a job's process (SLURM) re-reads the workflow: whole user files were read by the main one
    validate_config(config, SCHEMA, contents=workflow.is_main_process)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

# -- the plans: records, params and resources of every experiment (linid/pipeline/plans/) ---------
SIM = config["simulation"]
SIM_PLAN = SimPlan(config)
FAMILY_PLAN = FamilyPlan(config)
COMPARE_PLAN = ComparePlan(config, SIM_PLAN, FAMILY_PLAN)
IMAGES_PLAN = ImagesPlan(config)
BYO_PLAN = ByoPlan(config, IMAGES_PLAN)
TEXT_PLAN = TextPlan(config)
if problems := BYO_PLAN.file_problems():
    raise WorkflowError("invalid byo files:\n  - " + "\n  - ".join(problems))
COMPARE = config["compare"]


def bundled(path):
    """A file of the checkout (``workflow/resources/…``) as seen from the working directory: found
    with ``-s CHECKOUT/Snakefile`` from elsewhere and with ``--directory DIR``; from the checkout
    itself the same relative path as before (so no rerun)."""
    return os.path.relpath(os.path.join(workflow.basedir, path))


PUBLISHED = bundled("workflow/resources/published_reizinger2025.csv")


wildcard_constraints:
    data=r"d\d+_C\d+_N\d+_k[^/]+_s\d+",
    method="|".join(METHODS),
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

# -- Snakemake's records of how each output was made survive a deleted .snakemake/ (records.py) --
if workflow.is_main_process:
    import atexit

    from linid.pipeline.records import keep_records, restore_records, restored_note

    if n_restored := restore_records():
        print(restored_note(n_restored), file=sys.stderr)
    if cluster.runs_jobs(ARGS):
        atexit.register(keep_records)

# -- every job's environment and the MLflow journals (sent once the workflow ends) --------------
TRACKING = job_environment(config, workflow.basedir)
TRACK = config["tracking"]["enabled"]
if workflow.is_main_process:
    mark_workflow_process()  # its jobs stop when it is killed (context.watch_workflow)
    if TRACK and cluster.runs_jobs(ARGS):
        # journals waiting from an earlier run go out even when this one has nothing to do
        send_at_exit(TRACKING["uri"], TRACKING["pending"])
        # a moved or copied results/ serves its own artifacts, after any run (a no-op too)
        relocate_store(TRACKING["uri"])
        set_project()  # part of every job's identity in MLflow (results/.linid_project)


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
    # where to see each model's cell, seed and score in the MLflow UI (docs/tracking.md)
    views = ["simulation"] * bool(SIM["enabled"]) + ["text"] * bool(TEXT_PLAN.cells)
    if TRACK and views:
        from linid.pipeline.store import runs_table_link

        for view in views:
            if link := runs_table_link(TRACKING["uri"], config["name"], view=view):
                print(link)


onerror:
    send_journals()


# -- code: a rule reruns when a linid module its script imports changes (params are tracked) ----
# modules' tree hashes and imports, kept between processes: every job re-reads this file
FINGERPRINTS = FingerprintCache(".snakemake/linid/fingerprints.json")


# registries: a new entry reruns nothing by itself; what an entry changes reaches a job through its
# params (settings, shapes) or through the plug-in's own fingerprint (objective_code)
REGISTRIES = ("linid.sim.objectives",)


@cache
def code(script):
    """Fingerprint of the linid modules ``workflow/scripts/<script>`` reaches through imports."""
    path = os.path.join(workflow.basedir, "workflow/scripts", script)
    fingerprint = stage_fingerprint(
        workflow.basedir, path, FINGERPRINTS, skip=REGISTRIES
    )
    FINGERPRINTS.save()
    return fingerprint


@cache
def objective_code(method):
    """Fingerprint of one objective's module and what it imports (it is imported by name, so no
    script's closure holds it): editing InfoNCE reruns the InfoNCE models only."""
    fingerprint = modules_fingerprint(
        workflow.basedir, (REGISTRY[method].module,), FINGERPRINTS, skip=REGISTRIES
    )
    FINGERPRINTS.save()
    return fingerprint


# -- the final targets (the rules' outputs: called once every rule file is read) ---------------
def image_outputs():
    """The image experiment's final targets (none when it is off)."""
    if not IMAGES_PLAN.datasets:
        return []
    out = [rules.image_tables.output.table]
    if IMAGES_PLAN.trained:
        out.append(rules.image_curves.output.figure)
    if IMAGES_PLAN.export["enabled"]:
        out += IMAGES_PLAN.files(rules.image_activations.output.activations)
        out += [
            rules.image_activation_factors.output.factors.format(dataset=d)
            for d in IMAGES_PLAN.datasets
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
    if SIM_PLAN.specs:
        out += [rules.aggregate_probes.output.table, rules.figures.output.heatmap]
        out += [rules.paper_comparison.output.table]
    if SIM_PLAN.compares_objectives():
        out += [rules.objectives.output.table]
    if COMPARE_PLAN.any():
        out += [rules.aggregate_pairs.output.table]
    if FAMILY_PLAN.cells:
        out += [rules.family_figures.output.mcca]
    return out
