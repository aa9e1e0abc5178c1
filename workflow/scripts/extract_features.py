"""Rule extract_features: encoder outputs on the held-out set, the head's rows, and the same seed's
untrained encoder on the same set (the controls)."""

import numpy as np
import torch

from linid.core.io import atomic_savez, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.runtime import pick_device
from linid.sim.features import extract, untrained_features
from linid.sim.models import load_model
from linid.sim.process import load_dataset
from linid.sim.training import TrainConfig


def main(smk) -> None:
    setup_logging(smk.log[0])
    process, arrays = load_dataset(smk.input.data)
    train_summary = read_json(smk.input.summary)
    with job_run(smk.rule, dict(smk.wildcards), {"method": smk.params.method}, upstream=[train_summary["job_uid"]]) as run:
        encoder, head, meta = load_model(smk.input.model)
        cfg = TrainConfig(**meta["train"])
        device = pick_device()
        encoder.to(device)
        with torch.no_grad():
            out = extract(encoder, head, process, cfg, arrays)
        out.update(untrained_features(cfg, meta, process, arrays["eval_x"], device))
        run.log_metrics({"n_eval": len(out["features"]), "feature_std": float(out["features"].std())})
        atomic_savez(
            smk.output.features,
            **out,
            job_uid=np.asarray(run.uid),
            train_uid=np.asarray(train_summary["job_uid"]),
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
