"""Exact samplers on an explicit ``torch.Generator``: sphere, Laplace, vMF, Gamma, generalised normal.

Every draw comes from the generator it is given, on that generator's device, so a seed fixes the
result and training can sample on the GPU. Used by :mod:`linid.sim.process`.
"""

from __future__ import annotations

import math

import torch


def normalize(v: torch.Tensor) -> torch.Tensor:
    """Project rows onto the unit sphere: v / ||v||."""
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def sample_sphere(n: int, d: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """Uniform samples on S^{d-1}: normalised standard Gaussians."""
    return normalize(torch.randn(n, d, generator=generator, device=device))


def sample_laplace(shape: tuple[int, ...], scale: float, generator, device=None) -> torch.Tensor:
    """Laplace(0, scale) by inverse CDF: -b·sign(u)·log(1 - 2|u|), u ~ U(-1/2, 1/2)."""
    u = torch.rand(shape, generator=generator, device=device) - 0.5
    return -scale * torch.sign(u) * torch.log1p(-2.0 * u.abs().clamp_max(0.5 - 1e-7))


def _beta_symmetric(n: int, m: int, rounds: int, generator, device) -> torch.Tensor:
    """Beta(m/2, m/2) draws as A/(A+B) with A, B ~ chi²_m (sums of m squared normals)."""
    g = torch.randn(2, n, rounds, m, generator=generator, device=device).square().sum(-1)
    return g[0] / (g[0] + g[1])


def vmf_mean_resultant_length(kappa: float, d: int) -> float:
    """Theoretical E[μᵀz] for vMF(μ, κ) on S^{d-1}: A_d(κ) = I_{d/2}(κ) / I_{d/2-1}(κ)."""
    from scipy.special import ive

    return float(ive(d / 2, kappa) / ive(d / 2 - 1, kappa))


#: above this κ the rejection test is done in the cancellation-free form (float64); at or below it
#: the classic form, whose draws every existing dataset was made with
STABLE_KAPPA = 1e3
#: redraw rounds before the sampler gives up (acceptance is ≥ ~60 % per proposal, 4 proposals a round)
MAX_REDRAWS = 100


def sample_vmf(
    mu: torch.Tensor, kappa: float, generator: torch.Generator, rounds: int = 4
) -> torch.Tensor:
    """Exact vMF(μ, κ) samples, one per row of μ (Wood 1994 rejection sampler, vectorised).

    Draws ``rounds`` proposals per row at once and keeps the first accepted one; rows where all
    were rejected (rare: acceptance is high) are redrawn, so the result is exact. For κ above
    ``STABLE_KAPPA`` every quantity is computed in a form without cancellation (1 − w instead of
    w, b = m / (2κ + √(4κ² + m²))), so any finite κ works; κ must be finite and positive, and a
    sampler that cannot accept within ``MAX_REDRAWS`` rounds stops with an error naming κ and d.
    """
    if not (math.isfinite(kappa) and kappa > 0):
        raise ValueError(f"vMF concentration κ must be finite and > 0, got {kappa!r}")
    n, d = mu.shape
    device = mu.device
    m = d - 1
    stable = kappa > STABLE_KAPPA
    dtype = torch.float64 if stable else mu.dtype
    if stable:
        b = m / (2.0 * kappa + math.hypot(2.0 * kappa, m))
        x0 = (1.0 - b) / (1.0 + b)
        one_minus_x0 = 2.0 * b / (1.0 + b)
        log_norm = math.log(one_minus_x0) + math.log1p(x0)  # log(1 − x0²)
    else:
        b = (-2.0 * kappa + math.sqrt(4.0 * kappa**2 + m**2)) / m
        x0 = (1.0 - b) / (1.0 + b)
        c = kappa * x0 + m * math.log(1.0 - x0**2)
    kept = torch.empty(n, device=device, dtype=dtype)  # 1 − w (stable) or w (classic)
    todo = torch.arange(n, device=device)
    for _ in range(MAX_REDRAWS):
        k = todo.numel()
        z = _beta_symmetric(k, m, rounds, generator, device).to(dtype)
        u = torch.rand(k, rounds, generator=generator, device=device, dtype=dtype)
        if stable:  # 1 − cand and the log-acceptance ratio without subtracting large numbers
            one_minus_cand = 2.0 * b * z / (1.0 - (1.0 - b) * z)
            t = one_minus_x0 + x0 * one_minus_cand  # 1 − x0·cand
            ratio = kappa * (one_minus_x0 - one_minus_cand) + m * (torch.log(t) - log_norm)
        else:
            cand = (1.0 - (1.0 + b) * z) / (1.0 - (1.0 - b) * z)
            ratio = kappa * cand + m * torch.log1p(-x0 * cand) - c
        ok = ratio >= torch.log(u)
        first = ok.to(torch.int8).argmax(dim=1)
        kept[todo] = (one_minus_cand if stable else cand).gather(1, first[:, None]).squeeze(1)
        accepted = ok.any(dim=1)
        if bool(accepted.all()):
            break
        todo = todo[~accepted]
    else:
        raise RuntimeError(
            f"vMF sampler (κ = {kappa!r}, d = {d}): {todo.numel()} of {n} rows rejected in all "
            f"{MAX_REDRAWS} rounds; the rejection test is numerically broken for these parameters"
        )
    # direction orthogonal to e_1, then a Householder reflection that maps e_1 to μ
    v = sample_sphere(n, m, generator, device).to(mu.dtype)
    if stable:
        w = (1.0 - kept).to(mu.dtype)
        radial = (kept * (2.0 - kept)).clamp_min(0).sqrt().to(mu.dtype)  # √(1 − w²)
    else:
        w = kept
        radial = (1.0 - w**2).clamp_min(0).sqrt()
    samples = torch.cat([w[:, None], radial[:, None] * v], dim=1)
    e1 = torch.zeros(d, device=device, dtype=mu.dtype)
    e1[0] = 1.0
    u_h = e1 - mu
    un = u_h.norm(dim=1, keepdim=True)
    u_h = torch.where(un > 1e-9, u_h / un.clamp_min(1e-12), torch.zeros_like(u_h))
    return samples - 2.0 * (samples * u_h).sum(1, keepdim=True) * u_h


def sample_gamma(
    shape: tuple[int, ...], alpha: float, generator: torch.Generator, device=None, rounds: int = 4
) -> torch.Tensor:
    """Exact Gamma(α, 1) draws from an explicit generator (Marsaglia & Tsang 2000, vectorised).

    For α < 1 it draws Gamma(α + 1)·U^(1/α). Each element gets ``rounds`` proposals at once and
    keeps the first accepted one; elements where all were rejected (rare) are redrawn.
    """
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive finite number, got {alpha}")
    a = alpha + 1.0 if alpha < 1.0 else alpha
    dd = a - 1.0 / 3.0
    cc = 1.0 / math.sqrt(9.0 * dd)
    n = math.prod(shape)
    out = torch.empty(n, device=device)
    todo = torch.arange(n, device=device)
    for _ in range(10_000):
        k = todo.numel()
        x = torch.randn(k, rounds, generator=generator, device=device)
        v = (1.0 + cc * x) ** 3
        u = torch.rand(k, rounds, generator=generator, device=device)
        ok = (v > 0) & (torch.log(u) < 0.5 * x**2 + dd - dd * v + dd * torch.log(v.clamp_min(1e-30)))
        first = ok.to(torch.int8).argmax(dim=1)
        out[todo] = (dd * v).gather(1, first[:, None]).squeeze(1)
        accepted = ok.any(dim=1)
        if bool(accepted.all()):
            break
        todo = todo[~accepted]
    else:  # pragma: no cover - acceptance is > 95 % per proposal
        raise RuntimeError(f"gamma sampler did not converge for alpha={alpha}")
    if alpha < 1.0:
        u = torch.rand(n, generator=generator, device=device)
        out = out * u.pow(1.0 / alpha)
    return out.view(shape)


def sample_gennorm(
    shape: tuple[int, ...], scale: float, beta: float, generator: torch.Generator, device=None
) -> torch.Tensor:
    """Generalised normal noise, density ∝ exp(−|x/s|^β): s·sign·G^(1/β) with G ~ Gamma(1/β, 1).

    β = 2 is Normal(0, s/√2), β = 1 is Laplace(0, s); the official ``sample_generalized_normal``.
    """
    g = sample_gamma(shape, 1.0 / beta, generator, device)
    sign = torch.randint(0, 2, shape, generator=generator, device=device) * 2 - 1
    return scale * sign * g.pow(1.0 / beta)


def sample_truncated_laplace(
    loc: torch.Tensor, scale: float, bound: float, generator: torch.Generator
) -> torch.Tensor:
    """Laplace(loc, scale) truncated to [−bound, bound] per coordinate, by inverse CDF.

    u ~ U(F(−bound), F(bound)) and x = F⁻¹(u), F the Laplace CDF centred at ``loc`` (the official
    ``NSphereSpace.truncated_laplace``; its closed form assumes −bound ≤ loc ≤ bound, this one
    holds for any loc).
    """
    lo = torch.full_like(loc, -bound)
    hi = torch.full_like(loc, bound)

    def cdf(x: torch.Tensor) -> torch.Tensor:
        t = (x - loc) / scale
        return torch.where(t < 0, 0.5 * torch.exp(t.clamp_max(0)), 1 - 0.5 * torch.exp(-t.clamp_min(0)))

    f_lo, f_hi = cdf(lo), cdf(hi)
    u = f_lo + (f_hi - f_lo) * torch.rand(loc.shape, generator=generator, device=loc.device, dtype=loc.dtype)
    u = u.clamp(1e-12, 1 - 1e-12)
    x = torch.where(u < 0.5, loc + scale * torch.log(2 * u), loc - scale * torch.log(2 * (1 - u)))
    return torch.minimum(torch.maximum(x, lo), hi)
