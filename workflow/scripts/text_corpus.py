"""Rule text_corpus: one cell's windows (generated from a known log-bilinear LM, or the user's file)."""

import logging

import numpy as np

from linid.core.io import atomic_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.text.corpus import build_corpus, save_corpus
from linid.text.training import heldout_nll

log = logging.getLogger("linid.text_corpus")


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = dict(smk.params.corpus)
    with job_run(smk.rule, dict(smk.wildcards), {"corpus": p}) as run:
        windows, held, vocab, truth = build_corpus(p)
        half = windows.shape[1] // 2
        counts = np.bincount(windows[:, half], minlength=len(vocab))
        freq = counts / counts.sum()
        info = {
            "config": p,
            "n_train": int(len(windows)),
            "n_eval": int(len(held)),
            "vocab_size": len(vocab),
            # nats per target word on the held-out windows: the unigram baseline and, when known, the truth
            "unigram_nll": float(-np.log(np.maximum(freq[held[:, half]], 1e-12)).mean()),
            "truth_nll": heldout_nll(truth.scores, held) if truth is not None else None,
        }
        log.info("%d train / %d held-out windows, V = %d; held-out nats: unigram %.4f, truth %s",
                 info["n_train"], info["n_eval"], info["vocab_size"], info["unigram_nll"], info["truth_nll"])
        run.log_metrics({k: v for k, v in info.items() if isinstance(v, int | float)})
        save_corpus(smk.output.corpus, windows, held, vocab, truth)
        atomic_json(smk.output.meta, {**info, "job_uid": run.uid})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
