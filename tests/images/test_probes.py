"""The DisLib probe: least squares without intercept, Pearson r held out, both solvers; one probe for
the pixels, a trained encoder and its untrained control."""

import numpy as np
import pytest
import torch

from linid.images import dsprites
from linid.images.data import split_indices
from linid.images.models import probed
from linid.images.probes import (
    GramAccumulator,
    feature_batches,
    probe,
    probe_encoder,
    zscore_targets,
)
from linid.images.training import ImageTrainConfig, train_image_model
from linid.probes.stats import pearson


def _batches(x, y, size=97):
    for i in range(0, len(x), size):
        yield torch.from_numpy(x[i : i + size]), torch.from_numpy(y[i : i + size])


def test_a_linear_factor_is_recovered_with_r_1_by_both_solvers():
    g = np.random.default_rng(0)
    x = g.normal(size=(3000, 20)).astype(np.float32)
    y = x.astype(np.float64) @ g.normal(size=(20, 3))
    tr, te = np.arange(2000), np.arange(2000, 3000)
    z, _, _ = zscore_targets(y, tr)
    out = probe(_batches(x[tr], z[tr]), _batches(x[te], y[te]), 20, 3, solvers=("official", "lstsq"))
    for s in ("official", "lstsq"):
        assert np.all(out[s]["pearson_r"] > 0.99999)


def test_independent_noise_is_not_decoded():
    g = np.random.default_rng(1)
    x = g.normal(size=(4000, 10)).astype(np.float32)
    y = g.normal(size=(4000, 1))
    out = probe(_batches(x[:3000], y[:3000]), _batches(x[3000:], y[3000:]), 10, 1, solvers=("lstsq",))
    assert abs(out["lstsq"]["pearson_r"][0]) < 0.1


def test_official_solver_is_the_official_float32_pinv_expression():
    g = np.random.default_rng(2)
    x = np.maximum(g.normal(size=(500, 30)), 0).astype(np.float32)  # ReLU-like features
    y = g.normal(size=500)
    y = (y - y.mean()) / y.std()
    acc = GramAccumulator(30, 1)
    acc.add(torch.from_numpy(x), torch.from_numpy(y[:, None]))
    beta = acc.solve("official")[:, 0]
    official = np.linalg.pinv(x.T @ x) @ x.T @ y  # klindtlab/csi dislib/main.py, float32 features
    assert np.allclose(beta, official, rtol=1e-3, atol=1e-5)
    assert np.allclose(acc.solve("lstsq")[:, 0], np.linalg.lstsq(x.astype(np.float64), y, rcond=None)[0], atol=1e-8)


def test_rank_deficient_features_get_the_minimum_norm_answer():
    g = np.random.default_rng(3)
    base = g.normal(size=(400, 5))
    x = np.concatenate([base, base[:, :2], np.zeros((400, 3))], 1).astype(np.float32)  # dup + dead columns
    y = base @ np.arange(1, 6)
    acc = GramAccumulator(10, 1)
    acc.add(torch.from_numpy(x), torch.from_numpy(y[:, None].astype(np.float64)))
    beta = acc.solve("lstsq")[:, 0]
    assert np.allclose(x.astype(np.float64) @ beta, y, atol=1e-6) and np.all(beta[7:] == 0)


def test_pearson_and_zscore():
    assert pearson(np.arange(5.0), 3 * np.arange(5.0) + 1) == pytest.approx(1.0)
    assert np.isnan(pearson(np.ones(4), np.arange(4.0)))
    y = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    z, mean, std = zscore_targets(y, np.array([0, 1, 2]))
    assert np.allclose(z[:, 0], [-1.2247449, 0, 1.2247449]) and np.all(z[:, 1] == 0) and std[1] == 1.0
    with pytest.raises(ValueError, match="solver"):
        GramAccumulator(2, 1).solve("qr")
    with pytest.raises(ValueError, match="no training rows"):
        GramAccumulator(2, 1).solve("lstsq")
    only64 = GramAccumulator(2, 1, solvers=("lstsq",))  # the float32 Gram matrix is not even accumulated
    assert only64.xtx32 is None and only64.xtx64 is not None
    with pytest.raises(ValueError, match="solver"):
        only64.solve("official")
    with pytest.raises(ValueError, match="solver"):
        GramAccumulator(2, 1, solvers=("svd",))


