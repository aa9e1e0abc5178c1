"""Rule text_compare: every pair of one cell's replicas, and each replica against the truth."""

import logging

import numpy as np

from linid.core.io import atomic_savez, load_npz, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.text.compare import cell_pairs
from linid.text.corpus import UNK, compared_words, load_corpus

log = logging.getLogger("linid.text_compare")


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = smk.params.compare
    meta = read_json(smk.input.meta)
    windows, _, vocab, truth = load_corpus(smk.input.corpus)
    models = {int(s): load_npz(path) for s, path in zip(smk.params.seeds, smk.input.models, strict=True)}
    with job_run(smk.rule, dict(smk.wildcards), {"compare": p}, upstream=[meta["job_uid"]]) as run:
        exclude = (vocab.index(UNK),) if UNK in vocab else ()
        words = compared_words(windows, len(vocab), p["min_count"], exclude)
        log.info("%d of %d words seen ≥ %d times as target and context", len(words), len(vocab), p["min_count"])
        true = None if truth is None else {"q": truth.q[:, : truth.rank], "r": truth.r[:, : truth.rank]}
        pairs = cell_pairs(models, words, true, p["seed"])
        pairs.insert(0, "cell", smk.wildcards.tcell)
        pairs.to_csv(smk.output.pairs, index=False)
        means = pairs.groupby(["space", "state", "kind"])[["mcca", "r2w_ab"]].mean()
        for (space, state, kind), r in means.iterrows():
            run.log_metrics({f"{k}.{space}.{state}.{kind}": v for k, v in r.items()})
        # the Figure 1 panel: the compared words, most frequent first, of every replica (and the truth)
        half = windows.shape[1] // 2
        order = words[np.argsort(-np.bincount(windows[:, half], minlength=len(vocab))[words], kind="stable")]
        arrays = {f"q_s{s}": m["q"][order] for s, m in models.items()}
        if true is not None:
            arrays["q_truth"] = true["q"][order]
        atomic_savez(smk.output.embeddings, **arrays, words=np.array(vocab)[order].astype(str),
                     seeds=np.array(sorted(models)))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
