"""What a training job writes for each model it trained (rule ``train``: a pack of one or more).

One model file (``sim.models.save_model``), its curve (CSV) and a summary (JSON) per model, all
written atomically, and the run's closing metrics. A model trained in a pack writes exactly what
it would write alone, plus the pack's id and size in its summary.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from linid.core.io import atomic_json, atomic_path
from linid.pipeline.tracking import JobRun
from linid.sim.models import save_model
from linid.sim.process import GenerativeProcess
from linid.sim.training import TrainConfig, TrainResult


def train_summary(
    cfg: TrainConfig, process: GenerativeProcess, result: TrainResult, run: JobRun, dataset_uid: str
) -> dict[str, Any]:
    """The ``train.json`` of one model: budget, final loss and monitor R², time, device, run ids."""
    last = result.curve[-1]
    monitor = [p["monitor_r2"] for p in result.curve if "monitor_r2" in p]
    return {
        "steps": cfg.steps,
        "batch_size": cfg.batch_size,
        "normalize_w": cfg.normalize_w,
        "n_instances": process.cfg.n_instances,
        "final_loss": last["loss"],
        "final_monitor_r2": monitor[-1] if monitor else float("nan"),
        "seconds": result.seconds,
        "resumed_from": result.resumed_from,
        "device": result.device,
        "temperature": float(result.head.temperature.detach()),
        "job_uid": run.uid,
        "run_id": run.run_id,
        "dataset_uid": dataset_uid,
    }


def write_trained(
    paths: dict[str, str], result: TrainResult, train_params: dict, summary: dict, run: JobRun
) -> None:
    """Model, curve and summary of one model to ``paths`` (keys model, curve, summary); closing
    metrics (``train_seconds``, ``steps_per_second``), the resume step (if any) and the curve to its run."""
    if result.resumed_from:
        run.set_tag("linid.resumed_from_step", str(result.resumed_from))
    steps = summary["steps"]
    per_second = (steps - result.resumed_from) / max(result.seconds, 1e-9)
    run.log_metrics({"train_seconds": result.seconds, "steps_per_second": per_second}, steps)
    save_model(paths["model"], result.encoder, result.head, {"train": train_params})
    with atomic_path(paths["curve"], ".csv") as tmp:
        pd.DataFrame(result.curve).to_csv(tmp, index=False)
    atomic_json(paths["summary"], summary)
    run.log_artifact(paths["curve"])


def gpu_tag(run: JobRun, device: torch.device) -> str | None:
    """Tag the run with the GPU's name when training on CUDA; the name (None on CPU)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name()
    run.set_tag("linid.gpu_name", name)
    return name
