"""Issue 22 (hardening, round 2): one section per class; each test covers the class, not one input.

1. image and bring-your-own inputs checked at the door, against what the stages need;
2. no silent wrong result; 3. the command line is a config like any other; 4. sizes that leave a
statistic undefined refused; 5. faults leave a clear path; 6. cluster scale.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from linid.pipeline.config import (
    ConfigError,
    check_command_line,
    check_config,
    image_problems,
    load_schema,
    load_yaml,
)
from tests.helpers import ROOT, sqlite_store, store_runs

SCHEMA = load_schema(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "workflow" / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generic(path: Path, n=40, size=64, factors=None, names=("a", "b"), cat="a", images=None):
    rng = np.random.default_rng(0)
    if factors is None:
        factors = np.stack([np.arange(n) % 3, rng.random(n)], axis=1)
    if images is None:
        images = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    np.savez(path, images=images, factors=np.asarray(factors, dtype=np.float64),
             factor_names=np.array(names), categorical=np.array(cat))
    return path


def _images(path, **d):
    cfg = {"enabled": True, "models": ["pixels", "mlp", "cnn"], "train": {"batch_size": 4096},
           "datasets": {"ds": {"layout": "generic", "path": str(path), **d}}}
    return image_problems(cfg)


# -- 1. inputs checked at the door ------------------------------------------------------------------


def _garbage(tmp):
    p = tmp / "garbage.npz"
    p.write_bytes(os.urandom(300))
    return p, "not a readable .npz archive"


def _garbage_h5(tmp):
    p = tmp / "garbage.h5"
    p.write_bytes(b"not hdf5" * 40)
    return p, "not a readable HDF5 file"


def _missing_h5_key(tmp):
    import h5py

    p = tmp / "data.h5"
    with h5py.File(p, "w") as f:
        f["images"] = np.zeros((30, 64, 64), np.uint8)
    return p, "missing key 'factors'"


def _pickled(tmp):
    p = tmp / "pickled.npz"
    np.savez(p, images=np.zeros((30, 64, 64), np.uint8), factors=np.zeros((30, 2)),
             factor_names=np.array(["a", {"b": 1}], dtype=object), categorical=np.array("a"))
    return p, "key 'factor_names' is a pickled object array"


def _layout_mismatch(tmp):  # a generic file configured as dSprites
    return _generic(tmp / "generic.npz"), "missing key 'imgs'"


def _small_images(tmp):
    return _generic(tmp / "small.npz", size=32), "images are 32×32"


def _one_valued_factor(tmp):
    return _generic(tmp / "flat.npz", factors=np.zeros((40, 2)) + [0, 1]), "factor 'a' takes a single value"


@pytest.mark.parametrize("make", [_garbage, _garbage_h5, _missing_h5_key, _pickled, _layout_mismatch,
                                  _small_images, _one_valued_factor])
def test_an_image_file_the_stages_cannot_use_is_named_at_the_door(tmp_path, make):
    path, msg = make(tmp_path)
    layout = "dsprites" if make is _layout_mismatch else "generic"
    problems = _images(path, layout=layout)
    assert len(problems) == 1 and msg in problems[0] and str(path) in problems[0], problems
    assert "images.datasets.ds" in problems[0]


def test_a_pickled_array_read_names_file_and_key(tmp_path):
    from linid.images.source import DatasetFormatError, Source

    path, _ = _pickled(tmp_path)
    with pytest.raises(DatasetFormatError, match=rf"{re.escape(str(path))}: key 'factor_names'"):
        Source(path).read("factor_names")


def test_image_sizes_are_checked_against_the_file_and_the_stages(tmp_path):
    path = _generic(tmp_path / "d.npz", n=40)
    assert _images(path) == []
    assert "holds only 40 images" in _images(path, subsample=41)[0]
    # 15 images: 1 validation and 1 test image, no Pearson r
    assert "validation" in _images(_generic(tmp_path / "e.npz", n=15))[0]
    # 40 images → 32 training images; batch 31 leaves one image in the last batch (BatchNorm)
    cfg = {"enabled": True, "models": ["mlp"], "train": {"batch_size": 31},
           "datasets": {"ds": {"layout": "generic", "path": str(path)}}}
    assert "last batch of 1 image" in image_problems(cfg)[0]
    cfg["models"] = ["pixels", "linear"]  # no BatchNorm: fine
    assert image_problems(cfg) == []
    cfg["export_activations"] = {"enabled": True, "rows": 100}
    assert "holds only 40 images" in image_problems(cfg)[0]


def _byo(tmp, layers, binary=None, n=200):
    rng = np.random.default_rng(0)
    models = {}
    for m in ("a", "b"):
        models[m] = tmp / f"{m}.npz"
        np.savez(models[m], **{k: v(rng, n) for k, v in layers.items()})
    fac = tmp / "factors.npz"
    b = binary if binary is not None else (np.arange(n) % 2)[:, None]
    np.savez(fac, continuous=rng.normal(size=(n, 1)), binary=b.astype(np.int64))
    return fac, models


def test_byo_sizes_the_stages_need_are_checked_at_the_door(tmp_path):
    from linid.byo.files import check_inputs

    narrow = {"h": lambda r, n: r.normal(size=(n, 5))}
    settings = {"test_fraction": 0.3, "max_rows": 5000, "svcca_k": None}
    fac, models = _byo(tmp_path, narrow)
    assert check_inputs(fac, models, settings) == []
    # one positive in 200 rows: the stratified probe split has none on one side
    one = np.zeros((200, 1))
    one[7] = 1
    fac, models = _byo(tmp_path, narrow, binary=one)
    problems = check_inputs(fac, models, settings)
    assert len(problems) == 1 and "binary factor 'binary_0' has 1 positive(s)" in problems[0]
    # a layer wider than half the rows, svcca_k unset
    wide = {"h": lambda r, n: r.normal(size=(n, 150))}
    fac, models = _byo(tmp_path, wide)
    problems = check_inputs(fac, models, settings)
    assert len(problems) == 1 and "150 wide" in problems[0] and "byo.svcca_k <= 98" in problems[0]
    assert check_inputs(fac, models, {**settings, "svcca_k": 20}) == []
    assert "more than the 98 directions" in check_inputs(fac, models, {**settings, "svcca_k": 99})[0]


def test_a_dead_layer_gets_nan_cells_and_a_note_not_a_lost_table(tmp_path):
    from linid.byo.compare import layer_matrix
    from linid.byo.files import load_factors
    from linid.byo.probes import probe_layer

    rng = np.random.default_rng(0)
    a = {"live": rng.normal(size=(100, 4)), "dead": np.zeros((100, 3))}
    b = {"live": rng.normal(size=(100, 4)), "dead": np.zeros((100, 3))}
    table = layer_matrix(a, b, svcca_k=None, max_rows=None, seed=0)
    assert len(table) == 4  # every cell of the layer matrix is kept
    dead = table[(table["layer_a"] == "dead") | (table["layer_b"] == "dead")]
    assert dead["mcca"].isna().all() and dead["note"].str.contains("constant").all()
    live = table[(table["layer_a"] == "live") & (table["layer_b"] == "live")]
    assert np.isfinite(live["mcca"]).all() and (live["note"] == "").all()

    fac, _ = _byo(tmp_path, {"h": lambda r, n: r.normal(size=(n, 2))}, n=100)
    t = probe_layer(np.zeros((100, 3)), load_factors(fac), seed=0, test_fraction=0.3, n_rep=2)
    assert set(t["factor"]) == {"continuous_0", "binary_0"} and t["value"].isna().all()
    assert t["note"].str.contains("dead").all()
    tables = _script("byo_tables")
    md = tables.layers_markdown(table.assign(model_a="m1", model_b="m2"))
    assert "–" in md and "constant on the rows used" in md


# -- 2. no silent wrong result ----------------------------------------------------------------------


@pytest.mark.parametrize("values", [[1, 2, 3], [0, 5, 7], [-1, 0, 1], [2.5, 10.0, 11.0]])
def test_generic_categories_become_class_indices_by_sorted_value(tmp_path, values):
    from linid.images.data import load, official_targets

    cat = np.array(values * 10, dtype=np.float64)
    path = _generic(tmp_path / "g.npz", n=30, factors=np.stack([cat, np.arange(30.0)], axis=1))
    ds = load(path, "generic")
    assert ds.category_levels == tuple(sorted(values))
    # csi's arithmetic on the codes keeps every class (on the raw 1, 2, 3 it made 0, 1, 1)
    assert np.unique(official_targets(ds.factors)[:, 0]).tolist() == [0, 1, 2]


def test_a_published_grid_category_keeps_csis_arithmetic(tmp_path):
    from linid.images.data import load, official_targets

    # Cars3D's object_type: k / 182 for 183 types; csi's truncation merges 45 of them (docs/images.md §3)
    cat = np.arange(183) / 182
    path = _generic(tmp_path / "g.npz", n=183, factors=np.stack([cat, np.arange(183.0)], axis=1))
    ds = load(path, "generic")
    assert ds.category_levels == () and np.array_equal(ds.factors[:, 0], cat)
    assert np.unique(official_targets(ds.factors)[:, 0]).size == 138


def test_sanitised_metric_names_never_collide_and_mlflow_takes_them():
    from linid.pipeline.tracking import metric_name

    names = ["enc=1", "enc_1", "enc 1", "enc(1)", "enc,1", "enc/1", "mcca.enc=1", "mcca.enc_1", "x|y",
             "x_y", "pos X (norm)", "pos_X__norm_", "ü", "_", "a\nb", "a_b"]
    out = [metric_name(n) for n in names]
    assert len(set(out)) == len(names)
    assert all(re.fullmatch(r"[/\w.\- :]*", o) for o in out)  # MLflow's own rule
    assert metric_name("r2_affine") == "r2_affine"  # plain names unchanged


HOSTILE = "a|b\nc"


def _rows_intact(md: str) -> None:
    rows = [line for line in md.splitlines() if line.startswith("|")]
    cells = {len(re.split(r"(?<!\\)\|", line)) for line in rows}
    assert len(rows) >= 3 and len(cells) == 1, md


def test_names_with_a_pipe_or_line_break_keep_every_markdown_row_whole():
    from linid.report import image_tables, tables

    pairs = pd.DataFrame({"experiment": [HOSTILE], "cell": [HOSTILE], "method": ["m"], "head": ["h"],
                          "rep_dim": [2], "n_classes": [3], "diverse": [True], "layer": [HOSTILE],
                          "n_pairs": [2], "mcca_mean": [0.5], "mcca_std": [0.1]})
    _rows_intact(tables._markdown_mean_std(pairs, ["experiment", "cell", "layer", "n_pairs"], ["mcca"], 3))
    byo = _script("byo_tables")
    probes = pd.DataFrame({"model": [HOSTILE], "layer": [HOSTILE], "factor": [HOSTILE], "kind": ["binary"],
                           "metric": ["accuracy"], "value": [0.5], "std": [0.1], "note": [""]})
    _rows_intact(byo.probes_markdown(probes))
    layers = pd.DataFrame({"model_a": [HOSTILE], "model_b": ["m"], "layer_a": [HOSTILE],
                           "layer_b": [HOSTILE], "mcca": [0.5]})
    _rows_intact(byo.layers_markdown(layers))
    summary = pd.DataFrame({"dataset": [HOSTILE], "factor": [HOSTILE], "role": ["continuous"],
                            "model": ["mlp"], "mean": [0.5], "std": [0.1], "n_seeds": [3]})
    _rows_intact(image_tables.markdown(summary))


def test_an_empty_sweep_name_is_refused_at_the_door():
    cfg = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    cfg["simulation"]["sweeps"] = {"": cfg["simulation"]["sweeps"]["tiny"]}
    with pytest.raises(ConfigError, match=r"simulation.sweeps = '': '' should be non-empty"):
        check_config(cfg, SCHEMA)


# -- 3. the command line is a config like any other ------------------------------------------------


@pytest.mark.parametrize("entry,msg", [
    ("byo={models: {a: x.npz, a: y.npz}}", "key 'a' appears twice"),
    ("simulation={train: {steps: 1, lr: 0.1, steps: 2}}", "key 'steps' appears twice"),
    ("name=!!python/object/apply:os.system [echo hi]", "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' refused"),
    ("byo={models: {a: !local x}}", "YAML tag '!local' refused"),
])
def test_a_command_line_value_is_read_as_strictly_as_a_file(entry, msg):
    with pytest.raises(ConfigError, match=re.escape(msg)) as err:
        check_command_line([entry])
    assert str(err.value).startswith(f"--config {entry.split('=')[0]}=") and "\n" not in str(err.value)
    check_command_line(["name=plain", "simulation={train: {steps: 1}}", "tracking={uri: http://h:5000}",
                        "name=a: b: c"])  # fine (the last is no YAML: it stays text, as Snakemake keeps it)


@pytest.mark.parametrize("text,msg", [
    ("name: !!python/object/apply:os.system [echo hi]\n", "line 1: YAML tag"),
    ("a: 1\nb: !!python/name:os.system\n", "line 2: YAML tag"),
    ("a: [1\n", "not valid YAML"),
    ("__use_yte__: true\nname: x\n", "a config file is code to Snakemake"),
])
def test_a_config_file_with_code_or_tags_is_refused_in_one_line(tmp_path, text, msg):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(msg)) as err:
        load_yaml(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_the_workflow_refuses_a_repeated_key_on_the_command_line(tmp_path):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run", "--snakefile",
           str(ROOT / "Snakefile"), "--configfile",
           str(ROOT / "tests" / "data" / "tiny.yaml"), "--config",
           "simulation={train: {steps: 10, steps: 20}}"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "key 'steps' appears twice" in out and "Traceback" not in out, out


# -- 4. sizes that leave a statistic undefined ------------------------------------------------------


@pytest.mark.parametrize("path,value,msg", [
    (("simulation", "train", "batch_size"), 1, "less than the minimum of 2 (allowed: type integer, >= 2; at least 2: f's BatchNorm"),
    (("images", "train", "batch_size"), 1, "less than the minimum of 2 (allowed: type integer, >= 2; official 2**12; at least 2"),
    (("images", "export_activations", "rows"), 1, "less than the minimum of 2"),
    (("simulation", "probe", "n_affine"), 6, "fit half must hold at least"),
    (("simulation", "probe", "knn_neighbors"), 500, "more neighbours than the 400 rows"),
    (("simulation", "probe", "n_linear"), 7, "n_linear = 7: R²_o of d = 3 latents is fitted on half"),
])
def test_sizes_that_leave_a_statistic_undefined_are_refused(path, value, msg):
    cfg = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=re.escape(msg)):
        check_config(cfg, SCHEMA)


# -- 5. faults leave a clear path -------------------------------------------------------------------

PARENT = """
import subprocess, sys, time
from linid.pipeline.context import mark_workflow_process
mark_workflow_process()
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, flush=True)
time.sleep(120)
"""
CHILD = """
import signal, sys, time
from linid.pipeline.context import watch_workflow
signal.signal(signal.SIGTERM, lambda *a: (print("checkpoint saved", flush=True), sys.exit(3)))
watch_workflow(interval=0.1, grace=30)
time.sleep(120)
"""


def test_a_job_stops_when_the_workflow_is_killed(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True,
                              env=env, cwd=tmp_path)
    child = int(parent.stdout.readline())
    time.sleep(1.0)
    assert Path(f"/proc/{child}").exists()
    parent.send_signal(signal.SIGKILL)  # as `kill -9` of the main snakemake
    parent.wait()
    for _ in range(100):
        if not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the orphaned job lived on after its workflow was killed")


def test_a_lost_log_file_and_an_unwritable_output_end_in_one_line_naming_the_path(tmp_path):
    code = (
        "from linid.pipeline.context import setup_logging\n"
        "import logging, sys\n"
        "setup_logging('/dev/full')\n"  # every write fails (ENOSPC), as on a full disk
        "logging.getLogger('x').info('hello')\n"
        "open('/dev/null/out.csv', 'w')\n"  # a path no job can write, even as root
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, (proc.returncode, proc.stderr)  # not 120 ("lost sys.stderr")
    assert "cannot write the log file /dev/full" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("linid: cannot access /dev/null/out.csv:"), proc.stderr


def test_a_garbage_store_is_named_corrupt_not_unreachable(tmp_path, capsys):
    from linid.pipeline.context import sqlite_uri
    from linid.pipeline.store import corrupt_store, try_store

    db = tmp_path / "mlflow.db"
    db.write_bytes(b"garbage" * 100)
    uri = sqlite_uri(db)
    assert "is corrupt" in corrupt_store(uri) and "mv " in corrupt_store(uri)
    assert corrupt_store(sqlite_uri(tmp_path / "absent.db")) is None
    os.environ.pop("LINID_TRACKING_OFFLINE", None)
    try:
        assert try_store(uri, "x", tmp_path / "pending") is False
    finally:
        os.environ.pop("LINID_TRACKING_OFFLINE", None)
    out = capsys.readouterr().out
    assert "is corrupt" in out and "unreachable" not in out


def test_waiting_journals_are_sent_when_any_run_ends(tmp_path, monkeypatch):
    import atexit

    from linid.pipeline import store

    hooks, sent = [], []
    monkeypatch.setattr(atexit, "register", hooks.append)
    monkeypatch.setattr(store, "send_pending", lambda uri, pending: sent.append(pending) or "sent")
    monkeypatch.delenv("LINID_TRACKING_OFFLINE", raising=False)
    pending = tmp_path / "pending"
    store.send_at_exit("sqlite:///x.db", pending)
    hooks[0]()
    assert sent == []  # nothing waits: nothing is sent (no MLflow import)
    pending.mkdir()
    (pending / "1.json").write_text("{}")
    hooks[0]()
    assert sent == [pending]
    # the workflow registers it in its main process, whatever the run does
    assert "send_at_exit(" in (ROOT / "workflow" / "rules" / "common.smk").read_text()


# -- 6. cluster scale -------------------------------------------------------------------------------


def test_seed_pairs_are_sharded_into_bounded_jobs_that_cover_every_pair_once():
    from linid.pipeline.shards import pair_shards, pairs_runtime, shard_seeds

    shards = pair_shards(list(range(1000)), 5000)
    assert len(shards) == 100 and max(map(len, shards)) <= 5000
    flat = [p for s in shards for p in s]
    assert flat == list(itertools.combinations(range(1000), 2))  # every pair once, in order
    assert [len(s) for s in pair_shards(list(range(5)), 4)] == [4, 3, 3]
    assert shard_seeds([(0, 3), (1, 3)]) == [0, 1, 3]
    assert pairs_runtime(5000, 0.03) == 5 and pairs_runtime(100_000, 0.03) == 50
    assert pairs_runtime(100_000, 0.03, attempt=2) == 100


def test_sharded_comparisons_equal_the_unsharded_table(tmp_path):
    from linid.pipeline.shards import pair_shards
    from linid.probes.pairs import merge_parts, pairwise

    rng = np.random.default_rng(0)
    seeds = [0, 1, 2, 3]
    feats = {f"f_s{s}": rng.normal(size=(60, 3)) for s in seeds} | {"seeds": np.array(seeds)}
    full, _ = pairwise(feats, ("f",), 2)
    paths = []
    for i, part in enumerate(pair_shards(seeds, 2)):
        rows, _ = pairwise(feats, ("f",), 2, part)
        paths.append(tmp_path / f"part{i}.csv")
        pd.DataFrame(rows).to_csv(paths[-1], index=False)
    merged = merge_parts(paths)
    pd.testing.assert_frame_equal(merged, pd.DataFrame(full), check_dtype=False)


def test_resource_requests_are_capped_and_the_rule_named(capsys):
    from linid.pipeline import shards

    shards._WARNED.clear()
    assert shards.capped("image_train", "runtime", 7.2e12, 10080, "resources.max_runtime_minutes") == 10080
    assert shards.capped("image_train", "runtime", 8e12, 10080, "resources.max_runtime_minutes") == 10080
    assert shards.capped("train", "runtime", 60, 10080, "resources.max_runtime_minutes") == 60
    err = capsys.readouterr().err
    assert err.count("WARNING") == 1 and "rule image_train" in err and "resources.max_runtime_minutes" in err


def test_the_workflow_shards_pair_jobs_and_caps_requests(tmp_path):
    """A dry run: 3 seeds (3 pairs a cell) at 2 pairs a job give 2 compare_sim_part jobs a cell, and
    a 5-minute ceiling caps the training jobs' requests with a warning naming the rule."""
    from tests.helpers import make_checkout, smk

    repo = make_checkout(tmp_path / "repo")
    cfg = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    cfg["simulation"]["sweeps"]["tiny"]["seeds"] = [0, 1, 2]
    cfg["compare"] = {"max_pairs_per_job": 2}
    cfg["resources"]["max_runtime_minutes"] = 5
    cfg["family"]["enabled"] = False
    (repo / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    proc = smk(repo, "--dry-run")
    out = proc.stdout + proc.stderr
    jobs = dict(re.findall(r"^(compare_sim(?:_part)?)\s+(\d+)\s*$", out, re.M))
    assert int(jobs["compare_sim"]) > 0 and int(jobs["compare_sim_part"]) == 2 * int(jobs["compare_sim"]), out
    assert "rule train asks for runtime" in out, out


@pytest.mark.slow
def test_sigkill_of_snakemake_stops_training_and_the_rerun_resumes(tmp_path):
    """End to end: `kill -9` of the main snakemake mid-training. The orphaned training job stops
    itself within seconds, keeping its checkpoint; the rerun resumes from that step, not from 0."""
    from tests.helpers import SNAKEMAKE, make_checkout
    from tests.test_guarantees import MODEL, PACK, _config, _env, _one_model, _run, _train_pids

    repo = make_checkout(tmp_path / "repo")
    config = _config(tmp_path, "one.yaml", _one_model)
    target = f"{MODEL}/model.pt"
    sm = subprocess.Popen(SNAKEMAKE + [target, "--cores", "2", "--configfile", str(config)], cwd=repo,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    ckpt = repo / f"results/checkpoints/sim/packs/{PACK}.ckpt"
    deadline = time.monotonic() + 300
    while not ckpt.exists():
        assert sm.poll() is None and time.monotonic() < deadline, "no checkpoint before the end"
        time.sleep(0.05)
    pids = _train_pids(repo)
    assert pids, "training process not found"
    sm.kill()  # SIGKILL: no handler runs in snakemake
    sm.wait()
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{p}").exists() and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"
              for p in pids):
        assert time.monotonic() < deadline, "the orphaned training job lived on"
        time.sleep(0.2)
    assert ckpt.exists() and not (repo / target).exists()
    log = (repo / f"results/logs/train/{PACK}.log").read_text()
    assert "the workflow's process" in log and "is gone" in log
    stopped = int(re.search(r"received SIGTERM at step (\d+); checkpoint saved", log).group(1))
    assert 0 < stopped < 1500
    assert _run(repo, config, "--unlock").returncode == 0
    proc = _run(repo, config, target, "--rerun-incomplete")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (repo / f"results/logs/train/{PACK}.log").read_text()
    assert int(re.search(r"resuming from checkpoint .* at step (\d+)", log).group(1)) == stopped

    # a journal left waiting (the store was unreachable then) is sent by a "Nothing to be done" run
    from linid.pipeline.context import sqlite_uri
    from linid.pipeline.tracking import JobRun

    pending = repo / "results" / ".mlflow_pending"
    with JobRun("probe", {"seed": "9"}, uri=sqlite_uri(repo / "results" / "mlflow.db"),
                experiment="tiny", pending_dir=pending):
        pass
    assert len(list(pending.glob("*.json"))) == 1
    proc = _run(repo, config, target)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Nothing to be done" in out and "wrote 1 job run(s)" in out, out
    assert not list(pending.glob("*.json"))


# == issue 28, hardening round 3: classes 6, 7, 8 ===================================================
# 6. a user's corpus is an input, checked at the door; 7. every comparison's rows exceed its
# dimensions, or it is refused at the door / reported undefined; 8. the door's probe-size rule is the
# job's.


def _text_config(tmp_path: Path, source="text", path=None, **over) -> dict:
    """A text-only config (the schema's defaults filled in by validate_config) on a user's corpus."""
    text = {"enabled": True, "seeds": [0, 1], "corpus": {"source": source, "path": str(path or "")},
            "compare": {"min_count": 5}, "train": {"steps": 10}}
    for section, values in over.items():
        text[section] = {**text.get(section, {}), **values}
    return {"name": "t", "simulation": {"enabled": False}, "resources": {"gpus": 0}, "text": text}


def _user_text(path: Path, words=12, tokens=4000) -> Path:
    rng = np.random.default_rng(0)
    path.write_text(" ".join(rng.choice([f"w{i}" for i in range(words)], size=tokens)), encoding="utf-8")
    return path


def _door(cfg: dict) -> list[str]:
    from linid.pipeline.config import validate_config

    try:
        validate_config(cfg, SCHEMA)
    except ConfigError as err:
        return str(err).splitlines()[1:]
    return []


CORPUS_FILES = {  # name: (source, file name, writer, the problem named)
    "empty": ("text", "c.txt", lambda p: p.write_bytes(b""), "holds no token (it is empty or whitespace only)"),
    "whitespace": ("text", "c.txt", lambda p: p.write_text(" \n\t \n"), "holds no token"),
    "not utf-8": ("text", "c.txt", lambda p: p.write_bytes(b"caf\xe9 au lait " * 50),
                  "is not UTF-8 text (byte 0xe9 at offset 3); save it as UTF-8"),
    "window > corpus": ("text", "c.txt", lambda p: p.write_text("a b c"),
                        "3 token(s), but a window of 2·half + 1 = 5 tokens needs at least 5"),
    "float ids": ("ids", "ids.npy", lambda p: np.save(p, np.arange(100.0)),
                  "token ids must be integers, got dtype float64"),
    "2-D ids": ("ids", "ids.npy", lambda p: np.save(p, np.zeros((50, 2), dtype=np.int64)),
                "needs one 1-D array of token ids (one stream), got shape (50, 2)"),
    "negative ids": ("ids", "ids.npy", lambda p: np.save(p, np.arange(-1, 99)), "token ids must be ≥ 0, found -1"),
    "npz as npy": ("ids", "ids.npy", lambda p: np.savez(open(p, "wb"), ids=np.arange(100)),
                   "is an .npz archive under a .npy name; save the ids with np.save"),
    "not npy": ("ids", "ids.npy", lambda p: p.write_text("1 2 3 4 5 6"), "is not a .npy array"),
}


@pytest.mark.parametrize("case", CORPUS_FILES)
def test_a_corpus_file_the_job_cannot_use_is_named_at_the_door(tmp_path, case):
    source, name, write, msg = CORPUS_FILES[case]
    path = tmp_path / name
    write(path)
    problems = _door(_text_config(tmp_path, source, path))
    assert problems == [f"  - config key text.corpus.path = {str(path)!r}: {msg}"] or (
        len(problems) == 1 and msg in problems[0] and str(path) in problems[0]), problems


def test_a_jobs_own_parse_leaves_the_corpus_content_to_the_main_process(tmp_path):
    """Under SLURM every job re-reads the workflow: only the main process reads the whole corpus
    (common.smk: contents=workflow.is_main_process); a missing file is still refused everywhere."""
    from linid.pipeline.config import validate_config

    bad = tmp_path / "c.txt"
    bad.write_bytes(b"caf\xe9 au lait " * 50)
    validate_config(_text_config(tmp_path, "text", bad), SCHEMA, contents=False)  # no read, no error
    assert "is not UTF-8" in " ".join(_door(_text_config(tmp_path, "text", bad)))
    with pytest.raises(ConfigError, match="no such file"):
        validate_config(_text_config(tmp_path, "text", tmp_path / "gone.txt"), SCHEMA, contents=False)


def test_sparse_token_ids_are_remapped_to_a_dense_vocabulary(tmp_path):
    from linid.text.corpus import build_corpus

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 40, 5000)
    ids[::97] = 10**9  # ids 0–39 and one id 10⁹: 41 words, not 10⁹ + 1
    np.save(tmp_path / "ids.npy", ids)
    cfg = _text_config(tmp_path, "ids", tmp_path / "ids.npy")
    assert _door(cfg) == []
    p = {**cfg["text"]["corpus"], "seed": 0, "half": 2, "eval_fraction": 0.05}
    train, held, vocab, _ = build_corpus(p)
    assert len(vocab) == 41 and vocab[-1] == "1000000000" and vocab[:3] == ["0", "1", "2"]
    dense = np.concatenate([train[:, 2], held[:, 2]])
    assert dense.max() == 40 and np.isin(40, train) and dense.dtype == np.int64


