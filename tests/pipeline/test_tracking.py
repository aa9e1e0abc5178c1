"""MLflow tracking: journals of short jobs, live runs, replay, supersede, upstream links, retries."""

import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from linid.pipeline.context import sqlite_uri
from linid.pipeline.store import link_upstream, mlflow_client, replay_pending, retry
from linid.pipeline.tracking import JobRun, job_tags
from tests.helpers import clear_tracking_env, sqlite_store, store_runs


@pytest.fixture
def store(tmp_path, monkeypatch):
    return sqlite_store(tmp_path, monkeypatch)


_runs = store_runs


def _run_with_artifact(tmp_path: Path, results: Path, text: str) -> tuple[str, str]:
    """A store in ``results`` holding one finished run with an artifact ``table.csv`` of ``text``."""
    uri = sqlite_uri(results / "mlflow.db")
    art = tmp_path / "table.csv"
    art.write_text(text)
    with JobRun("probe", {"seed": "0"}, {}, uri=uri, experiment="exp", pending_dir=tmp_path / "p") as run:
        run.log_artifact(art)
    replay_pending(tmp_path / "p", uri)
    (run_id,) = [r.info.run_id for r in _runs(uri)]
    return uri, run_id


def test_job_tags_name_the_job():
    tags = job_tags("probe", {"seed": "0", "data": "d2"}, upstream=["u1", "", "u2"])
    assert tags["linid.job_key"] == "probe:data=d2,seed=0"  # sorted wildcards
    assert tags["mlflow.runName"] == "seed0 d2 · probe"  # what tells runs apart comes first
    train = job_tags("train", {"seed": "1", "method": "diet", "head": "free", "data": "d2_C100_N1000_k10_s0"})
    assert train["mlflow.runName"] == "seed1 diet d2_C100_N1000_k10_s0 free · train"
    assert train["linid.job_key"] == "train:data=d2_C100_N1000_k10_s0,head=free,method=diet,seed=1"
    assert job_tags("figures", {})["mlflow.runName"] == "figures"
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


def test_an_unreachable_server_costs_seconds_not_minutes(store, monkeypatch, capsys):
    """Nothing listens on the port: the workflow's start-up check and a live training run each give
    up within seconds (MLflow's own HTTP retries would take minutes) and the run is journaled."""
    import time

    from linid.pipeline.store import try_store

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # as job_environment sets them
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "0")  # restored after the test
    uri = "http://127.0.0.1:9"
    t0 = time.perf_counter()
    assert try_store(uri, "exp", store["pending"]) is False
    assert "unreachable" in capsys.readouterr().out
    assert os.environ["LINID_TRACKING_OFFLINE"] == "1"  # jobs started now journal at once
    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "0")  # a job that finds out by itself:
    with JobRun("train", {"seed": "0"}, uri=uri, experiment="exp", pending_dir=store["pending"],
                live=True, flush_seconds=0) as run:
        for step in range(5):
            run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    assert time.perf_counter() - t0 < 30
    (journal,) = store["pending"].glob("*.json")
    assert len(json.loads(journal.read_text())["metrics"]) == 5


def test_a_store_lost_mid_run_is_never_waited_on_again(store, monkeypatch):
    import linid.pipeline.tracking as tracking

    with JobRun("train", {"seed": "1"}, uri=store["uri"], experiment="exp", pending_dir=store["pending"],
                live=True, flush_seconds=0) as run:
        run.log_metrics({"loss": 3.0}, step=1)  # sent live
        calls = {"n": 0}

        def down(uri):
            calls["n"] += 1
            raise ConnectionError("server restarting")

        monkeypatch.setattr(tracking, "mlflow_client", down)
        for step in range(2, 50):
            run.log_metrics({"loss": 3.0 / step}, step=step)
        assert calls["n"] == 1  # one failed flush, then offline: training never waits again
        monkeypatch.undo()
    assert replay_pending(store["pending"]) == 1
    (r,) = _runs(store["uri"])  # the partial live run is replaced by the complete journaled one
    history = mlflow_client(store["uri"]).get_metric_history(r.info.run_id, "loss")
    assert len(history) == 49 and r.info.status == "FINISHED"


