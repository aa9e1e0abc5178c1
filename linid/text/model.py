"""The log-bilinear CBOW model of [K] Figure 1 (Mnih & Teh 2012) and its noise-contrastive loss.

s(w, h) = q̂(h)ᵀ q_w + b_w,  q̂(h) = Σᵢ cᵢ ⊙ r_{hᵢ}: q (V, M) the target embeddings ([K]'s g),
r (V, M) the context embeddings, c (2·half, M) one learned weight vector per context position,
b (V,) a bias per word. The context embedding q̂(h) plays [K]'s f(x).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

NOISES = ("unigram", "uniform")


@dataclass(frozen=True)
class TextModelConfig:
    dim: int = 2
    half: int = 2
    init_std: float = 0.1

    def __post_init__(self):
        if self.dim < 1 or self.half < 1 or not self.init_std > 0:
            raise ValueError(f"need dim ≥ 1, half ≥ 1, init_std > 0; got {self.dim}, {self.half}, {self.init_std}")


class LogBilinear(nn.Module):
    """q, r ~ N(0, init_std²), c = 1, b = 0 at initialisation (torch.manual_seed(seed) first)."""

    def __init__(self, vocab_size: int, cfg: TextModelConfig):
        super().__init__()
        self.vocab_size, self.cfg = vocab_size, cfg
        self.q = nn.Parameter(torch.randn(vocab_size, cfg.dim) * cfg.init_std)
        self.r = nn.Parameter(torch.randn(vocab_size, cfg.dim) * cfg.init_std)
        self.c = nn.Parameter(torch.ones(2 * cfg.half, cfg.dim))
        self.b = nn.Parameter(torch.zeros(vocab_size))

    def context(self, ctx: Tensor) -> Tensor:
        """q̂(h) = Σᵢ cᵢ ⊙ r_{hᵢ}: (n, M) for contexts (n, 2·half)."""
        return (self.c[None] * self.r[ctx]).sum(1)

    def score(self, qhat: Tensor, words: Tensor) -> Tensor:
        """s(w, h) for words (n, …) and the contexts' q̂ (n, M): shape of words."""
        q = self.q[words]
        return (q * qhat.view(qhat.shape[0], *([1] * (words.ndim - 1)), -1)).sum(-1) + self.b[words]

    def all_scores(self, ctx: Tensor) -> Tensor:
        """s(w, h) for every word: (n, V)."""
        return self.context(ctx) @ self.q.T + self.b


def build_model(vocab_size: int, cfg: TextModelConfig, seed: int) -> LogBilinear:
    torch.manual_seed(int(seed))
    return LogBilinear(vocab_size, cfg)


def nce_loss(
    model: LogBilinear,
    ctx: Tensor,
    target: Tensor,
    noise: Tensor,
    log_kpn: Tensor | None = None,
    normalise: bool = False,
) -> Tensor:
    """Sigmoid cross-entropy of 1 positive and k noise words per window, mean over windows:
    mean_n [ −log σ(Δ(w_n, h_n)) − Σⱼ log(1 − σ(Δ(ñ_nj, h_n))) ], noise ñ (n, k),
    Δ(w, h) = s(w, h) − log(k · p_noise(w)) (``log_kpn``, (V,); None: Δ = s); with
    ``normalise``, s is replaced by the model's log-probability s(w, h) − log Σ_v exp s(v, h).

    With the shift (Mnih & Teh 2012) the optimum is s(w, h) = log p(w | h): the score is
    self-normalised. Without it (the plain sigmoid cross-entropy of the notebook, as word2vec's
    negative sampling) s absorbs −log(k·p_noise(w)), a function of w only: the learned bias b
    takes it and q, r, c are the same (docs/text.md).

    Self-normalisation asks s(w, h) to equal log p(w | h), i.e. the context's log-normaliser to be
    0 for every h, which a log-bilinear truth does not satisfy (its log Z*(h) varies with h and the
    model has no per-context term to absorb it): NCE then fits a biased model. ``normalise`` makes
    the model exactly [K]'s softmax family p(w | h) = exp s(w, h) / Z(h), which contains a
    log-bilinear truth; NCE is then a consistent estimator of it (cost: V scores per window).
    """
    qhat = model.context(ctx)
    pos = model.score(qhat, target)
    neg = model.score(qhat, noise)
    if normalise:
        log_z = torch.logsumexp(qhat @ model.q.T + model.b, dim=1)
        pos = pos - log_z
        neg = neg - log_z[:, None]
    if log_kpn is not None:
        pos = pos - log_kpn[target]
        neg = neg - log_kpn[noise]
    return (F.softplus(-pos) + F.softplus(neg).sum(1)).mean()


def noise_distribution(targets: Tensor, vocab_size: int, kind: str) -> Tensor:
    """p_noise: the training targets' unigram frequencies (``unigram``) or 1/V (``uniform``)."""
    if kind not in NOISES:
        raise ValueError(f"unknown noise {kind!r}; expected one of {NOISES}")
    if kind == "uniform":
        return torch.full((vocab_size,), 1.0 / vocab_size, dtype=torch.float64)
    counts = torch.bincount(targets.cpu(), minlength=vocab_size).double()
    return counts / counts.sum()