def test_overwriting_the_corpus_file_reruns_its_corpus_job(tmp_path):
    """The corpus file is an input of text_corpus: newer than the job's outputs, it reruns the job
    (before, it was a param only: "Nothing to be done", tables of the old corpus)."""
    corpus = _user_text(tmp_path / "my.txt")
    cfg = _text_config(tmp_path, "text", corpus)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/text/corpus/base.npz"
    for f in (target, "results/text/corpus/base.json"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("{}")
    old = time.time() - 100
    for f in (target, "results/text/corpus/base.json"):
        os.utime(tmp_path / f, (old, old))
    os.utime(corpus, (old - 100, old - 100))  # the outputs are newer than the corpus: up to date

    def dry():
        cmd = [sys.executable, "-m", "snakemake", target, "--cores", "1", "--dry-run", "--snakefile",
               str(ROOT / "Snakefile"), "--configfile", "c.yaml"]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    assert "Nothing to be done" in dry()
    _user_text(corpus, words=15)  # the user overwrites the file
    out = dry()
    assert "rule text_corpus:" in out and f"reason: Updated input files: {corpus}" in out, out[-3000:]


def test_comparisons_whose_words_do_not_exceed_their_dimensions_are_refused_or_undefined(tmp_path):
    from linid.probes.cca import cca
    from linid.text.compare import METRICS, compare_embeddings

    # at the door: a 64-D model on a 30-word corpus (the mCCA 1.000 [1.000, 1.000])
    corpus = _user_text(tmp_path / "my.txt", words=30)
    [msg] = _door(_text_config(tmp_path, "text", corpus, model={"dim": 64}))
    assert "cell base compares 30 word(s)" in msg and "at least 132" in msg and "model.dim" in msg
    assert _door(_text_config(tmp_path, "text", corpus, model={"dim": 2})) == []
    # a count threshold no word can pass: known at the door, not after every replica trained
    [msg] = _door(_text_config(tmp_path, "text", corpus, compare={"min_count": 10**6}))
    assert msg.startswith("  - config key text.compare.min_count = 1000000: no word of cell base passes it")
    gen = _text_config(tmp_path, "generated", corpus={"source": "generated", "n_windows": 1000},
                       compare={"min_count": 2000})
    [msg] = _door(gen)
    assert "min_count = 2000: no word of cell base can pass it (950 training windows" in msg
    gen["text"]["compare"]["min_count"] = 200  # at most 950 // 200 = 4 words pass: fewer than 2-D needs
    assert "compares at most 4 word(s)" in _door(gen)[0]
    # the family's comparisons: 64-wide hidden layers on 100 held-out inputs
    fam = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    fam["family"]["data"] = {**fam["family"].get("data", {}), "n_eval": 100}
    fam["family"]["model"] = {"hidden": [64, 64]}
    with pytest.raises(ConfigError, match=re.escape("family.data.n_eval = 100: the comparisons of two "
                                                    "models' 64-wide layers need at least 132")):
        check_config(fam, SCHEMA)
    # in the job: undefined with its reason, never a number; CCA itself refuses such rows
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((30, 64)), rng.standard_normal((30, 64))
    m = compare_embeddings(a, b, seed=0)
    assert all(np.isnan(m[k]) for k in METRICS) and m["note"].startswith("undefined: 30 compared word(s)")
    with pytest.raises(ValueError, match="CCA is undefined on 30 rows for 29 \\+ 29 directions"):
        cca(a, b)
    assert compare_embeddings(a[:, :2], b[:, :2], seed=0)["note"] == ""


def test_the_text_summary_reports_the_corpus_vocabulary_size(tmp_path, monkeypatch):
    from linid.core.io import atomic_json
    from linid.text.compare import cell_pairs

    monkeypatch.setenv("LINID_TRACKING_DISABLED", "1")
    rng = np.random.default_rng(0)
    emb = {s: {k: rng.standard_normal((41, 2)) for k in ("q", "r", "q_init", "r_init")} for s in (0, 1)}
    pairs = cell_pairs(emb, np.arange(41), None, seed=0)
    pairs.insert(0, "cell", "base")
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    atomic_json(tmp_path / "meta.json", {"vocab_size": 41})
    for s in (0, 1):
        atomic_json(tmp_path / f"s{s}.json", {"job_uid": f"u{s}"})
    row = {"cell": "base", "source": "ids", "vocab_size": 200, "dim": 2}  # 200: the configured size
    ns = SimpleNamespace
    out = ns(pairs=str(tmp_path / "all.csv"), summary=str(tmp_path / "s.csv"), summary_md=str(tmp_path / "s.md"),
             summary_html=str(tmp_path / "s.html"), summary_table_html=str(tmp_path / "t.html"))
    smk = ns(rule="text_tables", log=[str(tmp_path / "log")], wildcards={}, output=out, params=ns(cells=[row]),
             input=ns(pairs=[str(tmp_path / "pairs.csv")], metas=[str(tmp_path / "meta.json")],
                      summaries=[str(tmp_path / f"s{s}.json") for s in (0, 1)]))
    _script("text_tables").main(smk)
    assert set(pd.read_csv(out.summary)["vocab_size"]) == {41}


@pytest.mark.parametrize("n_affine,n_linear", [(8, 3), (8, 5), (8, 6), (7, 6), (12, 4), (10, 8), (9, 7)])
def test_the_door_accepts_exactly_the_probe_sizes_the_probe_job_takes(n_affine, n_linear):
    """d = 2: the door accepted n_linear ≥ d + 1 = 3, the probe needed ≥ 4, and every probe job
    failed after training. Both now ask linid.probes.sizes.probe_block_problems."""
    from linid.probes.suite import control_metrics, probe_metrics

    cfg = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    cfg["simulation"]["sweeps"]["tiny"]["axes"]["latent_dim"] = [2]
    cfg["simulation"]["probe"] = {"n_affine": n_affine, "n_linear": n_linear, "knn_neighbors": 2}
    try:
        check_config(cfg, SCHEMA)
        door = None
    except ConfigError as err:
        door = str(err)
    z = np.random.default_rng(0).standard_normal((n_affine + n_linear, 2))
    f = z @ np.array([[2.0, 1.0], [0.0, 1.0]])
    try:
        probe_metrics(f, z, kappa=1.0, n_affine=n_affine, n_linear=n_linear, knn_neighbors=2)
        control_metrics(f, z, n_affine=n_affine, n_linear=n_linear, knn_neighbors=2)
        job = None
    except ValueError as err:
        job = str(err)
    assert (door is None) == (job is None), (door, job)
    if job is not None:  # the same words, the config key in front
        assert job.split("; ")[0] in door
# == Issue 28, classes 11 and 12: files found from anywhere; recovery hints that work ==============
# 11. bundled files are the checkout's, wherever snakemake runs; 12. a pack member is checked when
# copied out, a hint that recovers, docstrings rerun nothing, lost metadata noticed, a full disk named.


def test_the_workflow_runs_from_another_folder_and_with_directory(tmp_path):
    # `-s CHECKOUT/Snakefile` from elsewhere and `--directory DIR`: the default config, the schema
    # and workflow/resources/ are the checkout's; results go under the working directory
    elsewhere, work = tmp_path / "elsewhere", tmp_path / "work"
    elsewhere.mkdir()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(work),
           "--cores", "1", "-n", "--config", "tracking={enabled: false}"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(cmd, cwd=elsewhere, capture_output=True, text=True, timeout=300, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "paper_comparison" in out and "MissingInputException" not in out
    assert "results/tables/paper_comparison.csv" in out  # relative to the working directory
    assert not (elsewhere / "results").exists()  # nothing written where the command was typed


def test_a_config_file_that_cannot_be_read_is_named_not_a_traceback(tmp_path):
    with pytest.raises(ConfigError, match=r"config file .*absent.yaml: cannot read it \(No such file"):
        load_yaml(tmp_path / "absent.yaml")


def _member(folder: Path) -> Path:
    """A pack member as the train job writes it: a torch.save zip archive, its summary and curve."""
    import zipfile

    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "model.pt", "w") as archive:
        archive.writestr("archive/data.pkl", os.urandom(4000))
        archive.writestr("archive/data/0", os.urandom(4000))
    (folder / "train.json").write_text('{"steps": 40}\n')
    (folder / "curve.csv").write_text("step,loss\n10,2.0\n20,1.5\n")
    return folder


def _truncate(path: Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the first entry's data: its CRC no longer matches
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name,damage,why", [
    ("model.pt", _truncate, "BadZipFile"),
    ("model.pt", _flip, "fails its CRC check"),
    ("train.json", _truncate, "JSONDecodeError"),
    ("curve.csv", lambda p: p.write_text("step,loss\n10,2.0\n20,1."), "last line is cut"),
])
def test_a_damaged_pack_member_is_not_copied_and_the_hint_retrains_its_pack(tmp_path, name, damage, why):
    from linid.pipeline.packs import BadMember, copy_member

    pack = tmp_path / "results" / "sim" / "packs" / "p0"
    member = _member(pack / "d2" / "supervised" / "free" / "seed0")
    out = {k: str(tmp_path / "copy" / n) for k, n in
           (("model", "model.pt"), ("summary", "train.json"), ("curve", "curve.csv"))}
    copy_member(str(pack), "d2/supervised/free/seed0", out)  # whole: copied
    for path in out.values():
        os.remove(path)
    damage(member / name)
    with pytest.raises(BadMember) as err:
        copy_member(str(pack), "d2/supervised/free/seed0", out)
    msg = str(err.value)
    assert f"{member / name} is damaged" in msg and why in msg, msg
    # the hint reruns the pack's job (not the copy, which would copy the same damaged file again;
    # nor deleting the folder, which Snakemake skips while the tables are up to date)
    assert f"`--forcerun {pack}`" in msg and "rm " not in msg
    assert not (tmp_path / "copy" / name).exists() and not list((tmp_path / "copy").glob("*.part"))


