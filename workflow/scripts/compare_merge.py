"""Rule compare_sim: a simulation cell's seed-pair shards (compare_sim_part) as one table."""

import logging

from linid.core.io import atomic_write
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.probes.pairs import merge_parts

log = logging.getLogger("linid.compare_merge")


def main(smk) -> None:
    setup_logging(smk.log[0])
    pairs = merge_parts(list(smk.input.pairs))
    upstream = sorted(set(pairs["job_uid"].astype(str))) if "job_uid" in pairs else []
    with job_run(smk.rule, dict(smk.wildcards), {"n_parts": len(smk.input.pairs)}, upstream=upstream) as run:
        spectra = merge_parts(list(smk.input.spectra))
        atomic_write(smk.output.pairs, lambda path: pairs.to_csv(path, index=False), ".csv")
        atomic_write(smk.output.spectra, lambda path: spectra.to_csv(path, index=False), ".csv")
        log.info("%d pairs, %d spectrum rows from %d part(s)", len(pairs), len(spectra), len(smk.input.pairs))
        run.log_metrics({"n_pairs": len(pairs)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
