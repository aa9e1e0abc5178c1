"""Corpora for the log-bilinear model: windows of 2·half context tokens around one target token.

A corpus is ``windows`` (n, 2·half + 1) int64 token ids, the centre column the target, plus a
vocabulary. Two sources:

* **generated** (:func:`make_truth`, :func:`sample_windows`): a known log-bilinear language model
  p*(w | h) ∝ exp(q̂*(h)ᵀ q*_w + b*_w), q̂*(h) = Σᵢ c*ᵢ ⊙ r*_{hᵢ}; each window's context tokens
  are drawn i.i.d. from a Zipf unigram distribution u, then its target from p*(· | h). Every
  window therefore follows the model exactly (the empirical conditionals converge to p*).
* **the user's own**: a plain-text file (:func:`tokenize`, :func:`text_stream`) or a file of
  token ids (:func:`ids_stream`, remapped to a dense range), read as one token stream; every
  position with a full context on both sides is one window. linid.text.check reads the same file
  with the same functions when the workflow is read.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

UNK = "<unk>"


# ----------------------------------------------------------------------------- the known truth


@dataclass(frozen=True)
class TruthConfig:
    vocab_size: int = 500
    true_dim: int = 2
    rank: int = 2
    half: int = 2
    zipf: float = 1.0
    signal: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.vocab_size < 3:
            raise ValueError(f"vocab_size must be ≥ 3, got {self.vocab_size}")
        if not 1 <= self.rank <= self.true_dim:
            raise ValueError(f"need 1 ≤ rank ≤ true_dim, got rank {self.rank}, true_dim {self.true_dim}")
        if self.half < 1:
            raise ValueError(f"half (context tokens on each side) must be ≥ 1, got {self.half}")
        if not (self.zipf >= 0 and self.signal > 0):
            raise ValueError(f"need zipf ≥ 0 and signal > 0, got {self.zipf}, {self.signal}")


@dataclass(frozen=True)
class Truth:
    """q*, r* (V, true_dim), c* (2·half, true_dim), b* (V,), unigram u (V,) of the context tokens."""

    q: np.ndarray
    r: np.ndarray
    c: np.ndarray
    b: np.ndarray
    unigram: np.ndarray
    rank: int

    def scores(self, contexts):
        """s*(w, h) for every word w: (n, V) float64 tensor, contexts (n, 2·half)."""
        import torch

        ctx = torch.as_tensor(np.asarray(contexts), dtype=torch.int64)
        r = torch.as_tensor(self.r)
        qhat = (torch.as_tensor(self.c)[None] * r[ctx]).sum(1)
        return qhat @ torch.as_tensor(self.q).T + torch.as_tensor(self.b)

    def conditional(self, contexts) -> np.ndarray:
        """p*(w | h): (n, V), rows sum to 1."""
        import torch

        return torch.softmax(self.scores(contexts), dim=1).numpy()


def zipf_unigram(vocab_size: int, exponent: float) -> np.ndarray:
    """u_w ∝ (w + 1)^−exponent, w = 0 … V−1 (word 0 the most frequent)."""
    u = (np.arange(vocab_size) + 1.0) ** -float(exponent)
    return u / u.sum()


def make_truth(cfg: TruthConfig) -> Truth:
    """A random log-bilinear LM: q*, r* ~ N(0, σ²) in the first ``rank`` coordinates and 0 beyond,
    c* ~ 1 + N(0, 0.5²) per position and coordinate, b* = log u (the Zipf unigram).

    σ is set so that the true scores' bilinear part q̂*(h)ᵀq*_w has standard deviation ``signal``
    over words and contexts drawn from u (rank-r truths: the same strength in fewer coordinates).
    Coordinates ≥ rank are exactly 0: with a model dimension above ``rank``, [K]'s diversity
    condition fails (no set of contexts spans the model's space).
    """
    rng = np.random.default_rng(cfg.seed)
    V, D, r = cfg.vocab_size, cfg.true_dim, cfg.rank
    ctx = 2 * cfg.half
    q = np.zeros((V, D))
    rr = np.zeros((V, D))
    q[:, :r] = rng.standard_normal((V, r))
    rr[:, :r] = rng.standard_normal((V, r))
    c = 1.0 + 0.5 * rng.standard_normal((ctx, D))
    c[:, r:] = 0.0
    u = zipf_unigram(V, cfg.zipf)
    # the bilinear part's std at unit scale, over h ~ u^ctx and w ~ u (Monte Carlo, seeded)
    h = rng.choice(V, size=(4000, ctx), p=u)
    w = rng.choice(V, size=4000, p=u)
    raw = np.einsum("nd,nd->n", (c[None] * rr[h]).sum(1), q[w])
    scale = np.sqrt(cfg.signal / raw.std())  # both q and r are scaled: the product by signal / std
    return Truth(q=q * scale, r=rr * scale, c=c, b=np.log(u), unigram=u, rank=r)


def sample_windows(truth: Truth, n: int, seed: int, chunk: int = 8192) -> np.ndarray:
    """n windows (n, 2·half + 1): context ~ u i.i.d., target ~ p*(· | context) in the centre column."""
    import torch

    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    gen = torch.Generator().manual_seed(int(seed))
    V = truth.q.shape[0]
    ctx_n = truth.c.shape[0]
    u = torch.as_tensor(truth.unigram)
    out = np.empty((n, ctx_n + 1), dtype=np.int64)
    half = ctx_n // 2
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        ctx = torch.multinomial(u, m * ctx_n, replacement=True, generator=gen).reshape(m, ctx_n)
        p = torch.softmax(truth.scores(ctx), dim=1)
        tgt = torch.multinomial(p, 1, generator=gen)[:, 0]
        out[start : start + m, :half] = ctx[:, :half].numpy()
        out[start : start + m, half] = tgt.numpy()
        out[start : start + m, half + 1 :] = ctx[:, half:].numpy()
    assert out.max() < V
    return out


# ----------------------------------------------------------------------------- the user's corpus

_SPACE = re.compile(r"\s+")


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Whitespace tokenisation: split on runs of Unicode whitespace (line breaks included), after
    lower-casing when ``lowercase``; punctuation stays attached to its word ("end." ≠ "end")."""
    if lowercase:
        text = text.lower()
    return [t for t in _SPACE.split(text) if t]


def build_vocab(tokens: list[str], vocab_size: int) -> list[str]:
    """``<unk>`` (id 0), then the vocab_size − 1 most frequent tokens, ties by first occurrence."""
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be ≥ 2 (<unk> and one word), got {vocab_size}")
    counts = Counter(tokens)
    counts.pop(UNK, None)
    first: dict[str, int] = {}
    for i, t in enumerate(tokens):
        first.setdefault(t, i)
    order = sorted(counts, key=lambda t: (-counts[t], first[t]))
    return [UNK, *order[: vocab_size - 1]]


def stream_windows(ids: np.ndarray, half: int) -> np.ndarray:
    """Every position with ``half`` tokens on each side: (len − 2·half, 2·half + 1)."""
    ids = np.asarray(ids, dtype=np.int64)
    n = ids.size - 2 * half
    if n < 1:
        raise ValueError(f"the corpus has {ids.size} tokens; a window needs {2 * half + 1}")
    return np.lib.stride_tricks.sliding_window_view(ids, 2 * half + 1).copy()


class CorpusFileError(ValueError):
    """The user's corpus file cannot be read as its source says (the message names the problem)."""


def read_text(path: str | Path) -> str:
    """The file as UTF-8 text; CorpusFileError naming the first byte that is not UTF-8."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusFileError(f"is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                              "save it as UTF-8") from None


def text_stream(path: str | Path, vocab_size: int, lowercase: bool = True) -> tuple[np.ndarray, list[str]]:
    """A UTF-8 text file as one stream of token ids (lines joined), out-of-vocabulary → ``<unk>``."""
    tokens = tokenize(read_text(path), lowercase)
    if not tokens:
        raise CorpusFileError("holds no token (it is empty or whitespace only)")
    vocab = build_vocab(tokens, vocab_size)
    index = {w: i for i, w in enumerate(vocab)}
    return np.array([index.get(t, 0) for t in tokens], dtype=np.int64), vocab


def ids_stream(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """A ``.npy`` file of one 1-D array of non-negative integer token ids, remapped to the dense
    range 0 … K − 1 in increasing order of id (K the distinct ids; the vocabulary names each by its
    id in the file): ids 0–39 and 10⁹ are 41 words, not 10⁹ + 1. The header is read first, so a
    file of another kind is named before any value is loaded."""
    from linid.core.npz import read_npy_header

    with Path(path).open("rb") as f:
        head = f.read(6)
        f.seek(0)
        if head.startswith(b"PK"):
            raise CorpusFileError("is an .npz archive under a .npy name; save the ids with np.save")
        try:
            shape, dtype, _ = read_npy_header(f)
        except ValueError as e:
            raise CorpusFileError(f"is not a .npy array ({e}); save the ids with np.save") from None
    if len(shape) != 1:
        raise CorpusFileError(f"needs one 1-D array of token ids (one stream), got shape {shape}")
    if dtype.kind not in "iu":
        raise CorpusFileError(f"token ids must be integers, got dtype {dtype}")
    ids = np.load(path, mmap_mode="r", allow_pickle=False)
    if ids.size == 0:
        raise CorpusFileError("holds no token (an empty array)")
    if ids.min() < 0:
        raise CorpusFileError(f"token ids must be ≥ 0, found {int(ids.min())}")
    uniq, dense = np.unique(np.asarray(ids), return_inverse=True)
    return dense.astype(np.int64).reshape(-1), [str(int(i)) for i in uniq]


def user_stream(p: dict) -> tuple[np.ndarray, list[str]]:
    """The token stream and vocabulary of a user's corpus section (``source`` text or ids);
    CorpusFileError naming the problem (the door, linid.text.check, reports it with the path)."""
    if p["source"] == "text":
        return text_stream(p["path"], p["vocab_size"], p.get("lowercase", True))
    if p["source"] == "ids":
        return ids_stream(p["path"])
    raise ValueError(f"unknown user corpus source {p['source']!r}")


def text_windows(path: str | Path, vocab_size: int, half: int, lowercase: bool = True) -> tuple[np.ndarray, list[str]]:
    """A UTF-8 text file as windows (:func:`text_stream`)."""
    ids, vocab = text_stream(path, vocab_size, lowercase)
    return stream_windows(ids, half), vocab


def ids_windows(path: str | Path, half: int) -> tuple[np.ndarray, list[str]]:
    """A ``.npy`` file of token ids as windows (:func:`ids_stream`: ids remapped to 0 … K − 1)."""
    ids, vocab = ids_stream(path)
    return stream_windows(ids, half), vocab


def compared_words(windows: np.ndarray, vocab_size: int, min_count: int, exclude: tuple[int, ...] = ()) -> np.ndarray:
    """Word ids seen at least ``min_count`` times as a target and as a context token (sorted)."""
    half = windows.shape[1] // 2
    tgt = np.bincount(windows[:, half], minlength=vocab_size)
    ctx = np.bincount(np.delete(windows, half, axis=1).ravel(), minlength=vocab_size)
    ok = (tgt >= min_count) & (ctx >= min_count)
    ok[list(exclude)] = False
    return np.flatnonzero(ok)


# ----------------------------------------------------------------------------- files


def save_corpus(path: str | Path, windows: np.ndarray, held: np.ndarray, vocab: list[str],
                truth: Truth | None) -> None:
    from linid.core.io import atomic_savez

    arrays = {"windows": windows, "eval_windows": held, "vocab": np.array(vocab, dtype=str)}
    if truth is not None:
        arrays.update({f"truth_{k}": v for k, v in asdict(truth).items() if k != "rank"})
        arrays["truth_rank"] = np.array(truth.rank)
    atomic_savez(path, **arrays)


def load_corpus(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str], Truth | None]:
    """(train windows, held-out windows, vocabulary, truth or None), as :func:`save_corpus` wrote."""
    with np.load(path, allow_pickle=False) as z:
        windows, held = z["windows"], z["eval_windows"]
        vocab = [str(v) for v in z["vocab"]]
        truth = None
        if "truth_q" in z:
            truth = Truth(q=z["truth_q"], r=z["truth_r"], c=z["truth_c"], b=z["truth_b"],
                          unigram=z["truth_unigram"], rank=int(z["truth_rank"]))
    return windows, held, vocab, truth


def split_windows(n: int, eval_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, eval) window indices: eval = the first round(n · eval_fraction) of a seeded permutation."""
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * eval_fraction))
    return np.sort(perm[k:]), np.sort(perm[:k])


def build_corpus(p: dict) -> tuple[np.ndarray, np.ndarray, list[str], Truth | None]:
    """(train windows, held-out windows, vocabulary, truth or None) of one cell's corpus section:
    ``source`` generated / text / ids, held-out = ``eval_fraction`` of the windows (``seed``)."""
    half = int(p["half"])
    truth = None
    if p["source"] == "generated":
        truth = make_truth(TruthConfig(vocab_size=p["vocab_size"], true_dim=p["true_dim"], rank=p["rank"],
                                       half=half, zipf=p["zipf"], signal=p["signal"], seed=p["seed"]))
        windows = sample_windows(truth, int(p["n_windows"]), seed=p["seed"] + 1)
        vocab = [f"w{i}" for i in range(p["vocab_size"])]
    else:
        ids, vocab = user_stream(p)
        windows = stream_windows(ids, half)
    train, held = split_windows(len(windows), p["eval_fraction"], p["seed"])
    if len(train) < 1 or len(held) < 1:
        raise ValueError(f"{len(windows)} windows: too few to hold out eval_fraction = {p['eval_fraction']}")
    return windows[train], windows[held], vocab, truth
