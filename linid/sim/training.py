"""Online cross-entropy training of encoder + head on fresh draws of the generative process (docs/science.md §2).

The pieces every training shares (batch seeds, the monitor R², precise-BN copies, the step-0 point,
the result record) and ``train``, one model as a pack of one. The loop itself — data sampled on the
device in chunks of ``chunk_steps`` batches, the loss read back every ``log_every`` steps,
checkpoints every ``checkpoint_every`` steps and on SIGTERM/SIGUSR1, resumed bit-for-bit — is
:func:`linid.sim.packed.train_pack`, the one trainer for k ≥ 1 models.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from linid.probes.regression import r2_affine
from linid.sim.config import TrainConfig
from linid.sim.models import Encoder, Head, recalibrate_batchnorm
from linid.sim.process import GenerativeProcess

log = logging.getLogger(__name__)


def data_seed(dataset_seed: int, model_seed: int) -> int:
    """Seed of a model's training batches: fixed by its dataset and its own seed, nothing else."""
    return (dataset_seed * 1_000_003 + model_seed) * 7919 + 3


def monitor_r2(features: torch.Tensor, targets: torch.Tensor) -> float:
    """R²_a of the monitor set (first half fits, second half scores): ``probes.regression.r2_affine``."""
    return r2_affine(features.double().cpu().numpy(), targets.double().cpu().numpy())


def bn_seed(seed: int) -> int:
    """The generator seed of the precise-BN draws at ``seed`` (a step): a stream of its own, never
    the bare number a dataset or a model seed would also use."""
    return int(seed) * 1_000_033 + 5_000_011


def calibrated_copy(
    encoder: Encoder, process: GenerativeProcess, cfg: TrainConfig, seed: int
) -> Encoder:
    """A copy of the encoder in eval mode with precise-BN statistics from fresh draws (own RNG stream)."""
    enc = copy.deepcopy(encoder)
    if cfg.bn_batches > 0:
        device = next(enc.parameters()).device
        gen = torch.Generator(device=device).manual_seed(bn_seed(seed))
        batches = [process.sample(cfg.batch_size, gen).x for _ in range(cfg.bn_batches)]
        recalibrate_batchnorm(enc, batches)
    return enc.eval()


def initial_point(encoder: Encoder, process: GenerativeProcess, cfg: TrainConfig, monitor) -> dict:
    """Step 0 of a curve: the monitor R² of the model before any update (precise-BN statistics from
    draws seeded 0, as every later point is seeded with its step). Its loss, the first batch's on these
    weights, is filled in once the first step has computed it (packed._log_point)."""
    enc = calibrated_copy(encoder, process, cfg, seed=0)
    with torch.no_grad():
        r2 = monitor_r2(enc(monitor[0]), monitor[1])
    return {"step": 0, "monitor_r2": r2, "seconds": 0.0}


@dataclass
class TrainResult:
    encoder: Encoder
    head: Head
    curve: list[dict]
    steps_done: int
    resumed_from: int
    seconds: float
    device: str


def train(
    process: GenerativeProcess,
    cfg: TrainConfig,
    *,
    monitor: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: torch.device | None = None,
    checkpoint: Path | None = None,
    on_log: Callable[[int, dict], None] | None = None,
    label: str = "",
) -> TrainResult:
    """Train f and W with softmax cross-entropy on online samples; returns models and the curve.

    One model is a pack of one: this calls :func:`linid.sim.packed.train_pack`, the one trainer of
    k ≥ 1 models (resume, checkpoints, non-finite checks live there once). ``monitor`` = (x, z)
    held-out arrays for a cheap periodic affine R²; ``on_log(step, metrics)`` is called at every
    log/eval point (e.g. to stream to MLflow); ``label`` names the cell in errors.
    """
    from linid.sim.packed import train_pack  # packed builds on this module's helpers

    def per_model(_: int, step: int, point: dict) -> None:
        on_log(step, point)

    return train_pack(
        [(process, cfg)],
        monitors=[monitor] if monitor is not None else None,
        device=device,
        checkpoint=checkpoint,
        on_log=per_model if on_log is not None else None,
        labels=[label or "train"],
    )[0]
