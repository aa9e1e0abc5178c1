"""Exact samplers: vMF against theory and SciPy, Laplace, Gamma, generalised normal, truncated Laplace."""

import numpy as np
import pytest
import torch
from scipy import stats

from linid.sim.samplers import (
    normalize,
    sample_gamma,
    sample_gennorm,
    sample_laplace,
    sample_truncated_laplace,
    sample_vmf,
    vmf_mean_resultant_length,
)


@pytest.mark.parametrize("d,kappa", [(2, 10.0), (3, 1.0), (5, 10.0), (10, 50.0), (20, 5.0)])
def test_vmf_mean_resultant_length_matches_theory(d, kappa):
    gen = torch.Generator().manual_seed(0)
    mu = normalize(torch.randn(1, d, generator=gen)).expand(40000, d).contiguous().double()
    z = sample_vmf(mu, kappa, gen)
    assert torch.allclose(z.norm(dim=1), torch.ones(len(z), dtype=z.dtype), atol=1e-9)
    mrl = float((z @ mu[0]).mean())
    theory = vmf_mean_resultant_length(kappa, d)
    # standard error of the mean of μᵀz is < 0.005 at n = 40000
    assert abs(mrl - theory) < 0.01, (mrl, theory)
    # the mean direction is μ
    m = z.mean(0)
    assert float(normalize(m[None])[0] @ mu[0]) > 0.999


def test_vmf_matches_scipy_reference_distribution():
    d, kappa = 4, 8.0
    mu = np.eye(d)[0]
    ref = stats.vonmises_fisher(mu, kappa).rvs(20000, random_state=np.random.default_rng(0))
    gen = torch.Generator().manual_seed(1)
    ours = sample_vmf(torch.tensor(mu).expand(20000, d).contiguous(), kappa, gen).numpy()
    # the distribution of the cosine to μ agrees (two-sample KS test)
    assert stats.ks_2samp(ours @ mu, ref @ mu).pvalue > 0.01
    # and the orthogonal part is isotropic: second coordinate symmetric with equal spread
    assert abs(ours[:, 1].std() - ref[:, 1].std()) < 0.01


def test_vmf_is_deterministic_per_generator():
    mu = normalize(torch.ones(100, 5))
    a = sample_vmf(mu, 10.0, torch.Generator().manual_seed(3))
    b = sample_vmf(mu, 10.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_laplace_sampler_scale():
    x = sample_laplace((200000,), 2.0, torch.Generator().manual_seed(0))
    assert abs(float(x.abs().mean()) - 2.0) < 0.03  # E|X| = b
    assert abs(float(x.mean())) < 0.03


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_gamma_sampler_is_exact(alpha):
    x = sample_gamma((20000,), alpha, torch.Generator().manual_seed(0)).double().numpy()
    assert stats.kstest(x, stats.gamma(alpha).cdf).pvalue > 0.01


@pytest.mark.parametrize("beta", [0.7, 1.0, 2.0, 4.0])
def test_generalised_normal_noise_is_exact(beta):
    x = sample_gennorm((20000,), 0.5, beta, torch.Generator().manual_seed(1)).double().numpy()
    assert stats.kstest(x, stats.gennorm(beta, scale=0.5).cdf).pvalue > 0.01


@pytest.mark.parametrize("loc,bound", [(0.3, 2.0), (-0.8, 1.0), (0.0, 0.5)])
def test_truncated_laplace_is_exact(loc, bound):
    scale = 1.0
    x = sample_truncated_laplace(torch.full((20000,), loc, dtype=torch.float64), scale, bound,
                                 torch.Generator().manual_seed(2)).numpy()
    assert x.min() >= -bound and x.max() <= bound
    lap = stats.laplace(loc, scale)
    lo, hi = lap.cdf(-bound), lap.cdf(bound)
    assert stats.kstest(x, lambda t: (lap.cdf(t) - lo) / (hi - lo)).pvalue > 0.01


@pytest.mark.parametrize("kappa", [1e4, 1e8, 1e12])
def test_vmf_is_stable_for_huge_kappa(kappa):
    """1 − E[μᵀz] → (d − 1) / (2κ) for large κ; the classic formulas cancel to 0 and never accept."""
    d = 5
    mu = normalize(torch.randn(4000, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    z = sample_vmf(mu, kappa, torch.Generator().manual_seed(2))
    assert torch.isfinite(z).all()
    assert torch.allclose(z.norm(dim=1), torch.ones(len(z), dtype=z.dtype), atol=1e-12)
    gap = 1 - float((z * mu).sum(1).mean())
    assert gap == pytest.approx((d - 1) / (2 * kappa), rel=0.05)


@pytest.mark.parametrize("kappa", [float("inf"), float("nan"), 0.0, -1.0])
def test_vmf_refuses_kappa_it_cannot_sample(kappa):
    with pytest.raises(ValueError, match="κ must be finite and > 0"):
        sample_vmf(normalize(torch.randn(3, 4)), kappa, torch.Generator().manual_seed(0))


def test_vmf_rejection_loop_is_bounded(monkeypatch):
    import linid.sim.samplers as samplers

    monkeypatch.setattr(samplers, "_beta_symmetric", lambda k, m, r, g, dev: torch.full((k, r), float("nan")))
    with pytest.raises(RuntimeError, match=r"κ = 10.0, d = 4\): 3 of 3 rows rejected in all 100 rounds"):
        samplers.sample_vmf(normalize(torch.randn(3, 4)), 10.0, torch.Generator().manual_seed(0))
