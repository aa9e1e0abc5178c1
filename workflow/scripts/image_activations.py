"""Rule image_activations: one image model's layer activations in the bring-your-own format (docs/byo.md)."""

import logging

import numpy as np
import torch

from linid.core.io import atomic_savez, read_json
from linid.images.models import build, layer_outputs
from linid.images.prepared import load_prepared, subsample_rows
from linid.images.training import encode
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.runtime import pick_device

log = logging.getLogger("linid.image_activations")


def main(smk) -> None:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    w = smk.wildcards
    p = smk.params.export
    meta = read_json(smk.input.meta)
    ds, _ = load_prepared(smk.input.data)
    rows = subsample_rows(len(ds.images), min(p["rows"], len(ds.images)), p["seed"])
    device = pick_device(require_gpu=smk.resources.get("gpu", 0) > 0, allow_cpu=smk.params.allow_cpu)
    net = build(w.model, int(ds.images.shape[1]), smk.params.model_seed)
    upstream = [meta["job_uid"]]
    if "model" in smk.input.keys():
        net.load_state_dict(torch.load(smk.input.model, map_location="cpu", weights_only=True)["net"])
        upstream.append(read_json(smk.input.summary)["job_uid"])
    net = net.to(device).eval()
    with job_run(smk.rule, dict(w), {"export": p}, upstream=upstream) as run:
        images = torch.from_numpy(ds.images).to(device)
        acts = encode(net, images, torch.from_numpy(rows).to(device), p["batch_size"], layers=layer_outputs)
        arrays = {name: a.numpy() for name, a in acts.items()}
        atomic_savez(smk.output.activations, layers=np.array(list(arrays), dtype=str), **arrays)
        log.info("%s/%s/seed%s: %d images, layers %s", w.dataset, w.model, w.seed, len(rows),
                 ", ".join(f"{k} {v.shape[1]}" for k, v in arrays.items()))
        run.log_metrics({"n_rows": len(rows), "n_layers": len(arrays)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
