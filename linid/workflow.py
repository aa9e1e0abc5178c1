"""Helpers for the Snakefile that are plain Python (so they can be unit-tested)."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path


def source_fingerprint(path: str | Path) -> str:
    """Hash of a module's syntax tree: comment and formatting edits do not change it, code edits do."""
    tree = ast.parse(Path(path).read_text())
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()[:12]


def code_hash(root: str | Path, *modules: str) -> str:
    """Combined fingerprint of ``linid.<module>`` sources, passed to a rule as a tracked param."""
    h = hashlib.sha256()
    for m in modules:
        h.update(m.encode())
        h.update(source_fingerprint(Path(root) / "linid" / f"{m}.py").encode())
    return h.hexdigest()[:12]


def job_environment(config: dict, basedir: str | Path) -> dict[str, str]:
    """Set the environment every job inherits and return the tracking context.

    The library goes on PYTHONPATH; the MLflow URI, experiment, config hash, git commit and the
    journal folder travel as environment variables, not params, so moving the tracking store or
    committing code never reruns a finished job. Variables already set (e.g. MLFLOW_TRACKING_URI
    from the user, or from the submitting process inside a SLURM job) win.
    """
    import os

    from linid.tracking import config_hash, git_commit, sqlite_uri

    env = os.environ
    env["PYTHONPATH"] = os.pathsep.join(
        [str(basedir)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.setdefault("MLFLOW_TRACKING_URI", config["tracking"]["uri"] or sqlite_uri("results/mlflow.db"))
    env["LINID_EXPERIMENT"] = config["name"]
    env["LINID_CONFIG_HASH"] = config_hash(config)
    env.setdefault("LINID_GIT_COMMIT", git_commit(str(basedir)))
    env.setdefault("LINID_MLFLOW_PENDING", os.path.abspath("results/.mlflow_pending"))
    if not config["tracking"]["enabled"]:
        env["LINID_TRACKING_DISABLED"] = "1"
    return {"uri": env["MLFLOW_TRACKING_URI"], "pending": env["LINID_MLFLOW_PENDING"]}