def test_a_pack_folder_that_lost_a_member_is_refused_naming_the_command(tmp_path, monkeypatch):
    from linid.pipeline.packs import Pack, incomplete_packs, lost_members_message

    monkeypatch.chdir(tmp_path)
    files = ["results/m/model.pt", "results/m/train.json", "results/m/curve.csv"]
    packs = [Pack("p0", (("d2", "supervised", "free", 0), ("d2", "supervised", "free", 1))),
             Pack("p1", (("d3", "supervised", "free", 0),))]
    args = ("results/packs/{pack}", "{data}/{method}/{head}/seed{seed}", files)
    for key in packs[0].members:
        _member(tmp_path / "results" / "packs" / "p0" / "d2" / "supervised" / "free" / f"seed{key[3]}")
    assert incomplete_packs(packs, *args) == {}  # p1 was never trained: Snakemake trains it
    (tmp_path / "results/packs/p0/d2/supervised/free/seed1/model.pt").unlink()
    lost = incomplete_packs(packs, *args)
    assert lost == {"results/packs/p0": ["results/packs/p0/d2/supervised/free/seed1/model.pt"]}
    msg = lost_members_message(lost)
    assert "`--forcerun results/packs/p0`" in msg
    # a command that already reruns the pack passes the door
    assert incomplete_packs(packs, *args, forced=["results/packs/p0/"]) == {}
    assert incomplete_packs(packs, *args, forced=["train"]) == {}
    assert incomplete_packs(packs, *args, forced=[str(tmp_path / "results/packs/p0")]) == {}


