"""MLflow tracking for pipeline jobs: one run per job, tagged so a figure can be walked back to training.

Design (docs/tracking.md "Tracking design"): every job writes its numbers to its own output files first; MLflow is
a mirror. Two modes per job:

* live (training): the run is opened at job start and metrics stream to the store while the job
  runs (live curves). Calls are retried with backoff (SQLite "database is locked", a restarting
  server) and metrics are buffered and sent in batches.
* journal (short jobs: datasets, features, probes, tables, figures): the job writes its run
  (params, tags, metrics, artifacts) as a JSON journal under ``<pending_dir>/`` without importing
  MLflow, and the workflow's main process writes all journals to the store in one batch
  (``replay_pending``, on success and on error). This saves ~4 s of MLflow start-up per job and
  keeps a single writer on SQLite.

A live run whose store is unreachable at the end falls back to a journal too, so a tracking outage
never fails a training job or loses a metric. Every run carries a locally generated
``linid.job_uid``; downstream jobs name their upstream uids, resolved to MLflow run ids
(``linid.upstream_run_ids``) when the journals are written.

A rerun of the same job (same project, ``linid.project``, and same rule and wildcards, ``linid.job_key``)
supersedes the runs of that job that started before it: they are tagged ``linid.superseded_by`` and
moved to MLflow's "deleted" lifecycle stage (hidden in the UI, restorable), so the UI shows one live
run per job. Runs of other projects sharing the server, and newer runs, are never touched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from linid.core.io import atomic_json
from linid.pipeline.context import (
    ENV_CONFIG_HASH,
    ENV_DISABLED,
    ENV_EXPERIMENT,
    ENV_GIT,
    ENV_OFFLINE,
    ENV_PENDING,
    ENV_URI,
    git_commit,
    job_project,
    sqlite_uri,
)
from linid.pipeline.store import ensure_experiment, error_line, mlflow_client, retry, supersede

log = logging.getLogger(__name__)


def job_tags(rule: str, wildcards: dict[str, str], upstream: list[str] | None = None) -> dict[str, str]:
    """The tags every job carries: rule, wildcards, job key, project, config hash, git commit, host,
    SLURM id. A job's identity is its project (``linid.project``) and its ``linid.job_key``."""
    key = rule + ":" + ",".join(f"{k}={v}" for k, v in sorted(wildcards.items()))
    tags = {
        "linid.rule": rule,
        "linid.wildcards": json.dumps(wildcards, sort_keys=True),
        "linid.job_key": key,
        "linid.project": job_project(),
        "linid.config_hash": os.environ.get(ENV_CONFIG_HASH, "unknown"),
        "linid.git_commit": os.environ.get(ENV_GIT) or git_commit(),
        "linid.host": socket.gethostname(),
        "linid.upstream_uids": ",".join(u for u in (upstream or []) if u),
        "mlflow.runName": run_name(rule, wildcards),
    }
    for var in ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "CUDA_VISIBLE_DEVICES"):
        if os.environ.get(var):
            tags[f"linid.{var.lower()}"] = os.environ[var]
    for k, v in wildcards.items():
        tags[f"linid.wc.{k}"] = str(v)
    return tags


#: wildcards in the order a run's name shows them: the short ones that tell a cell's models apart
#: (seed, method) first, then the cell, then the rest; the MLflow UI's run table shows only the first
#: ~18 characters of a name
NAME_ORDER = ("seed", "M", "method", "model", "data", "fdata", "dataset", "bmodel", "bmodel_a",
              "bmodel_b", "head")


def run_name(rule: str, wildcards: dict[str, str]) -> str:
    """The run's name in the MLflow UI: what tells runs apart first, the rule last, e.g.
    ``seed1 diet d2_C100_N1000_k10_vmf_uniform_p0_s0 free · train`` (before, every run of a rule
    started with the same ``train:data=d2_C…``, and the UI cut the rest)."""
    keys = [k for k in NAME_ORDER if k in wildcards] + sorted(set(wildcards) - set(NAME_ORDER))
    parts = [f"{k}{wildcards[k]}" if k in ("seed", "M") else str(wildcards[k]) for k in keys]
    return " ".join(parts + ["·", rule]) if parts else rule


