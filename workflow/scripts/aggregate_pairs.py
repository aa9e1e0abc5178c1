"""Rule aggregate_pairs: tidy pairwise table (one row per seed pair and layer), spectra and summary."""

import pandas as pd

from linid.core.io import atomic_json, atomic_path
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report.html import csv_page, markdown_to_html
from linid.report.tables import markdown_pairs, pairs_summary, read_table

#: the identifying columns every compared cell carries (params.cells, one record per input file)
CELL_KEYS = ["experiment", "cell", "method", "head", "rep_dim", "n_classes", "diverse"]


def with_cell(path: str, cell: dict) -> pd.DataFrame:
    """The rows of one compare job, with its cell's identifying columns in front."""
    frame = read_table(path)
    for i, key in enumerate(CELL_KEYS):
        frame.insert(i, key, cell[key])
    return frame


def main(smk) -> None:
    setup_logging(smk.log[0])
    cells = smk.params.cells
    table = pd.concat([with_cell(p, c) for p, c in zip(smk.input.pairs, cells, strict=True)],
                      ignore_index=True)
    spectra = pd.concat([with_cell(p, c) for p, c in zip(smk.input.spectra, cells, strict=True)],
                        ignore_index=True)
    upstream = sorted(set(table["job_uid"]))
    with job_run(smk.rule, {}, {"n_files": len(cells)}, upstream=upstream) as run:
        summary = pairs_summary(table)
        for path, frame in ((smk.output.table, table), (smk.output.summary, summary),
                            (smk.output.spectra, spectra)):
            with atomic_path(path, ".csv") as tmp:
                frame.to_csv(tmp, index=False)
        with atomic_path(smk.output.table_html) as tmp:
            tmp.write_text(csv_page(table, "Seed pairs: one row per pair and layer", smk.output.table))
        md = markdown_pairs(summary)
        with atomic_path(smk.output.markdown) as tmp:
            tmp.write_text(md)
        with atomic_path(smk.output.html) as tmp:
            tmp.write_text(markdown_to_html(md, "Seed pairs: summary"))
        f = table[(table["layer"] == "f")]
        run.log_metrics({"n_pairs": len(table), "mean_mcca_f": float(f["mcca"].mean())})
        for path in (smk.output.table, smk.output.summary, smk.output.markdown):
            run.log_artifact(path)
        atomic_json(smk.output.meta, {"job_uid": run.uid, "n_rows": len(table)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
