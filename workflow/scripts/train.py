"""Rule train: online cross-entropy training of one (cell, method, seed); streams to MLflow."""

import logging
import os
from pathlib import Path

import torch

from linid.core.io import read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.pipeline.trained import gpu_tag, train_summary, write_trained
from linid.runtime import Interrupted, exit_with, pick_device
from linid.sim.process import load_dataset
from linid.sim.training import TrainConfig, train

log = logging.getLogger("linid.train")


def main(smk) -> int:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    cfg = TrainConfig(**smk.params.train)
    process, arrays = load_dataset(smk.input.data)
    meta = read_json(smk.input.meta)
    device = pick_device(require_gpu=smk.resources.get("gpu", 0) > 0, allow_cpu=smk.params.allow_cpu)
    w = smk.wildcards
    label = f"train {w.data}/{w.method}/{w.head}/seed{w.seed}"
    log.info("%s on %s (CUDA_VISIBLE_DEVICES=%s)", label, device, os.environ.get("CUDA_VISIBLE_DEVICES"))
    params = {"train": smk.params.train, "dgp": meta["config"], "device": str(device)}
    with job_run(smk.rule, dict(smk.wildcards), params, upstream=[meta["job_uid"]], live=True) as run:
        if name := gpu_tag(run, device):
            log.info("GPU: %s", name)
        monitor = (torch.from_numpy(arrays["monitor_x"]), torch.from_numpy(arrays["monitor_z"]))
        try:
            result = train(
                process,
                cfg,
                monitor=monitor,
                device=device,
                checkpoint=Path(smk.params.checkpoint),
                on_log=lambda step, m: run.log_metrics({k: v for k, v in m.items() if k != "step"}, step),
                label=label,
            )
        except Interrupted as exc:
            log.error("%s", exc)
            run.set_tag("linid.interrupted", str(exc))
            raise
        summary = train_summary(cfg, process, result, run, meta["job_uid"])
        paths = {"model": smk.output.model, "curve": smk.output.curve, "summary": smk.output.summary}
        write_trained(paths, result, smk.params.train, summary, run)
    Path(smk.params.checkpoint).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    exit_with(main, snakemake)  # noqa: F821 - injected by Snakemake
