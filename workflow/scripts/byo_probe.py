"""Rule byo_probe: every probe of every layer of one user-supplied model."""

import logging

import pandas as pd
from threadpoolctl import threadpool_limits

from linid.byo.files import load_factors, load_model
from linid.byo.probes import probe_layer
from linid.core.io import atomic_write
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run

log = logging.getLogger("linid.byo_probe")


def main(smk) -> None:
    setup_logging(smk.log[0])
    threadpool_limits(smk.threads)  # numpy's BLAS would take every core: 35x slower on a shared node
    p = smk.params.probe
    name = smk.wildcards.bmodel
    with job_run(smk.rule, dict(smk.wildcards), {"probe": p, "file": smk.input.model}) as run:
        factors = load_factors(smk.input.factors)
        parts = []
        for layer, x in load_model(smk.input.model).items():
            t = probe_layer(x, factors, seed=p["seed"], test_fraction=p["test_fraction"], n_rep=p["n_rep"])
            parts.append(t.assign(model=name, layer=layer))
            for _, r in t.iterrows():
                run.log_metrics({f"{layer}.{r['factor']}.{r['metric']}": r["value"]})
            log.info("%s %s: %s", name, layer, "; ".join(f"{r.factor} {r.metric} {r.value:.3f}" for r in t.itertuples()))
        table = pd.concat(parts, ignore_index=True)
        cols = ["model", "layer"] + [c for c in table.columns if c not in ("model", "layer")]
        atomic_write(smk.output.table, lambda path: table[cols].to_csv(path, index=False), ".csv")


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
