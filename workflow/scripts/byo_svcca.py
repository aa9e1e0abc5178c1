"""Rule byo_svcca: [K] Figure 4's SVCCA coefficients of two models, layers matched from the end."""

import logging

from threadpoolctl import threadpool_limits

from linid.byo.files import load_model
from linid.byo.svcca import protocol_table
from linid.core.io import atomic_write
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run

log = logging.getLogger("linid.byo_svcca")


def main(smk) -> None:
    setup_logging(smk.log[0])
    threadpool_limits(smk.threads)
    p = smk.params.protocol
    w = smk.wildcards
    with job_run(smk.rule, dict(w), {"protocol": p}) as run:
        table = protocol_table(load_model(smk.input.a), load_model(smk.input.b), ks=list(p["ks"]),
                               match=p["match"], n_last=p["n_last"], heldout=p["heldout"], seed=smk.params.seed)
        table.insert(0, "model_b", w.bmodel_b)
        table.insert(0, "model_a", w.bmodel_a)
        means = table.groupby(["offset", "k"])["rho"].mean()
        for (off, k), v in means.items():
            log.info("%s vs %s, layer %d, k = %d: mean SVCCA %.3f", w.bmodel_a, w.bmodel_b, off, k, v)
            run.log_metrics({f"svcca.k{k}.layer{off}": v})
        atomic_write(smk.output.table, lambda path: table.to_csv(path, index=False), ".csv")


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