def test_a_pack_folder_trained_for_another_membership_is_left_to_snakemake(tmp_path, monkeypatch):
    """Seeds added or pack_size changed: the folder's members are all whole, only the plan's new
    members are missing; the pack's params changed and Snakemake reruns it, so the door lets it be."""
    import json

    from linid.pipeline.packs import Pack, incomplete_packs

    monkeypatch.chdir(tmp_path)
    files = ["results/m/model.pt", "results/m/train.json", "results/m/curve.csv"]
    args = ("results/packs/{pack}", "{data}/{method}/{head}/seed{seed}", files)
    for seed in (2, 3):  # trained as a pack of two
        folder = _member(tmp_path / "results/packs/p1/d2/supervised/free" / f"seed{seed}")
        (folder / "train.json").write_text(json.dumps({"steps": 40, "pack_size": 2}))
    now = [Pack("p1", (("d2", "supervised", "free", 2), ("d2", "supervised", "free", 4)))]
    assert incomplete_packs(now, *args) == {}  # seed 4 replaces seed 3: the pack reruns
    bigger = [Pack("p1", tuple(("d2", "supervised", "free", s) for s in (2, 3, 5)))]
    assert incomplete_packs(bigger, *args) == {}  # seed 5 joins: the pack reruns
    (tmp_path / "results/packs/p1/d2/supervised/free/seed3/model.pt").unlink()  # now one is lost
    assert list(incomplete_packs(bigger, *args)) == ["results/packs/p1"]


