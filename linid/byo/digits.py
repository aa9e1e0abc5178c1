"""A worked bring-your-own-activations example on scikit-learn's digits (docs/byo.md §5).

1797 greyscale 8×8 images of the digits 0–9 (``sklearn.datasets.load_digits``, shipped with
scikit-learn: no download). Small ReLU MLPs are trained from several seeds to classify the digit;
their activations on all 1797 images become one model file per seed, and an untrained network
(``mlp_init``) is the control. Factors: the digit label, binary proxies and continuous image
statistics computed from the pixels.

Run: ``python -m linid.byo.digits OUT_DIR`` (a few seconds on one CPU core).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from linid.byo.probes import split
from linid.core.training import Loop, run

DATA_SEED = 0  # the train/held-out split of the images, the same for every model
TEST_FRACTION = 1 / 3  # images held out from MLP training (activations are written for all)
INIT_SEED = 999  # the untrained control's initialisation, distinct from every trained seed
ROUND_DIGITS = (0, 6, 8, 9)


def image_factors(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The factors-file arrays of the digits: labels, binary proxies, continuous statistics.

    ``images``: (n, 8, 8) intensities 0–16. Continuous, with I the intensity and (x, y) the column
    and row of a pixel (y grows downwards): ``ink`` = ΣI/16 (inked pixel equivalents), ``com_x``,
    ``com_y`` = intensity-weighted mean column / row, ``width``, ``height`` = weighted std of the
    column / row, ``slant`` = −cov(x, y)/var(y) (> 0: leaning right). Binary: ``is_even``,
    ``is_round`` (digit in 0, 6, 8, 9), ``ink_above_median`` (ink > its median over the images).
    """
    img = np.asarray(images, dtype=np.float64)
    n = img.shape[0]
    w = img.reshape(n, -1)
    ys, xs = np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij")
    xs, ys = xs.ravel(), ys.ravel()
    mass = w.sum(axis=1)
    mx = w @ xs / mass
    my = w @ ys / mass
    vx = w @ xs**2 / mass - mx**2
    vy = w @ ys**2 / mass - my**2
    cxy = w @ (xs * ys) / mass - mx * my
    ink = mass / 16.0
    continuous = np.column_stack([ink, mx, my, np.sqrt(vx), np.sqrt(vy), -cxy / vy])
    lab = np.asarray(labels, dtype=np.int64)
    binary = np.column_stack(
        [lab % 2 == 0, np.isin(lab, ROUND_DIGITS), ink > np.median(ink)]
    ).astype(np.int64)
    return {
        "continuous": continuous,
        "continuous_names": np.array(["ink", "com_x", "com_y", "width", "height", "slant"]),
        "binary": binary,
        "binary_names": np.array(["is_even", "is_round", "ink_above_median"]),
        "labels": lab,
    }


