"""The model family p(y|x) ∝ exp(f(x)ᵀ g(y)) of Roeder, Metz & Kingma (2021), docs/science.md §4.

Data: x ~ N(0, σ² I), label y = the angular bin of (x_1, x_2) among K equal bins of [0, 2π)
(or of the angle folded to [0, π)). Two models of the family that fit the data have
f' = A f for an invertible M×M A when the diversity condition K ≥ M + 1 (and spanning) holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "ANGLE_RANGES",
    "G_INITS",
    "G_KINDS",
    "OPTIMIZERS",
    "AngleData",
    "FamilyModel",
    "angle_labels",
    "diversity_ok",
    "label_span",
    "sample_angle_data",
    "train_family",
]

ANGLE_RANGES = {"2pi": 2.0 * math.pi, "pi": math.pi}
G_KINDS = ("embedding", "mlp")
G_INITS = ("zero", "default")
OPTIMIZERS = ("sgd", "adam")
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class AngleData:
    """x ~ N(0, σ² I_D); y = ⌊angle(x_1, x_2) / (range / K)⌋ with range 2π or π (folded)."""

    sigma: float = 3.0
    n_classes: int = 18
    angle_range: str = "2pi"  # or "pi": the angle is folded to [0, π), so x and −x share a label
    input_dim: int = 2

    def __post_init__(self) -> None:
        if self.angle_range not in ANGLE_RANGES:
            raise ValueError(
                f"angle_range must be one of {sorted(ANGLE_RANGES)}, got {self.angle_range!r}"
            )
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be ≥ 2, got {self.n_classes}")
        if self.input_dim < 2:
            raise ValueError(
                f"input_dim must be ≥ 2 (the angle uses x_1, x_2), got {self.input_dim}"
            )
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")


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


def _mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    """Linear → LeakyReLU(0.01) per hidden width, then a final Linear with no activation."""
    layers: list[nn.Module] = []
    prev = in_dim
    for w in hidden:
        layers += [nn.Linear(prev, w), nn.LeakyReLU(LEAKY_SLOPE)]
        prev = w
    layers.append(nn.Linear(prev, out_dim))
    return nn.Sequential(*layers)


class FamilyModel(nn.Module):
    """logits_k(x) = f(x)ᵀ g(k): f an MLP (LeakyReLU 0.01) to R^M, g an embedding or label MLP.

    ``g_init="zero"`` (default) starts g at 0 (the embedding table, or the last layer of the label
    MLP): the first updates then set g(k) from the class means of the initial f, so the K label
    vectors start in the bins' cyclic order. ``"default"`` keeps PyTorch's init (embedding
    N(0, 1)); with M = 2 that often freezes the labels in a tangled order (train accuracy 65–83 %
    after 1500 steps instead of ≈ 95 %), i.e. the models do not fit the data and the theorem
    does not apply.
    """

    def __init__(
        self,
        input_dim: int,
        rep_dim: int,
        n_classes: int,
        hidden: tuple[int, ...] = (64, 64),
        g_kind: str = "embedding",
        g_init: str = "zero",
    ):
        super().__init__()
        if g_kind not in G_KINDS:
            raise ValueError(f"unknown g_kind {g_kind!r}; expected one of {G_KINDS}")
        if g_init not in G_INITS:
            raise ValueError(f"unknown g_init {g_init!r}; expected one of {G_INITS}")
        if len(hidden) == 0:
            raise ValueError("hidden must name at least one hidden width (hidden(x) needs a layer)")
        if min(input_dim, rep_dim, n_classes) < 1:
            raise ValueError(
                f"input_dim, rep_dim, n_classes must be ≥ 1, got {input_dim}, {rep_dim}, {n_classes}"
            )
        self.input_dim = input_dim
        self.rep_dim = rep_dim
        self.n_classes = n_classes
        self.g_kind = g_kind
        self.f_net = _mlp(input_dim, tuple(hidden), rep_dim)
        self.g_net: nn.Module
        if g_kind == "embedding":
            self.g_net = nn.Embedding(n_classes, rep_dim)
        else:
            self.g_net = _mlp(n_classes, tuple(hidden), rep_dim)
        if g_init == "zero":
            last = self.g_net if g_kind == "embedding" else self.g_net[-1]
            for p in last.parameters():
                nn.init.zeros_(p)

    def f(self, x: Tensor) -> Tensor:
        """f(x) ∈ R^M, shape (n, rep_dim)."""
        return self.f_net(x)

    def hidden(self, x: Tensor) -> Tensor:
        """Last hidden activation of f (outside the family: not linearly identifiable in theory)."""
        return self.f_net[:-1](x)

    def g_all(self) -> Tensor:
        """G = [g(0); …; g(K−1)], shape (n_classes, rep_dim)."""
        if self.g_kind == "embedding":
            return self.g_net.weight
        eye = torch.eye(self.n_classes, device=self._device(), dtype=self._dtype())
        return self.g_net(eye)

    def logits(self, x: Tensor) -> Tensor:
        """f(x) Gᵀ, shape (n, n_classes)."""
        return self.f(x) @ self.g_all().T

    def forward(self, x: Tensor) -> Tensor:
        """Same as ``logits``."""
        return self.logits(x)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype


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
    (step, minibatch loss) at steps 0, s, 2s, … and the last step, s = max(1, steps // 50).
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
    record = [s for s in range(steps) if s % every == 0 or s == steps - 1]
    record_set = set(record)
    losses: list[Tensor] = []

    opt: torch.optim.Optimizer
    if optimizer == "adam":
        # the fused kernel is ≈ 25 % faster per step for these tiny MLPs on CPU; same Adam update
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=device.type in ("cpu", "cuda"))
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    model.train()
    for step in range(steps):
        idx = torch.randint(n, (batch_size,), generator=generator, device=generator.device)
        idx = idx.to(device)
        loss = F.cross_entropy(model.logits(x_all[idx]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step in record_set:
            losses.append(loss.detach().clone())  # a bare detach() keeps the graph alive
    model.eval()
    values = torch.stack(losses).cpu().tolist()
    return list(zip(record, values, strict=True))


def diversity_ok(n_classes: int, rep_dim: int) -> bool:
    """Necessary count for the diversity condition: K ≥ M + 1 labels can span R^M by differences."""
    return n_classes >= rep_dim + 1


def label_span(g: Tensor | np.ndarray) -> float:
    """The diversity condition measured: σ_M / σ_1 of the centred label embeddings G − mean(G).

    The rows of G − mean(G) span the same space as the differences g(k) − g(0). 1 means the
    differences spread evenly over all M directions; 0 means they miss a direction (always so
    when K ≤ M), and then f is not pinned down along it. Scale-free: unchanged by G → cG.
    """
    arr = np.asarray(g.detach().cpu() if isinstance(g, Tensor) else g, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"g must have shape (K, M) with K, M ≥ 1, got {arr.shape}")
    if arr.shape[0] <= arr.shape[1]:  # K ≤ M: K centred rows have rank ≤ K − 1 < M, exactly
        return 0.0
    sv = np.linalg.svd(arr - arr.mean(axis=0), compute_uv=False)
    if sv[0] == 0:
        return 0.0
    return float(sv[-1] / sv[0])
