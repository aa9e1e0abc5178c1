"""Rule image_activation_factors: the factors of the exported images in the bring-your-own format."""

import numpy as np

from linid.core.io import atomic_savez, read_json
from linid.images.data import official_targets
from linid.images.prepared import load_prepared, subsample_rows
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = smk.params.export
    ds, _ = load_prepared(smk.input.data)
    run = job_run(smk.rule, dict(smk.wildcards), {"export": p}, upstream=[read_json(smk.input.meta)["job_uid"]])
    with run:
        write(smk, ds, p)
        run.log_metrics({"n_rows": min(p["rows"], len(ds.images))})


def write(smk, ds, p) -> None:
    rows = subsample_rows(len(ds.images), min(p["rows"], len(ds.images)), p["seed"])
    levels = official_targets(ds.factors)[rows]
    cont = [ds.factor_names.index(f) for f in ds.continuous]
    cat = levels[:, ds.factor_names.index(ds.categorical)]
    classes = np.unique(cat)
    atomic_savez(
        smk.output.factors,
        continuous=levels[:, cont].astype(np.float64),
        continuous_names=np.array(ds.continuous, dtype=str),
        binary=np.stack([(cat == c).astype(np.int64) for c in classes], 1),
        binary_names=np.array([f"{ds.categorical}_{c}" for c in classes], dtype=str),
        labels=cat.astype(np.int64),
    )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
