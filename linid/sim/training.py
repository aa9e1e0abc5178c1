"""Online cross-entropy training of encoder + head on fresh draws of the generative process (docs/science.md §2).

Data are sampled on the training device in chunks of ``chunk_steps`` batches (one sampler call per
chunk, not per step); the loss is read back to the host only every ``log_every`` steps. A checkpoint
(model, optimiser, RNG states, step, curve) is written atomically every ``checkpoint_every`` steps
and on SIGTERM/SIGUSR1, and a later call resumes from it bit-for-bit.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from linid.core.errors import NonFiniteLoss
from linid.probes.regression import r2_affine
from linid.runtime import (
    Interrupted,
    pick_device,
    precision,
    progress_line,
    stop_on_signals,
)
from linid.sim.checkpoints import (
    fingerprint,
    load_checkpoint,
    restore_global_rng,
    rng_states,
    save_checkpoint,
)
from linid.sim.config import TrainConfig, n_outputs_for
from linid.sim.models import Encoder, Head, build_models, recalibrate_batchnorm
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
    draws seeded 0, as every later point is seeded with its step); no loss has been computed yet."""
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

    ``monitor`` = (x, z) held-out arrays for a cheap periodic affine R²; ``on_log(step, metrics)``
    is called at every log/eval point (e.g. to stream to MLflow); ``label`` names the cell in errors.
    """
    device = device or pick_device()
    dcfg = process.cfg
    n_out = n_outputs_for(cfg.method, dcfg.n_classes, dcfg.n_instances)
    encoder, head = build_models(
        dcfg.latent_dim,
        n_out,
        cfg.seed,
        temperature=cfg.temperature,
        learn_temperature=cfg.learn_temperature,
    )
    encoder.to(device)
    head.to(device)
    proc = process.to(device)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, fused=True)  # one kernel per step for all tensors
    gen = torch.Generator(device=device).manual_seed(data_seed(dcfg.seed, cfg.seed))
    fp = fingerprint(asdict(cfg), asdict(dcfg))
    mon_x = mon_z = None
    if monitor is not None:
        mon_x, mon_z = (t.to(device) for t in monitor)

    curve: list[dict] = []
    resumed_window: list[torch.Tensor] = []
    start = 0
    ckpt = load_checkpoint(checkpoint, fp) if checkpoint is not None else None
    chunk_state = None
    if ckpt is not None:
        encoder.load_state_dict(ckpt["encoder"])
        head.load_state_dict(ckpt["head"])
        opt.load_state_dict(ckpt["optimizer"])
        restore_global_rng(ckpt["rng"])
        chunk_state = ckpt["chunk_rng"]
        curve = json.loads(ckpt["curve"])
        resumed_window = [t.to(device) for t in ckpt["window"]]
        start = int(ckpt["step"])
        log.info("%s: resuming from checkpoint %s at step %d", label, checkpoint, start)

    def write_checkpoint(step: int) -> None:
        if checkpoint is None:
            return
        save_checkpoint(
            checkpoint,
            {
                "fingerprint": fp,
                "step": step,
                "encoder": encoder.state_dict(),
                "head": head.state_dict(),
                "optimizer": opt.state_dict(),
                "rng": rng_states(gen),
                "chunk_rng": current_chunk_state,
                "curve": json.dumps(curve),
                "window": torch.stack(window).cpu() if window else torch.empty(0),
            },
        )
        log.info("%s: checkpoint at step %d -> %s", label, step, checkpoint)

    bs, chunk = cfg.batch_size, cfg.chunk_steps
    labels_of = "label_class" if cfg.method == "supervised" else "label_instance"
    xs = ys = None
    current_chunk_state = None
    window: list[torch.Tensor] = resumed_window
    if start == 0 and mon_x is not None:
        curve.append(initial_point(encoder, proc, cfg, (mon_x, mon_z)))
        if on_log is not None:
            on_log(0, curve[-1])
    t0 = time.perf_counter()
    encoder.train()
    with stop_on_signals() as flag:
        for step in range(start, cfg.steps):
            k = step % chunk
            if xs is None or k == 0:
                if xs is None and chunk_state is not None:
                    gen.set_state(chunk_state)  # resume inside the chunk that was being consumed
                current_chunk_state = gen.get_state()
                batch = proc.sample(chunk * bs, gen)
                xs = batch.x.view(chunk, bs, -1)
                ys = getattr(batch, labels_of).view(chunk, bs)
            if cfg.normalize_w:
                head.normalize_rows()
            with precision(cfg.precision, device):
                logits = head(encoder(xs[k]))
            loss = F.cross_entropy(logits.float(), ys[k])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # clone: a bare detach() of the loss keeps its autograd graph (and with it the
            # (batch × N) logits of DIET, ~20 MB a step at N = 10,240) alive until the next log
            window.append(loss.detach().clone())
            done = step + 1
            last = done == cfg.steps
            if done % cfg.log_every == 0 or last:
                losses = torch.stack(window).cpu()
                window.clear()
                if not torch.isfinite(losses).all():
                    bad = done - len(losses) + int((~torch.isfinite(losses)).nonzero()[0, 0]) + 1
                    raise NonFiniteLoss(
                        f"{label}: non-finite training loss at step {bad} "
                        f"(method={cfg.method}, lr={cfg.lr}); no output was written"
                    )
                point = {"step": done, "loss": float(losses.mean())}
                if mon_x is not None and (done % cfg.eval_every == 0 or last):
                    enc_eval = calibrated_copy(encoder, proc, cfg, seed=done)
                    with torch.no_grad():
                        point["monitor_r2"] = monitor_r2(enc_eval(mon_x), mon_z)
                    del enc_eval
                if cfg.learn_temperature:
                    point["temperature"] = float(head.temperature.detach())
                point["seconds"] = time.perf_counter() - t0
                curve.append(point)
                if "monitor_r2" in point or last or done % (10 * cfg.log_every) == 0:
                    log.info(progress_line(label or "train", done, cfg.steps, start, point["seconds"],
                                           point["loss"], point.get("monitor_r2")))
                if on_log is not None:
                    on_log(done, point)
            if flag["stop"] is not None and not last:
                # the chunk restarts from its own RNG state, so resuming at `done` is exact
                if done % chunk == 0:
                    current_chunk_state = gen.get_state()
                write_checkpoint(done)
                raise Interrupted(f"{label}: received {flag['stop']} at step {done}; checkpoint saved")
            if checkpoint is not None and done % cfg.checkpoint_every == 0 and not last:
                if done % chunk == 0:
                    current_chunk_state = gen.get_state()
                write_checkpoint(done)
    if cfg.normalize_w:
        head.normalize_rows()
    # final encoder: eval mode with precise-BN statistics (same draws as the last monitor point)
    encoder = calibrated_copy(encoder, proc, cfg, seed=cfg.steps)
    seconds = time.perf_counter() - t0
    return TrainResult(encoder, head, curve, cfg.steps, start, seconds, str(device))
