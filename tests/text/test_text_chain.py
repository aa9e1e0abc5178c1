"""The text experiment's rule scripts chained by hand (no Snakemake): corpus → train → compare →
tables → figures, on a tiny generated corpus, each script's main() fed a stand-in snakemake object."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from threadpoolctl import threadpool_limits

from linid.text.cells import text_cells

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "workflow" / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _smk(rule, log, input=None, output=None, params=None, wildcards=None, threads=1, resources=None):
    ns = SimpleNamespace
    return ns(rule=rule, log=[str(log)], input=ns(**(input or {})), output=ns(**(output or {})),
              params=ns(**(params or {})), wildcards=wildcards or {}, threads=threads,
              resources=resources or {})


class _Wild(dict):
    def __getattr__(self, k):
        return self[k]


TEXT = {
    "enabled": True, "seeds": [0, 1], "axes": {"rank": [2, 1]},
    "corpus": {"source": "generated", "path": "", "lowercase": True, "vocab_size": 25, "n_windows": 8000,
               "true_dim": 2, "rank": 2, "zipf": 0.5, "signal": 3.0, "half": 2, "eval_fraction": 0.05, "seed": 0},
    "model": {"dim": 2, "init": "normal", "init_std": 0.1},
    "train": {"steps": 300, "batch_size": 256, "lr": 0.05, "optimizer": "adam", "noise": "unigram",
              "noise_samples": 25, "normaliser": "exact", "noise_shift": True, "noise_reduction": "sum"},
    "compare": {"min_count": 5, "seed": 0, "figure_words": 8},
}


def test_the_rule_scripts_chain(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINID_TRACKING_DISABLED", "1")
    cells = text_cells(TEXT)
    t = tmp_path
    with threadpool_limits(limits=1):
        for cell in cells:
            c = cell.cell_id
            w = _Wild(tcell=c)
            _script("text_corpus").main(_smk("text_corpus", t / f"{c}.corpus.log",
                                             output={"corpus": str(t / f"{c}.npz"), "meta": str(t / f"{c}.json")},
                                             params={"corpus": cell.corpus}, wildcards=w))
            for s in TEXT["seeds"]:
                _script("text_train").main(_smk(
                    "text_train", t / f"{c}.{s}.log",
                    input={"corpus": str(t / f"{c}.npz"), "meta": str(t / f"{c}.json")},
                    output={"model": str(t / f"{c}_s{s}.npz"), "summary": str(t / f"{c}_s{s}.json")},
                    params={"cell": {"seed": s, "model": cell.model, "train": cell.train}, "allow_cpu": True},
                    wildcards=_Wild(tcell=c, seed=str(s))))
            _script("text_compare").main(_smk(
                "text_compare", t / f"{c}.cmp.log",
                input={"corpus": str(t / f"{c}.npz"), "meta": str(t / f"{c}.json"),
                       "models": [str(t / f"{c}_s{s}.npz") for s in TEXT["seeds"]]},
                output={"pairs": str(t / f"{c}.pairs.csv"), "embeddings": str(t / f"{c}.emb.npz")},
                params={"compare": TEXT["compare"], "seeds": TEXT["seeds"]}, wildcards=w))
        rows = [c.row for c in cells]
        out = {"pairs": str(t / "pairs.csv"), "summary": str(t / "summary.csv"), "summary_md": str(t / "summary.md"),
               "summary_html": str(t / "summary.html"), "summary_table_html": str(t / "summary_table.html")}
        _script("text_tables").main(_smk(
            "text_tables", t / "tables.log", output=out, params={"cells": rows},
            input={"pairs": [str(t / f"{c.cell_id}.pairs.csv") for c in cells],
                   "summaries": [str(t / f"{c.cell_id}_s{s}.json") for c in cells for s in TEXT["seeds"]],
                   "metas": [str(t / f"{c.cell_id}.json") for c in cells]}))
        figs = {"overlay": str(t / "fig" / "overlay.png"), "agreement": str(t / "fig" / "agreement.png")}
        _script("text_figures").main(_smk(
            "text_figures", t / "figures.log", output=figs,
            input={"summary": out["summary"], "embeddings": [str(t / f"{c.cell_id}.emb.npz") for c in cells]},
            params={"cells": rows, "figure_words": 8}))
    train = json.loads((t / "rank2_s0.json").read_text())
    meta = json.loads((t / "rank2.json").read_text())
    assert meta["truth_nll"] < train["heldout_nll"] < train["heldout_nll_untrained"]
    summary = pd.read_csv(out["summary"]).set_index(["cell", "kind", "space", "state"]).sort_index()
    assert len(summary) == 16 and (summary["n_pairs"].loc["rank2", "replicas"] == 1).all()
    assert summary.loc[("rank2", "truth", "q", "trained"), "r2w_mean"] > 0.9
    assert summary.loc[("rank2", "truth", "q", "untrained"), "r2w_mean"] < 0.5
    assert summary.loc[("rank1", "truth", "q", "trained"), "r2w_mean"] < 0.85  # truth → learned fails
    assert "| rank1 |" in (t / "summary.md").read_text()
    # the report's entries are the pages: the Markdown's rows, and every row and column of the CSV
    assert "<td>rank1</td>" in (t / "summary.html").read_text()
    csv, page = pd.read_csv(out["summary"]), (t / "summary_table.html").read_text()
    assert page.count("<tr>") == len(csv) + 1 and f"{len(csv)} rows × {len(csv.columns)} columns" in page
    for f in ("overlay.png", "overlay.pdf", "agreement.png", "agreement.pdf"):
        assert (t / "fig" / f).stat().st_size > 5000

