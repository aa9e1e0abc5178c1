"""Rule text_figures: [K] Figure 1 per cell (two replicas, aligned overlay) and the agreement plot."""

from pathlib import Path

from linid.core.io import load_npz
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report.tables import read_table
from linid.report.text_figures import agreement_figure, overlay_figure


def _title(cell: dict) -> str:
    if "rank" in cell:
        return f"{cell['cell']} (truth rank {cell['rank']}, M = {cell['dim']})"
    return f"{cell['cell']} (M = {cell['dim']})"


def main(smk) -> None:
    setup_logging(smk.log[0])
    with job_run(smk.rule, {}, {"cells": len(smk.params.cells)}) as run:
        panels = []
        for cell, path in list(zip(smk.params.cells, smk.input.embeddings, strict=True))[:4]:
            e = load_npz(path)
            s = [int(x) for x in e["seeds"]]
            panels.append({"title": _title(cell), "a": e[f"q_s{s[0]}"], "b": e[f"q_s{s[1]}"], "words": e["words"],
                           "names": (f"replica 1 (seed {s[0]})", f"replica 2 (seed {s[1]})")})
        written = overlay_figure(panels, smk.params.figure_words, Path(smk.output.overlay).with_suffix(""))
        written += agreement_figure(read_table(smk.input.summary), Path(smk.output.agreement).with_suffix(""))
        for path in written:
            run.log_artifact(path)
        run.log_metrics({"n_figures": len(written)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
