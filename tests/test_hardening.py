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
from tests.helpers import ROOT

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
    assert len(problems) == 1 and "150 wide" in problems[0] and "byo.svcca_k <= 100" in problems[0]
    assert check_inputs(fac, models, {**settings, "svcca_k": 20}) == []
    assert "exceeds half" in check_inputs(fac, models, {**settings, "svcca_k": 101})[0]


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
    (("simulation", "probe", "n_linear"), 2, "R²_o of d = 3 latents needs at least"),
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
