"""Rule text_tables: every comparison of every cell, and the summary over pairs (CSV + Markdown, and
their HTML pages for the report)."""

from pathlib import Path

from linid.core.io import read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report.html import csv_page, markdown_to_html
from linid.report.tables import read_table
from linid.report.text_tables import markdown_summary, pair_table, summary_table


def main(smk) -> None:
    setup_logging(smk.log[0])
    upstream = [read_json(p)["job_uid"] for p in smk.input.summaries]
    with job_run(smk.rule, {}, {"cells": len(smk.params.cells)}, upstream=upstream) as run:
        # vocab_size: the corpus's own (a user's file may hold fewer words, ids are remapped)
        cells = [{**row, "vocab_size": read_json(m)["vocab_size"]}
                 for row, m in zip(smk.params.cells, smk.input.metas, strict=True)]
        pairs = pair_table([read_table(p) for p in smk.input.pairs], cells)
        pairs.to_csv(smk.output.pairs, index=False)
        summary = summary_table(pairs, cells)
        summary.to_csv(smk.output.summary, index=False)
        md = markdown_summary(summary)
        Path(smk.output.summary_md).write_text(md)
        Path(smk.output.summary_html).write_text(markdown_to_html(md, "[K] text: summary"))
        Path(smk.output.summary_table_html).write_text(
            csv_page(summary, "[K] text: summary, every column", smk.output.summary))
        for _, r in summary.iterrows():
            key = f"{r['cell']}.{r['kind']}.{r['space']}.{r['state']}"
            run.log_metrics({f"r2w.{key}": r["r2w_mean"], f"mcca.{key}": r["mcca_mean"]})
        run.log_artifact(smk.output.summary_md)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
