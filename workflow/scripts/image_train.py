"""Rule image_train: one encoder + readout on the categorical factor (official DisLib recipe); streams to MLflow."""

import csv
import logging
import os
from pathlib import Path

import torch

from linid.core.io import atomic_json, atomic_path, read_json
from linid.images.data import official_targets, split_indices
from linid.images.prepared import load_prepared
from linid.images.training import ImageTrainConfig, train_image_model
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.pipeline.trained import gpu_tag
from linid.runtime import Interrupted, exit_with, pick_device

log = logging.getLogger("linid.image_train")


def main(smk) -> int:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    cfg = ImageTrainConfig(**smk.params.train)
    meta = read_json(smk.input.meta)
    ds, _ = load_prepared(smk.input.data)
    targets = official_targets(ds.factors)
    cat = ds.factor_names.index(ds.categorical)
    train_idx, val_idx, _ = split_indices(len(ds.images), cfg.seed)
    device = pick_device(require_gpu=smk.resources.get("gpu", 0) > 0, allow_cpu=smk.params.allow_cpu)
    w = smk.wildcards
    label = f"image_train {w.dataset}/{w.model}/seed{w.seed}"
    log.info("%s on %s (CUDA_VISIBLE_DEVICES=%s): %d train / %d val images", label, device,
             os.environ.get("CUDA_VISIBLE_DEVICES"), len(train_idx), len(val_idx))
    params = {"train": smk.params.train, "dataset": meta["source"], "n_images": meta["n_images"], "device": str(device)}
    with job_run(smk.rule, dict(w), params, upstream=[meta["job_uid"]], live=True) as run:
        if name := gpu_tag(run, device):
            log.info("GPU: %s", name)
        images = torch.from_numpy(ds.images).to(device)
        labels = torch.from_numpy(targets[:, cat]).long().to(device)
        n_classes = int(targets[:, cat].max()) + 1
        try:
            result = train_image_model(
                images, labels, torch.from_numpy(train_idx).to(device), torch.from_numpy(val_idx).to(device),
                n_classes, cfg, checkpoint=Path(smk.params.checkpoint),
                data_fingerprint={"meta": meta, "n_classes": n_classes},
                on_epoch=lambda row: run.log_metrics({k: v for k, v in row.items() if k != "epoch"}, row["epoch"]),
                label=label,
            )
        except Interrupted as exc:
            log.error("%s", exc)
            run.set_tag("linid.interrupted", str(exc))
            raise
        with atomic_path(smk.output.model, ".pt") as tmp:
            torch.save({"net": result.net.state_dict(), "readout": result.readout.state_dict(), "model": cfg.model,
                        "channels": int(ds.images.shape[1]), "n_classes": n_classes}, tmp)
        with atomic_path(smk.output.curve, ".csv") as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["epoch", "loss", "val_accuracy", "seconds"])
            writer.writeheader()
            writer.writerows(result.curve)
        summary = {"job_uid": run.uid, "run_id": run.run_id, "data_uid": meta["job_uid"], "model": cfg.model,
                   "seed": cfg.seed, "n_classes": n_classes, "best_epoch": result.best_epoch,
                   "best_val_accuracy": result.best_val_accuracy, "epochs": result.epochs,
                   "max_epochs": cfg.max_epochs, "stopped_early": result.stopped_early, "seconds": result.seconds,
                   "device": str(device), "n_train": len(train_idx), "n_val": len(val_idx)}
        run.log_metrics({"best_val_accuracy": result.best_val_accuracy, "best_epoch": result.best_epoch,
                         "train_seconds": result.seconds})
        atomic_json(smk.output.summary, summary)
    Path(smk.params.checkpoint).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    exit_with(main, snakemake)  # noqa: F821 - injected by Snakemake
