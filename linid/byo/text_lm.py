"""A worked example of [K] Figure 4's protocol that needs no download: small causal transformer
language models trained on a generated corpus (linid.text.corpus), their hidden states exported in
the bring-your-own format. A **substitute for GPT-2, not a reproduction**: four tiny models (three
widths, and a second seed at the middle width) instead of GPT-2 small … xl, 5-token sequences from
a known log-bilinear language model instead of Penn Treebank sentences.

Every sequence is one window of the generated corpus (5 tokens); a model predicts each token from
the ones before it. Its hidden states (the embedding output ``h0`` and every block's output ``h1`` …
``hL``, like GPT-2's ``hidden_states``) at every position of the held-out sequences are the rows:
every token is a data point, the same tokens for every model.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from linid.byo.config import TEXT_LM as DEFAULTS
from linid.core.training import Loop, run
from linid.text.corpus import TruthConfig, make_truth, sample_windows


class TinyLM(nn.Module):
    """Token + position embeddings, ``layers`` pre-norm causal transformer blocks (4 heads, MLP 4×),
    a final LayerNorm and an untied output layer."""

    def __init__(self, vocab_size: int, width: int, layers: int, length: int):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, width)
        self.pos = nn.Embedding(length, width)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=4 * width, dropout=0.0,
                                       batch_first=True, norm_first=True)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, vocab_size)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(length), persistent=False)

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.tok(x) + self.pos(torch.arange(x.shape[1], device=x.device))
        states = [h]
        for block in self.blocks:
            h = block(h, src_mask=self.mask[: x.shape[1], : x.shape[1]], is_causal=True)
            states.append(h)
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(self.hidden_states(x)[-1]))


def train_lm(model: TinyLM, seqs: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int,
             label: str = "tiny LM") -> float:
    """Next-token cross-entropy on minibatches drawn with a ``seed`` generator; the last loss.

    The loop is :func:`linid.core.training.run`: the losses are checked every ``steps // 10``
    steps (a NaN or infinite one raises ``NonFiniteLoss`` naming ``label`` and the step)."""
    gen = torch.Generator().manual_seed(seed + 11)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    last_loss = []

    def step(i: int) -> torch.Tensor:
        b = seqs[torch.randint(len(seqs), (batch_size,), generator=gen)]
        logits = model(b[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    def keep_last(done: int, losses: torch.Tensor, last: bool) -> None:
        if last:
            last_loss.append(float(losses[-1, 0]))

    loop = Loop(steps, name=label, log_every=max(1, steps // 10), labels=(label,), context=f"lr={lr}")
    run(loop, step, on_log=keep_last)
    return last_loss[0]


def export_text_lm_example(out_dir: str | Path, settings: dict | None = None) -> dict:
    """Train every model of ``settings["models"]`` (name → (width, seed)) and write
    ``<out_dir>/<name>.npz`` (layers h0 … hL, rows = every token of the held-out sequences).
    Returns per model the final training loss, the held-out next-token loss and seconds."""
    s = {**DEFAULTS, **(settings or {})}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth = make_truth(TruthConfig(vocab_size=s["vocab_size"], seed=s["corpus_seed"]))
    seqs = torch.as_tensor(sample_windows(truth, s["n_train"] + s["n_rows"], seed=s["corpus_seed"] + 1))
    train, held = seqs[: s["n_train"]], seqs[s["n_train"] :]
    info = {}
    for name, (width, seed) in s["models"].items():
        torch.manual_seed(seed)
        model = TinyLM(s["vocab_size"], width, s["layers"], seqs.shape[1])
        t0 = time.perf_counter()
        loss = train_lm(model, train, s["steps"], s["batch_size"], s["lr"], seed, label=f"tiny LM {name}")
        model.eval()
        with torch.no_grad():
            logits = model(held[:, :-1])
            held_loss = float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), held[:, 1:].reshape(-1)))
            states = model.hidden_states(held)
        layers = [f"h{i}" for i in range(len(states))]
        arrays = {n: h.reshape(-1, h.shape[-1]).double().numpy() for n, h in zip(layers, states, strict=True)}
        np.savez(out / f"{name}.npz", layers=np.array(layers), **arrays)
        info[name] = {"width": width, "seed": seed, "train_loss": loss, "heldout_loss": held_loss,
                      "seconds": time.perf_counter() - t0}
    return info
