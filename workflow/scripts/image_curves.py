"""Rule image_curves: training loss and validation accuracy per epoch of every trained image model."""

from pathlib import Path

import pandas as pd

from linid.core.io import atomic_write
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report import image_figures


def main(smk) -> None:
    setup_logging(smk.log[0])
    curves = pd.concat(
        [pd.read_csv(path).assign(**key) for path, key in zip(smk.input.curves, smk.params.curve_keys, strict=True)],
        ignore_index=True,
    )
    with job_run(smk.rule, {}, {"n_models": len(smk.input.curves)}) as run:
        atomic_write(smk.output.table, lambda p: curves.to_csv(p, index=False), ".csv")
        for path in image_figures.training_curves(curves, Path(smk.output.figure).with_suffix("")):
            run.log_artifact(path)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
