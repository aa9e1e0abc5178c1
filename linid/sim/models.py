"""Encoder f and linear head W of Reizinger et al. (2025), docs/science.md §2, and their files.

A model file holds the weights and everything needed to rebuild the modules (dimensions, widths,
temperature), so ``load_model(path)`` needs nothing from the caller.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from linid.core.io import atomic_path, reading

WIDTH_MULTIPLIERS = (10, 50, 50, 50, 50, 10)


def hidden_widths(latent_dim: int, multipliers: tuple[int, ...] = WIDTH_MULTIPLIERS) -> list[int]:
    """Paper's hidden widths: d·[10, 50, 50, 50, 50, 10]."""
    return [m * latent_dim for m in multipliers]


class Encoder(nn.Module):
    """f: R^d → R^d, an MLP of Linear → BatchNorm1d → LeakyReLU(0.01) blocks and a linear output."""

    def __init__(self, in_dim: int, out_dim: int, widths: list[int], slope: float = 0.01):
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_dim
        for w in widths:
            layers += [nn.Linear(prev, w), nn.BatchNorm1d(w), nn.LeakyReLU(slope)]
            prev = w
        layers.append(nn.Linear(prev, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Head(nn.Module):
    """Logits β·W f(x): bias-free rows w_k (|C| classes or N instances), optional learnable β."""

    def __init__(
        self,
        feat_dim: int,
        n_outputs: int,
        temperature: float = 1.0,
        learn_temperature: bool = False,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_outputs, feat_dim))
        if n_outputs:  # no rows (an objective without a head): nothing to draw
            nn.init.kaiming_uniform_(self.weight, a=5**0.5)  # nn.Linear's default initialisation
        t = torch.tensor(float(temperature))
        if learn_temperature:
            self.log_temperature = nn.Parameter(t.log())
        else:
            self.register_buffer("log_temperature", t.log())

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.temperature * (h @ self.weight.T)

    @torch.no_grad()
    def normalize_rows(self) -> None:
        """Renormalise every row of W to unit L2 norm (in place)."""
        self.weight.div_(self.weight.norm(dim=1, keepdim=True).clamp_min(1e-12))


def init_seed(seed: int) -> int:
    """The torch seed of model ``seed``'s initial weights: a stream of its own. Seeding with the bare
    model seed made model s read the very uniforms dataset s draws its class vectors from (a
    dataset is seeded with its bare data seed), so with paired seeds the first layer's weights were
    a function of the class vectors."""
    return (int(seed) + 1) * 2_654_435_761 + 97


def build_models(
    latent_dim: int,
    n_outputs: int,
    seed: int,
    *,
    width_multipliers: tuple[int, ...] = WIDTH_MULTIPLIERS,
    temperature: float = 1.0,
    learn_temperature: bool = False,
) -> tuple[Encoder, Head]:
    """Encoder and head initialised on CPU from ``seed`` (same weights whatever the device), drawn
    from the model's own stream ``init_seed(seed)``."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(init_seed(seed))
    try:
        enc = Encoder(latent_dim, latent_dim, hidden_widths(latent_dim, width_multipliers))
        head = Head(latent_dim, n_outputs, temperature, learn_temperature)
    finally:
        torch.random.set_rng_state(gen_state)
    return enc, head


@torch.no_grad()
def recalibrate_batchnorm(encoder: Encoder, x_batches: list[torch.Tensor]) -> None:
    """Precise BN: replace running statistics by the exact average over the given batches."""
    bns = [m for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    if not bns or not x_batches:
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    was_training = encoder.training
    encoder.train()
    for x in x_batches:
        encoder(x)
    for m, mom in zip(bns, momenta, strict=True):
        m.momentum = mom
    encoder.train(was_training)


def save_model(path: str | Path, encoder: Encoder, head: Head, meta: dict) -> None:
    """Weights plus JSON metadata in one file loadable with ``torch.load(weights_only=True)``.

    The metadata always carry the architecture (``latent_dim``, ``n_outputs``,
    ``width_multipliers``, ``learn_temperature``); ``meta`` adds what the caller wants kept.
    """
    arch = {
        "latent_dim": int(head.weight.shape[1]),
        "n_outputs": int(head.weight.shape[0]),
        "width_multipliers": [lin.out_features // head.weight.shape[1] for lin in _linears(encoder)[:-1]],
        "learn_temperature": isinstance(head.log_temperature, nn.Parameter),
    }
    payload = {
        "encoder": {k: v.cpu() for k, v in encoder.state_dict().items()},
        "head": {k: v.cpu() for k, v in head.state_dict().items()},
        "meta": json.dumps({**meta, **arch}, sort_keys=True),
    }
    with atomic_path(path, ".pt") as tmp:
        torch.save(payload, tmp)


def load_model(path: str | Path) -> tuple[Encoder, Head, dict]:
    """Rebuild encoder (eval mode) and head from ``save_model``'s file (weights only, no pickled code)."""
    with reading(path):
        payload = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(payload["meta"])
    enc, head = build_models(
        meta["latent_dim"],
        meta["n_outputs"],
        0,
        width_multipliers=tuple(meta["width_multipliers"]),
        learn_temperature=meta["learn_temperature"],
    )
    enc.load_state_dict(payload["encoder"])
    head.load_state_dict(payload["head"])
    enc.eval()
    return enc, head, meta


def _linears(encoder: Encoder) -> list[nn.Linear]:
    return [m for m in encoder.net if isinstance(m, nn.Linear)]
