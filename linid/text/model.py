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
#: notebook: figure_1.ipynb's initialisers; normal: q, r ~ N(0, init_std²), c = 1, b = 0
INITS = ("notebook", "normal")
#: figure_1.ipynb: ContextEmbedder's RandomUniform(±0.001) for c and r; LogBilinearScore's Keras
#: 'uniform' (RandomUniform(±0.05)) for q and b
NOTEBOOK_CONTEXT_RANGE, NOTEBOOK_TARGET_RANGE = 0.001, 0.05
#: how the k noise words' sigmoid cross-entropies are combined per window (notebook: mean)
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class TextModelConfig:
    dim: int = 2
    half: int = 2
    init: str = "notebook"
    init_std: float = 0.1

    def __post_init__(self):
        if self.dim < 1 or self.half < 1 or not self.init_std > 0:
            raise ValueError(f"need dim ≥ 1, half ≥ 1, init_std > 0; got {self.dim}, {self.half}, {self.init_std}")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; expected one of {INITS}")


def _uniform(shape: tuple[int, ...], bound: float) -> Tensor:
    return (torch.rand(shape) * 2.0 - 1.0) * bound


class LogBilinear(nn.Module):
    """Initialisation (torch.manual_seed(seed) first), ``cfg.init``:

    - ``notebook``: c, r ~ U(−0.001, 0.001); q, b ~ U(−0.05, 0.05) (figure_1.ipynb);
    - ``normal``: q, r ~ N(0, init_std²), c = 1, b = 0.
    """

    def __init__(self, vocab_size: int, cfg: TextModelConfig):
        super().__init__()
        self.vocab_size, self.cfg = vocab_size, cfg
        V, M, P = vocab_size, cfg.dim, 2 * cfg.half
        if cfg.init == "notebook":
            q, r = _uniform((V, M), NOTEBOOK_TARGET_RANGE), _uniform((V, M), NOTEBOOK_CONTEXT_RANGE)
            c, b = _uniform((P, M), NOTEBOOK_CONTEXT_RANGE), _uniform((V,), NOTEBOOK_TARGET_RANGE)
        else:
            q, r = torch.randn(V, M) * cfg.init_std, torch.randn(V, M) * cfg.init_std
            c, b = torch.ones(P, M), torch.zeros(V)
        self.q, self.r, self.c, self.b = (nn.Parameter(x) for x in (q, r, c, b))

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
    reduction: str = "mean",
) -> Tensor:
    """Sigmoid cross-entropy of 1 positive and k noise words per window, mean over windows:
    mean_n [ −log σ(Δ(w_n, h_n)) + R_j −log(1 − σ(Δ(ñ_nj, h_n))) ], noise ñ (n, k), R the
    ``reduction`` over the k noise words (``mean``: figure_1.ipynb's NPLMEstimator; ``sum``: Mnih &
    Teh 2012). Δ(w, h) = s(w, h) by default (the notebook's del_score with simple=True), or
    s(w, h) − log(k · p_noise(w)) given ``log_kpn`` ((V,); the notebook's other branch, [MT]'s
    shift); with ``normalise``, s is replaced by the model's log-probability s(w, h) − log Σ_v exp s(v, h).

    The population optimum is Δ(w, h) = log p(w | h) − log(k_R · p_noise(w)), k_R = k for ``sum``
    and 1 for ``mean``. Without ``normalise`` the differences between these variants are functions
    of w alone, which the bias b absorbs. The self-normalised score must also absorb the true
    context log-normaliser log Z*(h), which a log-bilinear model has no term for: against a
    log-bilinear truth NCE then fits a biased model. With ``normalise``, the shift and ``sum``,
    NCE is a consistent estimator of [K]'s softmax family, which holds the truth (docs/text.md §4).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown noise reduction {reduction!r}; expected one of {REDUCTIONS}")
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
    noise_term = F.softplus(neg).sum(1) if reduction == "sum" else F.softplus(neg).mean(1)
    return (F.softplus(-pos) + noise_term).mean()


def noise_distribution(targets: Tensor, vocab_size: int, kind: str) -> Tensor:
    """p_noise: the training targets' unigram frequencies (``unigram``) or 1/V (``uniform``)."""
    if kind not in NOISES:
        raise ValueError(f"unknown noise {kind!r}; expected one of {NOISES}")
    if kind == "uniform":
        return torch.full((vocab_size,), 1.0 / vocab_size, dtype=torch.float64)
    counts = torch.bincount(targets.cpu(), minlength=vocab_size).double()
    return counts / counts.sum()
