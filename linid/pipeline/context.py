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
import threading
from pathlib import Path

ENV_URI = "MLFLOW_TRACKING_URI"
ENV_EXPERIMENT = "LINID_EXPERIMENT"
ENV_CONFIG_HASH = "LINID_CONFIG_HASH"
ENV_GIT = "LINID_GIT_COMMIT"
ENV_PENDING = "LINID_MLFLOW_PENDING"
ENV_DISABLED = "LINID_TRACKING_DISABLED"
ENV_OFFLINE = "LINID_TRACKING_OFFLINE"  # set by the workflow when the store did not answer at start
ENV_PARENT = "LINID_WORKFLOW_PROCESS"  # host:pid:start of the workflow's main process (jobs watch it)
ENV_PROJECT = "LINID_PROJECT"  # this project's id (project_id): part of every job's identity in MLflow
PROJECT_FILE = "results/.linid_project"


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


def project_id(path: str | Path = PROJECT_FILE) -> str:
    """This project's id: a random id generated once and kept in ``results/.linid_project``.

    A job's identity in MLflow is its project plus its rule and wildcards, so two checkouts that
    share one tracking server never supersede each other's runs. The id lives in ``results/``
    (not the checkout's path), so it moves with the results and their SQLite store; a *copy* of
    ``results/`` keeps it: delete the copy's file to make the copy a project of its own. Concurrent
    first calls agree (the first hard link wins).
    """
    path = Path(path)
    try:
        if found := path.read_text().strip():
            return found
    except FileNotFoundError:
        pass
    import uuid

    new = uuid.uuid4().hex[:16]
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{new}.tmp")  # unique per process and thread
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(new + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text().strip()
    except OSError:  # results/ not writable (its jobs will say so): the folder's path stands in
        return "path-" + hashlib.sha1(str(path.parent.absolute()).encode()).hexdigest()[:11]


def job_project() -> str:
    """A job's project: inherited from the workflow's main process, else (a cluster job whose
    environment did not travel) read from ``results/.linid_project``; never created here."""
    if found := os.environ.get(ENV_PROJECT):
        return found
    try:
        return Path(PROJECT_FILE).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def set_project() -> str:
    """In the workflow's main process, when it may run jobs: the project id every job inherits
    (made on the first run, so a dry run or a refused config writes nothing)."""
    return os.environ.setdefault(ENV_PROJECT, project_id())


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


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (field 22 of /proc/PID/stat), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        # Linux: the process is gone; elsewhere (no /proc) ask the process itself
        return None if Path("/proc/self/stat").exists() else _alive_token(pid)
    return stat.rsplit(")", 1)[1].split()[19]


def _alive_token(pid: int) -> str | None:
    """Without /proc: "alive" while a signal 0 reaches ``pid``."""
    try:
        os.kill(pid, 0)
        return "alive"
    except ProcessLookupError:
        return None
    except PermissionError:
        return "alive"


def workflow_process() -> str:
    """This process as the workflow's main process, for its jobs to watch: host:pid:start."""
    import socket

    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or 'alive'}"


def mark_workflow_process() -> None:
    """Called by the workflow's main process when it reads the Snakefile: its jobs watch it."""
    os.environ[ENV_PARENT] = workflow_process()


def workflow_alive(token: str) -> bool:
    """Whether the process ``token`` (:func:`workflow_process`) still runs; True when it runs on
    another host (a cluster job cannot see the submitting process) or the token is malformed."""
    import socket

    try:
        host, pid, start = token.rsplit(":", 2)
        pid_i = int(pid)
    except ValueError:
        return True
    if host != socket.gethostname():
        return True
    return _start_time(pid_i) == start


def watch_workflow(interval: float = 2.0, grace: float = 120.0) -> threading.Thread | None:
    """Stop this job when the workflow that started it is gone (SIGKILL of ``snakemake``).

    Snakemake runs a job as ``bash -c 'python script'``; a killed workflow leaves it running, and a
    training job would finish, delete its checkpoint and write outputs that Snakemake then calls
    incomplete, so the rerun trains again from step 0. Here a daemon thread polls the workflow's
    process: once it is gone the job gets SIGTERM (training saves its checkpoint and stops, see
    linid.runtime.stop_on_signals), and exits after ``grace`` seconds if it has not stopped.
    """
    token = os.environ.get(ENV_PARENT)
    if not token or not workflow_alive(token):
        return None

    def watch() -> None:
        import signal
        import time

        while workflow_alive(token):
            time.sleep(interval)
        print(f"linid: the workflow's process ({token}) is gone; stopping this job (its checkpoint is "
              "kept, the next snakemake run resumes it)", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    thread = threading.Thread(target=watch, name="linid-watch-workflow", daemon=True)
    thread.start()
    return thread


class _LogStream:
    """The rule's log file as stderr; when it can no longer be written (results/ made read-only,
    a full disk) one line naming it goes to the job's original stderr, and so does the rest."""

    def __init__(self, path: Path, fallback):
        self.path, self.fallback = path, fallback
        self.stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        self.lost = False

    def _lose(self, err: OSError) -> None:
        self.lost = True
        try:  # drop what it still buffers: nothing is flushed into it again, not even at exit
            self.stream.close()
        except OSError:
            pass
        self.fallback.write(f"linid: cannot write the log file {self.path} ({err.strerror or err}); "
                            "the job's messages follow here\n")

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                return self.stream.write(text)
            except OSError as err:
                self._lose(err)
        return self.fallback.write(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self.stream.flush()
                return
            except OSError as err:
                self._lose(err)
        try:
            self.fallback.flush()
        except OSError:
            pass

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _one_line_os_errors(exc_type, exc, tb, default=sys.excepthook) -> None:
    """A file the job cannot write or read (results/ made read-only, a full disk) ends the job with
    one line naming the path, after the traceback (in the log file while it can be written)."""
    import errno

    if isinstance(exc, OSError) and exc.filename:
        try:
            default(exc_type, exc, tb)
        except Exception:
            pass
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        hint = {errno.EACCES: " (is results/ writable?)", errno.EPERM: " (is results/ writable?)",
                errno.EROFS: " (a read-only file system)"}.get(exc.errno, " (is the disk full?)" if full else "")
        sys.__stderr__.write(f"linid: cannot access {exc.filename}: {exc.strerror}{hint}\n")
        sys.__stderr__.flush()
        return
    default(exc_type, exc, tb)


def setup_logging(log_path: str | Path | None) -> None:
    """Send logging and stderr (warnings, tracebacks) to the rule's log file; watch the workflow's
    process (:func:`watch_workflow`)."""
    watch_workflow()
    sys.excepthook = _one_line_os_errors
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        stream = _LogStream(Path(log_path), sys.__stderr__)
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