PACKED = """
name: packed
tracking: {enabled: false}
compare: {enabled: false}
simulation:
  sweeps:
    s:
      design: grid
      base: {n_instances: 64}
      axes: {latent_dim: [2], n_classes: [8]}
      methods: [supervised]
      seeds: [0, 1]
  data: {n_eval: 1200, n_monitor: 256, cond_candidates: 200}
  train: {steps: 40, batch_size: 64, log_every: 10, eval_every: 20, checkpoint_every: 20,
          chunk_steps: 8, pack_size: 2}
  probe: {n_affine: 800, n_linear: 400}
resources: {gpus: 0}
"""


@pytest.mark.slow
def test_following_the_hints_recovers_a_damaged_or_lost_pack_member(tmp_path):
    import torch

    from tests.helpers import make_checkout, smk

    repo = make_checkout(tmp_path / "repo")
    (repo / "packed.yaml").write_text(PACKED)
    cfg = repo / "packed.yaml"
    smk(repo, config=cfg)
    (pack,) = (repo / "results" / "sim" / "packs").iterdir()
    member = "d2_C8_N64_k10_vmf_uniform_p0_s0/supervised/free/seed0"
    copy = repo / "results" / "sim" / "models" / member / "model.pt"
    weights = torch.load(copy, weights_only=True)["encoder"]

    def same_weights():
        now = torch.load(copy, weights_only=True)["encoder"]
        return all(torch.equal(now[k], weights[k]) for k in weights)

    # a truncated member, and its copy deleted (the old hint): not copied out again
    _truncate(pack / member / "model.pt")
    copy.unlink()
    proc = smk(repo, "--forcerun", "trained_model", config=cfg, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"{pack.relative_to(repo)}/{member}/model.pt is damaged" in out, out[-3000:]
    assert not copy.exists()
    hint = re.search(r"`--forcerun (\S+)`", out).group(1)
    smk(repo, "--forcerun", hint, config=cfg)  # the hint, followed: the pack retrains
    assert same_weights()

    # the copy and its member deleted: refused at the door (not "Nothing to be done"), then the hint
    (pack / member / "model.pt").unlink()
    copy.unlink()
    proc = smk(repo, config=cfg, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "lost a model's files" in out and "Nothing to be done" not in out
    smk(repo, "--forcerun", re.search(r"`--forcerun (\S+)`", out).group(1), config=cfg)
    assert same_weights()
    assert "Nothing to be done" in smk(repo, "-n", config=cfg).stdout

    # 12c: .snakemake/ deleted, then a probe setting changed: the records come back from results/
    # and the probes rerun (without them Snakemake compares file times only: "Nothing to be done")
    subprocess.run(["rm", "-r", ".snakemake"], cwd=repo, check=True)
    proc = smk(repo, "-n", "--config", "simulation={probe.n_linear: 300}", config=cfg)
    out = proc.stdout + proc.stderr
    assert "restored Snakemake's records" in out and re.search(r"^probe\s+2$", out, re.M), out[-3000:]


def test_docstring_edits_rerun_nothing_code_edits_rerun_their_stage(tmp_path):
    import shutil

    from linid.core.fingerprints import FingerprintCache, stage_fingerprint

    shutil.copytree(ROOT / "linid", tmp_path / "linid", ignore=shutil.ignore_patterns("__pycache__"))
    script = ROOT / "workflow" / "scripts" / "train.py"
    before = stage_fingerprint(tmp_path, script)
    training = tmp_path / "linid" / "sim" / "training.py"
    text = training.read_text()
    first = text.index('"""', text.index("\ndef ")) + 3  # inside the first function's docstring
    edited = text[:first] + "An edited docstring. " + text[first:]
    edited = edited.replace('"""', '"""Module prose, rewritten.\n\n', 1)  # and the module's own
    training.write_text(edited)
    assert stage_fingerprint(tmp_path, script) == before
    # the on-disk cache of an older hash cannot hand out a stale value: its keys carry the version
    cache = FingerprintCache(tmp_path / "cache.json")
    assert stage_fingerprint(tmp_path, script, cache) == before
    training.write_text(edited + '\nNOTE = "a string the code can read"\n')  # code: it counts
    assert stage_fingerprint(tmp_path, script) != before


def test_snakemakes_records_are_kept_beside_results_and_restored(tmp_path, monkeypatch, capsys):
    from linid.pipeline.records import BACKUP, METADATA, restore_records, save_records

    monkeypatch.chdir(tmp_path)
    meta = tmp_path / METADATA
    assert save_records() == 0 and restore_records() == 0  # a fresh checkout: nothing either way
    meta.mkdir(parents=True)
    (meta / "cmVzdWx0cy9h").write_text('{"params": ["a"]}')
    (meta / "sub").mkdir()
    (meta / "sub" / "cmVzdWx0cy9i").write_text('{"params": ["b"]}')
    assert save_records() == 0  # no results/ yet: nothing to keep them beside
    (tmp_path / "results").mkdir()
    assert save_records() == 2 and save_records() == 0  # unchanged records are not copied again
    (meta / "cmVzdWx0cy9h").write_text('{"params": ["a2"]}')
    (meta / "sub" / "cmVzdWx0cy9i").unlink()  # e.g. snakemake --cleanup-metadata
    assert save_records() == 1 and not (tmp_path / BACKUP / "sub" / "cmVzdWx0cy9i").exists()
    assert restore_records() == 0  # records present: left alone
    subprocess.run(["rm", "-r", ".snakemake"], check=True)
    assert restore_records() == 1
    assert (meta / "cmVzdWx0cy9h").read_text() == '{"params": ["a2"]}'
    # a results/ that cannot take the copy: one line at the end of the run, no traceback
    from linid.pipeline import records

    monkeypatch.setattr(records, "save_records", lambda: (_ for _ in ()).throw(PermissionError(13, "denied")))
    records.keep_records()
    assert "could not keep Snakemake's records" in capsys.readouterr().err


@pytest.mark.parametrize("free,says", [(0, "No space left on device (is the disk full?)"),
                                       (10**12, "writing failed ([enforce fail")])
def test_a_full_disk_under_torch_save_is_one_line_naming_the_path(tmp_path, monkeypatch, capfd, free, says):
    import shutil
    from collections import namedtuple

    import torch

    from linid.pipeline.context import _one_line_os_errors
    from linid.sim.models import build_models, save_model

    def full(obj, f, *a, **k):  # what torch.save raises when the disk fills (seen on a 64 KiB tmpfs)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 62976 vs 62872")

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: namedtuple("U", "total used free")(1, 1, free))
    path = tmp_path / "model.pt"
    path.write_text("the model computed before")
    with pytest.raises(OSError) as err:
        save_model(path, *build_models(2, 8, 0), {})
    assert err.value.filename == str(path)
    assert path.read_text() == "the model computed before" and [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    _one_line_os_errors(OSError, err.value, None, default=lambda *a: None)
    line = capfd.readouterr().err
    assert line.count("\n") == 1 and line.startswith(f"linid: cannot access {path}: ") and says in line, line
# -- issue 28, round 3: the MLflow store shared, outdated or on a full disk (classes 10 and 12) -----
# (a results/ folder copied or moved: tests/pipeline/test_tracking.py
#  test_a_copied_results_folder_serves_its_own_artifacts)


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    return sqlite_store(tmp_path, monkeypatch)


_live_runs = store_runs


def test_checkouts_sharing_a_store_never_supersede_each_others_live_runs(mlflow_store, monkeypatch):
    """A job's identity is its project plus rule and wildcards: a second checkout's runs of the same
    job leave the first's live, and of two runs of one job that finish together the newer stays
    live, whichever finishes last."""
    from linid.pipeline.store import replay_pending
    from linid.pipeline.tracking import JobRun

    kw = dict(uri=mlflow_store["uri"], experiment="exp", pending_dir=mlflow_store["pending"], live=True,
              flush_seconds=0)
    wc = {"data": "d2", "seed": "0"}
    ids = {}
    for project in ("checkout-a", "checkout-b"):
        monkeypatch.setenv("LINID_PROJECT", project)
        with JobRun("train", wc, **kw) as run:
            run.log_metrics({"loss": 1.0}, step=1)
        ids[project] = run.run_id
        assert run.tags["linid.project"] == project
    assert {r.info.run_id for r in _live_runs(mlflow_store["uri"])} == set(ids.values())  # both live
    # in checkout a, two runs of the job at once; the newer one finishes first
    monkeypatch.setenv("LINID_PROJECT", "checkout-a")
    older = JobRun("train", wc, **kw).__enter__()
    time.sleep(0.01)
    newer = JobRun("train", wc, **kw).__enter__()
    newer.log_metrics({"loss": 0.5}, step=1)
    newer.__exit__(None, None, None)
    older.log_metrics({"loss": 0.7}, step=1)
    older.__exit__(None, None, None)  # its run was superseded meanwhile: it journals what it had
    replay_pending(mlflow_store["pending"])
    live = {r.info.run_id: r for r in _live_runs(mlflow_store["uri"])}
    assert set(live) == {newer.run_id, ids["checkout-b"]}
    gone = [r for r in _live_runs(mlflow_store["uri"], deleted=True) if r.info.run_id not in live]
    assert {r.data.tags["linid.superseded_by"] for r in gone} == {newer.run_id}
    assert any(r.data.metrics.get("loss") == 0.7 for r in gone)  # nothing lost: restorable


def test_an_out_of_date_store_schema_says_to_upgrade_it(mlflow_store, tmp_path, capsys, monkeypatch):
    import shutil
    import sqlite3

    from linid.pipeline.context import sqlite_uri
    from linid.pipeline.store import ensure_experiment, send_pending, try_store

    ensure_experiment(mlflow_store["uri"], "exp")
    old = tmp_path / "old.db"
    shutil.copy(mlflow_store["uri"][len("sqlite:///"):], old)
    with sqlite3.connect(old) as con:
        con.execute("UPDATE alembic_version SET version_num = 'bf29a5ff90ea'")
    uri = sqlite_uri(old)
    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "0")  # try_store sets it: undone after the test
    assert try_store(uri, "exp", mlflow_store["pending"]) is False
    out = capsys.readouterr().out
    assert "has an out-of-date database schema (version bf29a5ff90ea" in out
    assert f"db upgrade {uri}`" in out and "the first snakemake run after the upgrade sends them" in out
    assert "the next snakemake run" not in out
    assert "after the upgrade sends them" in send_pending(uri, mlflow_store["pending"])


def test_a_full_disk_is_one_line_naming_the_store(mlflow_store, monkeypatch, capsys, caplog):
    """SQLite's "database or disk is full" arrives wrapped in MLflow's exception with the SQL
    statement and every parameter: the user sees one line naming the file, and nothing retries."""
    import logging
    import sqlite3

    from mlflow.exceptions import MlflowException

    from linid.pipeline import store as st
    from linid.pipeline.tracking import JobRun

    sql = "INSERT INTO metrics (key, value) VALUES " + ", ".join(["(?, ?)"] * 2000)
    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as inner:
            raise MlflowException(f"(sqlite3.OperationalError) database or disk is full\n[SQL: {sql}]") from inner
    except MlflowException as exc:
        full = exc
    db = mlflow_store["uri"][len("sqlite:///"):]
    assert st.error_line(full, mlflow_store["uri"]) == f"cannot write {db}: the disk is full"
    calls = []

    def fail(*a, **k):
        calls.append(1)
        raise full

    assert pytest.raises(MlflowException, st.retry, fail, attempts=5)
    assert len(calls) == 1  # waiting frees no space
    monkeypatch.setattr(st, "ensure_experiment", fail)
    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "0")  # try_store sets it: undone after the test
    assert st.try_store(mlflow_store["uri"], "exp", mlflow_store["pending"]) is False
    out = capsys.readouterr().out
    assert f"is unreachable (cannot write {db}: the disk is full)" in out and "INSERT" not in out
    assert len(out.strip().splitlines()) == 1
    monkeypatch.setenv("LINID_TRACKING_OFFLINE", "0")
    monkeypatch.setattr(st, "replay_pending", fail)
    line = st.send_pending(mlflow_store["uri"], mlflow_store["pending"])
    assert "the disk is full" in line and "INSERT" not in line and "\n" not in line
    # a live training run that meets it at start: one line in its log, then its journal
    monkeypatch.setattr("linid.pipeline.tracking.ensure_experiment", fail)
    with caplog.at_level(logging.WARNING):
        with JobRun("train", {}, uri=mlflow_store["uri"], experiment="exp", pending_dir=mlflow_store["pending"], live=True):
            pass
    assert "the disk is full" in caplog.text and "INSERT" not in caplog.text
    # MLflow's own record of it (a traceback with the SQL) is dropped
    with caplog.at_level(logging.ERROR, logger="mlflow.store.db.utils"):
        caplog.clear()
        logging.getLogger("mlflow.store.db.utils").error("SQLAlchemy database error. The following exception "
                                                          "is caught.\n%s", full)
    assert "INSERT" not in caplog.text
