"""Rule byo_text_lm: [K] Fig. 4's worked example: tiny causal transformer LMs on a generated corpus,
their hidden states in the bring-your-own format (a substitute for GPT-2, not a reproduction)."""

import logging
from pathlib import Path

import torch

from linid.byo.text_lm import export_text_lm_example
from linid.core.io import atomic_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run

log = logging.getLogger("linid.byo_text_lm")


def main(smk) -> None:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    with job_run(smk.rule, {}, {}) as run:
        info = export_text_lm_example(Path(smk.output.info).parent)
        for name, r in info.items():
            log.info("%s: width %d seed %d, train loss %.3f, held-out loss %.3f, %.1f s", name, r["width"],
                     r["seed"], r["train_loss"], r["heldout_loss"], r["seconds"])
            run.log_metrics({f"heldout_loss.{name}": r["heldout_loss"]})
        atomic_json(smk.output.info, info)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
