"""Glue shared by the rule scripts: logging to the rule's log file and the job's MLflow run.

Scripts pass plain values taken from the ``snakemake`` object; this module never imports Snakemake.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from linid.tracking import JobRun


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


def job_run(
    rule: str,
    wildcards: dict[str, Any],
    params: dict[str, Any],
    upstream: list[str] | None = None,
    live: bool = False,
) -> JobRun:
    """The MLflow run of one job (see ``linid.tracking.JobRun``); ``live`` streams while it runs."""
    wc = {k: str(v) for k, v in wildcards.items()}
    return JobRun(rule, wc, params, upstream=upstream, live=live)


def wildcards_dict(wildcards: Any) -> dict[str, str]:
    """Snakemake's Wildcards object (or a dict) as a plain dict."""
    if isinstance(wildcards, dict):
        return {k: str(v) for k, v in wildcards.items()}
    return {k: str(v) for k, v in wildcards.items()} if hasattr(wildcards, "items") else {}
