"""Tables: one summariser for every mean ± std table, the tidy probe table, Markdown rendering."""

import numpy as np
import pandas as pd
import pytest

from linid.names import CELL_AXES, PROBE_METRICS, SUMMARY_METRICS
from linid.pipeline.cells import DEFAULT_BASE
from linid.report.tables import (
    ID_COLUMNS,
    curves_table,
    markdown_table,
    probe_summary,
    summarize,
    tidy_table,
)


def test_summarize_mean_std_counts():
    df = pd.DataFrame({"g": ["a", "a", "a", "b"], "x": [1.0, 2.0, np.nan, 5.0], "y": [0, 0, 3, 1]})
    s = summarize(df, ["g"], ["x", "y"], count="n", per_metric_counts=True).set_index("g")
    assert s.loc["a", "x_mean"] == 1.5 and s.loc["a", "x_std"] == pytest.approx(np.std([1, 2], ddof=1))
    assert s.loc["a", "n"] == 3 and s.loc["a", "x_n"] == 2 and s.loc["a", "y_n"] == 3
    assert np.isnan(s.loc["b", "x_std"])  # one value: no spread
    assert list(s.columns) == ["x_mean", "x_std", "y_mean", "y_std", "x_n", "y_n", "n"]


def _rows(n_seeds=2):
    rows, probes, trains = [], [], []
    for method in ("supervised", "diet"):
        for seed in range(n_seeds):
            row = {**DEFAULT_BASE, "experiment": "e", "design": "grid", "method": method,
                   "normalize_w": False, "seed": seed, "data_seed": seed, "dataset_id": f"ds{seed}"}
            rows.append(row)
            probes.append({"metrics": {m: 0.5 + 0.1 * seed for m in PROBE_METRICS},
                           "features_uid": "f", "job_uid": "p"})
            trains.append({"steps": 10, "batch_size": 4, "final_loss": 1.0, "seconds": 2.0,
                           "device": "cpu", "dataset_uid": "d", "job_uid": "t"})
    return rows, probes, trains


def test_tidy_table_has_one_row_per_model_and_every_column():
    table = tidy_table(*_rows())
    assert len(table) == 4 and list(table.columns[: len(ID_COLUMNS)]) == ID_COLUMNS
    assert set(PROBE_METRICS) <= set(table.columns) and set(CELL_AXES) <= set(table.columns)
    assert table["method"].tolist() == ["diet", "diet", "supervised", "supervised"]  # sorted
    with pytest.raises(ValueError, match="differ in length"):
        tidy_table(*_rows()[:2], [])


def test_probe_summary_pools_seeds_per_cell_and_renders_markdown():
    s = probe_summary(tidy_table(*_rows(n_seeds=3)))
    assert len(s) == 2 and s["n_seeds"].eq(3).all() and s["n_data_seeds"].eq(3).all()
    assert s["r2_affine_mean"].tolist() == pytest.approx([0.6, 0.6])
    assert s["r2_affine_std"].tolist() == pytest.approx([0.1, 0.1])
    md = markdown_table(s)
    assert md.count("\n") == 2 + 2 and "0.600 ± 0.100" in md
    assert all(f"{m}_mean" in s for m in SUMMARY_METRICS)


def test_curves_table_repeats_identifying_columns():
    rows = _rows(1)[0]
    curves = [pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0]}) for _ in rows]
    out = curves_table(rows, curves)
    assert len(out) == 4 and out["monitor_r2"].isna().all() and set(out["method"]) == {"supervised", "diet"}
