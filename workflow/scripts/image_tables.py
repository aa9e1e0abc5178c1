"""Rule image_tables: the tidy DisLib table, [R] Table 4's layout, the paper comparison (each also
as an HTML page for the report), the figures."""

from pathlib import Path

import pandas as pd

from linid.core.io import atomic_json, atomic_write, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report import image_figures, image_tables
from linid.report.html import csv_page, markdown_to_html


def write_text(path: str, text: str, suffix: str = "") -> None:
    atomic_write(path, lambda p: Path(p).write_text(text), suffix)


def main(smk) -> None:
    setup_logging(smk.log[0])
    records = [read_json(p) for p in smk.input.probes]
    upstream = [r["job_uid"] for r in records]
    with job_run(smk.rule, {}, {"n_probes": len(records)}, upstream=upstream) as run:
        table = image_tables.tidy(records)
        atomic_write(smk.output.table, lambda p: table.to_csv(p, index=False), ".csv")
        title = "[R] images: probes, one row per model, seed and factor"
        write_text(smk.output.table_html, csv_page(table, title, smk.output.table))
        summary = image_tables.summarize(table)
        atomic_write(smk.output.summary, lambda p: summary.to_csv(p, index=False), ".csv")
        md = image_tables.markdown(summary)
        write_text(smk.output.markdown, md, ".md")
        write_text(smk.output.html, markdown_to_html(md, "[R] images: probes in Table 4's layout"))
        published = image_tables.load_published(smk.input.published)
        comp = image_tables.compare_published(summary, published, pd.DataFrame(smk.params.budgets))
        atomic_write(smk.output.paper, lambda p: comp.to_csv(p, index=False), ".csv")
        md = image_tables.comparison_markdown(comp)
        write_text(smk.output.paper_md, md, ".md")
        write_text(smk.output.paper_html, markdown_to_html(md, "[R] images: paper vs reproduced"))
        written = image_figures.probe_bars(summary, Path(smk.output.bars).with_suffix(""), published)
        for path in [smk.output.table, smk.output.markdown, smk.output.paper, *written]:
            run.log_artifact(path)
        run.log_metrics({"n_rows": len(table)})
        atomic_json(smk.output.meta, {"job_uid": run.uid})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
