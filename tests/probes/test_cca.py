"""Tests for linid.probes.cca (docs/science.md §4 measures): each checks a fact that fails if the maths is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cross_decomposition import CCA as SkCCA

from linid.probes import cca as C
from linid.probes.regression import r2_affine


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _features(n: int = 2000, p: int = 5, seed: int = 0) -> np.ndarray:
    """Non-Gaussian 'model features': a fixed nonlinear map of Gaussian inputs."""
    rng = _rng(seed)
    x = rng.standard_normal((n, 3))
    w = rng.standard_normal((3, p))
    return np.tanh(x @ w) + 0.1 * rng.standard_normal((n, p))


def _invertible(p: int, seed: int = 1) -> np.ndarray:
    """A random well-conditioned invertible p×p matrix (not orthogonal)."""
    rng = _rng(seed)
    q1, _ = np.linalg.qr(rng.standard_normal((p, p)))
    q2, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return q1 @ np.diag(np.linspace(0.3, 4.0, p)) @ q2


def _shared_latent_pair(
    n: int = 4000, rhos: tuple[float, ...] = (0.9, 0.6, 0.3), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """a = z_a A, b = z_b B with corr(z_a[:, i], z_b[:, i]) = rhos[i]: canonical corrs = rhos."""
    rng = _rng(seed)
    r = np.asarray(rhos)
    za = rng.standard_normal((n, r.size))
    zb = r * za + np.sqrt(1 - r**2) * rng.standard_normal((n, r.size))
    return za @ _invertible(r.size, seed + 1), zb @ _invertible(r.size, seed + 2) + 3.0


# --------------------------------------------------------------------------- exact cases


def test_invertible_linear_transform_is_perfectly_identified():
    a = _features()
    b = a @ _invertible(5) + np.array([1.0, -2.0, 3.0, 0.5, 10.0])
    rho = C.cca(a, b)
    assert rho.shape == (5,)
    np.testing.assert_allclose(rho, 1.0, atol=1e-8)
    assert abs(C.mean_cca(a, b) - 1.0) < 1e-8
    assert r2_affine(a, b) == pytest.approx(1.0, abs=1e-10)
    assert r2_affine(b, a) == pytest.approx(1.0, abs=1e-10)
    out = C.compare_pair(a, b)
    assert out["mcca"] == pytest.approx(1.0, abs=1e-8)
    assert out["svcca"] == pytest.approx(1.0, abs=1e-8)
    assert out["r2_ab"] == pytest.approx(1.0, abs=1e-10)
    assert out["r2_ba"] == pytest.approx(1.0, abs=1e-10)


def test_independent_noise_has_small_cca():
    rng = _rng(3)
    a = rng.standard_normal((5000, 3))
    b = rng.standard_normal((5000, 3))
    assert C.mean_cca(a, b) < 0.1
    assert r2_affine(a, b) < 0.01


def test_known_canonical_correlations_are_recovered():
    rhos = (0.9, 0.6, 0.3)
    a, b = _shared_latent_pair(n=20000, rhos=rhos)
    np.testing.assert_allclose(C.cca(a, b), rhos, atol=0.02)


def test_matches_sklearn_cca_first_two_components():
    a, b = _shared_latent_pair(n=4000, rhos=(0.85, 0.5, 0.2), seed=5)
    sk = SkCCA(n_components=2, max_iter=5000, tol=1e-12).fit(a, b)
    xs, ys = sk.transform(a, b)
    sk_rho = [abs(np.corrcoef(xs[:, i], ys[:, i])[0, 1]) for i in range(2)]
    np.testing.assert_allclose(C.cca(a, b)[:2], sk_rho, atol=1e-3)


def test_cca_is_symmetric_and_invariant_to_affine_maps_of_each_side():
    a, b = _shared_latent_pair(seed=7)
    rho = C.cca(a, b)
    np.testing.assert_allclose(C.cca(b, a), rho, atol=1e-12)
    np.testing.assert_allclose(C.cca(a @ _invertible(3, 9) - 4.0, b), rho, atol=1e-10)


# --------------------------------------------------------------------------- spectrum properties


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectrum_sorted_and_in_unit_interval(seed):
    rng = _rng(seed)
    a = _features(n=500, p=6, seed=seed)
    b = np.hstack([a[:, :2] ** 2, rng.standard_normal((500, 3))])
    rho = C.cca(a, b)
    assert rho.shape == (5,)
    assert np.all(rho >= 0.0) and np.all(rho <= 1.0)
    assert np.all(np.diff(rho) <= 0.0)
    spectrum = C.compare_pair(a, b)["cca_spectrum"]
    assert spectrum == sorted(spectrum, reverse=True)


def test_length_is_min_of_ranks_under_rank_deficiency():
    rng = _rng(4)
    a = rng.standard_normal((300, 3))
    a_def = np.hstack([a, a[:, :1] + a[:, 1:2], np.full((300, 1), 7.0)])  # rank 3 of 5 columns
    b = rng.standard_normal((300, 4))
    rho = C.cca(a_def, b)
    assert rho.shape == (3,)
    assert np.all(np.isfinite(rho))
    np.testing.assert_allclose(rho, C.cca(a, b), atol=1e-10)
    out = C.compare_pair(a_def, b)
    assert np.isfinite(out["mcca"]) and np.isfinite(out["svcca"])
    assert np.isfinite(out["r2_ab"]) and np.isfinite(out["r2_ba"])


# --------------------------------------------------------------------------- SVCCA


def test_svcca_invariant_to_per_feature_scaling():
    a = _features(p=6, seed=11)
    b = _features(p=5, seed=12)
    s_a = np.array([1e-3, 1.0, 50.0, 2.0, 1e3, 0.1])
    s_b = np.array([7.0, 1e-2, 1.0, 300.0, 0.5])
    ref = C.svcca(a, b, k=3)
    np.testing.assert_allclose(C.svcca(a * s_a + 5.0, b * s_b - 2.0, k=3), ref, atol=1e-10)


def test_svcca_keeps_k_directions_and_caps_k_at_rank():
    a = _features(p=6, seed=13)
    b = _features(p=5, seed=14)
    assert C.svcca(a, b, k=2).shape == (2,)
    assert C.svcca(a, b, k=50).shape == (5,)
    np.testing.assert_allclose(C.svcca(a, b, k=50), C.svcca(a, b, k=6), atol=1e-12)


def test_svcca_full_k_equals_cca():
    """With k ≥ rank SVCCA only reparametrises each side, so it equals plain CCA."""
    a = _features(p=4, seed=15)
    b = _features(p=4, seed=16)
    np.testing.assert_allclose(C.svcca(a, b, k=4), C.cca(a, b), atol=1e-10)


def test_svcca_drops_constant_features():
    a = _features(p=4, seed=17)
    b = a @ _invertible(4)
    a_const = np.hstack([a, np.full((a.shape[0], 1), 3.0)])
    rho = C.svcca(a_const, b, k=10)
    assert rho.shape == (4,)
    np.testing.assert_allclose(rho, 1.0, atol=1e-8)


def test_svcca_top_k_ignores_low_variance_directions():
    """Sharing only a low-variance direction: SVCCA at small k misses it, full CCA finds it."""
    rng = _rng(18)
    n = 3000
    shared = rng.standard_normal(n)
    big_a, big_b = 10 * rng.standard_normal((n, 2)), 10 * rng.standard_normal((n, 2))
    mix = _invertible(3, 3)
    a = np.column_stack([big_a, 0.1 * shared]) @ mix
    b = np.column_stack([big_b, 0.1 * shared]) @ mix
    assert C.cca(a, b)[0] > 0.99
    assert C.svcca(a, b, k=2)[0] < 0.2


# --------------------------------------------------------------------------- linear R²


def test_linear_r2_is_scored_out_of_sample():
    """Overfitting noise (p close to n/2) gives a poor held-out R², not the in-sample ≈ 1."""
    rng = _rng(19)
    a = rng.standard_normal((60, 25))
    b = rng.standard_normal((60, 2))
    assert r2_affine(a, b) < 0.0


def test_linear_r2_partial_relation():
    rng = _rng(20)
    a = rng.standard_normal((4000, 2))
    b = np.column_stack([a[:, 0] * 2.0 + 1.0, rng.standard_normal(4000)])  # dims R² ≈ 1 and ≈ 0
    assert r2_affine(a, b) == pytest.approx(0.5, abs=0.02)


# --------------------------------------------------------------------------- compare_pair / validation


def test_compare_pair_types_and_keys():
    a, b = _shared_latent_pair(seed=21)
    out = C.compare_pair(a, b, svcca_k=2)
    assert set(out) == {"mcca", "cca_spectrum", "svcca", "r2_ab", "r2_ba"}
    for key in ("mcca", "svcca", "r2_ab", "r2_ba"):
        assert type(out[key]) is float
    assert isinstance(out["cca_spectrum"], list)
    assert all(type(v) is float for v in out["cca_spectrum"])
    assert out["mcca"] == pytest.approx(np.mean(out["cca_spectrum"]))
    assert out["svcca"] == pytest.approx(float(np.mean(C.svcca(a, b, 2))))


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros((10, 2)) + np.arange(10)[:, None], np.ones((9, 2)), "same number of rows"),
        (np.arange(10.0), np.ones((10, 2)), "2-D"),
        (np.full((10, 2), np.nan), np.ones((10, 2)), "non-finite"),
        (np.ones((0, 2)), np.ones((0, 2)), "non-empty"),
    ],
)
def test_invalid_inputs_raise(a, b, match):
    with pytest.raises(ValueError, match=match):
        C.cca(a, b)
    with pytest.raises(ValueError, match=match):
        C.compare_pair(a, b)


def test_constant_features_raise():
    a = np.ones((50, 3))
    b = _rng(0).standard_normal((50, 2))
    with pytest.raises(ValueError, match="constant"):
        C.cca(a, b)
    with pytest.raises(ValueError, match="constant"):
        C.svcca(a, b, k=2)


@pytest.mark.parametrize("k", [0, -1, 1.5])
def test_svcca_bad_k_raises(k):
    a, b = _shared_latent_pair(n=100)
    with pytest.raises(ValueError, match="k"):
        C.svcca(a, b, k)
