"""Rule family_train: one model of the family p(y|x) ∝ exp(f(x)ᵀg(y)) per seed of a (K, M) cell."""

import logging
import os

import torch

from linid.core.io import atomic_json, read_json
from linid.family.data import AngleData, load_angle_dataset
from linid.family.models import FamilyModelConfig, architecture, save_models
from linid.family.training import FamilyTrainConfig, train_cell
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.runtime import exit_with, pick_device

log = logging.getLogger("linid.family_train")


def main(smk) -> None:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    meta = read_json(smk.input.meta)
    cell = smk.params.cell
    data_cfg = AngleData(**meta["config"])
    mcfg = FamilyModelConfig(**{**cell["model"], "hidden": tuple(cell["model"]["hidden"])})
    tcfg = FamilyTrainConfig(**cell["train"])
    device = pick_device(require_gpu=smk.resources.get("gpu", 0) > 0, allow_cpu=smk.params.allow_cpu)
    log.info("K=%d M=%d seeds=%s on %s (CUDA_VISIBLE_DEVICES=%s)", data_cfg.n_classes, cell["rep_dim"],
             cell["seeds"], device, os.environ.get("CUDA_VISIBLE_DEVICES"))
    with job_run(smk.rule, dict(smk.wildcards), {"cell": cell, "data": meta["config"], "device": str(device)},
                 upstream=[meta["job_uid"]]) as run:
        data = load_angle_dataset(smk.input.data)
        states, summary = train_cell(data, data_cfg, cell["rep_dim"], mcfg, tcfg, cell["seeds"], device)
        for s in summary:
            log.info("seed %d: loss %.4f, train acc %.4f, held-out acc %.4f, %.1f s", s["seed"],
                     s["final_loss"], s["train_accuracy"], s["eval_accuracy"], s["seconds"])
            run.log_metrics({f"{k}_seed{s['seed']}": v for k, v in s.items() if k != "seed"})
        mean_acc = sum(s["eval_accuracy"] for s in summary) / len(summary)
        run.log_metrics({"eval_accuracy": mean_acc})
        arch = architecture(data_cfg.input_dim, data_cfg.n_classes, cell["rep_dim"], mcfg)
        save_models(smk.output.models, states, {**arch, "train": cell["train"]})
        atomic_json(smk.output.summary, {"models": summary, "job_uid": run.uid, "device": str(device)})


if __name__ == "__main__":
    exit_with(main, snakemake)  # noqa: F821 - injected by Snakemake
