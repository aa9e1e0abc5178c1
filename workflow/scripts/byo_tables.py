"""Rule byo_tables: the probe table, the layer × layer table, their figures and HTML pages."""

from pathlib import Path

import pandas as pd

from linid.core.io import atomic_write
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.report import byo_figures as figures
from linid.report.html import csv_page, markdown_to_html
from linid.report.tables import md_row

PROBE_COLUMNS = ["model", "layer", "factor", "kind", "metric", "value", "std", "note"]


def probes_markdown(table: pd.DataFrame) -> str:
    """Rows model × layer, columns factor metric (mean ± std over repetitions where there is one)."""
    if table.empty:
        return "No factors file was given (byo.factors): no probes, comparisons only.\n"
    t = table.copy()
    t["col"] = t["factor"].astype(str) + " " + t["metric"].astype(str)
    t["cell"] = ["–" if v != v else f"{v:.3f}" + (f" ± {s:.3f}" if s == s else "")
                 for v, s in zip(t["value"], t["std"], strict=True)]
    wide = t.pivot_table(index=["model", "layer"], columns="col", values="cell", aggfunc="first", sort=False)
    cols = list(wide.columns)
    lines = [md_row(["model", "layer", *cols]), "|" + "---|" * (2 + len(cols))]
    for (m, layer), row in wide.iterrows():
        lines.append(md_row([m, layer, *(str(row[c]) if row[c] == row[c] else "–" for c in cols)]))
    return "\n".join(lines) + "\n" + notes(table)


def layers_markdown(table: pd.DataFrame) -> str:
    """Per model pair, the mCCA of matching layers (the diagonal of the layer matrix)."""
    diag = table[table["layer_a"] == table["layer_b"]]
    layers = list(dict.fromkeys(diag["layer_a"]))
    lines = [md_row(["model a", "model b", *(f"mCCA {x}" for x in layers)]), "|" + "---|" * (2 + len(layers))]
    for (a, b), g in diag.groupby(["model_a", "model_b"], sort=False):
        vals = {r.layer_a: "–" if r.mcca != r.mcca else f"{r.mcca:.3f}" for r in g.itertuples()}
        lines.append(md_row([a, b, *(vals.get(x, "–") for x in layers)]))
    return "\n".join(lines) + "\n" + notes(table)


def notes(table: pd.DataFrame) -> str:
    """The notes of the table's rows (a dead layer's NaN cells say why), once each."""
    if "note" not in table:
        return ""
    keys = [c for c in ("model", "model_a", "model_b") if c in table]
    found = dict.fromkeys(
        " / ".join(str(r[k]) for k in keys) + ": " + str(r["note"])
        for _, r in table.iterrows() if isinstance(r["note"], str) and r["note"]
    )
    return "".join(["\nNotes:\n\n", *(f"- {n}\n" for n in found)]) if found else ""


def main(smk) -> None:
    setup_logging(smk.log[0])
    with job_run(smk.rule, {}, {"models": smk.params.models}) as run:
        pairs = pd.concat([pd.read_csv(p) for p in smk.input.pairs], ignore_index=True)
        atomic_write(smk.output.layers, lambda p: pairs.to_csv(p, index=False), ".csv")
        page = csv_page(pairs, "Bring your own: layer × layer comparisons", smk.output.layers)
        atomic_write(smk.output.layers_html, lambda p: Path(p).write_text(page))
        atomic_write(smk.output.layers_md, lambda p: Path(p).write_text(layers_markdown(pairs)), ".md")
        written = figures.layer_matrices(pairs, Path(smk.output.matrix).with_suffix(""))
        probes = (pd.concat([pd.read_csv(p) for p in smk.input.probes], ignore_index=True)
                  if smk.input.probes else pd.DataFrame(columns=PROBE_COLUMNS))
        atomic_write(smk.output.probes, lambda p: probes.to_csv(p, index=False), ".csv")
        md = probes_markdown(probes)
        atomic_write(smk.output.probes_md, lambda p: Path(p).write_text(md), ".md")
        page = markdown_to_html(md, "Bring your own: probes")
        atomic_write(smk.output.probes_html, lambda p: Path(p).write_text(page))
        if not probes.empty:
            written += figures.probe_bars(probes, Path(smk.output.matrix).with_name("probe_bars"))
        for path in [smk.output.layers, smk.output.probes, *written]:
            run.log_artifact(path)
        run.log_metrics({"n_pairs": len(smk.input.pairs), "n_probe_rows": len(probes)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
