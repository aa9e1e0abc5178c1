"""Rule render_dsprites: the dSprites factor grid (or a seeded subsample of it) in the official file's schema."""

import logging
import time

from linid.core.io import atomic_json
from linid.images import dsprites
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run

log = logging.getLogger("linid.render_dsprites")


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = smk.params.render
    with job_run(smk.rule, dict(smk.wildcards), {"render": p}) as run:
        indices = None if p["subsample"] is None else dsprites.subsample(p["subsample"], p["subsample_seed"])
        n = dsprites.N_IMAGES if indices is None else len(indices)
        t0 = time.perf_counter()
        dsprites.write_npz(smk.output.data, indices)
        seconds = time.perf_counter() - t0
        log.info("rendered %d dSprites images in %.1f s", n, seconds)
        run.log_metrics({"n_images": n, "seconds": seconds})
        atomic_json(smk.output.meta, {"job_uid": run.uid, "n_images": n, "seconds": seconds, "render": p})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