def _sprites(n: int = 1500, seed: int = 0):
    """Rendered dSprites images and csi's integer targets (shape, scale, orientation, posX, posY)."""
    classes = dsprites.latent_classes(dsprites.subsample(n, seed))
    images = dsprites.render(classes)[:, None] * np.uint8(255)
    return torch.from_numpy(images), classes[:, 1:].astype(np.float64)


def test_the_untrained_control_goes_through_the_same_probe_and_differs_from_the_trained_model():
    images, targets = _sprites()
    tr, va, te = split_indices(len(images), 42)
    cfg = ImageTrainConfig(model="mlp", seed=42, batch_size=64, max_epochs=5, early_stop_accuracy=1.0)
    trained = train_image_model(images, torch.from_numpy(targets[:, 0]).long(), torch.from_numpy(tr),
                                torch.from_numpy(va), 3, cfg).net
    args = (images, targets, tr, np.concatenate([va, te]), 512)
    control = probed("mlp_init", 1, 42)
    before = {k: v.clone() for k, v in control.state_dict().items()}
    r_init = probe_encoder(control, *args, solvers=("official", "lstsq"), batch_size=128)
    # probing does not touch the control: BatchNorm keeps its initial statistics (eval mode)
    assert all(torch.equal(before[k], v) for k, v in control.state_dict().items())
    again = probe_encoder(probed("mlp_init", 1, 42), *args, solvers=("official", "lstsq"), batch_size=128)
    for s in ("official", "lstsq"):  # deterministic from the seed
        assert np.array_equal(r_init[s], again[s])
    # float64 least squares does not depend on the batching (the float32 pinv, with about as many
    # rows as features, inverts rounding-level directions and does: docs/images.md)
    rebatched = probe_encoder(probed("mlp_init", 1, 42), *args, solvers=("lstsq",), batch_size=300)
    assert np.allclose(r_init["lstsq"], rebatched["lstsq"], atol=1e-6)
    r_trained = probe_encoder(trained, *args, solvers=("official", "lstsq"), batch_size=128)
    assert not np.allclose(r_trained["lstsq"], r_init["lstsq"], atol=1e-3)
    # trained on the shape: the shape is read out better than at initialisation
    assert r_trained["lstsq"][0] > r_init["lstsq"][0] + 0.05
    other_seed = probe_encoder(probed("mlp_init", 1, 7), *args, solvers=("lstsq",), batch_size=128)
    assert not np.allclose(other_seed["lstsq"], r_init["lstsq"], atol=1e-6)


def test_probe_encoder_is_the_probe_of_the_features_it_streams():
    images, targets = _sprites(300, seed=1)
    tr, va, te = split_indices(len(images), 0)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(1), torch.nn.Linear(4096, 16))
    got = probe_encoder(net, images, targets, tr, te, 16, solvers=("official", "lstsq"), batch_size=64)
    with torch.no_grad():
        x = net(images.float() / 255).numpy()
    z, _, _ = zscore_targets(targets, tr)
    want = probe(_batches(x[tr], z[tr]), _batches(x[te], targets[te]), 16, 5, solvers=("official", "lstsq"))
    for s in ("official", "lstsq"):
        assert np.allclose(got[s], want[s]["pearson_r"], atol=1e-5) and not np.isnan(got[s]).any()
    # the pixels' features are the stored image / 255, flattened (4,096 columns: no pinv here)
    idx = torch.from_numpy(te)
    feats = torch.cat([f for f, _ in feature_batches(probed("pixels", 1, 0), images, idx, torch.zeros(300, 1), 7)])
    assert torch.equal(feats, images[idx].reshape(len(idx), -1).float() / 255)
