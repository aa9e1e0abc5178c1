"""The MLflow store: retried calls, the experiment, superseding reruns, writing journals, linking runs.

Only the workflow's main process and live training runs talk to the store; short jobs write journals
(:mod:`linid.pipeline.tracking`) that ``replay_pending`` sends in one batch.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from linid.pipeline.context import ENV_OFFLINE, ENV_URI

log = logging.getLogger(__name__)
T = TypeVar("T")


def retry(fn: Callable[[], T], *, attempts: int = 8, base: float = 0.2, what: str = "mlflow") -> T:
    """Call ``fn`` with exponential backoff and jitter; re-raise the last error after ``attempts``
    (at once when the disk is full: waiting frees no space)."""
    for k in range(attempts):
        try:
            return fn()
        except Exception as exc:  # sqlite locks, HTTP errors, connection resets
            if k == attempts - 1 or disk_full(exc):
                raise
            delay = min(base * 2**k, 10.0) * (0.5 + random.random())
            log.warning("%s call failed (%s); retry %d/%d in %.1fs", what, error_line(exc), k + 1, attempts, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def disk_full(exc: BaseException) -> bool:
    """Whether a store call failed because the disk is full (SQLite's "database or disk is full",
    an OSError ENOSPC/EDQUOT), looking through the exceptions MLflow wraps it in."""
    import errno

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(seen).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def error_line(exc: BaseException, uri: str | None = None) -> str:
    """One line for a failed store call, never the SQL statement and parameters MLflow's
    SQLAlchemy errors carry (pages of them for a batch); a full disk names the store's file."""
    if disk_full(exc):
        where = uri[len("sqlite:///"):] if uri and uri.startswith("sqlite:///") else (uri or "the store")
        return f"cannot write {where}: the disk is full"
    text = str(exc).split("[SQL:")[0].strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first[:200]}"


class _NoSql(logging.Filter):
    """Drops MLflow's own "SQLAlchemy database error" record (a traceback with the SQL statement
    and every parameter): linid reports the failure in one line (``error_line``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("SQLAlchemy database error")


logging.getLogger("mlflow.store.db.utils").addFilter(_NoSql())


def mlflow_client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def ensure_experiment(uri: str, name: str, attempts: int = 8) -> str:
    """Create the store's schema and the experiment if missing (call once, before parallel jobs)."""

    def go() -> str:
        client = mlflow_client(uri)
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                client.restore_experiment(exp.experiment_id)
            return exp.experiment_id
        try:
            return client.create_experiment(name, artifact_location=artifact_location(uri))
        except Exception:
            exp = client.get_experiment_by_name(name)  # created by a concurrent job
            if exp is None:
                raise
            return exp.experiment_id

    return retry(go, attempts=attempts, what="create experiment")


def try_store(uri: str, name: str, pending: str | Path) -> bool:
    """At workflow start: make sure the store answers, within seconds. If it does not, say once where
    the runs go instead and go on: no job ever waits for the store (docs/tracking.md "Tracking design")."""
    corrupt = corrupt_store(uri)
    if corrupt is None:
        relocate_store(uri)
    if corrupt is None:
        try:
            ensure_experiment(uri, name, attempts=2)
            return True
        except Exception as exc:
            corrupt = corrupt_store(uri, exc)
            why = corrupt or outdated_schema(uri, exc) or f"is unreachable ({error_line(exc, uri)})"
    else:
        why = corrupt
    os.environ[ENV_OFFLINE] = "1"  # the jobs it starts journal at once
    _OFFLINE_WHY[uri] = why
    print(
        f"linid: WARNING: the MLflow store {uri} {why}. Nothing waits for it: every job journals "
        f"its run under {pending}, and {_when_sent(why)} sends them.",
        flush=True,
    )
    return False


#: why try_store found a store unusable (said again by send_pending at the workflow's end)
_OFFLINE_WHY: dict[str, str] = {}
_UPGRADE = "db upgrade"


def _when_sent(why: str) -> str:
    """Which run sends the journals: the next one, or the first after an upgrade of the schema."""
    if _UPGRADE in why:
        return "the first snakemake run after the upgrade"
    return "the next snakemake run (or linid.pipeline.store.replay_pending)"


def outdated_schema(uri: str, exc: BaseException | None) -> str | None:
    """What to do when the store's database schema is older than this MLflow's, else None: MLflow
    refuses it until ``mlflow db upgrade`` (no later run sends anything before that)."""
    text = str(exc or "")
    if "out-of-date database schema" not in text:
        return None
    found = re.search(r"found version (\w+), but expected (\w+)", text)
    versions = f" (version {found[1]}, this MLflow needs {found[2]})" if found else ""
    return (f"has an out-of-date database schema{versions}: back up the database, then run "
            f"`{mlflow_command()} {_UPGRADE} {uri}`")


