"""The job context: environment set once for every job, git commit, config hash, the rule's log file."""

import logging
import os
import subprocess
import sys

from linid.pipeline.context import config_hash, git_commit, job_environment, setup_logging


def test_config_hash_is_canonical():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert len(config_hash({})) == 12


def test_git_commit_marks_dirty_trees(tmp_path):
    assert git_commit(tmp_path) == "unknown"  # not a checkout
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x")
    (tmp_path / "f").write_text("1")
    run("add", "f")
    sha = git_commit(tmp_path)
    assert len(sha.split("+")[0]) == 40 and sha.endswith("+dirty")


def test_job_environment_sets_tracking_context_without_overriding_the_user(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    # job_environment writes os.environ: give it a copy, so nothing leaks into later tests
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINID_", "MLFLOW_"))}
    monkeypatch.setattr(os, "environ", {**env, "PYTHONPATH": "/elsewhere"})
    cfg = {"name": "demo", "tracking": {"uri": "", "enabled": False}}
    ctx = job_environment(cfg, "/repo")
    assert ctx["uri"] == "sqlite:///" + str(tmp_path / "results" / "mlflow.db")
    assert os.environ["PYTHONPATH"].split(os.pathsep) == ["/repo", "/elsewhere"]
    assert os.environ["LINID_EXPERIMENT"] == "demo" and os.environ["LINID_TRACKING_DISABLED"] == "1"
    assert os.environ["LINID_CONFIG_HASH"] == config_hash(cfg)
    os.environ["MLFLOW_TRACKING_URI"] = "http://user:5000"
    assert job_environment(cfg, "/repo")["uri"] == "http://user:5000"  # the user's variable wins


def test_job_environment_test_leaves_the_real_environment_alone():
    """Guards the test above: a leaked LINID_TRACKING_DISABLED silently turned off tracking in every
    workflow test that ran after it."""
    assert "LINID_TRACKING_DISABLED" not in os.environ and "LINID_CONFIG_HASH" not in os.environ


def test_setup_logging_sends_logging_and_stderr_to_the_log_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stderr", sys.stderr)  # restored after the test
    log = tmp_path / "logs" / "rule.log"
    setup_logging(log)
    logging.getLogger("linid.test").info("hello %d", 7)
    print("a traceback line", file=sys.stderr)
    sys.stderr.flush()
    text = log.read_text()
    assert "INFO linid.test: hello 7" in text and "a traceback line" in text
