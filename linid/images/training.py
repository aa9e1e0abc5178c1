"""Training an image encoder on the categorical factor, as the official DisLib script does.

klindtlab/csi ``dislib/main.py`` (``train``): encoder + ``Linear(512, classes)`` readout, one Adam
(lr 1e-3) over both, cross-entropy on the categorical factor's level, batch 4096, at most 100 epochs
over the training split (shuffled every epoch); after every epoch the validation accuracy is
measured, the best state so far is kept (``val_acc > best``), and training stops as soon as the best
validation accuracy exceeds 0.999. The features of the best state are what the probes read.

Speed: the images live on the training device as uint8 and are scaled (``/ 255``, as the official
code does) batch by batch there; the epoch's order comes from a seeded generator on that device; the
loss is summed on the device and read once per epoch, so a step does no host/device copy.

The loop is the one of every experiment (:func:`linid.core.training.run`, its unit an epoch): a
NaN or infinite epoch loss raises ``NonFiniteLoss`` naming the model and the epoch. Resume: a
checkpoint after every epoch (model, readout, Adam, best state, curve, generator states) is written
atomically; a SIGTERM/SIGUSR1/SIGINT ends the epoch, writes it and raises ``Interrupted``.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from linid.core.checkpoints import fingerprint, load_checkpoint, save_checkpoint
from linid.core.training import Loop, run
from linid.images.models import FEATURES, build
from linid.runtime import precision, progress_line

log = logging.getLogger(__name__)

#: the modules whose code decides what an epoch does: a checkpoint resumes only under them
TRAINING_CODE = ("linid.images.training",)  # and every linid module it imports


@dataclass(frozen=True)
class ImageTrainConfig:
    """One image model's training. Defaults are the official ones (csi ``dislib/main.py``, ``Args``)."""

    model: str
    seed: int
    batch_size: int = 4096
    lr: float = 1e-3
    max_epochs: int = 100
    early_stop_accuracy: float = 0.999
    eval_batch_size: int = 4096
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.model == "pixels":
            raise ValueError("the pixels baseline has nothing to train")
        for name in ("batch_size", "max_epochs", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be finite and > 0, got {self.lr}")


@dataclass
class ImageTrainResult:
    net: nn.Module  # the best validation state, in eval mode
    readout: nn.Linear
    best_epoch: int
    best_val_accuracy: float
    epochs: int
    stopped_early: bool
    seconds: float
    curve: list[dict] = field(default_factory=list)


def checkpoint_fingerprint(cfg: ImageTrainConfig, data: dict) -> str:
    """A checkpoint resumes only under the same config, data and image training code."""
    return fingerprint(asdict(cfg), data, TRAINING_CODE)


def to_unit(batch: torch.Tensor) -> torch.Tensor:
    """Stored pixels → float32, divided by 255 whatever the storage (the official ``images / 255.``)."""
    return batch.to(torch.float32) / 255.0


@torch.no_grad()
def accuracy(net: nn.Module, readout: nn.Linear, images: torch.Tensor, labels: torch.Tensor,
             index: torch.Tensor, batch_size: int) -> float:
    """Classification accuracy of net + readout on ``images[index]`` (eval mode)."""
    net.eval()
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    for start in range(0, len(index), batch_size):
        idx = index[start : start + batch_size]
        correct += (readout(net(to_unit(images[idx]))).argmax(1) == labels[idx]).sum()
    return int(correct) / max(len(index), 1)


def train_image_model(
    images: torch.Tensor,
    labels: torch.Tensor,
    train_index: torch.Tensor,
    val_index: torch.Tensor,
    n_classes: int,
    cfg: ImageTrainConfig,
    *,
    checkpoint: Path | None = None,
    data_fingerprint: dict | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    label: str = "image model",
) -> ImageTrainResult:
    """Train ``cfg.model`` on ``images`` ([n, C, 64, 64], any dtype, on the training device) to predict
    ``labels`` (long, same device); select by accuracy on ``val_index``; return the best state."""
    device = images.device
    if labels.device != device or train_index.device != device or val_index.device != device:
        raise ValueError("images, labels and the split indices must be on one device")
    if len(train_index) == 0 or len(val_index) == 0:
        raise ValueError(f"{label}: empty split (train {len(train_index)}, val {len(val_index)} images)")
    net = build(cfg.model, images.shape[1], cfg.seed).to(device)
    readout = nn.Linear(FEATURES, n_classes).to(device)  # drawn right after the encoder, as officially
    opt = torch.optim.Adam([*net.parameters(), *readout.parameters()], lr=cfg.lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)

    fp = checkpoint_fingerprint(cfg, data_fingerprint or {})
    start_epoch, best_acc, best_epoch, curve = 0, -1.0, -1, []
    best_state: tuple[dict, dict] | None = None
    seconds_before = 0.0
    ckpt = load_checkpoint(checkpoint, fp) if checkpoint is not None else None
    if ckpt is not None:
        net.load_state_dict(ckpt["net"])
        readout.load_state_dict(ckpt["readout"])
        opt.load_state_dict(ckpt["opt"])
        gen.set_state(ckpt["gen"])
        start_epoch, best_acc, best_epoch = ckpt["epoch"], ckpt["best_acc"], ckpt["best_epoch"]
        best_state = (ckpt["best_net"], ckpt["best_readout"])
        curve, seconds_before = list(ckpt["curve"]), float(ckpt["seconds"])
        log.info("%s: resumed after epoch %d (best val accuracy %.4f)", label, start_epoch, best_acc)

    t0 = time.perf_counter()
    state = {"best": best_state, "best_acc": best_acc, "best_epoch": best_epoch, "seconds": seconds_before}
    loop = Loop(cfg.max_epochs, name=label, log_every=1, checkpoint_every=1, labels=(label,), unit="epoch")

    def epoch_step(i: int) -> torch.Tensor:
        """Epoch i + 1: one pass over the shuffled training split; its mean loss, on the device."""
        net.train()
        loss_sum = torch.zeros((), device=device)
        order = train_index[torch.randperm(len(train_index), generator=gen, device=device)]
        steps = 0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            with precision(cfg.precision, device):
                loss = loss_fn(readout(net(to_unit(images[idx]))), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            steps += 1
        return loss_sum.double() / steps  # in float64: the same number as float(loss_sum) / steps

    def after_epoch(epoch: int, losses: torch.Tensor, last: bool) -> None:
        """Validation accuracy, the best state so far, the curve, ``on_epoch`` and a progress line."""
        mean_loss = float(losses[0, 0])
        val_acc = accuracy(net, readout, images, labels, val_index, cfg.eval_batch_size)
        if val_acc > state["best_acc"]:
            state["best_acc"], state["best_epoch"] = val_acc, epoch
            state["best"] = (copy.deepcopy(net.state_dict()), copy.deepcopy(readout.state_dict()))
        state["seconds"] = seconds_before + time.perf_counter() - t0
        row = {"epoch": epoch, "loss": mean_loss, "val_accuracy": val_acc, "seconds": state["seconds"]}
        curve.append(row)
        if on_epoch is not None:
            on_epoch(row)
        log.info("%s", progress_line(label, epoch, cfg.max_epochs, start_epoch, time.perf_counter() - t0,
                                     mean_loss, unit="epoch")
                 + f", val accuracy {val_acc:.4f} (best {state['best_acc']:.4f})")

    def stop_early() -> bool:
        return state["best_acc"] > cfg.early_stop_accuracy

    def save(epoch: int) -> None:
        best = state["best"]
        save_checkpoint(checkpoint, {
            "fingerprint": fp, "epoch": epoch, "net": net.state_dict(), "readout": readout.state_dict(),
            "opt": opt.state_dict(), "gen": gen.get_state(), "best_acc": state["best_acc"],
            "best_epoch": state["best_epoch"], "best_net": best[0], "best_readout": best[1],
            "curve": curve, "seconds": state["seconds"],
        })

    epoch = start_epoch
    if not stop_early():  # a finished checkpoint (stopped early) trains no further epoch
        epoch = run(loop, epoch_step, start=start_epoch, on_log=after_epoch,
                    save=save if checkpoint is not None else None, finished=stop_early)
        if checkpoint is not None and epoch > start_epoch:
            save(epoch)  # the loop checkpoints every epoch but the last: this one too, as ever
    stopped_early = stop_early()
    best_state, best_acc, best_epoch = state["best"], state["best_acc"], state["best_epoch"]
    if best_state is None:  # resumed from a finished checkpoint without a state: cannot happen
        raise RuntimeError(f"{label}: no epoch was trained")
    net.load_state_dict(best_state[0])
    readout.load_state_dict(best_state[1])
    net.eval()
    if stopped_early:
        log.info("%s: early stop, best val accuracy %.4f > %s (epoch %d)", label, best_acc,
                 cfg.early_stop_accuracy, best_epoch)
    return ImageTrainResult(net, readout, best_epoch, best_acc, epoch, stopped_early,
                            seconds_before + time.perf_counter() - t0, curve)


@torch.no_grad()
def encode(net: nn.Module, images: torch.Tensor, index: torch.Tensor, batch_size: int,
           layers: Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]] | None = None) -> dict[str, torch.Tensor]:
    """Features (``{"features": ...}``) or every named layer of ``images[index]`` in eval mode, on the
    host as float32."""
    net.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(index), batch_size):
        x = to_unit(images[index[start : start + batch_size]])
        out = layers(net, x) if layers is not None else {"features": net(x)}
        for k, v in out.items():
            parts.setdefault(k, []).append(v.float().cpu())
    return {k: torch.cat(v) for k, v in parts.items()}
