"""The bring-your-own plan: models and factors per source, the pairs compared, the params."""

import copy
from types import SimpleNamespace as W

import numpy as np

from linid.byo.config import TEXT_LM
from linid.pipeline.plans.byo import ByoPlan
from linid.pipeline.plans.images import ImagesPlan
from tests.helpers import validated

IMAGES = {"enabled": True, "datasets": {"dsprites": {"subsample": 300}}, "models": ["pixels", "mlp"],
          "seeds": [0, 1], "export_activations": {"enabled": True, "rows": 100}}


def _plan(byo: dict, images: dict | None = None) -> ByoPlan:
    cfg = {"name": "plan_byo", "simulation": {"enabled": False}, "byo": {"enabled": True, **byo}}
    if images is not None:
        cfg["images"] = copy.deepcopy(images)
    validated(cfg)  # the schema's defaults filled in, as the workflow reads it
    return ByoPlan(cfg, ImagesPlan(cfg))


def test_a_disabled_experiment_has_no_models_and_no_jobs():
    plan = _plan({"enabled": False, "source": "digits"})
    assert plan.models == {} and plan.factors == "" and plan.pairs == plan.svcca_pairs == []
    assert plan.text_lm_files == [] and plan.file_problems() == []


def test_the_images_source_reads_the_exported_activations():
    plan = _plan({"source": "images", "images_dataset": "dsprites"}, IMAGES)
    assert plan.names == ["pixels_seed0", "pixels_seed1", "mlp_seed0", "mlp_seed1"]
    assert plan.models["mlp_seed1"] == "results/images/activations/dsprites/mlp_seed1.npz"
    assert plan.factors == "results/images/activations/dsprites/factors.npz"
    # the image plan's own patterns, not a second spelling
    assert plan.models["mlp_seed1"] == ImagesPlan.ACTIVATIONS.format(dataset="dsprites", model="mlp", seed=1)
    assert len(plan.pairs) == 6 and plan.pairs[0] == ("pixels_seed0", "pixels_seed1")
    assert plan.text_lm_files == []


def test_the_digits_example_trains_one_model_per_seed_and_a_control():
    plan = _plan({"source": "digits"})
    assert plan.names == ["mlp_seed0", "mlp_seed1", "mlp_seed2", "mlp_init"]
    assert plan.digits_models() == [plan.models[f"mlp_seed{s}"] for s in (0, 1, 2)]
    assert plan.models["mlp_init"] == "results/byo/digits/mlp_init.npz"
    assert plan.factors == "results/byo/digits/factors.npz"


def test_the_text_lm_example_writes_one_file_per_model_and_has_no_factors():
    plan = _plan({"source": "text_lm"})
    assert plan.names == list(TEXT_LM["models"]) and plan.factors == ""
    assert plan.text_lm_files == [f"results/byo/text_lm/{m}.npz" for m in TEXT_LM["models"]]
    assert plan.probe_files("p/{bmodel}.csv") == []  # no factors: comparisons only


def test_svcca_compares_every_pair_or_consecutive_models():
    byo = {"source": "text_lm", "svcca_protocol": {"enabled": True}}
    every = _plan(byo)
    n = len(TEXT_LM["models"])
    assert every.svcca_pairs == every.pairs and len(every.pairs) == n * (n - 1) // 2
    adjacent = _plan({**byo, "svcca_protocol": {"enabled": True, "pairs": "adjacent"}})
    names = adjacent.names
    assert adjacent.svcca_pairs == [(names[i], names[i + 1]) for i in range(n - 1)]
    assert adjacent.pairs == every.pairs  # the layer x layer comparisons stay every pair
    assert adjacent.pair_outputs("{bmodel_a}-{bmodel_b}", adjacent.svcca_pairs)[0] == f"{names[0]}-{names[1]}"


def test_user_files_are_checked_before_any_job(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, h=np.ones((10, 3)))
    np.savez(b, h=np.ones((12, 3)))  # a different number of rows
    plan = _plan({"models": {"a": str(a), "b": str(b)}})
    assert plan.models == {"a": str(a), "b": str(b)} and plan.factors == ""
    problems = plan.file_problems()
    assert problems and any(str(b) in p for p in problems)
    rng = np.random.default_rng(0)
    np.savez(b, h=rng.normal(size=(10, 3)))
    np.savez(a, h=rng.normal(size=(10, 3)))
    assert _plan({"models": {"a": str(a), "b": str(b)}}).file_problems() == []


def test_inputs_and_params_of_the_jobs():
    plan = _plan({"source": "digits", "n_rep": 3, "seed": 5, "svcca_k": 7,
                  "svcca_protocol": {"enabled": True, "ks": [4, 8]}})
    assert plan.model_file(W(bmodel="mlp_init")) == "results/byo/digits/mlp_init.npz"
    assert plan.pair_files(W(bmodel_a="mlp_seed0", bmodel_b="mlp_init")) == {
        "a": "results/byo/digits/mlp_seed0.npz", "b": "results/byo/digits/mlp_init.npz"}
    assert plan.probe_files("p/{bmodel}.csv") == [f"p/{m}.csv" for m in plan.names]
    assert plan.pair_outputs("{bmodel_a}/{bmodel_b}") == [f"{a}/{b}" for a, b in plan.pairs]
    assert plan.probe_params == {"test_fraction": 0.3, "n_rep": 3, "seed": 5}
    assert plan.compare_params == {"svcca_k": 7, "max_rows": 5000, "seed": 5}
    svcca = plan.svcca_params
    assert svcca["ks"] == [4, 8] and "enabled" not in svcca and "panels" not in svcca
    assert list(svcca) == sorted(svcca)  # a reordered config file changes no params
