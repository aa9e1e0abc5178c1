"""The text experiment's corpus and comparisons checked when the workflow is read (no torch).

A user's corpus file is read here with the functions the ``text_corpus`` job uses
(:func:`linid.text.corpus.user_stream`), so whatever that job would refuse is named first, by
file: not UTF-8, no token, a file that is not a 1-D integer ``.npy``, negative ids, fewer tokens
than a window, too few windows to hold some out. Then every cell's comparison is sized against
its model: the words compared (seen ``compare.min_count`` times as a target and as a context
token in the training windows, ``<unk>`` excluded) must exceed what CCA and the affine fits of two
M-dimensional embeddings need (:func:`linid.probes.sizes.comparison_rows`); otherwise every
canonical correlation is 1 whatever the models learned. For a user's corpus the count is exact;
for a generated one it is bounded above by the vocabulary and by training windows / min_count.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from linid.probes.sizes import comparison_rows
from linid.text.cells import TextCell
from linid.text.corpus import UNK, CorpusFileError, split_windows, user_stream

#: the schema's defaults of the keys read here (cells of an unvalidated config may lack them)
_DEFAULTS = {"half": 2, "eval_fraction": 0.05, "seed": 0, "vocab_size": 200, "lowercase": True,
             "n_windows": 100000, "rank": 2, "source": "generated"}


def _counts(ids: np.ndarray, starts: np.ndarray, half: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Target and context counts of every word over the windows starting at ``starts`` (what
    :func:`linid.text.corpus.compared_words` counts, without building the windows)."""
    tgt = np.bincount(ids[starts + half], minlength=vocab_size)
    ctx = sum(np.bincount(ids[starts + k], minlength=vocab_size) for k in range(2 * half + 1) if k != half)
    return tgt, ctx


def _split_problem(n_windows: int, eval_fraction: float) -> str | None:
    held = int(round(n_windows * eval_fraction))
    if held < 1 or n_windows - held < 1:
        return (f"{n_windows} windows: too few to hold out eval_fraction = {eval_fraction} (needs at "
                "least one held-out and one training window)")
    return None


def _too_few(cell: TextCell, n_words: str, need: int, dims: str) -> str:
    return (f"config key text: cell {cell.cell_id} compares {n_words} word(s) (seen ≥ min_count times as "
            f"a target and as a context), but comparing {dims} needs more than their summed dimensions "
            f"and an affine fit on half the words: at least {need}; else every canonical correlation "
            "is 1 whatever the models learned. Lower text.compare.min_count, give a larger corpus, or "
            "a smaller model.dim")


def _user_cell(cell: TextCell, ids: np.ndarray, vocab: list[str], min_count: int, where: str) -> list[str]:
    c = {**_DEFAULTS, **cell.corpus}
    half, dim = int(c["half"]), int(cell.model.get("dim", 2))
    if ids.size < 2 * half + 1:
        return [f"{where}: {ids.size} token(s), but a window of 2·half + 1 = {2 * half + 1} tokens needs "
                f"at least {2 * half + 1}"]
    n = ids.size - 2 * half
    if problem := _split_problem(n, c["eval_fraction"]):
        return [f"{where}: {problem}"]
    train, _ = split_windows(n, c["eval_fraction"], c["seed"])
    tgt, ctx = _counts(ids, train, half, len(vocab))
    ok = (tgt >= min_count) & (ctx >= min_count)
    if UNK in vocab:
        ok[vocab.index(UNK)] = False
    n_words, need = int(ok.sum()), comparison_rows(dim, dim)
    if n_words == 0:
        both = np.minimum(tgt, ctx)
        if UNK in vocab:
            both[vocab.index(UNK)] = 0
        return [f"config key text.compare.min_count = {min_count}: no word of cell {cell.cell_id} passes it "
                f"(the best is seen {int(both.max())} times as both target and context in the training "
                "windows); lower it or give a larger corpus"]
    if n_words < need:
        return [_too_few(cell, str(n_words), need, f"two {dim}-D embeddings")]
    return []


def _generated_cell(cell: TextCell, min_count: int) -> list[str]:
    c = {**_DEFAULTS, **cell.corpus}
    n, dim, rank = int(c["n_windows"]), int(cell.model.get("dim", 2)), int(c["rank"])
    if problem := _split_problem(n, c["eval_fraction"]):
        return [f"config key text.corpus.n_windows = {n}: {problem}"]
    n_train = n - int(round(n * c["eval_fraction"]))
    bound = min(int(c["vocab_size"]), n_train // min_count)
    need = max(comparison_rows(dim, dim), comparison_rows(dim, rank))
    if bound == 0:
        return [f"config key text.compare.min_count = {min_count}: no word of cell {cell.cell_id} can pass it "
                f"({n_train} training windows hold {n_train} targets); lower it or raise n_windows"]
    if bound < need:
        return [_too_few(cell, f"at most {bound}", need,
                         f"two {dim}-D embeddings and a {dim}-D one with the rank-{rank} truth")]
    return []


def corpus_problems(cells: list[TextCell], compare: dict) -> list[str]:
    """Every problem of the cells' corpus (the user's file read once per vocabulary size) and of
    their comparisons; one line each, naming the config key or the file."""
    min_count = int(compare.get("min_count", 20))
    out: list[str] = []
    streams: dict[tuple, tuple] = {}
    for cell in cells:
        c = {**_DEFAULTS, **cell.corpus}
        if c["source"] == "generated":
            out += _generated_cell(cell, min_count)
            continue
        where = f"config key text.corpus.path = {c['path']!r}"
        if not Path(c["path"]).is_file():
            continue  # named by linid.pipeline.semantics.text_problems
        key = (c["source"], c["path"], c["vocab_size"] if c["source"] == "text" else None, c["lowercase"])
        if key not in streams:
            try:
                streams[key] = user_stream(c)
            except CorpusFileError as e:
                streams[key] = (None, f"{where}: {e}")
            except OSError as e:
                streams[key] = (None, f"{where}: cannot be read ({e.strerror})")
        ids, vocab = streams[key]
        if ids is None:
            if vocab not in out:
                out.append(vocab)
            continue
        out += _user_cell(cell, ids, vocab, min_count, where)
    return out
