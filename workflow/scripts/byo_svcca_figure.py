"""Rule byo_svcca_figure: every pair's SVCCA coefficients in one table, and [K] Figure 4's panels."""

from pathlib import Path

import pandas as pd

from linid.core.io import atomic_write
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report.byo_figures import svcca_panels


def main(smk) -> None:
    setup_logging(smk.log[0])
    with job_run(smk.rule, {}, {"pairs": len(smk.input.tables)}) as run:
        table = pd.concat([pd.read_csv(p) for p in smk.input.tables], ignore_index=True)
        atomic_write(smk.output.table, lambda p: table.to_csv(p, index=False), ".csv")
        written = svcca_panels(table, Path(smk.output.figure).with_suffix(""), offsets=tuple(smk.params.panels))
        for path in [smk.output.table, *written]:
            run.log_artifact(path)
        run.log_metrics({"n_pairs": len(smk.input.tables)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