SQLITE_MAGIC = b"SQLite format 3\x00"


def corrupt_store(uri: str, exc: Exception | None = None) -> str | None:
    """Why a SQLite store's file is corrupt (with what to do), else None: a file that is not a
    SQLite database, or an error SQLite raises on a damaged one, is no network outage."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri[len("sqlite:///"):])
    fix = f"move it aside (mv {path} {path}.corrupt) and rerun: a new store is created"
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return None
    except OSError as err:
        return f"cannot be read ({err.strerror}): check the permissions of {path}"
    if head and head != SQLITE_MAGIC:
        return f"is corrupt: {path} is not a SQLite database; {fix}"
    text = str(exc or "").lower()
    if any(s in text for s in ("malformed", "file is not a database", "not a database")):
        return f"is corrupt ({str(exc).splitlines()[0][:160]}); {fix}"
    return None


def pending_journals(pending: str | Path) -> list[Path]:
    """The journals waiting in ``pending`` (cheap: a directory listing)."""
    folder = Path(pending)
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def send_at_exit(uri: str, pending: str | Path) -> None:
    """Send the journals still waiting when this snakemake process ends, whatever it did: Snakemake
    runs no hook in a "Nothing to be done" run, so journals left by an earlier run (its store
    unreachable or corrupt then) would otherwise wait for a run that has jobs to do."""
    import atexit

    def send() -> None:
        if os.environ.get(ENV_OFFLINE) == "1" or not pending_journals(pending):
            return
        print(send_pending(uri, pending), flush=True)

    atexit.register(send)


def artifact_location(uri: str) -> str | None:
    """Artifacts of a SQLite store live next to it (``<db folder>/mlartifacts``); servers choose their own."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///") :]).parent / "mlartifacts").resolve().as_uri()
    return None


def relocate_store(uri: str) -> None:
    """A moved or copied ``results/``: point its SQLite store's artifact locations at the folders
    next to it. The workflow calls this in its main process on every run, a "Nothing to be done"
    one included (SQLite only, no MLflow import: milliseconds); never raises."""
    if not uri.startswith("sqlite:///"):
        return
    db = Path(uri[len("sqlite:///"):])
    if not db.is_file() or corrupt_store(uri) is not None:
        return
    try:
        relocate_artifacts(db)
    except Exception as exc:
        log.warning("could not update the artifact locations of %s (%s)", uri, exc)


#: the artifact folders of a SQLite store: linid's experiments keep theirs in ``mlartifacts/`` next
#: to the database; MLflow's Default experiment (id 0) gets ``mlruns/`` in the folder it was
#: created from
ARTIFACT_FOLDERS = ("mlartifacts", "mlruns")


def _moved(location: str, folder: Path) -> str | None:
    """``location`` (a ``file://`` URI or an absolute path) ending in ``mlartifacts`` or ``mlruns``
    (or ``mlruns/<experiment id>``, MLflow's Default experiment) moved below ``folder``; None when
    it is something else or already there."""
    uri = location.startswith("file://")
    path = location[len("file://"):] if uri else location
    if not path.startswith("/"):
        return None
    parts = Path(path).parts
    for i in range(len(parts) - 1, max(len(parts) - 3, 0), -1):
        if parts[i] in ARTIFACT_FOLDERS and all(p.isdigit() for p in parts[i + 1:]):
            moved = folder.joinpath(*parts[i:])
            new = moved.as_uri() if uri else str(moved)
            return None if new == location.rstrip("/") else new
    return None


def relocate_artifacts(db: str | Path) -> int:
    """Point a SQLite store's artifact locations at the folders next to it again.

    MLflow stores every artifact location as an absolute ``file://`` URI (a relative one is made
    absolute when the experiment is created), so after ``mv results results2`` or ``cp -r results
    elsewhere`` the UI and the client look for artifacts in the old place (a copy: silently the
    original's files). This rewrites the experiments' and runs' locations (and logged models')
    whose folder is ``mlartifacts`` or ``mlruns[/<id>]`` (:data:`ARTIFACT_FOLDERS`: linid's
    experiments and MLflow's Default one) to that folder next to the database; returns how many
    rows changed.
    Command line: ``python -m linid.pipeline.store relocate DB``.
    """
    import sqlite3

    db = Path(db).resolve()
    con = sqlite3.connect(db, timeout=30)
    try:
        with con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "experiments" not in tables:
                return 0
            moves = {}
            for (loc,) in con.execute("SELECT DISTINCT artifact_location FROM experiments"):
                if (new := _moved(loc or "", db.parent)) is not None:
                    moves[loc] = new
            n = 0
            for old, new in moves.items():
                n += con.execute("UPDATE experiments SET artifact_location = ? WHERE artifact_location = ?",
                                 (new, old)).rowcount
                base = old.rstrip("/")
                for table, column in (("runs", "artifact_uri"), ("logged_models", "artifact_location")):
                    if table in tables:
                        n += con.execute(
                            f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                            f"WHERE substr({column}, 1, ?) = ?",
                            (new, len(base) + 1, len(base) + 1, base + "/"),
                        ).rowcount
            return n
    finally:
        con.close()


