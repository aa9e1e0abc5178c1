"""Synthetic data generating process of Reizinger et al. (2025), SPEC §1.

Latents z live on the unit sphere S^{d-1}; each sample draws an instance index i ~ U{0..N-1},
its class c = i mod |C|, and z from a conditional centred on the class vector v_c; the observation
is x = g(z) for a fixed invertible MLP g. Everything is sampled with torch on the requested device
from an explicit ``torch.Generator``, so training can draw fresh data on the GPU every step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

CONDITIONALS = ("vmf", "laplace", "normal")
CLUSTER_PRIORS = ("uniform", "laplace", "normal")
CONDITION_STRATEGIES = ("quantile", "best")


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
    cond_candidates: int = 10000
    cond_quantile: float = 0.25
    cond_strategy: str = "quantile"

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


def sample_cluster_vectors(cfg: DGPConfig, generator: torch.Generator) -> torch.Tensor:
    """Class vectors v_1..v_|C| on the sphere: uniform, or Laplace(1)/Normal(1) around e_1, projected."""
    C, d = cfg.n_classes, cfg.latent_dim
    if cfg.cluster_prior == "uniform":
        return sample_sphere(C, d, generator)
    e1 = torch.zeros(d)
    e1[0] = 1.0
    if cfg.cluster_prior == "laplace":
        noise = sample_laplace((C, d), 1.0, generator)
    else:
        noise = torch.randn(C, d, generator=generator)
    return normalize(e1 + noise)


def _draw_matrix(d: int, generator: torch.Generator, n: int = 1) -> torch.Tensor:
    """n random d×d matrices, entries U(-1, 1), columns L2-normalised."""
    w = torch.rand(n, d, d, generator=generator, dtype=torch.float64) * 2.0 - 1.0
    return w / w.norm(dim=1, keepdim=True)


def condition_number(w: torch.Tensor) -> torch.Tensor:
    """κ(W) = σ_max / σ_min (batched)."""
    s = torch.linalg.svdvals(w)
    return s[..., 0] / s[..., -1]


def make_mixing_weights(cfg: DGPConfig, generator: torch.Generator) -> list[torch.Tensor]:
    """Weights of the invertible mixing MLP, each redrawn until well conditioned.

    "quantile" (default, as in the CL-ICA / csi code): draw ``cond_candidates`` matrices, set the
    threshold at their ``cond_quantile`` condition-number quantile, then redraw until one is below it.
    "best": keep the best-conditioned of ``cond_candidates`` draws.
    """
    d = cfg.latent_dim
    pool = _draw_matrix(d, generator, cfg.cond_candidates)
    conds = condition_number(pool)
    if cfg.cond_strategy == "best":
        weights = []
        for _ in range(cfg.mixing_layers):
            cand = _draw_matrix(d, generator, cfg.cond_candidates)
            weights.append(cand[condition_number(cand).argmin()])
        return [w.float() for w in weights]
    threshold = torch.quantile(conds, cfg.cond_quantile)
    weights = []
    for _ in range(cfg.mixing_layers):
        while True:
            w = _draw_matrix(d, generator)[0]
            if condition_number(w) <= threshold:
                weights.append(w.float())
                break
    return weights


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

    def to(self, device: torch.device | str) -> GenerativeProcess:
        return GenerativeProcess(
            self.cfg,
            self.cluster_vectors.to(device),
            [w.to(device) for w in self.mixing_weights],
            self.condition_numbers,
        )

    def latents(self, klass: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """z | c: vMF(v_c, κ), or v_c + Laplace/Normal noise of scale κ/10 projected to the sphere."""
        mu = self.cluster_vectors[klass]
        cfg = self.cfg
        if cfg.conditional == "vmf":
            return sample_vmf(mu, cfg.kappa, generator)
        scale = cfg.kappa / 10.0
        if cfg.conditional == "laplace":
            noise = sample_laplace(tuple(mu.shape), scale, generator, mu.device)
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
    weights = make_mixing_weights(cfg, gen)
    conds = [float(condition_number(w.double())) for w in weights]
    return GenerativeProcess(cfg, vectors, weights, conds)


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
    )
    return process, arrays
