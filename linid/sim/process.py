"""Synthetic data generating process of Reizinger et al. (2025) (docs/science.md §1).

Latents z live on the unit sphere S^{d-1}; each sample draws an instance index i ~ U{0..N-1},
its class c = i mod |C|, and z from a conditional centred on the class vector v_c; the observation
is x = g(z) for a fixed invertible MLP g. Everything is sampled with torch on the requested device
from an explicit ``torch.Generator``, so training can draw fresh data on the GPU every step.

Defaults are those of the official scripts (klindtlab/csi ``simulation/main_sup.py`` and
``main_diet.py``); docs/science.md cites the calling line of each.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from linid.core.io import atomic_savez, load_npz, reading
from linid.sim.config import DGPConfig
from linid.sim.samplers import (
    normalize,
    sample_gennorm,
    sample_laplace,
    sample_sphere,
    sample_truncated_laplace,
    sample_vmf,
)

#: at most this many candidate matrices are drawn per mixing layer before giving up
MAX_REDRAWS_PER_POOL = 1000


@dataclass
class Batch:
    """One draw of the process: latents z, observations x, true class, training labels."""

    z: torch.Tensor
    x: torch.Tensor
    instance: torch.Tensor
    klass: torch.Tensor
    label_class: torch.Tensor
    label_instance: torch.Tensor


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
    return json.dumps(asdict(cfg), sort_keys=True)


def load_dataset(path: str | Path) -> tuple[GenerativeProcess, dict[str, np.ndarray]]:
    """Read back what ``save_dataset`` wrote: the process and the held-out arrays."""
    arrays = load_npz(path)
    with reading(path):
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
