"""Rule image_data: a dataset in its published layout → the prepared file every image job reads."""

import dataclasses
import logging

from linid.core.io import atomic_json, read_json
from linid.images.data import load
from linid.images.prepared import save_prepared, subsample_rows
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run

log = logging.getLogger("linid.image_data")


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = smk.params.dataset
    upstream = [read_json(smk.input.meta)["job_uid"]] if "meta" in smk.input.keys() else []
    with job_run(smk.rule, dict(smk.wildcards), {"dataset": p}, upstream=upstream) as run:
        ds = load(smk.input.source, p["layout"])
        rows = subsample_rows(len(ds.images), p["rows"], p["subsample_seed"])
        if len(rows) < len(ds.images):
            ds = dataclasses.replace(ds, images=ds.images[rows], factors=ds.factors[rows])
        ds = dataclasses.replace(ds, name=smk.wildcards.dataset)
        save_prepared(smk.output.data, ds, rows)
        shape = list(ds.images.shape)
        log.info("%s: %d images %s, factors %s (category: %s)", ds.name, len(rows), shape[1:],
                 ", ".join(ds.factor_names), ds.categorical)
        if ds.category_levels:
            log.info("%s: category %s values %s are classes 0..%d", ds.name, ds.categorical,
                     list(ds.category_levels), len(ds.category_levels) - 1)
        run.log_metrics({"n_images": len(rows)})
        atomic_json(smk.output.meta, {
            "job_uid": run.uid, "n_images": len(rows), "image_shape": shape[1:], "factor_names": list(ds.factor_names),
            "categorical": ds.categorical, "continuous": list(ds.continuous), "periodic": list(ds.periodic),
            "other": list(ds.other), "source": str(smk.input.source), "layout": p["layout"],
            # class index i is the i-th smallest value of the file's class factor (generic layout)
            "category_levels": list(ds.category_levels),
        })


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
