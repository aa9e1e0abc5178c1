"""Rule image_probe: linear probes of every factor from one model's features (official DisLib probe)."""

import logging
import time

import numpy as np
import torch

from linid.images.data import official_targets, split_indices
from linid.images.models import build, feature_dim
from linid.images.prepared import load_prepared, role
from linid.images.probes import probe, zscore_targets
from linid.images.training import to_unit
from linid.pipeline.context import setup_logging
from linid.pipeline.io import atomic_json, read_json
from linid.pipeline.tracking import job_run
from linid.runtime import pick_device

log = logging.getLogger("linid.image_probe")


def batches(net, images, index, targets, batch_size):
    """(features, targets) of ``images[index]`` in batches, eval mode, on the images' device."""
    with torch.no_grad():
        for start in range(0, len(index), batch_size):
            idx = index[start : start + batch_size]
            yield net(to_unit(images[idx])).float(), targets[idx]


def main(smk) -> None:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    p = smk.params.probe
    w = smk.wildcards
    meta = read_json(smk.input.meta)
    ds, _ = load_prepared(smk.input.data)
    device = pick_device(require_gpu=smk.resources.get("gpu", 0) > 0, allow_cpu=smk.params.allow_cpu)
    seed = smk.params.model_seed
    train_idx, val_idx, test_idx = split_indices(len(ds.images), seed)
    eval_idx = val_idx if p["split"] == "val" else test_idx
    channels = int(ds.images.shape[1])
    net = build(w.model, channels, seed)
    upstream, extra = [meta["job_uid"]], {}
    if "model" in smk.input.keys():
        state = torch.load(smk.input.model, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"])
        train = read_json(smk.input.summary)
        upstream.append(train["job_uid"])
        extra = {k: train[k] for k in ("best_val_accuracy", "best_epoch", "epochs", "max_epochs")}
        extra["val_accuracy"] = extra.pop("best_val_accuracy")
        extra["train_run_id"] = train.get("run_id", "")
    net = net.to(device).eval()
    with job_run(smk.rule, dict(w), {"probe": p, "model_seed": seed}, upstream=upstream) as run:
        targets = official_targets(ds.factors).astype(np.float64)
        z, _, _ = zscore_targets(targets, train_idx)
        images = torch.from_numpy(ds.images).to(device)
        t0 = time.perf_counter()
        solvers = tuple(p["solvers"])
        scores = probe(
            batches(net, images, torch.from_numpy(train_idx).to(device), torch.from_numpy(z), p["batch_size"]),
            batches(net, images, torch.from_numpy(eval_idx).to(device), torch.from_numpy(targets), p["batch_size"]),
            dim=feature_dim(w.model, channels), n_targets=targets.shape[1], solvers=solvers, device=device,
        )
        factors = []
        for j, name in enumerate(ds.factor_names):
            row = {"factor": name, "role": role(ds, name), "pearson_r": float(scores[solvers[0]]["pearson_r"][j])}
            for s in solvers[1:]:
                row[f"pearson_r_{s}"] = float(scores[s]["pearson_r"][j])
            factors.append(row)
            log.info("%s/%s/seed%s %-12s %-11s r = %s", w.dataset, w.model, w.seed, name, row["role"],
                     ", ".join(f"{scores[s]['pearson_r'][j]:.4f} ({s})" for s in solvers))
            run.log_metrics({f"pearson_r.{name}": row["pearson_r"]})
        seconds = time.perf_counter() - t0
        atomic_json(smk.output.probe, {
            "dataset": w.dataset, "model": w.model, "seed": int(w.seed), "model_seed": seed, "split": p["split"],
            "solver": solvers[0], "n_train": len(train_idx), "n_eval": len(eval_idx),
            "feature_dim": feature_dim(w.model, channels), "factors": factors, "seconds": seconds,
            "job_uid": run.uid, **extra,
        })


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
