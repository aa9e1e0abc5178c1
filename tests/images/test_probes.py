"""The DisLib probe: least squares without intercept, Pearson r held out, both solvers."""

import numpy as np
import pytest
import torch

from linid.images.probes import GramAccumulator, pearson, probe, zscore_targets


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