def test_journaled_runs_keep_the_jobs_real_times(store):
    import time

    with JobRun("probe", {"seed": "0"}, uri=store["uri"], experiment="exp", pending_dir=store["pending"]):
        time.sleep(0.3)
    replay_pending(store["pending"])
    (r,) = _runs(store["uri"])
    assert r.info.end_time - r.info.start_time >= 300


def test_the_workflow_end_never_fails_on_the_store(store, monkeypatch):
    from linid.pipeline.store import send_pending

    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "1")
    assert "wait in" in send_pending(store["uri"], store["pending"])
    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "0")

    def broken(*a, **k):
        raise ConnectionError("gone")

    monkeypatch.setattr("linid.pipeline.store.replay_pending", broken)
    assert "could not send the journals" in send_pending(store["uri"], store["pending"])


def test_final_probe_metrics_reach_the_training_run_and_follow_a_rerun_probe(store):
    """One table in the UI: each ``train`` run carries its model's final probe metrics next to the
    cell's parameters, and a rerun probe replaces them."""
    kw = dict(uri=store["uri"], experiment="exp", pending_dir=store["pending"])
    trains = []
    for seed in ("0", "1"):
        with JobRun("train", {"seed": seed}, {"dgp": {"latent_dim": 5}}, live=True, flush_seconds=0, **kw) as t:
            t.log_metrics({"loss": 1.0}, step=10)
        trains.append(t)
    for t, r2 in zip(trains, (0.9, 0.4), strict=True):
        with JobRun("extract_features", {"seed": t.tags["linid.wc.seed"]}, upstream=[t.uid], **kw) as f:
            pass
        with JobRun("probe", {"seed": t.tags["linid.wc.seed"]}, upstream=[f.uid], **kw) as p:
            p.log_metrics({"r2_affine": r2, "mae_sv": 0.1})
    assert replay_pending(store["pending"]) == 4
    by_seed = {r.data.tags["linid.wc.seed"]: r for r in _runs(store["uri"]) if r.data.tags["linid.rule"] == "train"}
    assert by_seed["0"].data.metrics["probe.r2_affine"] == 0.9 and by_seed["1"].data.metrics["probe.r2_affine"] == 0.4
    assert by_seed["0"].data.metrics["probe.mae_sv"] == 0.1 and by_seed["0"].data.params["dgp.latent_dim"] == "5"
    assert by_seed["0"].data.metrics["loss"] == 1.0  # training's own metrics untouched
    # sortable in one query, as the UI's table is
    client = mlflow_client(store["uri"])
    exp = client.get_experiment_by_name("exp")
    ordered = client.search_runs([exp.experiment_id], "tags.`linid.rule` = 'train'", order_by=["metrics.`probe.r2_affine` DESC"])
    assert [r.data.tags["linid.wc.seed"] for r in ordered] == ["0", "1"]
    # the probe of seed 1 reruns on the same features: its new value replaces the copy
    with JobRun("probe", {"seed": "1"}, upstream=[f.uid], **kw) as p2:
        p2.log_metrics({"r2_affine": 0.95, "mae_sv": 0.2})
    replay_pending(store["pending"])
    by_seed = {r.data.tags["linid.wc.seed"]: r for r in _runs(store["uri"]) if r.data.tags["linid.rule"] == "train"}
    assert by_seed["1"].data.metrics["probe.r2_affine"] == 0.95
    probe_run = next(r for r in _runs(store["uri"]) if r.data.tags["linid.job_uid"] == p2.uid)
    assert by_seed["1"].data.tags["linid.probe_run_id"] == probe_run.info.run_id
    assert by_seed["0"].data.metrics["probe.r2_affine"] == 0.9


