"""Training of the [K] model family: cross-entropy on minibatches of the fixed train set.

Model ``s``'s minibatches come from ``batch_seed(s)``, so each model's training is fixed by its seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from linid.core.errors import NonFiniteLoss
from linid.core.training import Loop, run
from linid.family.data import AngleData
from linid.family.models import FamilyModel, FamilyModelConfig, build_model

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class FamilyTrainConfig:
    steps: int = 5000
    batch_size: int = 256
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9


def batch_seed(seed: int) -> int:
    return 9_000_011 * seed + 29


def train_family(
    model: FamilyModel,
    data_cfg: AngleData,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    train_x: Tensor,
    train_y: Tensor,
    generator: torch.Generator,
    optimizer: str = "sgd",
    momentum: float = 0.9,
) -> list[tuple[int, float]]:
    """Minimise E[−log softmax(f(x) Gᵀ)_y] on minibatches of the fixed train set.

    ``optimizer="sgd"`` (heavy-ball ``momentum``) or ``"adam"``. The choice matters below the
    diversity boundary: with K = 2 the loss depends on f only along g(1) − g(0), and SGD's update
    of f's last layer stays in that direction, so the other directions keep their random start
    and seeds disagree there, as the theory allows. Adam rescales each weight's update on its own,
    which is not rotation-equivariant: it moves the unconstrained directions too, towards the
    same function, and seeds agree far beyond what the theorem guarantees.

    Minibatch indices are ``torch.randint(n, (batch_size,), generator=generator)``. Returns
    (step, minibatch loss) at steps 0, s, 2s, … and the last step, s = max(1, steps // 50): the
    loop (:func:`linid.core.training.run`) reads the losses back every s steps, and a NaN or
    infinite loss at any step raises :class:`NonFiniteLoss` naming it.
    """
    if steps < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need steps ≥ 1, batch_size ≥ 1, lr > 0; got {steps}, {batch_size}, {lr}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    if train_x.ndim != 2 or train_x.shape[1] != model.input_dim:
        raise ValueError(
            f"train_x must have shape (n, {model.input_dim}), got {tuple(train_x.shape)}"
        )
    if train_x.shape[0] == 0:
        raise ValueError("train_x is empty")
    if train_y.shape != (train_x.shape[0],):
        raise ValueError(
            f"train_y must have shape ({train_x.shape[0]},), got {tuple(train_y.shape)}"
        )
    if model.n_classes != data_cfg.n_classes:
        raise ValueError(
            f"model has {model.n_classes} classes but the data config has {data_cfg.n_classes}"
        )
    if train_y.numel() and (int(train_y.min()) < 0 or int(train_y.max()) >= model.n_classes):
        raise ValueError(f"train_y must lie in [0, {model.n_classes})")

    device = model._device()
    x_all = train_x.to(device=device, dtype=model._dtype())
    y_all = train_y.to(device=device, dtype=torch.int64)
    n = x_all.shape[0]
    every = max(1, steps // 50)
    context = f"optimizer={optimizer}, lr={lr}"
    # the label reads "… training diverged: non-finite training loss at step N (optimizer=…, lr=…)"
    loop = Loop(steps, name="family model", log_every=every, labels=("training diverged",), context=context)
    curve: list[tuple[int, float]] = []

    opt: torch.optim.Optimizer
    if optimizer == "adam":
        # the fused kernel is ≈ 25 % faster per step for these tiny MLPs on CPU; same Adam update
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=device.type in ("cpu", "cuda"))
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)

    def step(i: int) -> Tensor:
        idx = torch.randint(n, (batch_size,), generator=generator, device=generator.device)
        idx = idx.to(device)
        loss = F.cross_entropy(model.logits(x_all[idx]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()  # a fresh tensor each step: nothing writes into it later

    def record(done: int, losses: Tensor, last: bool) -> None:
        """The loss at the window's first step (0, s, 2s, …) and, at the end, at the last step."""
        first = done - len(losses)
        curve.append((first, float(losses[0, 0])))
        if last and len(losses) > 1:
            curve.append((done - 1, float(losses[-1, 0])))

    model.train()
    run(loop, step, on_log=record)
    model.eval()
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise NonFiniteLoss(
            f"training diverged: non-finite value in the weights after training ({context}); "
            "no model was saved"
        )
    return curve


@torch.no_grad()
def accuracy(model: FamilyModel, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    device = next(model.parameters()).device
    pred = model.logits(x.to(device)).argmax(dim=1).cpu()
    return float((pred == y).float().mean())


def train_cell(
    data: dict[str, torch.Tensor],
    data_cfg: AngleData,
    rep_dim: int,
    mcfg: FamilyModelConfig,
    tcfg: FamilyTrainConfig,
    seeds: list[int],
    device: torch.device,
) -> tuple[dict[int, dict], list[dict]]:
    """Train one model per seed; returns ({seed: state_dict on CPU}, per-seed summaries)."""
    states, summary = {}, []
    for seed in seeds:
        model = build_model(data_cfg.input_dim, data_cfg.n_classes, rep_dim, mcfg, seed).to(device)
        gen = torch.Generator(device=device).manual_seed(batch_seed(seed))
        t0 = time.perf_counter()
        try:
            curve = _train_seed(model, data_cfg, tcfg, data, gen)
        except NonFiniteLoss as exc:
            raise NonFiniteLoss(f"family cell K={data_cfg.n_classes}, M={rep_dim}, seed {seed}: {exc}") from None
        seconds = time.perf_counter() - t0
        states[seed] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        summary.append(
            {
                "seed": seed,
                "final_loss": curve[-1][1],
                "train_accuracy": accuracy(model, data["train_x"], data["train_y"]),
                "eval_accuracy": accuracy(model, data["eval_x"], data["eval_y"]),
                "seconds": seconds,
            }
        )
    return states, summary


def _train_seed(model, data_cfg, tcfg, data, gen) -> list[tuple[int, float]]:
    return train_family(
        model,
        data_cfg,
        steps=tcfg.steps,
        batch_size=tcfg.batch_size,
        lr=tcfg.lr,
        optimizer=tcfg.optimizer,
        momentum=tcfg.momentum,
        train_x=data["train_x"],
        train_y=data["train_y"],
        generator=gen,
    )
