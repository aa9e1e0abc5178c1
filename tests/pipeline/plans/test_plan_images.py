"""The image experiment's plan: records, params, resources and priorities from a validated config."""

import copy
import math
from types import SimpleNamespace as W

import pytest

from linid.images.names import DSPRITES_IMAGES
from linid.pipeline import shards
from linid.pipeline.plans.images import ImagesPlan
from tests.helpers import validated

CONFIG = {
    "name": "plan_images",
    "simulation": {"enabled": False},
    "images": {
        "enabled": True,
        "datasets": {"dsprites": {"subsample": 1200}, "mine": {"layout": "generic", "path": "data/mine.npz",
                                                          "subsample": 500, "subsample_seed": 3}},
        "models": ["pixels", "mlp", "cnn"],
        "seeds": [0, 2],
        "seed_offset": 7,
        "train": {"batch_size": 64, "max_epochs": 50, "max_epochs_by_model": {"mlp": 3}},
        "export_activations": {"enabled": True, "rows": 300},
    },
    "resources": {"image_train_minutes": 1000, "image_train_mem_mb": 30000, "max_runtime_minutes": 5000,
                  "max_mem_mb": 50000},
}


def _plan(**images) -> ImagesPlan:
    cfg = copy.deepcopy(CONFIG)
    cfg["images"].update(images)
    validated(cfg)  # the schema's defaults filled in, as the workflow reads it
    return ImagesPlan(cfg)


def test_models_controls_and_probed_are_the_product_of_datasets_models_seeds():
    plan = _plan()
    assert list(plan.datasets) == ["dsprites", "mine"]
    assert plan.datasets["dsprites"] == {"layout": "dsprites", "path": "", "subsample": 1200, "subsample_seed": 0}
    assert len(plan.models) == 2 * 3 * 2 and plan.models[0] == ("dsprites", "pixels", 0)
    assert plan.trained == [m for m in plan.models if m[1] != "pixels"] and len(plan.trained) == 8
    assert plan.controls == [(d, m + "_init", s) for d, m, s in plan.trained]
    assert plan.probed == plan.models + plan.controls
    assert "untrained" not in plan.probe and plan.probe["split"] == "val"
    off = _plan(probe={"untrained": False})
    assert off.controls == [] and off.probed == off.models


def test_a_disabled_experiment_has_no_records():
    plan = _plan(enabled=False)
    assert plan.datasets == {} and plan.models == plan.trained == plan.probed == []
    assert plan.budgets() == [] and plan.curve_keys() == []


def test_the_rendered_grid_or_the_users_file_is_read():
    plan = _plan()
    assert plan.source(W(dataset="dsprites")) == {"source": "results/images/source/dsprites.npz",
                                                  "meta": "results/images/source/dsprites.json"}
    assert plan.source(W(dataset="mine")) == {"source": "data/mine.npz"}
    # a rendered grid is subsampled when rendered; a file when it is read
    assert plan.render_params(W(dataset="dsprites")) == {"subsample": 1200, "subsample_seed": 0}
    assert plan.data_params(W(dataset="dsprites")) == {"layout": "dsprites", "rows": None, "subsample_seed": 0}
    assert plan.data_params(W(dataset="mine")) == {"layout": "generic", "rows": 500, "subsample_seed": 3}


def test_the_official_seed_is_the_offset_plus_the_repetition_and_epochs_follow_the_model():
    plan = _plan()
    assert plan.seed(W(seed="2")) == 9
    assert plan.epochs("mlp") == 3 and plan.epochs("cnn") == 50
    params = plan.train_params(W(dataset="dsprites", model="mlp", seed="2"))
    assert params["model"] == "mlp" and params["seed"] == 9 and params["max_epochs"] == 3
    assert params["batch_size"] == 64 and "allow_cpu" not in params and "max_epochs_by_model" not in params
    assert plan.checkpoint(W(dataset="mine", model="cnn", seed="0")) == "results/checkpoints/images/mine/cnn/seed0.ckpt"


def test_only_trained_models_read_a_model_file():
    plan = _plan()
    assert plan.model_input(W(dataset="dsprites", model="pixels", seed="0")) == {}
    assert plan.model_input(W(dataset="dsprites", model="mlp_init", seed="0")) == {}
    files = plan.model_input(W(dataset="dsprites", model="mlp", seed="1"))
    assert files == {"model": "results/images/models/dsprites/mlp/seed1/model.pt",
                     "summary": "results/images/models/dsprites/mlp/seed1/train.json"}
    assert files["model"] == plan.TRAIN_OUT["model"].format(dataset="dsprites", model="mlp", seed=1)


def test_runtime_scales_with_images_and_epochs_and_is_capped(capsys, monkeypatch):
    monkeypatch.setattr(shards, "_WARNED", set())  # warned once per process: not by an earlier test
    plan = _plan()
    frac = 1200 / DSPRITES_IMAGES
    assert plan.fraction("dsprites") == pytest.approx(frac)
    assert math.isnan(plan.fraction("mine"))  # a file's size is known only once read
    # at least 10 minutes; x attempt
    assert plan.runtime(W(dataset="dsprites", model="mlp"), 1) == 10
    assert plan.runtime(W(dataset="dsprites", model="mlp"), 3) == 30
    # the unknown fraction costs as the whole file: 1000 min x 50/100 epochs, x 2 attempts
    assert plan.runtime(W(dataset="mine", model="cnn"), 1) == 500
    assert plan.runtime(W(dataset="mine", model="cnn"), 2) == 1000
    big = _plan(train={"max_epochs": 10**6})
    assert big.runtime(W(dataset="mine", model="cnn"), 1) == 5000
    assert "image_train" in capsys.readouterr().err
    assert plan.mem(W(dataset="mine"), 1) == 30000
    assert plan.mem(W(dataset="mine"), 2) == 50000  # 60,000 capped at max_mem_mb
    assert "image jobs" in capsys.readouterr().err


def test_the_costliest_trainings_come_first():
    plan = _plan()
    cnn = plan.train_priority(W(dataset="mine", model="cnn"))
    mlp = plan.train_priority(W(dataset="mine", model="mlp"))
    small = plan.train_priority(W(dataset="dsprites", model="cnn"))
    assert cnn == 1 + 40 * 50 and mlp == 1 + 1 * 3
    assert cnn > small > 1 and small == pytest.approx(1 + 40 * 50 * 1200 / DSPRITES_IMAGES)


def test_files_budgets_and_curve_keys_follow_the_records():
    plan = _plan()
    assert plan.files("{dataset}/{model}/{seed}") == [f"{d}/{m}/{s}" for d, m, s in plan.models]
    assert plan.files(plan.ACTIVATIONS, [("dsprites", "mlp", 2)]) == [
        "results/images/activations/dsprites/mlp_seed2.npz"]
    budgets = {(b["dataset"], b["model"]): b for b in plan.budgets()}
    assert len(budgets) == 2 * 5  # pixels, mlp, cnn and the two controls
    assert budgets[("mine", "mlp_init")]["max_epochs"] == 0 and budgets[("mine", "mlp")]["max_epochs"] == 3
    assert budgets[("dsprites", "pixels")]["data_fraction"] == pytest.approx(1200 / DSPRITES_IMAGES)
    assert plan.curve_keys()[0] == {"dataset": "dsprites", "model": "mlp", "seed": 0}
    assert len(plan.curve_keys()) == len(plan.trained)


def test_the_probe_wildcard_takes_every_model_and_control():
    assert set(ImagesPlan.PROBE_MODELS.split("|")) == {
        "pixels", "linear", "mlp", "cnn", "linear_init", "mlp_init", "cnn_init"}