def test_names_mlflow_refuses_are_made_safe_and_a_refused_journal_never_blocks_the_rest(store):
    kw = dict(uri=store["uri"], experiment="exp", pending_dir=store["pending"])
    with JobRun("byo_probe", {"m": "a"}, {"factor=shape": 1}, **kw) as run:
        run.log_metrics({"pixels.shape=0.accuracy": 0.5, "r(x, y)": 0.25})
    (first,) = store["pending"].glob("*.json")
    j = json.loads(first.read_text())
    # the characters MLflow refuses become "_", plus a hash of the original (names never collide)
    names = [m[0] for m in j["metrics"]]
    assert names[0].startswith("pixels.shape_0.accuracy-") and names[1].startswith("r_x_ y_-")
    assert [k for k in j["params"] if k.startswith("factor_shape-")]
    # a journal the store refuses (here written by hand with a forbidden name) is set aside ...
    j["metrics"][0][0] = "bad=name"
    first.write_text(json.dumps(j))
    with JobRun("probe", {"seed": "1"}, **kw) as good:
        good.log_metrics({"r2": 0.5})
    assert replay_pending(store["pending"]) == 1  # ... and the next one is still sent
    (r,) = _runs(store["uri"])
    assert r.data.tags["linid.job_uid"] == good.uid
    assert [p.name for p in (store["pending"] / "rejected").iterdir()] == [first.name]
    assert not list(store["pending"].glob("*.json"))


def test_artifacts_are_found_again_after_the_results_folder_moves(tmp_path, monkeypatch):
    import shutil
    import subprocess
    import sys

    from linid.pipeline.store import relocate_artifacts

    clear_tracking_env(monkeypatch)
    results = tmp_path / "results"
    uri, run_id = _run_with_artifact(tmp_path, results, "a,b\n1,2\n")
    assert [a.path for a in mlflow_client(uri).list_artifacts(run_id)] == ["table.csv"]

    shutil.move(results, tmp_path / "results2")
    moved = sqlite_uri(tmp_path / "results2" / "mlflow.db")
    # MLflow keeps absolute locations: the moved store points at the old folder
    assert mlflow_client(moved).list_artifacts(run_id) == []
    out = subprocess.run([sys.executable, "-m", "linid.pipeline.store", "relocate", "results2/mlflow.db"],
                         cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert "artifact location(s) now under" in out.stdout and not out.stdout.startswith("linid: 0 ")
    client = mlflow_client(moved)
    assert [a.path for a in client.list_artifacts(run_id)] == ["table.csv"]
    got = client.download_artifacts(run_id, "table.csv", str(tmp_path))
    assert Path(got).read_text() == "a,b\n1,2\n"
    assert client.get_experiment_by_name("exp").artifact_location == (tmp_path / "results2" / "mlartifacts").as_uri()
    assert relocate_artifacts(tmp_path / "results2" / "mlflow.db") == 0  # nothing left to change
    # the workflow does it itself at start (try_store), e.g. after the checkout moved
    from linid.pipeline.store import try_store

    shutil.move(tmp_path / "results2", tmp_path / "results3")
    again = sqlite_uri(tmp_path / "results3" / "mlflow.db")
    assert mlflow_client(again).list_artifacts(run_id) == []
    assert try_store(again, "exp", tmp_path / "p")
    assert [a.path for a in mlflow_client(again).list_artifacts(run_id)] == ["table.csv"]


def test_the_link_opens_a_shared_view_and_names_the_venvs_mlflow(store, monkeypatch, tmp_path):
    """The link carries no column list (MLflow 3.17 keeps columns in the browser): it opens the
    shared view that the same call writes as an experiment tag; the command is the venv's."""
    import sys

    from linid.pipeline.store import (
        SHARED_VIEW_TAG,
        VIEWS,
        ensure_experiment,
        mlflow_command,
        runs_table_link,
    )

    exp_id = ensure_experiment(store["uri"], "exp")
    monkeypatch.chdir(tmp_path)
    line = runs_table_link(store["uri"], "exp")
    assert line.startswith("linid: the trained models, best R²_a first: start the UI with `")
    assert (f"ui --backend-store-uri sqlite:///mlflow.db --workers 1`, then open http://127.0.0.1:5000/"
            f"#/experiments/{exp_id}/runs?viewStateShareKey=linid-trained-models") in line
    assert f"`{mlflow_command(tmp_path)} ui " in line
    state = json.loads(mlflow_client(store["uri"]).get_experiment(exp_id).tags[SHARED_VIEW_TAG + "linid-trained-models"])
    assert state["searchFilter"] == "tags.`linid.rule` = 'train'" and state["orderByAsc"] is False
    assert state["orderByKey"] == "metrics.`probe.r2_affine`"
    assert state["selectedColumns"] == state["columnOrder"] == [k for k, _ in VIEWS["simulation"].columns]
    assert "metrics.`probe.r2_affine`" in state["columnWidths"]
    # the venv's mlflow, relative from the checkout (as the README writes it)
    venv = Path(sys.executable).parent.parent
    if (venv / "bin" / "mlflow").is_file():
        assert mlflow_command(venv.parent) == f"{venv.name}/bin/mlflow"
    text = runs_table_link(store["uri"], "exp", view="text")
    assert "viewStateShareKey=linid-text-models" in text and "held-out nats" in text
    assert runs_table_link(store["uri"], "no_such_experiment") == ""
    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "1")
    assert runs_table_link(store["uri"], "exp") == ""


