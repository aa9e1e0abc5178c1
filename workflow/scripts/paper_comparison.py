"""Rule paper_comparison: published vs reproduced table (CSV + Markdown) and figure."""

from pathlib import Path

from linid.core.io import atomic_path, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report.html import markdown_to_html
from linid.report.paper import compare, load_published, markdown, paper_comparison
from linid.report.tables import read_table


def main(smk) -> None:
    setup_logging(smk.log[0])
    published = load_published(smk.input.published)
    probes = read_table(smk.input.table)
    upstream = [read_json(smk.input.meta)["job_uid"]]
    with job_run(smk.rule, {}, {"n_published": len(published)}, upstream=upstream) as run:
        table = compare(published, probes)
        with atomic_path(smk.output.table, ".csv") as tmp:
            table.to_csv(tmp, index=False)
        md = markdown(table)
        with atomic_path(smk.output.markdown) as tmp:
            tmp.write_text(md)
        with atomic_path(smk.output.html) as tmp:
            tmp.write_text(markdown_to_html(md, "Published vs reproduced"))
        written = paper_comparison(table, Path(smk.output.figure).with_suffix(""))
        done = table[table["n_seeds"] > 0]
        run.log_metrics(
            {
                "n_matched": len(done),
                "n_not_run": int((table["n_seeds"] == 0).sum()),
                "mean_abs_delta": float(done["delta"].abs().mean()) if len(done) else float("nan"),
            }
        )
        for path in [smk.output.table, smk.output.markdown, *written]:
            run.log_artifact(path)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