# == Issue 28, class 9: free text from the config never reaches the Snakemake report raw ===========
# The report writes job params, wildcards and file lists into <script> blocks as raw JSON: a '</script>'
# there ends the block and the rest runs as live HTML. Names follow a safe pattern; no config text
# holds '<'; Markdown cells escape '|', '<' and '>'.

SCRIPT = "a</script><script>alert(1)</script>"


def _tiny() -> dict:
    return yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())


def _text_on(cfg, path):
    cfg["text"] = {"enabled": True, "corpus": {"source": "text", "path": path}}


@pytest.mark.parametrize("edit,key", [
    (lambda c: c["simulation"].__setitem__("sweeps", {SCRIPT: c["simulation"]["sweeps"]["tiny"]}),
     "config key simulation.sweeps = 'a</script>"),
    (lambda c: c["simulation"].__setitem__("sweeps", {"my sweep": c["simulation"]["sweeps"]["tiny"]}),
     "config key simulation.sweeps = 'my sweep'"),
    (lambda c: c.__setitem__("name", SCRIPT), "config key name = 'a</script>"),
    (lambda c: _text_on(c, f"{SCRIPT}.txt"), "config key text.corpus.path = 'a</script>"),
    (lambda c: c.__setitem__("tracking", {"uri": f"http://h:5000/{SCRIPT}"}), "config key tracking.uri = "),
    (lambda c: c.__setitem__("byo", {"enabled": True, "models": {SCRIPT: "m.npz"}}), "config key byo.models"),
    (lambda c: c.__setitem__("byo", {"enabled": True, "models": {"a": f"{SCRIPT}.npz"}}),
     "config key byo.models.a = 'a</script>"),
])
def test_text_that_would_end_the_reports_data_block_is_refused_naming_the_key(edit, key):
    cfg = _tiny()
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        check_config(cfg, SCHEMA)
    lines = [ln for ln in str(err.value).splitlines() if key in ln]
    assert lines, str(err.value)
    assert "letters, digits" in lines[0] or "Snakemake report" in lines[0] or "does not match" in lines[0]


