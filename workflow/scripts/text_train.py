"""Rule text_train: one replica of the log-bilinear model, trained by NCE from its seed."""

import logging

import torch

from linid.core.io import atomic_json, atomic_savez, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.runtime import exit_with, pick_device
from linid.text.corpus import load_corpus
from linid.text.model import LogBilinear, TextModelConfig, noise_distribution
from linid.text.training import TextTrainConfig, heldout_nll, implied_score_offset, train_seed

log = logging.getLogger("linid.text_train")


def _scores(vocab_size: int, mcfg: TextModelConfig, state: dict, offset):
    """The model's conditional as scores (the learned score + the implied offset, if any)."""
    model = LogBilinear(vocab_size, mcfg)
    model.load_state_dict(state)
    if offset is None:
        return model.all_scores
    return lambda ctx: model.all_scores(ctx) + offset


def main(smk) -> None:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    meta = read_json(smk.input.meta)
    cell = smk.params.cell
    windows, held, vocab, _ = load_corpus(smk.input.corpus)
    mcfg = TextModelConfig(dim=cell["model"]["dim"], half=windows.shape[1] // 2, init=cell["model"]["init"],
                           init_std=cell["model"]["init_std"])
    tcfg = TextTrainConfig(**cell["train"])
    device = pick_device(require_gpu=smk.resources.get("gpu", 0) > 0, allow_cpu=smk.params.allow_cpu)
    log.info("cell %s seed %d on %s: %d windows, V = %d", smk.wildcards.tcell, cell["seed"], device,
             len(windows), len(vocab))
    with job_run(smk.rule, dict(smk.wildcards), {"cell": cell, "device": str(device)},
                 upstream=[meta["job_uid"]]) as run:
        noise = noise_distribution(torch.as_tensor(windows[:, windows.shape[1] // 2]), len(vocab), tcfg.noise)
        init, state, summary = train_seed(windows, len(vocab), noise, mcfg, tcfg, cell["seed"], device)
        for step, loss in summary.pop("curve"):
            run.log_metrics({"loss": loss}, step=step)
        offset = implied_score_offset(noise, tcfg)
        summary["heldout_nll"] = heldout_nll(_scores(len(vocab), mcfg, state, offset), held)
        summary["heldout_nll_untrained"] = heldout_nll(_scores(len(vocab), mcfg, init, offset), held)
        log.info("loss %.4f; held-out nats %.4f (untrained %.4f, corpus truth %s), %.1f s", summary["final_loss"],
                 summary["heldout_nll"], summary["heldout_nll_untrained"], meta["truth_nll"], summary["seconds"])
        run.log_metrics({k: v for k, v in summary.items() if k != "seed"})
        arrays = {k: v.numpy() for k, v in state.items()}
        arrays.update({f"{k}_init": v.numpy() for k, v in init.items()})
        atomic_savez(smk.output.model, **arrays)
        atomic_json(smk.output.summary, {**summary, "cell": smk.wildcards.tcell, "job_uid": run.uid,
                                         "device": str(device)})


if __name__ == "__main__":
    exit_with(main, snakemake)  # noqa: F821 - injected by Snakemake
