"""Tests for linid.probes regression, mcc and suite (docs/science.md §3): each checks a fact that fails if the maths is wrong."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from linid.names import CONTROL_METRICS, PROBE_METRICS
from linid.probes import mcc as MC
from linid.probes import regression as R
from linid.probes import suite as S


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _latents(n: int = 2000, d: int = 5, seed: int = 0) -> np.ndarray:
    return _rng(seed).standard_normal((n, d))


def _orthogonal(d: int, seed: int = 0) -> np.ndarray:
    return ortho_group.rvs(d, random_state=seed)


# --------------------------------------------------------------------------- R²


def test_r2_exact_invertible_linear_map_is_one():
    z = _latents()
    a = _rng(1).standard_normal((5, 5)) + 3 * np.eye(5)
    f = z @ a.T
    assert R.r2_linear(f, z) == pytest.approx(1.0, abs=1e-10)
    assert R.r2_affine(f, z) == pytest.approx(1.0, abs=1e-10)


def test_r2_affine_handles_offset_but_linear_does_not():
    z = _latents()
    a = _rng(1).standard_normal((5, 5)) + 3 * np.eye(5)
    f = z @ a.T + 5.0
    r2a = R.r2_affine(f, z)
    r2o = R.r2_linear(f, z)
    assert r2a == pytest.approx(1.0, abs=1e-10)
    assert r2o < r2a - 1e-3


def test_r2_linear_of_offset_copy_is_below_affine():
    z = _latents()
    f = z + 3.0
    assert R.r2_affine(f, z) == pytest.approx(1.0, abs=1e-10)
    # Without an intercept the offset direction (1,...,1) is lost: about 1/d of the variance.
    assert R.r2_linear(f, z) < 0.9


def test_r2_of_independent_noise_is_near_zero():
    z = _latents(n=4000)
    f = _rng(7).standard_normal((4000, 5))
    assert R.r2_affine(f, z) < 0.02
    assert R.r2_linear(f, z) < 0.02


def test_r2_with_more_features_than_latents():
    z = _latents(d=3)
    f = np.concatenate([z @ _orthogonal(3).T, _rng(2).standard_normal((z.shape[0], 4))], axis=1)
    assert R.r2_affine(f, z) == pytest.approx(1.0, abs=1e-10)


def test_r2_uses_first_half_for_fit_only():
    # Second half is pure noise w.r.t. the first half's relation: a fit on the first half
    # (identity) must score badly on the second; any leakage would score well.
    z = _latents(n=2000)
    f = z.copy()
    f[1000:] = _rng(3).standard_normal((1000, 5))
    assert R.r2_affine(f, z) < 0.05


# --------------------------------------------------------------------------- linear map / SVs


def test_linear_map_shape_and_value():
    z = _latents(n=1000, d=3)
    a = _rng(4).standard_normal((4, 3))  # f = A z, m=4 > d=3
    f = z @ a.T
    lm = R.linear_map(f, z)
    assert lm.shape == (3, 4)
    np.testing.assert_allclose(lm @ f.T, z.T, atol=1e-9)


@pytest.mark.parametrize("kappa", [5.0, 10.0, 50.0])
def test_singular_values_recover_inverse_kappa(kappa):
    z = _latents(n=2000, d=6)
    q = _orthogonal(6, seed=1)
    f = kappa * (z @ q)
    mae, sv = R.singular_value_mae(f, z, kappa=kappa)
    assert mae < 1e-8
    assert sv.shape == (6,)
    np.testing.assert_allclose(sv, 1.0 / kappa, atol=1e-8)


def test_singular_values_with_beta_and_sorted_descending():
    z = _latents(n=2000, d=4)
    scales = np.array([1.0, 2.0, 4.0, 8.0])
    f = z * scales  # map z <- f has singular values 1/scales
    mae, sv = R.singular_value_mae(f, z, kappa=4.0, beta=2.0)
    np.testing.assert_allclose(sv, np.sort(1.0 / scales)[::-1], atol=1e-10)
    assert np.all(np.diff(sv) <= 0)
    assert mae == pytest.approx(np.mean(np.abs(1.0 / scales - 0.5)), abs=1e-10)


def test_singular_value_mae_rejects_bad_kappa():
    z = _latents(n=100, d=2)
    with pytest.raises(ValueError, match="kappa"):
        R.singular_value_mae(z, z, kappa=0.0)


# --------------------------------------------------------------------------- W -> v


def test_r2_rows_exact_linear_relation_is_one():
    w = _rng(5).standard_normal((100, 5))
    a = _rng(6).standard_normal((3, 5))
    v = w @ a.T + 1.0
    assert R.r2_rows(w, v) == pytest.approx(1.0, abs=1e-10)


def test_r2_rows_nan_when_too_few_rows():
    m = 5
    w = _rng(5).standard_normal((2 * (m + 2) - 1, m))  # fit half = m + 1 rows
    v = _rng(6).standard_normal((w.shape[0], 3))
    assert math.isnan(R.r2_rows(w, v))
    w = _rng(5).standard_normal((2 * (m + 2), m))  # fit half = m + 2 rows: determined
    v = w @ _rng(6).standard_normal((m, 3))
    assert R.r2_rows(w, v) == pytest.approx(1.0, abs=1e-8)
    assert math.isnan(R.r2_rows(np.ones((3, 1)), np.ones((3, 1))))  # test half has < 2 rows


# --------------------------------------------------------------------------- MCC


def test_mcc_of_permutation_with_sign_flips_is_one():
    z = _latents(n=3000, d=6)
    perm = np.array([3, 0, 5, 1, 4, 2])
    signs = np.array([1, -1, 1, -1, -1, 1])
    f = 2.5 * z[:, perm] * signs + 7.0
    assert MC.mcc(f, z) == pytest.approx(1.0, abs=1e-12)
    assert MC.mcc(f, z, "spearman") == pytest.approx(1.0, abs=1e-12)


def test_mcc_of_independent_gaussians_is_small():
    a = _rng(0).standard_normal((5000, 5))
    b = _rng(1).standard_normal((5000, 5))
    assert MC.mcc(a, b) < 0.1
    assert MC.mcc(a, b, "spearman") < 0.1


def test_mcc_spearman_is_invariant_to_monotone_transforms():
    z = _latents(n=3000, d=4)
    f = np.exp(2 * z) + z**3  # strictly increasing elementwise
    assert MC.mcc(f, z, "spearman") == pytest.approx(1.0, abs=1e-12)
    assert MC.mcc(f, z, "pearson") < 0.95


def _brute_force_mcc(a: np.ndarray, b: np.ndarray) -> float:
    m, d = a.shape[1], b.shape[1]
    corr = np.abs(np.corrcoef(a.T, b.T)[:m, m:])
    if m > d:
        corr = corr.T
    k, n = corr.shape
    return max(
        np.mean([corr[i, p[i]] for i in range(k)]) for p in itertools.permutations(range(n), k)
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("m", [3, 4, 5])
def test_mcc_matches_brute_force_optimal_matching(seed, m):
    rng = _rng(seed)
    b = rng.standard_normal((500, 4))
    a = b @ rng.standard_normal((4, m)) + 0.5 * rng.standard_normal((500, m))
    assert MC.mcc(a, b) == pytest.approx(_brute_force_mcc(a, b), abs=1e-10)


def test_mcc_is_not_greedy():
    # |corr| ~ [[0.9, 0.8], [0.6, 0.1]]: greedy (0.9 then 0.1) gives 0.5, optimal gives 0.7.
    rng = _rng(0)
    n = 20000
    b = rng.multivariate_normal([0, 0], [[1, 0.7], [0.7, 1]], size=n)
    target = np.array([[0.9, 0.8], [0.6, 0.1]])
    # a = b @ x + noise with corr(a_j, b) = target[j]; solve cov(b, a_j) = target[j].
    x = np.linalg.solve(np.array([[1, 0.7], [0.7, 1]]), target.T)
    signal_var = np.einsum("ik,jk,ij->k", x, x, np.array([[1, 0.7], [0.7, 1]]))
    assert np.all(signal_var < 1)  # the target correlations are feasible
    a = b @ x + rng.standard_normal((n, 2)) * np.sqrt(1 - signal_var)
    corr = np.abs(np.corrcoef(a.T, b.T)[:2, 2:])
    np.testing.assert_allclose(corr, target, atol=0.02)
    assert MC.mcc(a, b) == pytest.approx((corr[0, 1] + corr[1, 0]) / 2, abs=1e-10)
    assert MC.mcc(a, b) > (corr[0, 0] + corr[1, 1]) / 2 + 0.15


def test_mcc_rectangular_and_constant_columns():
    z = _latents(n=2000, d=3)
    f = np.concatenate([z, np.full((2000, 1), 4.0), _rng(9).standard_normal((2000, 2))], axis=1)
    assert MC.mcc(f, z) == pytest.approx(1.0, abs=1e-12)  # m=6 > d=3
    assert MC.mcc(z, f) == pytest.approx(1.0, abs=1e-12)  # m=3 < d=6
    const = np.ones((2000, 2))
    val = MC.mcc(const, z)
    assert val == 0.0 and not math.isnan(val)


def test_mcc_rejects_unknown_method():
    z = _latents(n=50, d=2)
    with pytest.raises(ValueError, match="kendall"):
        MC.mcc(z, z, method="kendall")
    with pytest.raises(ValueError, match="kendall"):
        MC.mcc_aligned(z, z, method="kendall")


def test_mcc_aligned_undoes_rotation():
    z = _rng(0).uniform(-1, 1, size=(4000, 2))
    t = np.pi / 4
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    f = z @ rot.T + 1.0
    assert MC.mcc(f, z) < 0.9
    assert MC.mcc_aligned(f, z) == pytest.approx(1.0, abs=1e-10)
    assert MC.mcc_aligned(f, z, "spearman") == pytest.approx(1.0, abs=1e-10)


# --------------------------------------------------------------------------- kNN control


def test_knn_r2_high_for_smooth_nonlinear_map_where_affine_fails():
    z = _rng(0).uniform(-1, 1, size=(4000, 2))
    f = np.stack([np.sinh(3 * z[:, 0]), z[:, 1] ** 3 + 0.1 * z[:, 1]], axis=1)
    knn = R.knn_r2(f, z)
    aff = R.r2_affine(f, z)
    assert knn > 0.9
    assert aff < knn - 0.05


def test_knn_r2_standardises_features():
    # A huge-scale irrelevant feature would swamp distances without standardisation.
    z = _rng(0).uniform(-1, 1, size=(4000, 1))
    noise = 1e6 * _rng(1).uniform(-1, 1, size=(4000, 1))  # independent of z
    f = np.concatenate([z, noise], axis=1)
    assert R.knn_r2(f, z) > 0.8


def test_knn_r2_rejects_too_few_rows():
    z = _latents(n=10, d=2)
    with pytest.raises(ValueError, match="n_neighbors"):
        R.knn_r2(z, z, n_neighbors=10)


# --------------------------------------------------------------------------- probe_metrics


def test_probe_metrics_keys_values_and_row_blocks():
    d, kappa = 4, 10.0
    n_affine, n_linear = 1000, 600
    z = _latents(n=n_affine + n_linear + 50, d=d)
    f = kappa * (z @ _orthogonal(d, seed=3))
    w = _rng(8).standard_normal((40, d))
    v = w @ _orthogonal(d, seed=4)
    out = S.probe_metrics(
        f, z, kappa=kappa, n_affine=n_affine, n_linear=n_linear, w_rows=w, w_targets=v
    )
    assert tuple(out) == PROBE_METRICS
    assert set(out) == {
        "r2_affine", "r2_linear", "mae_sv", "sv_min", "sv_max", "r2_w_v", "r2_w_v_linear",
        "mae_w_v", "mcc_pearson", "mcc_spearman", "mcc_pearson_aligned", "mcc_spearman_aligned",
        "r2_knn", "r2_reverse",
    }  # fmt: skip
    assert all(type(val) is float for val in out.values())
    assert out["r2_affine"] == pytest.approx(1.0, abs=1e-10)
    assert out["r2_linear"] == pytest.approx(1.0, abs=1e-10)
    assert out["mae_sv"] < 1e-8
    assert out["sv_min"] == pytest.approx(0.1, abs=1e-8)
    assert out["sv_max"] == pytest.approx(0.1, abs=1e-8)
    assert out["r2_w_v"] == pytest.approx(1.0, abs=1e-10)
    # v = W O with O orthogonal: the no-intercept map is exact and all its singular values are 1
    assert out["r2_w_v_linear"] == pytest.approx(1.0, abs=1e-10)
    assert out["mae_w_v"] < 1e-8
    assert out["mcc_pearson_aligned"] == pytest.approx(1.0, abs=1e-10)
    assert out["mcc_spearman_aligned"] == pytest.approx(1.0, abs=1e-10)
    assert out["mcc_pearson"] < 0.99
    assert 0.5 < out["r2_knn"] < 1.0
    assert out["r2_reverse"] == pytest.approx(1.0, abs=1e-10)  # f is exactly affine in z


# --------------------------------------------------------------------------- controls, intervals


def test_control_metrics_score_the_same_rows_as_the_trained_probe():
    d, n_affine, n_linear = 3, 800, 400
    z = _latents(n=n_affine + n_linear, d=d)
    f = np.tanh(2 * z @ _orthogonal(d, seed=5)) + 0.1 * _rng(6).standard_normal(z.shape)
    trained = S.probe_metrics(f, z, kappa=10.0, n_affine=n_affine, n_linear=n_linear)
    control = S.control_metrics(f, z, n_affine=n_affine, n_linear=n_linear)
    assert tuple(control) == CONTROL_METRICS
    for m in CONTROL_METRICS:
        assert control[m] == trained[m], m


def test_reverse_probe_sees_what_the_latents_do_not_explain():
    z = _latents(n=2000, d=3)
    extra = _rng(7).standard_normal((2000, 3))  # directions independent of z
    f = np.hstack([z, extra])
    assert R.r2_affine(f, z) == pytest.approx(1.0, abs=1e-9)  # z is in f ...
    assert R.r2_reverse(f, z) == pytest.approx(0.5, abs=0.05)  # ... but half of f is not z


def test_bootstrap_interval_brackets_the_estimate_and_shrinks_with_rows():
    def draw(n, seed):
        z = _rng(seed).standard_normal((n, 3))
        return z @ _orthogonal(3, seed=1) + 0.7 * _rng(seed + 1).standard_normal((n, 3)), z

    f, z = draw(2000, 10)
    lo, hi = R.r2_affine_interval(f, z, n_boot=400, seed=0)
    assert lo < R.r2_affine(f, z) < hi
    assert (lo, hi) == R.r2_affine_interval(f, z, n_boot=400, seed=0)  # seeded
    f4, z4 = draw(8000, 10)
    lo4, hi4 = R.r2_affine_interval(f4, z4, n_boot=400, seed=0)
    assert (hi4 - lo4) < 0.7 * (hi - lo)  # ~1/sqrt(4) of the width


def test_bootstrap_interval_covers_the_population_value():
    # population R² of z from f = z + noise(σ) per dim is 1 / (1 + σ²); 20 independent data sets
    sigma, truth, hits = 0.7, 1 / (1 + 0.7**2), 0
    for seed in range(20):
        z = _rng(100 + seed).standard_normal((1000, 2))
        f = z + sigma * _rng(200 + seed).standard_normal((1000, 2))
        lo, hi = R.r2_affine_interval(f, z, n_boot=200, seed=seed)
        hits += lo <= truth <= hi
    assert hits >= 16  # 95 % nominal: 19 expected; < 16 of 20 has probability < 2 %


def test_bootstrap_interval_refuses_bad_settings():
    z = _latents(n=100, d=2)
    with pytest.raises(ValueError, match="n_boot"):
        R.r2_affine_interval(z, z, n_boot=5)
    with pytest.raises(ValueError, match="level"):
        R.r2_affine_interval(z, z, level=1.0)


def test_probe_metrics_linear_block_uses_fresh_rows():
    d, n_affine, n_linear = 3, 400, 400
    z = _latents(n=n_affine + n_linear, d=d)
    f = z.copy()
    f[n_affine:] *= 10.0  # only the linear block is scaled by kappa=10
    out = S.probe_metrics(f, z, kappa=10.0, n_affine=n_affine, n_linear=n_linear)
    assert out["mae_sv"] < 1e-8
    assert math.isnan(out["r2_w_v"]) and math.isnan(out["mae_w_v"])
    assert out["mcc_pearson"] == pytest.approx(1.0, abs=1e-12)


def test_probe_metrics_raises_on_too_few_rows():
    z = _latents(n=1000, d=3)
    with pytest.raises(ValueError, match=r"800 \+ 400 = 1200 rows, got 1000"):
        S.probe_metrics(z, z, kappa=10.0, n_affine=800, n_linear=400)


def test_probe_metrics_requires_w_targets_with_w_rows():
    z = _latents(n=100, d=2)
    with pytest.raises(ValueError, match="w_targets"):
        S.probe_metrics(z, z, kappa=1.0, n_affine=50, n_linear=50, w_rows=np.ones((10, 2)))


# --------------------------------------------------------------------------- validation


def test_validation_row_mismatch():
    with pytest.raises(ValueError, match="same number of rows.*100 and 99"):
        R.r2_affine(np.zeros((100, 2)), np.zeros((99, 2)))


def test_validation_not_2d():
    with pytest.raises(ValueError, match="2-D"):
        R.r2_linear(np.zeros(100), np.zeros((100, 1)))
    with pytest.raises(ValueError, match="2-D"):
        MC.mcc(np.zeros((10, 2)), np.zeros((10, 2, 1)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_validation_non_finite(bad):
    z = _latents(n=100, d=2)
    f = z.copy()
    f[3, 1] = bad
    with pytest.raises(ValueError, match="features contains 1 non-finite"):
        R.r2_affine(f, z)
    with pytest.raises(ValueError, match="latents contains 1 non-finite"):
        S.probe_metrics(z, f, kappa=1.0, n_affine=50, n_linear=50)
