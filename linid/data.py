"""Synthetic data generating process of Reizinger et al. (2025) (docs/science.md §1).

Latents z live on the unit sphere S^{d-1}; each sample draws an instance index i ~ U{0..N-1},
its class c = i mod |C|, and z from a conditional centred on the class vector v_c; the observation
is x = g(z) for a fixed invertible MLP g. Everything is sampled with torch on the requested device
from an explicit ``torch.Generator``, so training can draw fresh data on the GPU every step.

Defaults are those of the official scripts (klindtlab/csi ``simulation/main_sup.py`` and
``main_diet.py``); docs/science.md cites the calling line of each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

CONDITIONALS = ("vmf", "laplace", "normal", "truncated_laplace", "gennorm")
CLUSTER_PRIORS = ("uniform", "laplace", "normal", "gennorm")
CONDITION_STRATEGIES = ("quantile", "best")
#: conditionals whose shape depends on ``cond_beta`` (the official ``--beta-param``)
BETA_CONDITIONALS = ("truncated_laplace", "gennorm")
#: at most this many candidate matrices are drawn per mixing layer before giving up
MAX_REDRAWS_PER_POOL = 1000


@dataclass(frozen=True)
class DGPConfig:
    """The fixed parts of one synthetic dataset (one cell of the sweep, one dataset seed)."""

    latent_dim: int
    n_classes: int
    kappa: float = 10.0
    conditional: str = "vmf"
    cluster_prior: str = "uniform"
    label_noise: float = 0.0
    n_instances: int = 10240
    seed: int = 0
    mixing_layers: int = 4
    mixing_slope: float = 0.2
    cond_candidates: int = 25000
    cond_quantile: float = 0.0
    cond_strategy: str = "quantile"
    cond_beta: float = 2.0
    prior_shape: float = 3.0
    prior_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.latent_dim < 2:
            raise ValueError(f"latent_dim must be >= 2, got {self.latent_dim}")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {self.n_classes}")
        if not self.kappa > 0:
            raise ValueError(f"kappa must be > 0, got {self.kappa}")
        if self.conditional not in CONDITIONALS:
            raise ValueError(f"conditional must be one of {CONDITIONALS}, got {self.conditional!r}")
        if self.cluster_prior not in CLUSTER_PRIORS:
            raise ValueError(
                f"cluster_prior must be one of {CLUSTER_PRIORS}, got {self.cluster_prior!r}"
            )
        if not 0.0 <= self.label_noise <= 1.0:
            raise ValueError(f"label_noise must be in [0, 1], got {self.label_noise}")
        if self.n_instances < self.n_classes:
            raise ValueError(
                f"n_instances ({self.n_instances}) must be >= n_classes ({self.n_classes})"
            )
        if not 0.0 <= self.cond_quantile < 1.0:
            raise ValueError(f"cond_quantile must be in [0, 1), got {self.cond_quantile}")
        for name in ("cond_beta", "prior_shape", "prior_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value}")
        if self.cond_strategy not in CONDITION_STRATEGIES:
            raise ValueError(
                f"cond_strategy must be one of {CONDITION_STRATEGIES}, got {self.cond_strategy!r}"
            )


@dataclass
class Batch:
    """One draw of the process: latents z, observations x, true class, training labels."""

    z: torch.Tensor
    x: torch.Tensor
    instance: torch.Tensor
    klass: torch.Tensor
    label_class: torch.Tensor
    label_instance: torch.Tensor


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


def sample_vmf(
    mu: torch.Tensor, kappa: float, generator: torch.Generator, rounds: int = 4
) -> torch.Tensor:
    """Exact vMF(μ, κ) samples, one per row of μ (Wood 1994 rejection sampler, vectorised).

    Draws ``rounds`` proposals per row at once and keeps the first accepted one; rows where all
    were rejected (rare: acceptance is high) are redrawn, so the result is exact.
    """
    n, d = mu.shape
    device = mu.device
    m = d - 1
    b = (-2.0 * kappa + math.sqrt(4.0 * kappa**2 + m**2)) / m
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + m * math.log(1.0 - x0**2)
    w = torch.empty(n, device=device, dtype=mu.dtype)
    todo = torch.arange(n, device=device)
    while True:
        k = todo.numel()
        z = _beta_symmetric(k, m, rounds, generator, device).to(mu.dtype)
        cand = (1.0 - (1.0 + b) * z) / (1.0 - (1.0 - b) * z)
        u = torch.rand(k, rounds, generator=generator, device=device, dtype=mu.dtype)
        ok = kappa * cand + m * torch.log1p(-x0 * cand) - c >= torch.log(u)
        first = ok.to(torch.int8).argmax(dim=1)
        w[todo] = cand.gather(1, first[:, None]).squeeze(1)
        accepted = ok.any(dim=1)
        if bool(accepted.all()):
            break
        todo = todo[~accepted]
    # direction orthogonal to e_1, then a Householder reflection that maps e_1 to μ
    v = sample_sphere(n, m, generator, device).to(mu.dtype)
    samples = torch.cat([w[:, None], (1.0 - w[:, None] ** 2).clamp_min(0).sqrt() * v], dim=1)
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


def sample_cluster_vectors(cfg: DGPConfig, generator: torch.Generator) -> torch.Tensor:
    """Class vectors v_1..v_|C| on the sphere: uniform, or e_1 + noise projected to the sphere.

    Noise: Laplace(scale s), Normal(std s) or generalised normal (scale s, shape p), s =
    ``prior_scale`` (official: 1.0, ``--m-param`` for the generalised normal), p = ``prior_shape``.
    """
    C, d = cfg.n_classes, cfg.latent_dim
    if cfg.cluster_prior == "uniform":
        return sample_sphere(C, d, generator)
    e1 = torch.zeros(d)
    e1[0] = 1.0
    s = cfg.prior_scale
    if cfg.cluster_prior == "laplace":
        noise = sample_laplace((C, d), s, generator)
    elif cfg.cluster_prior == "normal":
        noise = s * torch.randn(C, d, generator=generator)
    else:
        noise = sample_gennorm((C, d), s, cfg.prior_shape, generator)
    return normalize(e1 + noise)


def _draw_matrix(d: int, generator: torch.Generator, n: int = 1) -> torch.Tensor:
    """n random d×d matrices, entries U(-1, 1), columns L2-normalised."""
    w = torch.rand(n, d, d, generator=generator, dtype=torch.float64) * 2.0 - 1.0
    return w / w.norm(dim=1, keepdim=True)


def condition_number(w: torch.Tensor) -> torch.Tensor:
    """κ(W) = σ_max / σ_min (batched)."""
    s = torch.linalg.svdvals(w)
    return s[..., 0] / s[..., -1]


@dataclass(frozen=True)
class Mixing:
    """The mixing weights and how they were chosen: threshold, per-layer κ(W), draws per layer."""

    weights: list[torch.Tensor]
    threshold: float
    condition_numbers: list[float]
    draws: list[int]


def make_mixing(cfg: DGPConfig, generator: torch.Generator) -> Mixing:
    """Weights of the invertible mixing MLP, each well conditioned.

    "quantile" (default, the official call ``construct_invertible_mlp(..., cond_thresh_ratio=0.0,
    n_iter_cond_thresh=25000)``): draw ``cond_candidates`` matrices, set the threshold at the
    element ``int(cond_candidates · cond_quantile)`` of their sorted condition numbers (q = 0: the
    smallest), then draw each layer until one is at or below it. Candidates are drawn in blocks of
    ``cond_candidates`` and the first passing one is kept: the same distribution as one at a time.
    "best": each layer is the best-conditioned of its own ``cond_candidates`` draws.
    """
    d, pool_n = cfg.latent_dim, cfg.cond_candidates
    threshold = float("nan")
    if cfg.cond_strategy == "quantile":
        pool = condition_number(_draw_matrix(d, generator, pool_n))
        threshold = float(pool.sort().values[int(pool_n * cfg.cond_quantile)])
    weights, conds, draws = [], [], []
    for _ in range(cfg.mixing_layers):
        if cfg.cond_strategy == "best":
            cand = _draw_matrix(d, generator, pool_n)
            c = condition_number(cand)
            k = int(c.argmin())
            weights.append(cand[k])
            conds.append(float(c[k]))
            draws.append(pool_n)
            continue
        n_drawn = 0
        while True:
            cand = _draw_matrix(d, generator, pool_n)
            c = condition_number(cand)
            hits = (c <= threshold).nonzero()
            if hits.numel():
                k = int(hits[0, 0])
                weights.append(cand[k])
                conds.append(float(c[k]))
                draws.append(n_drawn + k + 1)
                break
            n_drawn += pool_n
            if n_drawn >= MAX_REDRAWS_PER_POOL * pool_n:
                raise RuntimeError(
                    f"no mixing matrix with condition number <= {threshold:.4g} in {n_drawn} draws "
                    f"(d={d}, cond_quantile={cfg.cond_quantile}, cond_candidates={pool_n})"
                )
    return Mixing([w.float() for w in weights], threshold, conds, draws)


def make_mixing_weights(cfg: DGPConfig, generator: torch.Generator) -> list[torch.Tensor]:
    """Just the weights of :func:`make_mixing`."""
    return make_mixing(cfg, generator).weights


def mix(z: torch.Tensor, weights: list[torch.Tensor], slope: float = 0.2) -> torch.Tensor:
    """x = g(z): bias-free linear layers with LeakyReLU(slope) between them, none after the last."""
    h = z
    for k, w in enumerate(weights):
        h = h @ w.T
        if k < len(weights) - 1:
            h = torch.nn.functional.leaky_relu(h, slope)
    return h


def unmix(x: torch.Tensor, weights: list[torch.Tensor], slope: float = 0.2) -> torch.Tensor:
    """z = g⁻¹(x): inverse LeakyReLU and solve each linear layer, last to first."""
    h = x
    for k in range(len(weights) - 1, -1, -1):
        if k < len(weights) - 1:
            h = torch.where(h >= 0, h, h / slope)
        h = torch.linalg.solve(weights[k], h.T).T
    return h


@dataclass
class GenerativeProcess:
    """A fixed draw of the process: cluster vectors and mixing weights, plus how to sample it."""

    cfg: DGPConfig
    cluster_vectors: torch.Tensor
    mixing_weights: list[torch.Tensor]
    condition_numbers: list[float] = field(default_factory=list)
    mixing_threshold: float = float("nan")
    mixing_draws: list[int] = field(default_factory=list)

    def to(self, device: torch.device | str) -> GenerativeProcess:
        return GenerativeProcess(
            self.cfg,
            self.cluster_vectors.to(device),
            [w.to(device) for w in self.mixing_weights],
            self.condition_numbers,
            self.mixing_threshold,
            self.mixing_draws,
        )

    def latents(self, klass: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """z | c around v_c, with s = κ/10 for the noise conditionals (official ``c_param/10``).

        vmf: exact vMF(v_c, κ). laplace / normal / gennorm: v_c + Laplace(s) / Normal(s) /
        generalised-normal(s, shape β) noise, projected to the sphere. truncated_laplace:
        Laplace(v_c, s) truncated to [−β, β] per coordinate and, as in the official code, not
        projected (β = ``cond_beta``, the official ``--beta-param``).
        """
        mu = self.cluster_vectors[klass]
        cfg = self.cfg
        if cfg.conditional == "vmf":
            return sample_vmf(mu, cfg.kappa, generator)
        scale = cfg.kappa / 10.0
        if cfg.conditional == "truncated_laplace":
            return sample_truncated_laplace(mu, scale, cfg.cond_beta, generator)
        if cfg.conditional == "laplace":
            noise = sample_laplace(tuple(mu.shape), scale, generator, mu.device)
        elif cfg.conditional == "gennorm":
            noise = sample_gennorm(tuple(mu.shape), scale, cfg.cond_beta, generator, mu.device)
        else:
            noise = scale * torch.randn(mu.shape, generator=generator, device=mu.device)
        return normalize(mu + noise)

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """n fresh draws; with probability p each label is replaced by a uniformly random one."""
        cfg = self.cfg
        device = self.cluster_vectors.device
        instance = torch.randint(cfg.n_instances, (n,), generator=generator, device=device)
        klass = instance % cfg.n_classes
        z = self.latents(klass, generator)
        x = mix(z, self.mixing_weights, cfg.mixing_slope)
        label_class, label_instance = klass, instance
        if cfg.label_noise > 0:
            flip = torch.rand(n, generator=generator, device=device) < cfg.label_noise
            rc = torch.randint(cfg.n_classes, (n,), generator=generator, device=device)
            ri = torch.randint(cfg.n_instances, (n,), generator=generator, device=device)
            label_class = torch.where(flip, rc, klass)
            label_instance = torch.where(flip, ri, instance)
        return Batch(z, x, instance, klass, label_class, label_instance)

    def instance_targets(self) -> torch.Tensor:
        """Cluster vector of each instance: v_{i mod |C|} (the regression target of DIET's rows)."""
        idx = torch.arange(self.cfg.n_instances, device=self.cluster_vectors.device)
        return self.cluster_vectors[idx % self.cfg.n_classes]


def make_process(cfg: DGPConfig) -> GenerativeProcess:
    """Draw the fixed parts (cluster vectors, mixing) deterministically from ``cfg.seed`` on CPU."""
    gen = torch.Generator().manual_seed(cfg.seed)
    vectors = sample_cluster_vectors(cfg, gen)
    m = make_mixing(cfg, gen)
    return GenerativeProcess(cfg, vectors, m.weights, m.condition_numbers, m.threshold, m.draws)


def generator_for(seed: int, stream: int, device: torch.device | str = "cpu") -> torch.Generator:
    """An independent, reproducible random stream: seed mixed with a stream id (e.g. eval vs train)."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + stream)


EVAL_STREAM = 1
MONITOR_STREAM = 2


def save_dataset(path: str | Path, process: GenerativeProcess, n_eval: int, n_monitor: int) -> dict:
    """Write the process and held-out sets (fresh draws, own seeds) to one .npz; returns its summary."""
    cfg = process.cfg
    ev = process.sample(n_eval, generator_for(cfg.seed, EVAL_STREAM))
    mon = process.sample(n_monitor, generator_for(cfg.seed, MONITOR_STREAM))
    arrays = {
        "cluster_vectors": process.cluster_vectors.numpy(),
        "mixing_weights": torch.stack(process.mixing_weights).numpy(),
        "condition_numbers": np.asarray(process.condition_numbers),
        "mixing_threshold": np.asarray(process.mixing_threshold),
        "mixing_draws": np.asarray(process.mixing_draws, dtype=np.int64),
        "eval_z": ev.z.numpy(),
        "eval_x": ev.x.numpy(),
        "eval_instance": ev.instance.numpy(),
        "eval_class": ev.klass.numpy(),
        "monitor_z": mon.z.numpy(),
        "monitor_x": mon.x.numpy(),
    }
    from linid.io import atomic_savez

    atomic_savez(path, config=np.asarray(_config_json(cfg)), **arrays)
    return {
        "condition_numbers": process.condition_numbers,
        "mixing_threshold": process.mixing_threshold,
        "mixing_draws": process.mixing_draws,
        "mixing_condition_number": float(np.prod(process.condition_numbers)),
        "n_eval": n_eval,
        "n_monitor": n_monitor,
    }


def _config_json(cfg: DGPConfig) -> str:
    import json

    return json.dumps(asdict(cfg), sort_keys=True)


def load_dataset(path: str | Path) -> tuple[GenerativeProcess, dict[str, np.ndarray]]:
    """Read back what ``save_dataset`` wrote: the process and the held-out arrays."""
    import json

    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    cfg = DGPConfig(**json.loads(str(arrays.pop("config"))))
    weights = [torch.from_numpy(w) for w in arrays.pop("mixing_weights")]
    process = GenerativeProcess(
        cfg,
        torch.from_numpy(arrays.pop("cluster_vectors")),
        weights,
        [float(c) for c in arrays.pop("condition_numbers")],
        float(arrays.pop("mixing_threshold", np.nan)),
        [int(k) for k in arrays.pop("mixing_draws", [])],
    )
    return process, arrays
