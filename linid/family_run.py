"""The [K] experiment as pipeline stages: dataset, training of every seed of a cell, features, pairs.

One cell is (K classes, representation dim M); its models differ only in their seed. Every random
thing derives from an explicit seed: the dataset from ``data_seed``, model ``s``'s initial weights
from ``init_seed(s)`` and its minibatches from ``batch_seed(s)``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from linid import compare
from linid.family import AngleData, FamilyModel, label_span, sample_angle_data, train_family
from linid.io import atomic_savez

LAYERS = ("f", "hidden", "f_untrained", "hidden_untrained")
IN_FAMILY = {"f": True, "hidden": False, "f_untrained": True, "hidden_untrained": False}
TRAIN_STREAM, EVAL_STREAM = 11, 12


@dataclass(frozen=True)
class FamilyModelConfig:
    hidden: tuple[int, ...] = (64, 64)
    g_kind: str = "embedding"
    g_init: str = "zero"


@dataclass(frozen=True)
class FamilyTrainConfig:
    steps: int = 5000
    batch_size: int = 256
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9


def init_seed(seed: int) -> int:
    return 7_000_003 * seed + 17


def batch_seed(seed: int) -> int:
    return 9_000_011 * seed + 29


def _gen(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + stream)


def make_dataset(path: str | Path, cfg: AngleData, n_train: int, n_eval: int, seed: int) -> dict:
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


def load_dataset(path: str | Path) -> dict[str, torch.Tensor]:
    with np.load(path) as f:
        return {k: torch.from_numpy(f[k]) for k in f.files}


def build_model(
    data_cfg: AngleData, rep_dim: int, mcfg: FamilyModelConfig, seed: int
) -> FamilyModel:
    """The untrained model of ``seed``: weights drawn on the CPU from ``init_seed(seed)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed))
        return FamilyModel(
            data_cfg.input_dim,
            rep_dim,
            data_cfg.n_classes,
            hidden=tuple(mcfg.hidden),
            g_kind=mcfg.g_kind,
            g_init=mcfg.g_init,
        )


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
        model = build_model(data_cfg, rep_dim, mcfg, seed).to(device)
        gen = torch.Generator(device=device).manual_seed(batch_seed(seed))
        t0 = time.perf_counter()
        curve = train_family(
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


def save_models(path: str | Path, states: dict[int, dict], meta: dict) -> None:
    """All seeds' weights of one cell in one file (atomic)."""
    from linid.io import atomic_path

    with atomic_path(path, ".pt") as tmp:
        torch.save({"states": {str(s): st for s, st in states.items()}, "meta": meta}, tmp)


def load_models(path: str | Path) -> tuple[dict[int, dict], dict]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return {int(s): st for s, st in blob["states"].items()}, blob["meta"]


@torch.no_grad()
def cell_features(
    data: dict[str, torch.Tensor],
    data_cfg: AngleData,
    rep_dim: int,
    mcfg: FamilyModelConfig,
    states: dict[int, dict],
) -> dict[str, np.ndarray]:
    """Per seed s: f_s, hidden_s (trained), f_untrained_s, hidden_untrained_s on held-out x; g_s."""
    x = data["eval_x"].float()
    out: dict[str, np.ndarray] = {"eval_x": x.numpy(), "eval_y": data["eval_y"].numpy()}
    for seed, state in sorted(states.items()):
        untrained = build_model(data_cfg, rep_dim, mcfg, seed).eval()
        out[f"f_untrained_s{seed}"] = untrained.f(x).numpy()
        out[f"hidden_untrained_s{seed}"] = untrained.hidden(x).numpy()
        model = build_model(data_cfg, rep_dim, mcfg, seed)
        model.load_state_dict(state)
        model.eval()
        out[f"f_s{seed}"] = model.f(x).numpy()
        out[f"hidden_s{seed}"] = model.hidden(x).numpy()
        out[f"g_s{seed}"] = model.g_all().numpy()
    out["seeds"] = np.asarray(sorted(states), dtype=np.int64)
    return out


def pairwise(
    features: dict[str, np.ndarray], layers: tuple[str, ...], svcca_k: int
) -> list[dict]:
    """One row per (seed pair, layer): mCCA, SVCCA_k, R² both ways, the sorted CCA spectrum.

    ``g_span`` (trained layers only): the smaller of the two models' ``label_span`` — whether the
    learned g-differences span R^M, the diversity condition the theorem needs; NaN where the
    features carry no g (e.g. the [R] simulation models).
    """
    seeds = [int(s) for s in features["seeds"]]
    span = {
        s: label_span(features[f"g_s{s}"]) if f"g_s{s}" in features else float("nan") for s in seeds
    }
    rows = []
    for a, b in itertools.combinations(seeds, 2):
        for layer in layers:
            trained = not layer.endswith("_untrained")
            fa, fb = features[f"{layer}_s{a}"], features[f"{layer}_s{b}"]
            k = max(1, min(svcca_k, fa.shape[1], fb.shape[1]))
            m = compare.compare_pair(fa, fb, svcca_k=k)
            rows.append(
                {
                    "layer": layer,
                    "in_family": IN_FAMILY.get(layer, True),
                    "seed_a": a,
                    "seed_b": b,
                    "mcca": m["mcca"],
                    "cca_min": min(m["cca_spectrum"]),
                    "svcca": m["svcca"],
                    "svcca_k": k,
                    "r2_ab": m["r2_ab"],
                    "r2_ba": m["r2_ba"],
                    "r2_linear": 0.5 * (m["r2_ab"] + m["r2_ba"]),
                    "g_span": min(span[a], span[b]) if trained else float("nan"),
                    "cca_spectrum": " ".join(f"{v:.6f}" for v in m["cca_spectrum"]),
                }
            )
    return rows


def save_features(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    atomic_savez(path, **arrays)
