"""Rule train: online cross-entropy training of one (cell, method, seed); streams to MLflow."""

import logging
import os
import sys
from pathlib import Path

import pandas as pd
import torch

from linid.pipeline.context import setup_logging
from linid.pipeline.io import atomic_json, atomic_path, read_json
from linid.pipeline.tracking import job_run
from linid.runtime import Interrupted, pick_device
from linid.sim.models import save_model
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
        if device.type == "cuda":
            name = torch.cuda.get_device_name()
            log.info("GPU: %s", name)
            run.set_tag("linid.gpu_name", name)
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
        if result.resumed_from:
            run.set_tag("linid.resumed_from_step", str(result.resumed_from))
        last = result.curve[-1]
        monitor_r2 = [p["monitor_r2"] for p in result.curve if "monitor_r2" in p]
        summary = {
            "steps": cfg.steps,
            "batch_size": cfg.batch_size,
            "normalize_w": cfg.normalize_w,
            "n_instances": process.cfg.n_instances,
            "final_loss": last["loss"],
            "final_monitor_r2": monitor_r2[-1] if monitor_r2 else float("nan"),
            "seconds": result.seconds,
            "resumed_from": result.resumed_from,
            "device": result.device,
            "temperature": float(result.head.temperature.detach()),
            "job_uid": run.uid,
            "run_id": run.run_id,
            "dataset_uid": meta["job_uid"],
        }
        run.log_metrics({"train_seconds": result.seconds, "steps_per_second": (cfg.steps - result.resumed_from) / max(result.seconds, 1e-9)}, cfg.steps)
        save_model(smk.output.model, result.encoder, result.head, {"train": smk.params.train})
        with atomic_path(smk.output.curve, ".csv") as tmp:
            pd.DataFrame(result.curve).to_csv(tmp, index=False)
        atomic_json(smk.output.summary, summary)
        run.log_artifact(smk.output.curve)
    Path(smk.params.checkpoint).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(snakemake))  # noqa: F821 - injected by Snakemake
    except Interrupted:
        sys.exit(143)
