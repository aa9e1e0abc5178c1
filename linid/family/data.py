"""The [K] angle task of Roeder, Metz & Kingma (2021), docs/science.md §4.

x ~ N(0, σ² I_D); label y = the angular bin of (x_1, x_2) among K equal bins of [0, 2π) (or of the
angle folded to [0, π)). The train and held-out draws of one task are fixed by its seed.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from linid.core.io import atomic_savez, load_npz
from linid.family.config import ANGLE_RANGES, AngleData

#: random streams of the train and held-out draws (mixed with the task's seed)
TRAIN_STREAM, EVAL_STREAM = 11, 12


def angle_labels(x: Tensor, cfg: AngleData) -> Tensor:
    """y = ⌊(atan2(x_2, x_1) mod R) / (R / K)⌋ ∈ {0..K−1}, R = 2π or π; computed in float64."""
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"x must have shape (n, ≥2), got {tuple(x.shape)}")
    period = ANGLE_RANGES[cfg.angle_range]
    xd = x.detach().to(torch.float64)
    angle = torch.remainder(torch.atan2(xd[:, 1], xd[:, 0]), period)
    y = torch.floor(angle / (period / cfg.n_classes)).to(torch.int64)
    return y.clamp_(0, cfg.n_classes - 1)


def sample_angle_data(cfg: AngleData, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(x, y): n draws of x ~ N(0, σ² I_D) from ``generator`` and their angular-bin labels."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    x = cfg.sigma * torch.randn((n, cfg.input_dim), generator=generator, dtype=torch.float32)
    return x, angle_labels(x, cfg)


def _gen(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + stream)


def make_angle_dataset(path: str | Path, cfg: AngleData, n_train: int, n_eval: int, seed: int) -> dict:
    """Train and held-out draws of the angle task, written to one .npz; returns a summary."""
    train_x, train_y = sample_angle_data(cfg, n_train, _gen(seed, TRAIN_STREAM))
    eval_x, eval_y = sample_angle_data(cfg, n_eval, _gen(seed, EVAL_STREAM))
    atomic_savez(
        path,
        train_x=train_x.numpy(),
        train_y=train_y.numpy(),
        eval_x=eval_x.numpy(),
        eval_y=eval_y.numpy(),
    )
    counts = np.bincount(train_y.numpy(), minlength=cfg.n_classes)
    return {
        "config": asdict(cfg),
        "n_train": n_train,
        "n_eval": n_eval,
        "seed": seed,
        "min_class_count": int(counts.min()),
        "max_class_count": int(counts.max()),
    }


def load_angle_dataset(path: str | Path) -> dict[str, torch.Tensor]:
    """The arrays ``make_angle_dataset`` wrote, as tensors."""
    return {k: torch.from_numpy(v) for k, v in load_npz(path).items()}
