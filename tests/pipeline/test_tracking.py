"""MLflow tracking: journals of short jobs, live runs, replay, supersede, upstream links, retries."""

import json

import pytest

from linid.pipeline.context import sqlite_uri
from linid.pipeline.store import link_upstream, mlflow_client, replay_pending, retry
from linid.pipeline.tracking import JobRun, job_tags


@pytest.fixture
def store(tmp_path, monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", "LINID_TRACKING_DISABLED", "LINID_EXPERIMENT"):
        monkeypatch.delenv(var, raising=False)
    return {"uri": sqlite_uri(tmp_path / "mlflow.db"), "pending": tmp_path / "pending"}


def _runs(uri, experiment="exp", deleted=False):
    from mlflow.entities import ViewType

    client = mlflow_client(uri)
    exp = client.get_experiment_by_name(experiment)
    view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
    return client.search_runs([exp.experiment_id], run_view_type=view)


def test_job_tags_name_the_job():
    tags = job_tags("probe", {"seed": "0", "data": "d2"}, upstream=["u1", "", "u2"])
    assert tags["linid.job_key"] == "probe:data=d2,seed=0"  # sorted wildcards
    assert tags["mlflow.runName"] == tags["linid.job_key"]
    assert tags["linid.wc.seed"] == "0" and tags["linid.upstream_uids"] == "u1,u2"
    assert json.loads(tags["linid.wildcards"]) == {"data": "d2", "seed": "0"}


def test_short_job_writes_a_journal_then_replay_sends_it(store, tmp_path):
    art = tmp_path / "table.csv"
    art.write_text("a,b\n1,2\n")
    with JobRun("probe", {"seed": "0"}, {"probe": {"n": 8}}, uri=store["uri"], experiment="exp",
                pending_dir=store["pending"]) as run:
        run.log_metrics({"r2": 0.5, "skipped": None})
        run.log_metrics({"r2": 0.75}, step=3)
        run.log_artifact(art)
    (journal,) = store["pending"].glob("*.json")
    j = json.loads(journal.read_text())
    assert j["status"] == "FINISHED" and j["params"] == {"probe.n": "8"}  # nested params flattened
    assert [m[0] for m in j["metrics"]] == ["r2", "r2"]  # None is dropped
    assert replay_pending(store["pending"]) == 1
    assert not list(store["pending"].glob("*.json"))  # deleted once sent
    (r,) = _runs(store["uri"])
    assert r.data.metrics["r2"] == 0.75 and r.data.params["probe.n"] == "8"
    assert r.data.tags["linid.job_uid"] == run.uid and r.info.status == "FINISHED"
    assert [a.path for a in mlflow_client(store["uri"]).list_artifacts(r.info.run_id)] == ["table.csv"]


def test_failed_job_is_journaled_as_failed_with_its_error(store):
    with pytest.raises(RuntimeError):
        with JobRun("train", {}, uri=store["uri"], experiment="exp", pending_dir=store["pending"]):
            raise RuntimeError("boom")
    (journal,) = store["pending"].glob("*.json")
    j = json.loads(journal.read_text())
    assert j["status"] == "FAILED" and j["tags"]["linid.error"] == "RuntimeError: boom"


def test_rerun_supersedes_the_older_run_and_upstream_links_resolve(store):
    kw = dict(uri=store["uri"], experiment="exp", pending_dir=store["pending"])
    with JobRun("dataset", {"data": "a"}, **kw) as up:
        pass
    with JobRun("probe", {"data": "a"}, upstream=[up.uid], **kw):
        pass
    with JobRun("probe", {"data": "a"}, upstream=[up.uid], **kw) as second:
        pass
    assert replay_pending(store["pending"]) == 3
    live = _runs(store["uri"])
    probes = [r for r in live if r.data.tags["linid.rule"] == "probe"]
    assert len(probes) == 1 and probes[0].data.tags["linid.job_uid"] == second.uid
    dataset_run = next(r for r in live if r.data.tags["linid.rule"] == "dataset")
    assert probes[0].data.tags["linid.upstream_run_ids"] == dataset_run.info.run_id
    old = [r for r in _runs(store["uri"], deleted=True) if r.info.lifecycle_stage == "deleted"]
    assert len(old) == 1 and old[0].data.tags["linid.superseded_by"] == probes[0].info.run_id
    assert link_upstream(store["uri"], "exp") == 0  # nothing left to resolve


def test_live_run_streams_and_ends_finished(store):
    with JobRun("train", {"seed": "1"}, {"lr": 0.001}, uri=store["uri"], experiment="exp",
                pending_dir=store["pending"], live=True, flush_seconds=0) as run:
        assert run.run_id  # opened at job start
        run.log_metrics({"loss": 2.0}, step=10)
        run.log_metrics({"loss": 1.0}, step=20)
    assert not store["pending"].exists() or not list(store["pending"].glob("*.json"))
    (r,) = _runs(store["uri"])
    history = mlflow_client(store["uri"]).get_metric_history(r.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(10, 2.0), (20, 1.0)]
    assert r.info.status == "FINISHED"


def test_live_run_with_an_unreachable_store_falls_back_to_a_journal(store, monkeypatch):
    def down(uri):
        raise ConnectionError(f"{uri} is down")

    monkeypatch.setattr("linid.pipeline.tracking.mlflow_client", down)
    monkeypatch.setattr("linid.pipeline.tracking.ensure_experiment", down)
    monkeypatch.setattr("time.sleep", lambda s: None)
    with JobRun("train", {}, uri=store["uri"], experiment="exp", pending_dir=store["pending"],
                live=True) as run:
        run.log_metrics({"loss": 1.0}, step=1)
    (journal,) = store["pending"].glob("*.json")
    assert json.loads(journal.read_text())["metrics"][0][:2] == ["loss", 1.0]


def test_disabled_tracking_writes_nothing(store, monkeypatch):
    monkeypatch.setenv("LINID_TRACKING_DISABLED", "1")
    with JobRun("probe", {}, uri=store["uri"], experiment="exp", pending_dir=store["pending"]) as run:
        run.log_metrics({"x": 1.0})
    assert not store["pending"].exists()


def test_retry_retries_then_reraises(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OSError("database is locked")
        return "ok"

    assert retry(flaky, attempts=5) == "ok" and len(calls) == 3
    with pytest.raises(OSError):
        retry(lambda: (_ for _ in ()).throw(OSError("down")), attempts=2)
