"""The DisLib probe: a least-squares linear map from features to each z-scored factor, Pearson r held out.

klindtlab/csi ``dislib/main.py`` (``evaluate``): the best checkpoint's features of the training split
``X`` (float32, as the network returns them) and of the validation split; for every factor ``y``
(its integer level, ``official_targets``) z-scored with the training split's mean and std,
``beta = pinv(XᵀX) Xᵀ y`` — no intercept — and the score is Pearson's r between the validation
split's factor and ``X_val beta``.

Two solvers (``images.probe.solver``):

* ``official`` (default): that arithmetic. ``XᵀX`` is accumulated in float32 (the features' dtype,
  as numpy's float32 product does) and pseudo-inverted in float32 with numpy's default cutoff
  ``rcond = 1e-15``, far below float32 rounding, so near-null directions are inverted too. Only the
  order of the float32 sums differs from the official single matrix product (here the features
  stream through in batches, so a 590,000 × 4,096 pixel matrix never has to be held).
* ``lstsq``: the same model solved in float64 with a cutoff at float64 rounding
  (``rcond = max(p, n)·eps``): the minimum-norm least-squares answer, for comparison.

``probe_encoder`` is the whole probe of one encoder (trained, untrained control, or the pixels):
the same splits, targets, solvers and arithmetic for every model, so a control differs from its
trained model only in the weights.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from linid.images.training import to_unit
from linid.probes.stats import pearson

SOLVERS = ("official", "lstsq")


class GramAccumulator:
    """Streams feature batches of the training split: ``XᵀX`` (float32) and ``XᵀY`` (float64)."""

    def __init__(self, dim: int, n_targets: int, device: torch.device | str = "cpu",
                 solvers: tuple[str, ...] = SOLVERS):
        for s in solvers:
            if s not in SOLVERS:
                raise ValueError(f"probe solver must be one of {SOLVERS}, got {s!r}")
        # only the Gram matrices the requested solvers read are accumulated (4,096² pixels: seconds each)
        self.xtx32 = torch.zeros(dim, dim, dtype=torch.float32, device=device) if "official" in solvers else None
        self.xtx64 = torch.zeros(dim, dim, dtype=torch.float64, device=device) if "lstsq" in solvers else None
        self.xty = torch.zeros(dim, n_targets, dtype=torch.float64, device=device)
        self.solvers = tuple(solvers)
        self.n = 0

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        x32 = x.to(torch.float32)
        x64 = x32.double()
        if self.xtx32 is not None:
            self.xtx32 += x32.T @ x32
        if self.xtx64 is not None:
            self.xtx64 += x64.T @ x64
        self.xty += x64.T @ y.to(device=x.device, dtype=torch.float64)
        self.n += len(x)

    def solve(self, solver: str = "official") -> np.ndarray:
        """beta (dim × n_targets, float64)."""
        if solver not in self.solvers:
            raise ValueError(f"probe solver must be one of {self.solvers}, got {solver!r}")
        if self.n == 0:
            raise ValueError("no training rows reached the probe")
        xty = self.xty.cpu().numpy()
        if solver == "official":
            pinv = np.linalg.pinv(self.xtx32.cpu().numpy())  # float32, rcond 1e-15 (numpy's default)
            return pinv.astype(np.float64) @ xty
        xtx = self.xtx64.cpu().numpy()
        rcond = max(xtx.shape[0], self.n) * np.finfo(np.float64).eps
        return np.linalg.pinv(xtx, rcond=rcond, hermitian=True) @ xty


def zscore_targets(targets: np.ndarray, train_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets z-scored with the training rows' mean and std (a constant factor keeps std 1)."""
    y = np.asarray(targets, dtype=np.float64)
    mean = y[train_index].mean(0)
    std = y[train_index].std(0)
    std = np.where(std > 0, std, 1.0)
    return (y - mean) / std, mean, std


def probe(
    train_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    test_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    dim: int,
    n_targets: int,
    solvers: tuple[str, ...] = ("official",),
    device: torch.device | str = "cpu",
) -> dict[str, dict[str, np.ndarray]]:
    """Fit on ``train_batches`` of (features, z-scored targets), predict ``test_batches`` of
    (features, raw targets); per solver the Pearson r of each target column and the fit's R²
    on the held-out rows. Batches are consumed once."""
    acc = GramAccumulator(dim, n_targets, device, solvers)
    for x, y in train_batches:
        acc.add(x.to(device), y)
    betas = {s: torch.from_numpy(acc.solve(s)).to(device) for s in solvers}
    preds: dict[str, list[np.ndarray]] = {s: [] for s in solvers}
    truth: list[np.ndarray] = []
    for x, y in test_batches:
        x64 = x.to(device=device, dtype=torch.float32).double()
        for s in solvers:
            preds[s].append((x64 @ betas[s]).cpu().numpy())
        truth.append(np.asarray(y, dtype=np.float64))
    y_true = np.concatenate(truth)
    out = {}
    for s in solvers:
        p = np.concatenate(preds[s])
        out[s] = {"pearson_r": np.array([pearson(y_true[:, j], p[:, j]) for j in range(n_targets)])}
    return out


def feature_batches(net: nn.Module, images: torch.Tensor, index: torch.Tensor, targets: torch.Tensor,
                    batch_size: int):
    """(float32 features, targets) of ``images[index]`` in batches, without gradients, on the images' device."""
    with torch.no_grad():
        for start in range(0, len(index), batch_size):
            idx = index[start : start + batch_size]
            yield net(to_unit(images[idx])).float(), targets[idx.cpu()]


def probe_encoder(
    net: nn.Module,
    images: torch.Tensor,
    targets: np.ndarray,
    train_index: np.ndarray,
    eval_index: np.ndarray,
    dim: int,
    *,
    solvers: tuple[str, ...] = ("official",),
    batch_size: int = 4096,
) -> dict[str, np.ndarray]:
    """The DisLib probe of one encoder: Pearson r per target column and solver.

    ``net`` is put in eval mode (BatchNorm uses its running statistics: the trained ones, or for an
    untrained control the initial ones); ``images`` [n, C, H, W] stored pixels on the probe's device;
    ``targets`` [n, k] float (the integer levels), z-scored with the training rows' statistics for
    the fit and scored raw on ``eval_index``.
    """
    device = images.device
    net = net.to(device).eval()
    targets = np.asarray(targets, dtype=np.float64)
    z, _, _ = zscore_targets(targets, train_index)
    train = torch.from_numpy(np.asarray(train_index)).to(device)
    held = torch.from_numpy(np.asarray(eval_index)).to(device)
    scores = probe(
        feature_batches(net, images, train, torch.from_numpy(z), batch_size),
        feature_batches(net, images, held, torch.from_numpy(targets), batch_size),
        dim=dim, n_targets=targets.shape[1], solvers=tuple(solvers), device=device,
    )
    return {s: scores[s]["pearson_r"] for s in solvers}
