"""Rule image_probe: linear probes of every factor from one model's features (official DisLib probe).

The model is the pixels, a trained encoder, or an untrained control (``<model>_init``: the same
encoder at its seed's initialisation, linid.images.models.probed); all three go through one probe.
"""

import logging
import time

import numpy as np
import torch

from linid.core.io import atomic_json, read_json
from linid.images.data import official_targets, split_indices
from linid.images.models import feature_dim, probed
from linid.images.names import architecture, encoder
from linid.images.prepared import load_prepared, role
from linid.images.probes import probe_encoder
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.runtime import pick_device

log = logging.getLogger("linid.image_probe")


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
    net = probed(w.model, channels, seed)
    upstream, extra = [meta["job_uid"]], {}
    if "model" in smk.input.keys():
        state = torch.load(smk.input.model, map_location="cpu", weights_only=True)
        net.load_state_dict(state["net"])
        train = read_json(smk.input.summary)
        upstream.append(train["job_uid"])
        extra = {k: train[k] for k in ("best_val_accuracy", "best_epoch", "epochs", "max_epochs")}
        extra["val_accuracy"] = extra.pop("best_val_accuracy")
        extra["train_run_id"] = train.get("run_id", "")
    elif encoder(w.model) == "untrained":
        extra = {"epochs": 0}
    params = {"probe": p, "model_seed": seed, "encoder": encoder(w.model)}
    with job_run(smk.rule, dict(w), params, upstream=upstream) as run:
        targets = official_targets(ds.factors).astype(np.float64)
        images = torch.from_numpy(ds.images).to(device)
        t0 = time.perf_counter()
        solvers = tuple(p["solvers"])
        dim = feature_dim(w.model, channels)
        scores = probe_encoder(net, images, targets, train_idx, eval_idx, dim, solvers=solvers,
                               batch_size=p["batch_size"])
        factors = []
        for j, name in enumerate(ds.factor_names):
            row = {"factor": name, "role": role(ds, name), "pearson_r": float(scores[solvers[0]][j])}
            for s in solvers[1:]:
                row[f"pearson_r_{s}"] = float(scores[s][j])
            factors.append(row)
            log.info("%s/%s/seed%s %-12s %-11s r = %s", w.dataset, w.model, w.seed, name, row["role"],
                     ", ".join(f"{scores[s][j]:.4f} ({s})" for s in solvers))
            run.log_metrics({f"pearson_r.{name}": row["pearson_r"]})
        seconds = time.perf_counter() - t0
        log.info("%s/%s/seed%s: probe %.1f s", w.dataset, w.model, w.seed, seconds)
        atomic_json(smk.output.probe, {
            "dataset": w.dataset, "model": w.model, "architecture": architecture(w.model),
            "encoder": encoder(w.model), "seed": int(w.seed), "model_seed": seed, "split": p["split"],
            "solver": solvers[0], "n_train": len(train_idx), "n_eval": len(eval_idx), "feature_dim": dim,
            "factors": factors, "seconds": seconds, "job_uid": run.uid, **extra,
        })


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