_NAME_OK = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_name(name: str) -> str:
    """A metric or param key MLflow accepts: other characters (``=``, ``,``, ``(``…, which factor
    and layer names brought by users may hold) become ``_``, and a name so changed gets a short
    hash of the original, so that two names never share one key (``enc=1`` and ``enc_1`` would
    both be ``enc_1``: one metric history holding two layers' values)."""
    name = str(name)
    clean = _NAME_OK.sub("_", name)
    if clean == name:
        return name
    return f"{clean}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        key = metric_name(f"{prefix}{k}")
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)[:6000]
    return out


class JobRun:
    """One MLflow run for one pipeline job; a context manager that never loses what was logged.

    ``with JobRun(rule, wildcards, params, upstream=[...]) as run: run.log_metrics({...}, step)``.
    """

    def __init__(
        self,
        rule: str,
        wildcards: dict[str, str],
        params: dict[str, Any] | None = None,
        *,
        upstream: list[str] | None = None,
        uri: str | None = None,
        experiment: str | None = None,
        pending_dir: str | Path | None = None,
        flush_seconds: float | None = None,
        live: bool = False,
    ):
        self.uri = uri or os.environ.get(ENV_URI) or sqlite_uri("results/mlflow.db")
        self.experiment = experiment or os.environ.get(ENV_EXPERIMENT, "linid")
        self.pending_dir = Path(pending_dir or os.environ.get(ENV_PENDING, "results/.mlflow_pending"))
        self.disabled = os.environ.get(ENV_DISABLED) == "1"
        self.uid = uuid.uuid4().hex
        self.tags = job_tags(rule, wildcards, upstream)
        self.tags["linid.job_uid"] = self.uid
        self.params = _flatten(params or {})
        # metrics of a live run are sent in batches at most this often (env: tests stress the store)
        self.flush_seconds = (
            flush_seconds
            if flush_seconds is not None
            else float(os.environ.get("LINID_MLFLOW_FLUSH_SECONDS", "10"))
        )
        self.live = live
        self.run_id: str = ""
        self._buffer: list[tuple[str, float, int, int]] = []
        self._journal_metrics: list[tuple[str, float, int, int]] = []
        self._artifacts: list[str] = []
        self._last_flush = time.monotonic()
        self._online = False
        self._start_ms = int(time.time() * 1000)  # the job's own times, kept for its journal

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> JobRun:
        if self.disabled or not self.live:
            return self
        if os.environ.get(ENV_OFFLINE) == "1":  # the workflow found the store unreachable
            return self
        try:
            self._start(attempts=2)
            self._online = True
        except Exception as exc:
            log.error("MLflow store %s unreachable at job start (%s); journaling the run", self.uri,
                      error_line(exc, self.uri))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        status = "FINISHED" if exc_type is None else "FAILED"
        if self.disabled:
            return
        if exc_type is not None:
            self.tags["linid.error"] = f"{exc_type.__name__}: {exc}"[:5000]
        if not self.live:
            self._write_journal(status)
            return
        if not self._online:  # never reached, or lost mid-run: the journal carries everything
            self._write_journal(status)
            return
        try:
            self._flush(attempts=3)
            self._finish(status)
        except Exception as exc2:
            log.error("MLflow store unreachable at job end (%s); writing a pending journal",
                      error_line(exc2, self.uri))
            self._write_journal(status)

    def _start(self, attempts: int = 8) -> None:
        from mlflow.entities import Param, RunTag

        def go() -> str:
            client = mlflow_client(self.uri)
            exp_id = ensure_experiment(self.uri, self.experiment, attempts=1)
            run = client.create_run(exp_id, tags=self.tags)
            return run.info.run_id

        self.run_id = retry(go, attempts=attempts, what="create run")
        params = [Param(k, v) for k, v in self.params.items()]
        tags = [RunTag(k, v) for k, v in self.tags.items()]
        for i in range(0, max(len(params), 1), 100):
            chunk = params[i : i + 100]
            retry(lambda c=chunk: mlflow_client(self.uri).log_batch(self.run_id, params=c, tags=tags if i == 0 else []),
                  attempts=attempts)

    def _finish(self, status: str) -> None:
        client = mlflow_client(self.uri)
        if self.tags.get("linid.error"):
            retry(lambda: client.set_tag(self.run_id, "linid.error", self.tags["linid.error"]))
        for path in self._artifacts:
            retry(lambda p=path: client.log_artifact(self.run_id, p), what="log artifact")
        retry(lambda: client.set_terminated(self.run_id, status))
        if status == "FINISHED":
            retry(lambda: supersede(self.uri, self.experiment, self.tags, self.run_id))

    # -- logging -----------------------------------------------------------------------------
    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        """Buffer metrics (NaN allowed); they are sent every ``flush_seconds`` and at the end."""
        ts = int(time.time() * 1000)
        for k, v in metrics.items():
            if v is None:
                continue
            row = (metric_name(k), float(v), ts, int(step))
            self._buffer.append(row)
            self._journal_metrics.append(row)
        if self._online and time.monotonic() - self._last_flush > self.flush_seconds:
            try:
                self._flush(attempts=1)
            except Exception as exc:  # training never waits on the store again: journal the rest
                self._online = False
                log.warning("MLflow flush failed (%s); this run goes on offline and its journal is "
                            "written when the job ends", error_line(exc, self.uri))

    def log_artifact(self, path: str | Path) -> None:
        """Attach a file (figure, table, small JSON) to the run when it ends."""
        self._artifacts.append(str(path))

    def set_tag(self, key: str, value: str) -> None:
        self.tags[key] = str(value)
        if self._online:
            try:
                retry(lambda: mlflow_client(self.uri).set_tag(self.run_id, key, str(value)), attempts=1)
            except Exception as exc:
                self._online = False
                log.warning("MLflow set_tag failed (%s); this run goes on offline (journal at the end)",
                            error_line(exc, self.uri))

    def _flush(self, attempts: int) -> None:
        from mlflow.entities import Metric

        while self._buffer:
            chunk = self._buffer[:1000]
            metrics = [Metric(k, v, ts, s) for k, v, ts, s in chunk]
            retry(lambda: mlflow_client(self.uri).log_batch(self.run_id, metrics=metrics), attempts=attempts)
            del self._buffer[: len(chunk)]
        self._last_flush = time.monotonic()

    def _write_journal(self, status: str) -> None:
        key = hashlib.sha1(self.tags["linid.job_key"].encode()).hexdigest()[:16]
        path = self.pending_dir / f"{time.time():.6f}-{key}.json"
        try:
            self._dump_journal(path, status)
        except OSError as exc:  # results/ unwritable or full: the job's own error (if any) goes on
            log.error("MLflow journal %s cannot be written (%s); this run is not tracked", path, exc)

    def _dump_journal(self, path: Path, status: str) -> None:
        atomic_json(
            path,
            {
                "uri": self.uri,
                "experiment": self.experiment,
                "tags": self.tags,
                "params": self.params,
                "metrics": self._journal_metrics,
                "artifacts": self._artifacts,
                "status": status,
                "start_time": self._start_ms,
                "end_time": int(time.time() * 1000),
                "partial_run_id": self.run_id,
            },
        )
        if self.live:
            log.error("MLflow journal written to %s (sent by the workflow's main process)", path)


def job_run(
    rule: str,
    wildcards: dict[str, Any],
    params: dict[str, Any],
    upstream: list[str] | None = None,
    live: bool = False,
) -> JobRun:
    """The MLflow run of one job; ``live`` streams while it runs (training), else a journal."""
    return JobRun(rule, {k: str(v) for k, v in wildcards.items()}, params, upstream=upstream, live=live)
