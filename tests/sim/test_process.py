"""The data generating process: exact vMF, priors, conditionals, invertible well-conditioned mixing."""

import numpy as np
import pytest
import torch

from linid.sim.process import (
    DGPConfig,
    _draw_matrix,
    condition_number,
    generator_for,
    load_dataset,
    make_mixing,
    make_process,
    mix,
    save_dataset,
    unmix,
)
from linid.sim.samplers import (
    normalize,
)


@pytest.mark.parametrize("d", [2, 5, 10])
def test_mixing_is_invertible_and_well_conditioned(d):
    p = make_process(DGPConfig(latent_dim=d, n_classes=10, cond_candidates=2000))
    w = [x.double() for x in p.mixing_weights]
    assert len(w) == 4 and all(x.shape == (d, d) for x in w)
    # columns are L2-normalised
    for x in w:
        assert torch.allclose(x.norm(dim=0), torch.ones(d, dtype=x.dtype), atol=1e-6)
    # every layer is below the 25% condition-number quantile of random draws
    gen = torch.Generator().manual_seed(123)
    pool = torch.rand(2000, d, d, generator=gen, dtype=torch.float64) * 2 - 1
    pool = pool / pool.norm(dim=1, keepdim=True)
    q50 = torch.quantile(condition_number(pool), 0.5)
    assert all(float(condition_number(x)) < q50 for x in w)
    z = normalize(torch.randn(1000, d, generator=gen, dtype=torch.float64))
    x = mix(z, w)
    assert torch.allclose(unmix(x, w), z, atol=1e-9)
    # g is nonlinear: a linear fit from z to x is imperfect (for d > 1 the kinks matter)
    coef = torch.linalg.lstsq(z, x).solution
    assert float((x - z @ coef).norm() / x.norm()) > 1e-3


def test_official_mixing_threshold_is_the_smallest_of_the_pool():
    """Official call: cond_thresh_ratio=0.0 → the threshold is min κ over the pool; every layer ≤ it."""
    cfg = DGPConfig(latent_dim=4, n_classes=10, cond_candidates=300, seed=7)
    assert (DGPConfig(latent_dim=5, n_classes=10).cond_candidates, DGPConfig(latent_dim=5, n_classes=10).cond_quantile) == (25000, 0.0)
    m = make_mixing(cfg, torch.Generator().manual_seed(7))
    # replay the same stream: the pool is the first draw
    pool = condition_number(_draw_matrix(4, torch.Generator().manual_seed(7), 300))
    assert m.threshold == pytest.approx(float(pool.min()))
    assert all(c <= m.threshold + 1e-12 for c in m.condition_numbers)
    assert all(k >= 1 for k in m.draws)
    # the helper's own default (25 % quantile) gives a looser threshold: element int(n · q) of the sorted pool
    q = make_mixing(DGPConfig(latent_dim=4, n_classes=10, cond_candidates=300, cond_quantile=0.25, seed=7),
                    torch.Generator().manual_seed(7))
    assert q.threshold == pytest.approx(float(pool.sort().values[75]))
    assert q.threshold > m.threshold


def test_threshold_and_layer_conditions_are_stored(tmp_path):
    p = make_process(DGPConfig(latent_dim=3, n_classes=4, cond_candidates=200, n_instances=40))
    info = save_dataset(tmp_path / "d.npz", p, n_eval=100, n_monitor=10)
    assert info["mixing_threshold"] == p.mixing_threshold and len(info["mixing_draws"]) == 4
    q, _ = load_dataset(tmp_path / "d.npz")
    assert q.mixing_threshold == p.mixing_threshold and q.mixing_draws == p.mixing_draws
    assert q.condition_numbers == pytest.approx([float(condition_number(w.double())) for w in q.mixing_weights], rel=1e-5)


def test_new_conditionals_follow_the_official_code():
    """gennorm: projected to the sphere; truncated Laplace: per-coordinate box [-β, β], not projected."""
    g = make_process(DGPConfig(latent_dim=5, n_classes=10, conditional="gennorm", cond_beta=1.5,
                               kappa=2.0, n_instances=100, cond_candidates=100))
    b = g.sample(4000, torch.Generator().manual_seed(0))
    assert torch.allclose(b.z.norm(dim=1), torch.ones(4000), atol=1e-5)
    assert float((b.z * g.cluster_vectors[b.klass]).sum(1).mean()) > 0.7
    t = make_process(DGPConfig(latent_dim=5, n_classes=10, conditional="truncated_laplace", cond_beta=1.5,
                               n_instances=100, cond_candidates=100))
    b = t.sample(4000, torch.Generator().manual_seed(0))
    assert float(b.z.abs().max()) <= 1.5 and float((b.z.norm(dim=1) - 1).abs().mean()) > 0.1
    # centred on the class vector: the mean of z - v_c is ~0 (the box is symmetric around |v_c| <= 1)
    assert float((b.z - t.cluster_vectors[b.klass]).mean()) == pytest.approx(0.0, abs=0.05)


