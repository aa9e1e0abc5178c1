"""Rule family_figures: mCCA vs K per M, CCA spectra per layer, and two models' representations aligned."""

from pathlib import Path

import numpy as np

from linid.core.io import load_npz, read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report.family_figures import alignment, cca_spectra, mcca_vs_classes
from linid.report.tables import read_table


def pick_alignment_cell(cells: list[dict]) -> int:
    """The cell with the smallest M ≥ 2 (the paper's M = 2), and among those the largest K."""
    ok = [i for i, c in enumerate(cells) if c["rep_dim"] >= 2] or list(range(len(cells)))
    best_m = min(cells[i]["rep_dim"] for i in ok)
    return max((i for i in ok if cells[i]["rep_dim"] == best_m), key=lambda i: cells[i]["n_classes"])


def main(smk) -> None:
    setup_logging(smk.log[0])
    table = read_table(smk.input.table)
    family = table[table["experiment"] == "family"]
    upstream = [read_json(smk.input.meta)["job_uid"]]
    with job_run(smk.rule, {}, {"cells": len(smk.params.cells)}, upstream=upstream) as run:
        spectra = read_table(smk.input.spectra)
        written = mcca_vs_classes(family, Path(smk.output.mcca).with_suffix(""))
        written += cca_spectra(spectra[spectra["experiment"] == "family"],
                               Path(smk.output.spectra).with_suffix(""))
        i = pick_alignment_cell(smk.params.cells)
        cell = smk.params.cells[i]
        f = load_npz(smk.input.features[i])
        seeds = [int(s) for s in f["seeds"]]
        fa, fb, y = f[f"f_s{seeds[0]}"], f[f"f_s{seeds[1]}"], f["eval_y"]
        if fa.shape[1] == 1:  # M = 1: show the single coordinate against the input index
            fa, fb = (np.hstack([a, np.zeros_like(a)]) for a in (fa, fb))
        title = f"K = {cell['n_classes']}, M = {cell['rep_dim']}: seeds {seeds[0]} and {seeds[1]}"
        written += alignment(fa, fb, y, Path(smk.output.alignment).with_suffix(""), title)
        for path in written:
            run.log_artifact(path)
        run.log_metrics({"n_figures": len(written)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
