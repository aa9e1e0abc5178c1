"""Encoder f and linear head W of Reizinger et al. (2025), docs/science.md §2."""

from __future__ import annotations

import torch
from torch import nn

METHODS = ("supervised", "diet")


def hidden_widths(latent_dim: int, multipliers: tuple[int, ...] = (10, 50, 50, 50, 50, 10)) -> list[int]:
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


def build_models(
    latent_dim: int,
    n_outputs: int,
    seed: int,
    *,
    width_multipliers: tuple[int, ...] = (10, 50, 50, 50, 50, 10),
    temperature: float = 1.0,
    learn_temperature: bool = False,
) -> tuple[Encoder, Head]:
    """Encoder and head initialised on CPU from ``seed`` (same weights whatever the device)."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        enc = Encoder(latent_dim, latent_dim, hidden_widths(latent_dim, width_multipliers))
        head = Head(latent_dim, n_outputs, temperature, learn_temperature)
    finally:
        torch.random.set_rng_state(gen_state)
    return enc, head


def n_outputs_for(method: str, n_classes: int, n_instances: int) -> int:
    """Rows of W: |C| for supervised, N for DIET (instance discrimination)."""
    if method == "supervised":
        return n_classes
    if method == "diet":
        return n_instances
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
