"""Rule byo_compare: layer × layer comparison (mCCA, SVCCA, linear-map R²) of two user-supplied models."""

import logging

from threadpoolctl import threadpool_limits

from linid.byo.compare import layer_matrix
from linid.byo.files import load_model
from linid.core.io import atomic_write
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run

log = logging.getLogger("linid.byo_compare")


def main(smk) -> None:
    setup_logging(smk.log[0])
    threadpool_limits(smk.threads)  # numpy's BLAS would take every core: 35x slower on a shared node
    p = smk.params.compare
    w = smk.wildcards
    with job_run(smk.rule, dict(w), {"compare": p}) as run:
        table = layer_matrix(load_model(smk.input.a), load_model(smk.input.b), svcca_k=p["svcca_k"],
                             max_rows=p["max_rows"], seed=p["seed"])
        table.insert(0, "model_b", w.bmodel_b)
        table.insert(0, "model_a", w.bmodel_a)
        for r in table.itertuples():
            log.info("%s.%s vs %s.%s: mCCA %.3f, SVCCA %.3f", w.bmodel_a, r.layer_a, w.bmodel_b, r.layer_b,
                     r.mcca, r.svcca)
            if r.layer_a == r.layer_b:
                run.log_metrics({f"mcca.{r.layer_a}": r.mcca, f"svcca.{r.layer_a}": r.svcca})
        atomic_write(smk.output.table, lambda path: table.to_csv(path, index=False), ".csv")


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
