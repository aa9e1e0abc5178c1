"""Rule objectives: every objective trained on the same datasets, side by side (linid.report.objectives)."""

from pathlib import Path

from linid.core.io import atomic_path, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report import objectives
from linid.report.html import markdown_to_html
from linid.report.tables import read_table


def main(smk) -> None:
    setup_logging(smk.log[0])
    upstream = [read_json(smk.input.meta)["job_uid"]]
    with job_run(smk.rule, {}, {"level": smk.params.level}, upstream=upstream) as run:
        summary = objectives.objectives_summary(read_table(smk.input.table), level=smk.params.level)
        if summary.empty:
            raise ValueError("no dataset was trained with more than one objective: nothing to compare")
        with atomic_path(smk.output.table, ".csv") as tmp:
            summary.to_csv(tmp, index=False)
        text = objectives.markdown(summary)
        with atomic_path(smk.output.markdown) as tmp:
            tmp.write_text(text)
        with atomic_path(smk.output.html) as tmp:
            tmp.write_text(markdown_to_html(text, "[R] one process, several objectives"))
        for path in objectives.figure(summary, Path(smk.output.figure).with_suffix("")):
            run.log_artifact(path)
        run.log_metrics({"n_rows": len(summary)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
