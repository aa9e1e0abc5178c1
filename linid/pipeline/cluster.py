"""Before a SLURM run submits anything: are SLURM's commands here, are partition and account set?

Snakemake's SLURM executor calls ``sbatch`` to submit and ``sacct`` to follow jobs; started where
they do not exist (a laptop, a compute node without the client tools) it fails only once the first
job is submitted, deep in its own log. These checks run when the workflow is read, in the main
process only (each job re-reads the Snakefile on its node), and say what to do.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from typing import Any

COMMANDS = ("sbatch", "sacct")
PROFILE = "slurm/config.yaml"


def _value(resources: Mapping[str, Any] | None, key: str) -> Any:
    value = (resources or {}).get(key)
    return getattr(value, "value", value)  # Snakemake's parsed Resource, or the profile's plain value


def slurm_preflight(
    default_resources: Mapping[str, Any] | None,
    env: Mapping[str, str],
    dryrun: bool,
    which: Callable[[str], str | None] = shutil.which,
) -> tuple[list[str], str | None]:
    """``(warnings, error)`` for a run with the SLURM executor; an error means: stop before any job.

    Missing ``sbatch``/``sacct`` is an error, except when the command submits nothing (``dryrun``:
    ``-n``, the way a sweep is planned away from the cluster, or ``--report``, ``--lint``, …): there
    it is a warning. An unset partition or
    account is a warning: SLURM's defaults (and the plugin's guess of the account) may be right.
    """
    warnings = []
    error = None
    missing = [c for c in COMMANDS if which(c) is None]
    if missing:
        what = (f"the SLURM executor (--profile slurm) needs {' and '.join(COMMANDS)}, but "
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on PATH")
        if dryrun:
            warnings.append(f"linid: WARNING: {what}; this command submits nothing (a dry run, "
                            "--report, --lint, …) and goes on, a run would stop here")
        else:
            error = (f"linid: {what}. Run snakemake on the cluster's submit (login) host, where "
                     "SLURM's commands are (or load its module, e.g. `module load slurm`), or run "
                     "here without the profile: `snakemake --cores N`.")
    for key, var, what in (
        ("slurm_partition", "SBATCH_PARTITION", "jobs go to the cluster's default partition"),
        ("slurm_account", "SBATCH_ACCOUNT", "the SLURM plugin guesses your account from sacctmgr"),
    ):
        if not _value(default_resources, key) and not env.get(var):
            warnings.append(f"linid: WARNING: no {key} set (default-resources in {PROFILE}, or "
                            f"{var} in the environment): {what}")
    return warnings, error


#: options under which Snakemake reads the workflow but submits no job (a report on a laptop, …)
NO_SUBMIT = (
    "dryrun", "lint", "dag", "rulegraph", "filegraph", "d3dag", "summary", "detailed_summary",
    "list_rules", "list_target_rules", "list_changes", "list_untracked", "unlock",
    "cleanup_metadata", "cleanup_shadow", "touch", "print_compilation", "archive",
    "delete_all_output", "delete_temp_output", "containerize", "export_cwl",
    "conda_create_envs_only", "generate_unit_tests",
)  # fmt: skip


def command_line(frame) -> Any:
    """Snakemake's parsed command line, profile included, found in the caller frames from ``frame``
    up (None when run through its Python API): Snakemake picks the executor only after reading
    the Snakefile, so ``workflow`` cannot say yet."""
    while frame is not None:
        args = frame.f_locals.get("args")
        if hasattr(args, "executor") and hasattr(args, "dryrun"):
            return args
        frame = frame.f_back
    return None


def runs_jobs(args) -> bool:
    """Whether this Snakemake invocation may run jobs (not a dry run, lint, graph, unlock, …)."""
    return args is None or not any(getattr(args, a, None) for a in NO_SUBMIT)


def submits(args) -> bool:
    """Whether a run with these options submits jobs (a report alone does not; one after a run does)."""
    if getattr(args, "report_after_run", False):
        return True
    return not (getattr(args, "report", None) or any(getattr(args, a, None) for a in NO_SUBMIT))