def test_every_name_the_schema_accepts_as_a_key_follows_a_pattern_without_angle_brackets():
    """Each free-form mapping of the schema (sweeps, image datasets, BYO models) restricts its keys."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "propertyNames" in node:
                found.append(node["propertyNames"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SCHEMA)
    assert len(found) >= 3
    for names in found:
        assert "pattern" in names and not re.search(names["pattern"], "a<b") and re.search(names["pattern"], "ab_1")


def test_markdown_cells_escape_pipes_and_angle_brackets_and_html_shows_them_as_text():
    from linid.report.html import markdown_to_html
    from linid.report.tables import markdown_pairs, md_cell, md_row

    assert md_cell("a|b") == "a\\|b" and md_cell("<b>x</b>") == "\\<b\\>x\\</b\\>"
    assert md_cell("c\\d") == "c\\\\d" and md_cell("a\nb") == "a b"
    pairs = pd.DataFrame({"experiment": [SCRIPT, "e"], "cell": ["c|d", "c|d"], "method": ["m", "m"],
                          "head": ["h", "h"], "rep_dim": [2, 2], "n_classes": [3, 3], "diverse": [True, True],
                          "layer": ["<i>f", "<i>f"], "n_pairs": [2, 2], "mcca_mean": [0.5, 0.5],
                          "mcca_std": [0.1, 0.1]})
    md = markdown_pairs(pairs, ["mcca"])
    _rows_intact(md)
    assert "<" not in md.replace("\\<", "")  # every '<' escaped
    page = markdown_to_html(md + md_row(["c|d", SCRIPT]) + "\n", "t")
    assert "<script" not in page and "</script" not in page and "<i>" not in page
    assert "a&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page and "c|d" in page


def test_the_workflow_refuses_a_script_in_a_sweep_name_before_any_job(tmp_path):
    cfg = _tiny()
    cfg["simulation"]["sweeps"] = {SCRIPT: cfg["simulation"]["sweeps"]["tiny"]}
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run", "--snakefile",
           str(ROOT / "Snakefile"), "--configfile", str(path)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "invalid config" in out and "simulation.sweeps" in out, out
    assert "Traceback" not in out and not (tmp_path / "results").exists()
