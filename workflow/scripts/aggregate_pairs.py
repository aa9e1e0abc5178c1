"""Rule aggregate_pairs: tidy pairwise table (one row per seed pair and layer) and per-cell summary."""

import re
from pathlib import Path

import pandas as pd

from linid.io import atomic_json, atomic_path
from linid.jobs import job_run, setup_logging
from linid.tables import markdown_pairs, pairs_summary

SIM_ID = re.compile(r"d(\d+)_C(\d+)_")


def main(smk) -> None:
    setup_logging(smk.log[0])
    parts = []
    for cell, path in zip(smk.params.cells, smk.input.family, strict=True):
        frame = pd.read_csv(path)
        frame.insert(0, "experiment", "family")
        frame.insert(1, "cell", f"{cell['fdata']}_M{cell['rep_dim']}")
        frame.insert(2, "method", "family")
        frame.insert(3, "head", "")
        frame.insert(4, "rep_dim", cell["rep_dim"])
        frame.insert(5, "n_classes", cell["n_classes"])
        frame.insert(6, "diverse", cell["n_classes"] >= cell["rep_dim"] + 1)
        parts.append(frame)
    for path in smk.input.sim:
        p = Path(path)
        data, method, head = p.parent.parent.name, p.parent.name, p.stem
        d, c = (int(v) for v in SIM_ID.match(data).groups())
        frame = pd.read_csv(path)
        frame.insert(0, "experiment", "simulation")
        frame.insert(1, "cell", data)
        frame.insert(2, "method", method)
        frame.insert(3, "head", head)
        frame.insert(4, "rep_dim", d)
        frame.insert(5, "n_classes", c)
        # the head's rows play g: |C| class vectors (supervised) or N ≥ d + 1 instances (DIET)
        frame.insert(6, "diverse", c >= d + 1 if method == "supervised" else True)
        parts.append(frame)
    table = pd.concat(parts, ignore_index=True)
    upstream = sorted(set(table["job_uid"]))
    with job_run(smk.rule, {}, {"n_files": len(parts)}, upstream=upstream) as run:
        summary = pairs_summary(table)
        for path, frame in ((smk.output.table, table), (smk.output.summary, summary)):
            with atomic_path(path, ".csv") as tmp:
                frame.to_csv(tmp, index=False)
        with atomic_path(smk.output.markdown) as tmp:
            tmp.write_text(markdown_pairs(summary))
        f = table[(table["layer"] == "f")]
        run.log_metrics({"n_pairs": len(table), "mean_mcca_f": float(f["mcca"].mean())})
        for path in (smk.output.table, smk.output.summary, smk.output.markdown):
            run.log_artifact(path)
        atomic_json(smk.output.meta, {"job_uid": run.uid, "n_rows": len(table)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
