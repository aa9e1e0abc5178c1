"""Rule aggregate_probes: tidy per-model table with its controls, the summary (mean ± std, n,
t-interval; CSV + Markdown), all curves."""


from linid.core.io import atomic_json, atomic_path, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report.html import csv_page, markdown_to_html
from linid.report.tables import curves_table, markdown_table, probe_summary, read_table, tidy_table


def main(smk) -> None:
    setup_logging(smk.log[0])
    index = {tuple(m): k for k, m in enumerate(smk.params.models)}
    probes = [read_json(p) for p in smk.input.probes]
    observations = {
        d: read_json(p)["metrics"] for d, p in zip(smk.params.datasets, smk.input.observations, strict=True)
    }
    trains = [read_json(p) for p in smk.input.summaries]
    curves = [read_table(p) for p in smk.input.curves]
    rows = smk.params.rows
    head = {True: "unit", False: "free"}
    order = [index[(r["dataset_id"], r["method"], head[r["normalize_w"]], r["seed"])] for r in rows]
    upstream = [p["job_uid"] for p in probes] + [read_json(p)["job_uid"] for p in smk.input.observations]
    with job_run(smk.rule, {}, {"n_models": len(index), "n_rows": len(rows)}, upstream=upstream) as run:
        table = tidy_table(rows, [probes[k] for k in order], [trains[k] for k in order], observations)
        summary = probe_summary(table, level=smk.params.level)
        for path, frame in ((smk.output.table, table), (smk.output.summary, summary)):
            with atomic_path(path, ".csv") as tmp:
                frame.to_csv(tmp, index=False)
        with atomic_path(smk.output.table_html) as tmp:
            tmp.write_text(csv_page(table, "[R] probes: one row per trained model", smk.output.table))
        md = markdown_table(summary)
        with atomic_path(smk.output.markdown) as tmp:
            tmp.write_text(md)
        with atomic_path(smk.output.html) as tmp:
            tmp.write_text(markdown_to_html(md, "[R] probes summary"))
        with atomic_path(smk.output.curves, ".csv") as tmp:
            curves_table(rows, [curves[k] for k in order]).to_csv(tmp, index=False)
        run.log_metrics({"n_rows": len(table), "mean_r2_affine": float(table["r2_affine"].mean())})
        for path in (smk.output.table, smk.output.summary, smk.output.markdown):
            run.log_artifact(path)
        atomic_json(smk.output.meta, {"job_uid": run.uid, "n_rows": len(table)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
