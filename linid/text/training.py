"""Noise-contrastive training of the log-bilinear model, every batch drawn on the model's device.

Model ``s``'s windows and noise words come from a ``torch.Generator`` seeded with
``batch_seed(s)`` on the device: the training of a seed is fixed by it (per device type).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from linid.core.training import Loop, run
from linid.text.model import REDUCTIONS, LogBilinear, nce_loss

OPTIMIZERS = ("adam", "sgd")
#: exact: NCE of the softmax-normalised model; none: of the self-normalised score (Z(h) = 1)
NORMALISERS = ("exact", "none")


@dataclass(frozen=True)
class TextTrainConfig:
    steps: int = 50_000
    batch_size: int = 200
    lr: float = 0.003
    optimizer: str = "adam"
    noise: str = "unigram"
    noise_samples: int = 25
    noise_shift: bool = False
    noise_reduction: str = "mean"
    normaliser: str = "none"

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or not self.lr > 0 or self.noise_samples < 1:
            raise ValueError(f"need steps, batch_size, noise_samples ≥ 1 and lr > 0; got {self}")
        if self.normaliser not in NORMALISERS:
            raise ValueError(f"unknown normaliser {self.normaliser!r}; expected one of {NORMALISERS}")
        if self.noise_reduction not in REDUCTIONS:
            raise ValueError(f"unknown noise_reduction {self.noise_reduction!r}; expected one of {REDUCTIONS}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")


def batch_seed(seed: int) -> int:
    return 7_000_003 * int(seed) + 17


def train_text(
    model: LogBilinear,
    windows: Tensor,
    noise_probs: Tensor,
    cfg: TextTrainConfig,
    generator: torch.Generator,
) -> list[tuple[int, float]]:
    """Minimise :func:`nce_loss` on uniformly drawn windows (with replacement), k noise words per
    window drawn from ``noise_probs`` (inverse-CDF of uniforms); the logit shifted by
    −log(k·p_noise(w)) when ``cfg.noise_shift``, the noise words' terms combined by
    ``cfg.noise_reduction``. Returns (step, loss) at steps 0, s, 2s, … and the last,
    s = max(1, steps // 50) (the loop, :func:`linid.core.training.run`, reads the losses back every
    s steps; a NaN or infinite loss at any step raises ``NonFiniteLoss`` naming it).
    ``windows`` (n, 2·half + 1) lives on the model's device; the centre column is the target.
    """
    device = model.q.device
    n, width = windows.shape
    half = width // 2
    ctx_cols = torch.tensor([i for i in range(width) if i != half], device=device)
    probs = noise_probs.to(device=device, dtype=torch.float64)
    log_kpn = torch.log(cfg.noise_samples * probs).clamp(min=-1e4).to(torch.float32) if cfg.noise_shift else None
    cdf = torch.cumsum(probs, 0)
    cdf = (cdf / cdf[-1]).to(torch.float32)
    V = model.vocab_size
    if cfg.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    every = max(1, cfg.steps // 50)
    # the label reads "training diverged: non-finite training loss at step N (optimizer=…, lr=…)"
    loop = Loop(cfg.steps, name="text model", log_every=every, labels=("training diverged",),
                context=f"optimizer={cfg.optimizer}, lr={cfg.lr}")
    curve: list[tuple[int, float]] = []
    gdev = generator.device

    def step(i: int) -> Tensor:
        idx = torch.randint(n, (cfg.batch_size,), generator=generator, device=gdev).to(device)
        u = torch.rand((cfg.batch_size, cfg.noise_samples), generator=generator, device=gdev).to(device)
        noise = torch.searchsorted(cdf, u).clamp_(max=V - 1)
        batch = windows[idx]
        loss = nce_loss(model, batch[:, ctx_cols], batch[:, half], noise, log_kpn, cfg.normaliser == "exact",
                        cfg.noise_reduction)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()  # a fresh tensor each step: nothing writes into it later

    def record(done: int, losses: Tensor, last: bool) -> None:
        """The loss at the window's first step (0, s, 2s, …) and, at the end, at the last step."""
        curve.append((done - len(losses), float(losses[0, 0])))
        if last and len(losses) > 1:
            curve.append((done - 1, float(losses[-1, 0])))

    run(loop, step, on_log=record)
    return curve


def implied_score_offset(noise_probs: Tensor, cfg: TextTrainConfig) -> Tensor | None:
    """What to add to the learned score s(w, h) to get the model's conditional (up to its normaliser).

    The NCE optimum is Δ(w, h) = log p(w | h) − log(k_R · p_noise(w)) (docs/text.md §4). With
    ``noise_shift`` Δ = s − log(k · p_noise(w)), so s itself is log p(w | h) up to a constant
    (None: nothing to add); with the bare score (the notebook's default) s = log p(w | h) −
    log p_noise(w) − const, so the conditional is softmax(s + log p_noise(w)). With uniform noise the
    offset is a constant and changes nothing after the softmax."""
    if cfg.noise_shift:
        return None
    return torch.log(noise_probs.double().clamp(min=1e-300)).float()


@torch.no_grad()
def heldout_nll(score_fn, windows: np.ndarray | Tensor, chunk: int = 4096) -> float:
    """Mean −log softmax(scores)_target over windows: nats per target word, the model normalised
    over the vocabulary (an NCE-trained score is only approximately self-normalised)."""
    w = torch.as_tensor(np.asarray(windows), dtype=torch.int64)
    width = w.shape[1]
    half = width // 2
    ctx_cols = [i for i in range(width) if i != half]
    total = 0.0
    for start in range(0, w.shape[0], chunk):
        part = w[start : start + chunk]
        scores = score_fn(part[:, ctx_cols]).double()
        total += float(F.cross_entropy(scores, part[:, half], reduction="sum"))
    return total / w.shape[0]


def train_seed(
    windows: np.ndarray,
    vocab_size: int,
    noise_probs: Tensor,
    mcfg,
    tcfg: TextTrainConfig,
    seed: int,
    device: torch.device,
) -> tuple[dict, dict, dict]:
    """One replica: (initial state, trained state, summary), states on CPU."""
    from linid.text.model import build_model

    model = build_model(vocab_size, mcfg, seed).to(device)
    init = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    gen = torch.Generator(device=device).manual_seed(batch_seed(seed))
    w = torch.as_tensor(windows, dtype=torch.int64, device=device)
    t0 = time.perf_counter()
    curve = train_text(model, w, noise_probs, tcfg, gen)
    seconds = time.perf_counter() - t0
    model.eval()
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return init, state, {"seed": int(seed), "final_loss": curve[-1][1], "seconds": seconds, "curve": curve}