def _mlp(hidden: Sequence[int], n_in: int, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def _activations(net: nn.Sequential, x: torch.Tensor, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """``pixels`` then every hidden layer (after its ReLU), float32, on every image."""
    out = {"pixels": pixels.astype(np.float32)}
    h = x
    k = 0
    with torch.no_grad():
        for module in net:
            h = module(h)
            if isinstance(module, nn.ReLU):
                k += 1
                out[f"hidden{k}"] = h.numpy().astype(np.float32)
    return out


def _write_model(path: Path, layers: dict[str, np.ndarray]) -> None:
    np.savez(path, layers=np.array(list(layers)), **layers)


def train_mlp(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, epochs: int,
              batch_size: int, lr: float, *, label: str = "digits MLP") -> None:
    """Adam (``lr``) on the cross-entropy of ``net(x)``: ``epochs`` passes in ``batch_size`` batches,
    each pass in the order of a ``torch.randperm`` drawn from ``gen`` at its first batch.

    The loop is :func:`linid.core.training.run`, a step one batch; the losses are checked once per
    pass (a NaN or infinite one raises ``NonFiniteLoss`` naming ``label`` and the step)."""
    per_epoch = -(-len(x) // batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.empty(0, dtype=torch.int64)

    def step(i: int) -> torch.Tensor:
        nonlocal order
        start = (i % per_epoch) * batch_size
        if start == 0:  # a new pass over the data: its order
            order = torch.randperm(len(x), generator=gen)
        idx = order[start : start + batch_size]
        opt.zero_grad()
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
        return loss.detach()

    run(Loop(epochs * per_epoch, name=label, log_every=per_epoch, labels=(label,), context=f"lr={lr}"), step)


def _accuracy(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(dim=1) == y).float().mean())


def export_digits_example(
    out_dir: str | Path,
    seeds: Sequence[int] = (0, 1, 2),
    hidden: Sequence[int] = (64, 64, 32),
    epochs: int = 40,
    *,
    batch_size: int = 64,
    lr: float = 1e-3,
) -> dict:
    """Train one MLP per seed on digits and write the example's files into ``out_dir``.

    Each MLP (Linear→ReLU per ``hidden`` width, then Linear to 10 logits) is initialised with
    ``torch.manual_seed(seed)`` and trained with Adam (``lr``) on the cross-entropy of a fixed
    two-thirds of the images (``split(1797, 1/3, seed=0)``), ``epochs`` passes in ``batch_size``
    batches whose order comes from a ``torch.Generator`` seeded with ``seed``. Inputs: pixels/16.

    Writes ``factors.npz`` (:func:`image_factors`), ``mlp_seed{s}.npz`` per seed, ``mlp_init.npz``
    (an untrained network, initialised from seed 999) and ``digits_example.json`` (settings and
    each network's held-out accuracy). Every model file holds the layers ``pixels`` (the input,
    the same array in every file) and ``hidden1`` … on all 1797 images.

    Returns ``{"factors": path, "models": {name: path}, "info": path, "accuracy": {name: acc}}``.
    """
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds!r}")
    if INIT_SEED in seeds:
        raise ValueError(f"seed {INIT_SEED} is reserved for the untrained control")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    pixels = digits.data / 16.0
    labels = digits.target.astype(np.int64)
    n = pixels.shape[0]
    train, test = split(n, TEST_FRACTION, DATA_SEED)
    x = torch.as_tensor(pixels, dtype=torch.float32)
    y = torch.as_tensor(labels)
    x_tr, y_tr = x[train], y[train]

    factors_path = out / "factors.npz"
    np.savez(factors_path, **image_factors(digits.images, labels))

    models: dict[str, Path] = {}
    accuracy: dict[str, float] = {}
    for seed in seeds:
        torch.manual_seed(int(seed))
        net = _mlp(hidden, pixels.shape[1], 10)
        train_mlp(net, x_tr, y_tr, torch.Generator().manual_seed(int(seed)), int(epochs), batch_size, lr,
                  label=f"digits MLP seed {seed}")
        name = f"mlp_seed{seed}"
        models[name] = out / f"{name}.npz"
        _write_model(models[name], _activations(net, x, pixels))
        accuracy[name] = _accuracy(net, x[test], y[test])

    torch.manual_seed(INIT_SEED)
    init = _mlp(hidden, pixels.shape[1], 10)
    models["mlp_init"] = out / "mlp_init.npz"
    _write_model(models["mlp_init"], _activations(init, x, pixels))
    accuracy["mlp_init"] = _accuracy(init, x[test], y[test])

    info_path = out / "digits_example.json"
    info = {
        "dataset": "sklearn.datasets.load_digits (1797 images, 8x8, 10 classes)",
        "seeds": [int(s) for s in seeds],
        "init_seed": INIT_SEED,
        "hidden": [int(h) for h in hidden],
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "mlp_train_images": int(len(train)),
        "mlp_heldout_images": int(len(test)),
        "heldout_accuracy": accuracy,
    }
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return {"factors": factors_path, "models": models, "info": info_path, "accuracy": accuracy}


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: ``python -m linid.byo.digits OUT_DIR [--seeds 0 1 2] [--epochs 40]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hidden", type=int, nargs="+", default=[64, 64, 32])
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)
    res = export_digits_example(args.out_dir, args.seeds, args.hidden, args.epochs)
    for name, acc in res["accuracy"].items():
        print(f"{name}: held-out accuracy {acc:.3f} -> {res['models'][name]}")
    print(f"factors -> {res['factors']}")
    print(f"info -> {res['info']}")


if __name__ == "__main__":
    main()
