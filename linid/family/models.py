"""The model family p(y|x) ∝ exp(f(x)ᵀ g(y)) of Roeder, Metz & Kingma (2021), docs/science.md §4.

Two models of the family that fit the data have f' = A f for an invertible M×M A when the
diversity condition K ≥ M + 1 (and spanning) holds. A cell's model file holds every seed's weights
and the architecture, so ``load_models`` rebuilds them without the caller's help.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from linid.core.io import atomic_path, reading

G_KINDS = ("embedding", "mlp")
G_INITS = ("zero", "default")
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class FamilyModelConfig:
    """Architecture of f and g besides the dimensions."""

    hidden: tuple[int, ...] = (64, 64)
    g_kind: str = "embedding"
    g_init: str = "zero"


def init_seed(seed: int) -> int:
    """Seed of model ``seed``'s initial weights."""
    return 7_000_003 * seed + 17


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


def build_model(
    input_dim: int, n_classes: int, rep_dim: int, mcfg: FamilyModelConfig, seed: int
) -> FamilyModel:
    """The untrained model of ``seed``: weights drawn on the CPU from ``init_seed(seed)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed))
        return FamilyModel(
            input_dim,
            rep_dim,
            n_classes,
            hidden=tuple(mcfg.hidden),
            g_kind=mcfg.g_kind,
            g_init=mcfg.g_init,
        )


def diversity_ok(n_classes: int, rep_dim: int) -> bool:
    """Necessary count for the diversity condition: K ≥ M + 1 labels can span R^M by differences."""
    return n_classes >= rep_dim + 1


def architecture(input_dim: int, n_classes: int, rep_dim: int, mcfg: FamilyModelConfig) -> dict:
    """What a model file records to rebuild a cell's models (``build_from_meta``)."""
    return {"input_dim": input_dim, "n_classes": n_classes, "rep_dim": rep_dim, "model": asdict(mcfg)}


def build_from_meta(meta: dict, seed: int) -> FamilyModel:
    """The untrained model of ``seed`` for the architecture recorded in ``meta``."""
    m = meta["model"]
    mcfg = FamilyModelConfig(hidden=tuple(m["hidden"]), g_kind=m["g_kind"], g_init=m["g_init"])
    return build_model(meta["input_dim"], meta["n_classes"], meta["rep_dim"], mcfg, seed)


def models_from_states(states: dict[int, dict], meta: dict) -> dict[int, FamilyModel]:
    """Trained models (eval mode) by seed, from their state dicts and the recorded architecture."""
    models = {}
    for seed, state in states.items():
        model = build_from_meta(meta, int(seed))
        model.load_state_dict(state)
        models[int(seed)] = model.eval()
    return models


def save_models(path: str | Path, states: dict[int, dict], meta: dict) -> None:
    """All seeds' weights of one cell in one file (atomic); ``meta`` must hold ``architecture(...)``."""
    missing = [k for k in ("input_dim", "n_classes", "rep_dim", "model") if k not in meta]
    if missing:
        raise ValueError(f"save_models: meta lacks the architecture key(s) {missing}")
    with atomic_path(path, ".pt") as tmp:
        torch.save({"states": {str(s): st for s, st in states.items()}, "meta": meta}, tmp)


def load_models(path: str | Path) -> tuple[dict[int, FamilyModel], dict]:
    """The trained models of ``save_models``' file, by seed (eval mode), and its metadata."""
    with reading(path):
        blob = torch.load(path, map_location="cpu", weights_only=True)
        blob["states"], blob["meta"]  # noqa: B018 - a file without them is corrupt
    return models_from_states({int(s): st for s, st in blob["states"].items()}, blob["meta"]), blob["meta"]
