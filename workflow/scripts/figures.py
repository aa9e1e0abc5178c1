"""Rule figures: R² heatmap (d × |C|), R² vs |C| per d, training curves, one figure per extra axis."""

from pathlib import Path

import pandas as pd

from linid import plotting
from linid.config import CELL_AXES
from linid.io import read_json
from linid.jobs import job_run, setup_logging

DEDUP = ["method", "normalize_w", *CELL_AXES, "data_seed", "seed"]


def slice_sweeps(df: pd.DataFrame, bases: dict, keep: list[str]) -> pd.DataFrame:
    """Rows of every sweep that vary only the ``keep`` axes around that sweep's base cell."""
    parts = [plotting.select_base(df[df["experiment"] == name], base, keep) for name, base in bases.items()]
    out = pd.concat(parts, ignore_index=True) if parts else df.iloc[:0]
    return out.drop_duplicates(subset=DEDUP)


def with_head_label(df: pd.DataFrame) -> pd.DataFrame:
    """Runs whose W rows were renormalised are drawn as their own method, 'diet (unit W)'."""
    out = df.copy()
    unit = out["normalize_w"].astype(str).str.lower() == "true"
    out.loc[unit, "method"] = out.loc[unit, "method"] + " (unit W)"
    return out


def main(smk) -> None:
    setup_logging(smk.log[0])
    table = with_head_label(pd.read_csv(smk.input.table))
    curves = with_head_label(pd.read_csv(smk.input.curves))
    bases = smk.params.bases
    out_dir = Path(smk.output.axes)
    out_dir.mkdir(parents=True, exist_ok=True)
    upstream = [read_json(smk.input.meta)["job_uid"]]
    with job_run(smk.rule, {}, {"axes": smk.params.axes}, upstream=upstream) as run:
        grid = slice_sweeps(table, bases, ["latent_dim", "n_classes"])
        written = plotting.heatmap(grid, Path(smk.output.heatmap).with_suffix(""))
        written += plotting.metric_vs_classes(grid, Path(smk.output.vs_classes).with_suffix(""))
        written += plotting.training_curves(curves, Path(smk.output.curves).with_suffix(""))
        for axis in smk.params.axes:
            part = slice_sweeps(table, bases, [axis])
            written += plotting.metric_vs_axis(part, axis, out_dir / f"r2_vs_{axis}")
        for path in written:
            run.log_artifact(path)
        run.log_metrics({"n_figures": len(written)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
