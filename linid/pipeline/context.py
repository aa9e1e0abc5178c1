"""The context of every job: environment variables, git commit, config hash and the rule's log file.

The workflow's main process sets the environment (``job_environment``); every job reads it, so the
tracking store, experiment and journal folder travel without being params (moving the store or
committing code never reruns a finished job).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

ENV_URI = "MLFLOW_TRACKING_URI"
ENV_EXPERIMENT = "LINID_EXPERIMENT"
ENV_CONFIG_HASH = "LINID_CONFIG_HASH"
ENV_GIT = "LINID_GIT_COMMIT"
ENV_PENDING = "LINID_MLFLOW_PENDING"
ENV_DISABLED = "LINID_TRACKING_DISABLED"
ENV_OFFLINE = "LINID_TRACKING_OFFLINE"  # set by the workflow when the store did not answer at start


def sqlite_uri(path: str | Path) -> str:
    """sqlite:////abs/path — an absolute path, so jobs in any working directory hit the same file."""
    return "sqlite:///" + str(Path(path).resolve())


def config_hash(config: dict) -> str:
    """Short SHA-256 of the canonical JSON of the config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def git_commit(cwd: str | Path = ".") -> str:
    """HEAD's commit (with '+dirty' when the tree has changes), or 'unknown' outside a git checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def job_environment(config: dict, basedir: str | Path) -> dict[str, str]:
    """Set the environment every job inherits and return the tracking context.

    The library goes on PYTHONPATH; the MLflow URI, experiment, config hash, git commit and the
    journal folder travel as environment variables, not params, so moving the tracking store or
    committing code never reruns a finished job. Variables already set (e.g. MLFLOW_TRACKING_URI
    from the user, or from the submitting process inside a SLURM job) win.
    """
    env = os.environ
    env["PYTHONPATH"] = os.pathsep.join(
        [str(basedir)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    env.setdefault("MLFLOW_TRACKING_URI", config["tracking"]["uri"] or sqlite_uri("results/mlflow.db"))
    env["LINID_EXPERIMENT"] = config["name"]
    env["LINID_CONFIG_HASH"] = config_hash(config)
    env.setdefault("LINID_GIT_COMMIT", git_commit(str(basedir)))
    env.setdefault("LINID_MLFLOW_PENDING", os.path.abspath("results/.mlflow_pending"))
    # short, bounded HTTP waits: MLflow's own defaults (7 retries with exponential backoff, 120 s
    # timeouts) let an unreachable server hold every job for many minutes; linid retries briefly
    # itself and journals the rest (docs/tracking.md "Tracking design"). The user's values win.
    env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    if not config["tracking"]["enabled"]:
        env["LINID_TRACKING_DISABLED"] = "1"
    return {"uri": env["MLFLOW_TRACKING_URI"], "pending": env["LINID_MLFLOW_PENDING"]}


def setup_logging(log_path: str | Path | None) -> None:
    """Send logging and stderr (warnings, tracebacks) to the rule's log file."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stderr = stream
        handlers = [logging.StreamHandler(stream)]
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    for noisy in ("alembic", "urllib3", "matplotlib", "mlflow.store", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
