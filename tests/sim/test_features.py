"""Feature extraction: encoder outputs in eval mode, and what each row of W should encode."""

import numpy as np
import torch

from linid.sim.config import n_outputs_for
from linid.sim.features import encode, extract, untrained_features
from linid.sim.models import build_models
from linid.sim.objectives import objective
from linid.sim.process import DGPConfig, generator_for, make_process
from linid.sim.training import TrainConfig

PROC = make_process(DGPConfig(latent_dim=3, n_classes=6, n_instances=30, cond_candidates=200))


def test_encode_is_batched_eval_mode_and_deterministic():
    enc, _ = build_models(3, 6, seed=0)
    enc.train()
    x = np.random.default_rng(0).normal(size=(1000, 3)).astype(np.float32)
    a = encode(enc, x, batch_size=128)
    b = encode(enc, x, batch_size=1000)
    assert a.shape == (1000, 3)
    np.testing.assert_allclose(a, b, atol=1e-6)  # eval mode: rows do not depend on their batch
    assert not enc.training


def test_head_targets_are_class_vectors_or_instance_class_vectors():
    v = PROC.cluster_vectors.numpy()
    np.testing.assert_array_equal(objective("supervised").head_targets(PROC), v)
    assert objective("infonce").head_targets(PROC) is None  # no head, no W → v probe
    diet = objective("diet").head_targets(PROC)
    assert diet.shape == (30, 3)
    np.testing.assert_array_equal(diet, v[np.arange(30) % 6])


def test_extract_returns_every_array_the_probe_needs():
    enc, head = build_models(3, n_outputs_for("diet", 6, 30), seed=1)
    ev = PROC.sample(64, generator_for(0, 1))
    arrays = {"eval_x": ev.x.numpy(), "eval_z": ev.z.numpy(), "eval_class": ev.klass.numpy(),
              "eval_instance": ev.instance.numpy()}
    out = extract(enc, head, PROC, TrainConfig(method="diet"), arrays)
    assert out["features"].shape == (64, 3)
    np.testing.assert_array_equal(out["latents"], arrays["eval_z"])
    assert out["w_rows"].shape == out["w_targets"].shape == (30, 3)
    assert float(out["temperature"]) == float(head.temperature)
    assert float(out["sv_kappa"]) == PROC.cfg.kappa  # cross-entropy: MAE_o's target is 1/(κβ)
    assert torch.is_tensor(head.weight)


def test_untrained_features_are_the_seeds_initial_encoder():
    from linid.sim.training import TrainConfig, calibrated_copy, train

    cfg = TrainConfig(seed=4, steps=30, batch_size=32, log_every=10, eval_every=10, bn_batches=3)
    x = PROC.sample(200, generator_for(0, 2)).x.numpy()
    trained = train(PROC, cfg)
    meta = {"latent_dim": 3, "n_outputs": 6, "width_multipliers": [10, 50, 50, 50, 50, 10]}
    out = untrained_features(cfg, meta, PROC, x, torch.device("cpu"))
    init, _ = build_models(3, 6, seed=4)
    # data-free: the initial weights in eval mode on their initial BatchNorm statistics
    np.testing.assert_array_equal(out["features_init"], encode(init, x))
    # precise-BN: the same weights, statistics from the draws that end training (seeded by steps)
    np.testing.assert_array_equal(out["features_init_bn"], encode(calibrated_copy(init, PROC, cfg, seed=30), x))
    assert not np.allclose(out["features_init"], out["features_init_bn"])
    assert not np.allclose(out["features_init_bn"], encode(trained.encoder, x))  # not the trained model
    again = untrained_features(cfg, meta, PROC, x, torch.device("cpu"))
    np.testing.assert_array_equal(again["features_init_bn"], out["features_init_bn"])