UI = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class RunsView:
    """What the end-of-run link opens in the MLflow UI: one experiment's runs of one rule, sorted,
    with the columns that tell a person each model's cell, seed and score without a click.

    MLflow 3.17 keeps the table's columns in the browser (localStorage), never in the URL; what a
    link can carry is a *shared view* (the UI's "Share" button): the experiment tag
    ``mlflow.sharedViewState.<key>`` holds the search, the sort and the columns with their order
    and widths, and ``…/runs?viewStateShareKey=<key>`` opens it for anyone.
    """

    key: str  # the share key (experiment tag ``mlflow.sharedViewState.<key>``)
    what: str  # what the link's line says it shows
    rule: str
    sort: str  # a metric
    descending: bool
    columns: tuple[tuple[str, int], ...]  # (MLflow column key, width in px), left to right

    def state(self) -> dict:
        """The shared view, as the MLflow UI reads it (searchFacets and uiState in one object)."""
        cols = [key for key, _ in self.columns]
        return {
            "searchFilter": f"tags.`linid.rule` = '{self.rule}'",
            "orderByKey": f"metrics.`{self.sort}`",
            "orderByAsc": not self.descending,
            "selectedColumns": cols,
            "columnOrder": cols,  # the UI applies widths only to the columns named here
            "columnWidths": {key: width for key, width in self.columns},
        }


def _tag(name: str) -> str:
    return f"tags.`linid.wc.{name}`"


#: the views the workflow's end-of-run links open: the simulation's trained models (cell = dataset
#: id, method and head; the probe's R²_a copied onto each training run by probes_onto_training) and
#: the text experiment's replicas (cell, seed, held-out nats); a metric's column fits a float's
#: full repr (~19 characters)
VIEWS = {
    "simulation": RunsView(
        "linid-trained-models", "the trained models, best R²_a first", "train", "probe.r2_affine", True,
        ((_tag("data"), 320), (_tag("method"), 110), (_tag("seed"), 100),
         ("metrics.`probe.r2_affine`", 190), (_tag("head"), 90)),
    ),
    "text": RunsView(
        "linid-text-models", "the trained text models, lowest held-out nats first", "text_train",
        "heldout_nll", False,
        ((_tag("tcell"), 260), (_tag("seed"), 100), ("metrics.`heldout_nll`", 190),
         ("metrics.`heldout_nll_untrained`", 220)),
    ),
}
SHARED_VIEW_TAG = "mlflow.sharedViewState."


def mlflow_command(cwd: str | Path = ".") -> str:
    """How to call MLflow's command line from ``cwd``: the ``mlflow`` next to this Python (the
    project's ``.venv/bin/mlflow``), relative to ``cwd`` when it lies below it."""
    exe = Path(sys.executable).parent / "mlflow"
    if not exe.is_file():
        return "mlflow"
    here = Path(cwd).absolute()
    return str(exe.relative_to(here)) if exe.is_relative_to(here) else str(exe)


def runs_table_link(uri: str, experiment: str, cwd: str | Path = ".", view: str = "simulation") -> str:
    """One line: where to see every trained model with its cell, seed and score (the MLflow UI's
    runs table of the experiment through the shared view ``VIEWS[view]``, written here as an
    experiment tag), and for a SQLite store the command that starts the UI."""
    if os.environ.get(ENV_OFFLINE) == "1":
        return ""
    v = VIEWS[view]
    try:
        client = mlflow_client(uri)
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            return ""
        client.set_experiment_tag(exp.experiment_id, SHARED_VIEW_TAG + v.key, json.dumps(v.state()))
    except Exception:  # a tracking problem never fails the workflow (send_pending said it already)
        return ""
    page = f"#/experiments/{exp.experiment_id}/runs?viewStateShareKey={v.key}"
    if uri.startswith(("http://", "https://")):
        return f"linid: {v.what}: {uri.rstrip('/')}/{page}"
    store = uri
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if path.is_absolute() and path.is_relative_to(Path(cwd).resolve()):
            store = "sqlite:///" + str(path.relative_to(Path(cwd).resolve()))
    return (f"linid: {v.what}: start the UI with `{mlflow_command(cwd)} ui --backend-store-uri "
            f"{store} --workers 1`, then open {UI}/{page}")


