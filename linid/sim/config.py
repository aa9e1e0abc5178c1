"""The [R] simulation's settings as plain dataclasses: what a dataset and a trained model are made of.

Torch-free on purpose: the workflow builds every job's params from these fields when it reads the
Snakefile (``fields_of``), and reading the Snakefile must not import torch. ``linid.sim.process``
and ``linid.sim.training`` import them from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from linid.names import CLUSTER_PRIORS, CONDITIONALS, PRECISIONS
from linid.sim.objectives import METHODS, spec

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


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model besides the dataset."""

    method: str = "supervised"
    seed: int = 0
    steps: int = 500_000
    batch_size: int = 1024
    lr: float = 1e-3
    normalize_w: bool = False
    temperature: float = 1.0
    learn_temperature: bool = False
    log_every: int = 100
    eval_every: int = 1000
    checkpoint_every: int = 5000
    chunk_steps: int = 32
    bn_batches: int = 20
    precision: str = "fp32"  # fp32 | tf32 (CUDA matmuls) | bf16 (autocast): linid.runtime.precision
    cuda_graph: bool = True  # packed trainer on CUDA: replay the step as a CUDA graph
    #: the objective's own settings (``simulation.objectives.<method>``); empty for the
    #: cross-entropy objectives, which have none (so their params are what they always were)
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} (the registered objectives), got {self.method!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")


def n_outputs_for(method: str, n_classes: int, n_instances: int) -> int:
    """Rows of W: |C| for supervised, N for DIET (instance discrimination), 0 without a head; the
    objective's registration decides (``linid.sim.objectives``)."""
    return spec(method).n_outputs(n_classes, n_instances)