class _Grid(HTMLParser):
    """The MLflow runs table as rendered (ag-grid): {run id: {column id: (text, width px)}}."""

    VOID = {"input", "br", "img", "hr", "meta", "link", "path", "circle", "rect", "line", "col"}

    def __init__(self):
        super().__init__()
        self.rows: dict[str, dict[str, tuple[str, float]]] = {}
        self.row = None
        self.cell = None  # (column id, width, depth at which it opened)
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self.depth += 1
        a = dict(attrs)
        if a.get("role") == "row" and a.get("row-id"):
            self.row = a["row-id"]
        if a.get("role") == "gridcell" and self.row and self.cell is None:
            width = re.search(r"width:\s*([\d.]+)px", a.get("style", ""))
            self.cell = (a.get("col-id", ""), float(width.group(1)) if width else 0.0, self.depth)
            self.text = []

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if self.cell is not None and self.depth == self.cell[2]:
            col, width, _ = self.cell
            self.rows.setdefault(self.row, {})[col] = ("".join(self.text).strip(), width)
            self.cell = None
        self.depth -= 1

    def handle_data(self, data):
        if self.cell is not None:
            self.text.append(data)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_the_printed_mlflow_link_shows_each_models_cell_seed_and_r2_in_a_browser(store, tmp_path, monkeypatch):
    """The end-of-run link, opened in headless Chromium on `mlflow ui` as the line says to start
    it: every trained model's row shows its cell (dataset id, method), seed and R²_a as text, in
    columns wide enough for the whole value, best R²_a first. A PNG of the page is written too
    (to $LINID_SCREENSHOT_DIR when set)."""
    import shlex
    import shutil
    import subprocess
    import urllib.request

    from linid.pipeline.store import runs_table_link

    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        if os.environ.get("LINID_TEST_BROWSER") == "1":
            pytest.fail("LINID_TEST_BROWSER=1 but no chromium on PATH (.ci/run installs it)")
        pytest.skip("headless-browser test: chromium is not installed (apt-get install chromium)")
    # a store as the workflow leaves it: train → extract_features → probe per model, journals sent
    kw = dict(uri=store["uri"], experiment="demo", pending_dir=store["pending"])
    models = {}
    for i, (c, method, seed) in enumerate([(c, m, s) for c, m in (("10", "supervised"), ("100", "supervised"),
                                                                  ("100", "diet")) for s in ("0", "1")]):
        wc = {"data": f"d5_C{c}_N10240_k10_vmf_uniform_p0_s0", "method": method, "head": "free", "seed": seed}
        with JobRun("train", wc, {"dgp": {"latent_dim": 5, "n_classes": int(c)}}, **kw) as t:
            pass
        with JobRun("extract_features", wc, upstream=[t.uid], **kw) as f:
            pass
        r2 = 0.9012345678901234 - 0.0131 * ((i * 5) % 6)  # distinct, not in run order, a float's full repr
        with JobRun("probe", wc, upstream=[f.uid], **kw) as p:
            p.log_metrics({"r2_affine": r2})
        models[t.uid] = (wc, r2)
    assert replay_pending(store["pending"]) == 3 * len(models)
    monkeypatch.chdir(tmp_path)
    line = runs_table_link(store["uri"], "demo")
    command, url = re.search(r"start the UI with `([^`]+)`, then open (\S+)", line).groups()
    port = _free_port()
    ui = subprocess.Popen([*shlex.split(command), "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=(tmp_path / "ui.log").open("w"))
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):  # MLflow's server takes 5-30 s to start
            try:
                urllib.request.urlopen(base + "/health", timeout=2)
                break
            except OSError:
                assert ui.poll() is None, (tmp_path / "ui.log").read_text()[-2000:]
                time.sleep(0.5)
        png = tmp_path / "mlflow_runs.png"
        dom = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1920,1000",
             "--virtual-time-budget=20000", f"--screenshot={png}", "--dump-dom", url.replace("http://127.0.0.1:5000", base)],
            capture_output=True, text=True, timeout=180, check=True,
        ).stdout
    finally:
        ui.terminate()
        ui.wait(timeout=30)
    if os.environ.get("LINID_SCREENSHOT_DIR"):
        shutil.copy(png, Path(os.environ["LINID_SCREENSHOT_DIR"]) / png.name)
    grid = _Grid()
    grid.feed(dom)
    runs = {r.data.tags["linid.job_uid"]: r.info.run_id for r in _runs(store["uri"], "demo")}
    shown = []
    for uid, (wc, r2) in models.items():
        row = grid.rows.get(runs[uid])
        assert row is not None, f"no row for {wc}"
        for col, want in (("tags.`linid.wc.data`", wc["data"]), ("tags.`linid.wc.method`", wc["method"]),
                          ("tags.`linid.wc.seed`", wc["seed"]), ("metrics.`probe.r2_affine`", str(r2))):
            text, width = row[col]
            assert text == want, (col, text, want)
            assert width >= 7.5 * len(text) + 16, f"column {col} ({width:.0f} px) cuts {text!r}"  # 13 px font
        shown.append((float(row["metrics.`probe.r2_affine`"][0]), dom.index(runs[uid])))
    assert len(grid.rows) == len(models)  # the training runs only
    assert [pos for _, pos in sorted(shown, reverse=True)] == sorted(pos for _, pos in shown)  # best first
    assert png.stat().st_size > 10_000