def supersede(uri: str, experiment: str, tags: dict[str, str], keep_run_id: str) -> int:
    """Tag and soft-delete the older runs of the same job; returns how many were superseded.

    The same job: the same project (``linid.project``) and rule and wildcards (``linid.job_key``),
    so checkouts that share a server never delete each other's runs. Older: started before the
    kept run (or in the same millisecond), so of two runs of one job that finish together the newer
    one stays live, whichever finishes last; a run already superseded supersedes nothing, so one
    always stays. Runs of another project, and runs without a project tag (linid before it had
    one) when this one has one, are left alone.
    """
    client = mlflow_client(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return 0
    keep = client.get_run(keep_run_id).info
    if keep.lifecycle_stage == "deleted":
        return 0
    key = tags["linid.job_key"].replace("'", "\\'")
    old = client.search_runs([exp.experiment_id], filter_string=f"tags.`linid.job_key` = '{key}'", max_results=1000)
    n = 0
    for run in old:
        if (run.info.run_id == keep_run_id or run.data.tags.get("linid.project") != tags.get("linid.project")
                or run.info.start_time > keep.start_time):
            continue
        client.set_tag(run.info.run_id, "linid.superseded_by", keep_run_id)
        client.delete_run(run.info.run_id)
        n += 1
    return n


def replay_pending(pending_dir: str | Path, uri: str | None = None) -> int:
    """Write the journals under ``pending_dir`` to the store (oldest first), then link upstream runs.

    Returns how many journals were written. A journal is deleted only after its run is complete.
    """

    pending = Path(pending_dir)
    paths = sorted(pending.glob("*.json"), key=lambda p: float(p.name.split("-")[0]))
    experiments: set[tuple[str, str]] = set()
    n = 0
    for path in paths:
        try:
            j = json.loads(path.read_text())
        except ValueError as exc:  # a truncated journal: keep it aside, never block the others
            _reject(path, f"unreadable ({exc})")
            continue
        target = uri or os.environ.get(ENV_URI) or j["uri"]
        client = mlflow_client(target)
        exp_id = retry(lambda: ensure_experiment(target, j["experiment"], attempts=1))
        # the job's own start and end times (journals written before they carried them: now)
        run_id = retry(lambda: client.create_run(exp_id, start_time=j.get("start_time"), tags=j["tags"]).info.run_id)
        try:
            _write_run(client, run_id, j)
        except Exception as exc:
            if not _rejected_by_store(exc):
                raise  # the store went away: the journal stays and is sent next time
            client.set_terminated(run_id, "FAILED")
            client.delete_run(run_id)
            _reject(path, f"refused by the store ({exc})")
            continue
        retry(lambda: client.set_terminated(run_id, j["status"], end_time=j.get("end_time")))
        newer = ""  # a newer run of the job superseded the live part of this one meanwhile
        if j.get("partial_run_id"):
            try:
                newer = client.get_run(j["partial_run_id"]).data.tags.get("linid.superseded_by", "")
                client.delete_run(j["partial_run_id"])
            except Exception:
                pass
        if newer:  # kept (restorable), not live: the newer run stays the job's one live run
            client.set_tag(run_id, "linid.superseded_by", newer)
            client.delete_run(run_id)
        elif j["status"] == "FINISHED":
            retry(lambda: supersede(target, j["experiment"], j["tags"], run_id))
        experiments.add((target, j["experiment"]))
        path.unlink()
        n += 1
    for target, name in experiments:
        retry(lambda: link_upstream(target, name))
        retry(lambda: probes_onto_training(target, name))
    return n


def _write_run(client, run_id: str, j: dict) -> None:
    """A journal's params, metrics and artifacts onto ``run_id``."""
    from mlflow.entities import Metric, Param

    params = [Param(k, v) for k, v in j["params"].items()]
    for i in range(0, len(params), 100):
        retry(lambda c=params[i : i + 100]: client.log_batch(run_id, params=c), attempts=3)
    metrics = [Metric(k, v, ts, s) for k, v, ts, s in j["metrics"]]
    for i in range(0, len(metrics), 1000):
        retry(lambda c=metrics[i : i + 1000]: client.log_batch(run_id, metrics=c), attempts=3)
    for art in j["artifacts"]:
        if Path(art).exists():
            retry(lambda a=art: client.log_artifact(run_id, a))


def _rejected_by_store(exc: Exception) -> bool:
    """True when the store answered and refused the data (retrying cannot help)."""
    code = getattr(exc, "error_code", "")
    return code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "RESOURCE_ALREADY_EXISTS")


