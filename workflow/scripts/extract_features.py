"""Rule extract_features: encoder outputs on the held-out set, and the head's rows."""

import numpy as np
import torch

from linid.data import load_dataset
from linid.features import extract
from linid.io import atomic_savez, read_json
from linid.jobs import job_run, setup_logging
from linid.models import n_outputs_for
from linid.training import load_model, pick_device


def main(smk) -> None:
    setup_logging(smk.log[0])
    process, arrays = load_dataset(smk.input.data)
    train_summary = read_json(smk.input.summary)
    dcfg = process.cfg
    n_out = n_outputs_for(smk.params.method, dcfg.n_classes, dcfg.n_instances)
    with job_run(smk.rule, dict(smk.wildcards), {"method": smk.params.method}, upstream=[train_summary["job_uid"]]) as run:
        encoder, head, _ = load_model(smk.input.model, dcfg.latent_dim, n_out)
        encoder.to(pick_device())
        with torch.no_grad():
            out = extract(encoder, head, process, smk.params.method, arrays)
        run.log_metrics({"n_eval": len(out["features"]), "feature_std": float(out["features"].std())})
        atomic_savez(
            smk.output.features,
            **out,
            job_uid=np.asarray(run.uid),
            train_uid=np.asarray(train_summary["job_uid"]),
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
