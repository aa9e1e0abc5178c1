"""Rule figures: R² heatmap (d × |C|), R² vs |C| per d, training curves, one figure per extra axis."""

from pathlib import Path

from linid.core.io import read_json
from linid.names import GRID_AXES
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report import sim_figures
from linid.report.selection import slice_sweeps, with_head_label
from linid.report.tables import read_table


def main(smk) -> None:
    setup_logging(smk.log[0])
    table = with_head_label(read_table(smk.input.table))
    curves = with_head_label(read_table(smk.input.curves))
    bases = smk.params.bases
    out_dir = Path(smk.output.axes)
    out_dir.mkdir(parents=True, exist_ok=True)
    upstream = [read_json(smk.input.meta)["job_uid"]]
    with job_run(smk.rule, {}, {"axes": smk.params.axes}, upstream=upstream) as run:
        grid = slice_sweeps(table, bases, list(GRID_AXES))
        written = sim_figures.heatmap(grid, Path(smk.output.heatmap).with_suffix(""))
        written += sim_figures.metric_vs_classes(grid, Path(smk.output.vs_classes).with_suffix(""))
        written += sim_figures.training_curves(curves, Path(smk.output.curves).with_suffix(""))
        for axis in smk.params.axes:
            part = slice_sweeps(table, bases, [axis])
            written += sim_figures.metric_vs_axis(part, axis, out_dir / f"r2_vs_{axis}")
        for path in written:
            run.log_artifact(path)
        run.log_metrics({"n_figures": len(written)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