def _reject(path: Path, why: str) -> None:
    """Move a journal the store will never take to ``<pending>/rejected/`` (kept for inspection)."""
    dest = path.parent / "rejected" / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, dest)
    log.error("MLflow journal %s %s; moved to %s so that the other journals are sent", path.name, why, dest)


def send_pending(uri: str, pending: str | Path) -> str:
    """At workflow end: send the journals (never raising), or say where they wait; one line."""
    if os.environ.get(ENV_OFFLINE) == "1":
        why = _OFFLINE_WHY.get(uri, "was unreachable")
        return f"linid: the MLflow store {why}; the runs wait in {pending} and {_when_sent(why)} sends them"
    try:
        return f"linid: wrote {replay_pending(pending)} job run(s) to MLflow at {uri}"
    except Exception as exc:  # a tracking problem never fails the workflow
        why = corrupt_store(uri, exc) or outdated_schema(uri, exc) or error_line(exc, uri)
        return (f"linid: WARNING: could not send the journals in {pending} to {uri} (the store "
                f"{why}); {_when_sent(why)} sends them")


def link_upstream(uri: str, experiment: str) -> int:
    """Set ``linid.upstream_run_ids`` on runs whose upstream uids are not yet resolved to run ids."""
    client = mlflow_client(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return 0
    runs = client.search_runs([exp.experiment_id], max_results=50000)
    by_uid = {r.data.tags.get("linid.job_uid"): r.info.run_id for r in runs}
    n = 0
    for r in runs:
        uids = [u for u in r.data.tags.get("linid.upstream_uids", "").split(",") if u]
        if not uids or r.data.tags.get("linid.upstream_run_ids"):
            continue
        ids = [by_uid.get(u, "") for u in uids]
        if all(ids):
            client.set_tag(r.info.run_id, "linid.upstream_run_ids", ",".join(ids))
            n += 1
    return n


PROBE_PREFIX = "probe."


def probes_onto_training(uri: str, experiment: str) -> int:
    """Copy each model's final probe metrics onto its training run, as ``probe.<metric>``.

    The training run already carries the cell's parameters (``params.dgp.*``, ``params.train.*``),
    so the MLflow UI's table of ``train`` runs can be sorted by ``metrics.probe.r2_affine`` next to
    them: one table, one row per trained model. The chain is walked through the resolved upstream
    links (probe → extract_features → train); a rerun probe replaces the copied values and the tag
    ``linid.probe_run_id`` names the probe run they came from. Returns how many runs were updated.
    """
    import time as _time

    from mlflow.entities import Metric, RunTag

    client = mlflow_client(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return 0
    runs = client.search_runs([exp.experiment_id], max_results=50000)
    by_id = {r.info.run_id: r for r in runs}

    def upstream(run, rule: str):
        ids = [i for i in run.data.tags.get("linid.upstream_run_ids", "").split(",") if i]
        found = [by_id[i] for i in ids if i in by_id and by_id[i].data.tags.get("linid.rule") == rule]
        return found[0] if len(found) == 1 else None

    n = 0
    for probe in runs:
        if probe.data.tags.get("linid.rule") != "probe" or probe.info.status != "FINISHED":
            continue
        features = upstream(probe, "extract_features")
        train = upstream(features, "train") if features is not None else None
        if train is None or train.data.tags.get("linid.probe_run_id") == probe.info.run_id:
            continue
        now = int(_time.time() * 1000)
        metrics = [Metric(PROBE_PREFIX + k, v, now, 0) for k, v in sorted(probe.data.metrics.items())]
        tags = [RunTag("linid.probe_run_id", probe.info.run_id)]
        for i in range(0, max(len(metrics), 1), 1000):
            client.log_batch(train.info.run_id, metrics=metrics[i : i + 1000], tags=tags if i == 0 else [])
        n += 1
    return n


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m linid.pipeline.store")
    sub = parser.add_subparsers(dest="command", required=True)
    move = sub.add_parser("relocate", help="after moving results/: point the artifact locations of "
                          "the SQLite store DB at the mlartifacts/ folder next to it")
    move.add_argument("db", help="the store's file, e.g. results2/mlflow.db")
    args = parser.parse_args()
    if not Path(args.db).is_file():
        parser.error(f"no such file: {args.db}")
    print(f"linid: {relocate_artifacts(args.db)} artifact location(s) now under "
          f"{Path(args.db).resolve().parent}")
