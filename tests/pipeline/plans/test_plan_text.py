"""The text experiment's plan: cells and seeds, params, resources and the files of every cell."""

import copy
from pathlib import Path
from types import SimpleNamespace as W

import yaml

from linid.pipeline.plans.text import TextPlan
from tests.helpers import validated

ROOT = Path(__file__).resolve().parents[3]
TINY = yaml.safe_load((ROOT / "tests" / "configs" / "text_tiny.yaml").read_text())


def _plan(**text) -> TextPlan:
    cfg = copy.deepcopy(TINY)
    cfg["text"].update(text)
    validated(cfg)  # the schema's defaults filled in, as the workflow reads it
    return TextPlan(cfg)


def test_the_tiny_config_has_two_cells_of_two_seeds():
    plan = _plan()
    assert list(plan.cells) == ["rank2", "rank1"] and plan.seeds == [0, 1]
    assert [r["rank"] for r in plan.rows] == [2, 1] and [r["diverse"] for r in plan.rows] == [True, False]
    assert plan.allow_cpu is True  # the simulation's setting (schema default)
    assert plan.compare == {"figure_words": 10, "min_count": 5, "seed": 0}
    assert list(plan.compare) == sorted(plan.compare)


def test_a_disabled_experiment_has_no_cells():
    plan = _plan(enabled=False)
    assert plan.cells == {} and plan.rows == [] and plan.seed_files("{tcell}{seed}") == []


def test_params_of_a_cell_and_a_seed():
    plan = _plan()
    corpus = plan.corpus_params(W(tcell="rank1"))
    assert corpus["rank"] == 1 and corpus["vocab_size"] == 30 and corpus["source"] == "generated"
    corpus["rank"] = 99  # a copy: the plan's cell is untouched
    assert plan.cells["rank1"].corpus["rank"] == 1
    train = plan.train_params(W(tcell="rank2", seed="1"))
    assert train["seed"] == 1 and train["train"]["steps"] == 400 and train["model"]["init"] == "normal"


def test_runtime_scales_with_steps_and_attempt():
    plan = _plan()
    assert plan.train_runtime(W(tcell="rank1"), 1) == 10  # at least 10 minutes
    assert plan.train_runtime(W(tcell="rank1"), 2) == 20
    big = _plan(train={**TINY["text"]["train"], "steps": 1_000_000})
    # 1.5 x 100 (10k-step units) x 5 min x 0.5, x attempt
    assert big.train_runtime(W(tcell="rank1"), 1) == 375
    assert big.train_runtime(W(tcell="rank1"), 2) == 750
    assert plan.train_mem(W(tcell="rank1"), 3) == 6000


def test_files_of_every_cell_and_seed():
    plan = _plan(seeds=[3, 5, 9])
    assert plan.cell_files("c/{tcell}.csv") == ["c/rank2.csv", "c/rank1.csv"]
    assert plan.seed_files("m/{tcell}/seed{seed}.json") == [
        f"m/{c}/seed{s}.json" for c in ("rank2", "rank1") for s in (3, 5, 9)]
    models = plan.cell_seed_files("m/{tcell}/seed{seed}.npz")
    assert models(W(tcell="rank1")) == ["m/rank1/seed3.npz", "m/rank1/seed5.npz", "m/rank1/seed9.npz"]


def test_axes_make_a_grid_of_cells():
    plan = _plan(axes={"dim": [2, 3], "noise": ["unigram", "uniform"]})
    assert len(plan.cells) == 4 and "dim3_noiseuniform" in plan.cells
    assert plan.train_params(W(tcell="dim3_noiseuniform", seed="0"))["model"]["dim"] == 3