def test_the_project_id_is_made_once_and_kept_in_results(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from linid.pipeline.context import project_id, set_project

    path = tmp_path / "results" / ".linid_project"
    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda _: project_id(path), range(8)))
    assert len(ids) == 1 and path.read_text().strip() in ids
    assert project_id(tmp_path / "other" / ".linid_project") not in ids

    def refused(*a):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:  # results/ not writable: the folder's path stands in, no crash
        m.setattr(os, "link", refused)
        ro = project_id(tmp_path / "ro" / ".linid_project")
    assert ro.startswith("path-") and not (tmp_path / "ro" / ".linid_project").exists()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINID_PROJECT", "")
    monkeypatch.delenv("LINID_PROJECT")
    assert set_project() in ids and os.environ["LINID_PROJECT"] in ids  # the workflow's jobs inherit it
    assert "set_project()" in (Path(__file__).resolve().parents[2] / "workflow/rules/common.smk").read_text()


def test_a_copied_results_folder_serves_its_own_artifacts(tmp_path, monkeypatch):
    """cp -r results elsewhere: the copy's experiments (MLflow's Default one too) and runs point into
    the copy after the workflow's next run (relocate_store runs on every run, a no-op included)."""
    import shutil

    from linid.pipeline.store import relocate_store

    clear_tracking_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "a" / "results"
    uri, run_id = _run_with_artifact(tmp_path, results, "original\n")
    copy = tmp_path / "b" / "results"
    shutil.copytree(results, copy)
    (art_copy,) = (copy / "mlartifacts").rglob("table.csv")
    art_copy.write_text("the copy's\n")
    curi = sqlite_uri(copy / "mlflow.db")
    client = mlflow_client(curi)
    before = client.download_artifacts(run_id, "table.csv", str(tmp_path / "d0"))
    assert Path(before).read_text() == "original\n"  # silently the original's file
    relocate_store(curi)
    client = mlflow_client(curi)
    for exp in client.search_experiments():  # a file:// URI, or a plain path for MLflow's Default
        assert exp.artifact_location.removeprefix("file://").startswith(f"{copy}/"), exp.artifact_location
    assert client.get_experiment("0").artifact_location == str(copy / "mlruns" / "0")
    assert client.get_run(run_id).info.artifact_uri.startswith((copy / "mlartifacts").as_uri())
    got = client.download_artifacts(run_id, "table.csv", str(tmp_path / "d1"))
    assert Path(got).read_text() == "the copy's\n"
    # the original still serves its own
    assert mlflow_client(uri).get_experiment_by_name("exp").artifact_location == (results / "mlartifacts").as_uri()