def test_best_strategy_beats_quantile():
    q = make_process(DGPConfig(latent_dim=5, n_classes=10, cond_candidates=500, cond_quantile=0.25))
    b = make_process(DGPConfig(latent_dim=5, n_classes=10, cond_candidates=500, cond_strategy="best"))
    assert max(b.condition_numbers) <= max(q.condition_numbers) + 1e-9


@pytest.mark.parametrize("prior", ["uniform", "laplace", "normal", "gennorm"])
def test_cluster_priors(prior):
    p = make_process(DGPConfig(latent_dim=5, n_classes=2000, cluster_prior=prior, n_instances=2000))
    v = p.cluster_vectors
    assert torch.allclose(v.norm(dim=1), torch.ones(2000), atol=1e-5)
    mean_e1 = float(v[:, 0].mean())
    if prior == "uniform":
        assert abs(mean_e1) < 0.05
    else:  # concentrated around e_1
        assert mean_e1 > 0.3


@pytest.mark.parametrize("cond", ["laplace", "normal"])
def test_misspecified_conditionals_stay_on_sphere_and_near_class(cond):
    p = make_process(DGPConfig(latent_dim=5, n_classes=10, conditional=cond, kappa=2.0, n_instances=100))
    b = p.sample(5000, torch.Generator().manual_seed(0))
    assert torch.allclose(b.z.norm(dim=1), torch.ones(5000), atol=1e-5)
    cos = (b.z * p.cluster_vectors[b.klass]).sum(1)
    assert float(cos.mean()) > 0.7


def test_sampling_labels_and_noise():
    cfg = DGPConfig(latent_dim=3, n_classes=7, n_instances=70, label_noise=0.3)
    p = make_process(cfg)
    b = p.sample(20000, torch.Generator().manual_seed(0))
    assert torch.equal(b.klass, b.instance % 7)
    flipped = float((b.label_class != b.klass).float().mean())
    # a flip draws a uniform class, which equals the true one with probability 1/7
    assert abs(flipped - 0.3 * 6 / 7) < 0.02
    clean = make_process(DGPConfig(latent_dim=3, n_classes=7, n_instances=70))
    b2 = clean.sample(1000, torch.Generator().manual_seed(0))
    assert torch.equal(b2.label_class, b2.klass) and torch.equal(b2.label_instance, b2.instance)


def test_process_is_deterministic_per_seed_and_differs_across_seeds():
    a = make_process(DGPConfig(latent_dim=4, n_classes=5, cond_candidates=300, seed=1))
    b = make_process(DGPConfig(latent_dim=4, n_classes=5, cond_candidates=300, seed=1))
    c = make_process(DGPConfig(latent_dim=4, n_classes=5, cond_candidates=300, seed=2))
    assert torch.equal(a.cluster_vectors, b.cluster_vectors)
    assert all(torch.equal(x, y) for x, y in zip(a.mixing_weights, b.mixing_weights, strict=False))
    assert not torch.equal(a.cluster_vectors, c.cluster_vectors)


def test_save_and_load_roundtrip(tmp_path):
    p = make_process(DGPConfig(latent_dim=3, n_classes=4, cond_candidates=100, n_instances=40))
    info = save_dataset(tmp_path / "d.npz", p, n_eval=500, n_monitor=100)
    q, arrays = load_dataset(tmp_path / "d.npz")
    assert q.cfg == p.cfg
    assert torch.equal(q.cluster_vectors, p.cluster_vectors)
    assert arrays["eval_x"].shape == (500, 3) and arrays["monitor_z"].shape == (100, 3)
    # the stored x really is g(z)
    x = mix(torch.from_numpy(arrays["eval_z"]), q.mixing_weights)
    assert np.allclose(x.numpy(), arrays["eval_x"], atol=1e-5)
    assert info["mixing_condition_number"] > 1
    # eval and monitor sets are different draws
    assert not np.allclose(arrays["eval_z"][:100], arrays["monitor_z"])
    assert generator_for(0, 1).initial_seed() != generator_for(0, 2).initial_seed()


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"latent_dim": 1}, "latent_dim"),
        ({"n_classes": 1}, "n_classes"),
        ({"kappa": 0}, "kappa"),
        ({"conditional": "cauchy"}, "conditional"),
        ({"cluster_prior": "x"}, "cluster_prior"),
        ({"label_noise": 1.5}, "label_noise"),
        ({"cond_beta": 0.0}, "cond_beta"),
        ({"prior_shape": float("nan")}, "prior_shape"),
        ({"cond_quantile": 1.0}, "cond_quantile"),
    ],
)
def test_bad_config_raises(kwargs, msg):
    base = {"latent_dim": 3, "n_classes": 4}
    with pytest.raises(ValueError, match=msg):
        DGPConfig(**{**base, **kwargs})
