"""Tables: one summariser for every mean ± std table, the tidy probe table, Markdown rendering."""

import numpy as np
import pandas as pd
import pytest

from linid.names import (
    CELL_AXES,
    CONTROL_METRICS,
    DEFAULT_BASE,
    PROBE_METRICS,
    SUMMARY_METRICS,
    control_column,
)
from linid.report.tables import (
    ID_COLUMNS,
    curves_table,
    markdown_pairs,
    markdown_table,
    probe_summary,
    summarize,
    t_interval,
    tidy_table,
)


def test_summarize_mean_std_counts():
    df = pd.DataFrame({"g": ["a", "a", "a", "b"], "x": [1.0, 2.0, np.nan, 5.0], "y": [0, 0, 3, 1]})
    s = summarize(df, ["g"], ["x", "y"], count="n", per_metric_counts=True).set_index("g")
    assert s.loc["a", "x_mean"] == 1.5 and s.loc["a", "x_std"] == pytest.approx(np.std([1, 2], ddof=1))
    assert s.loc["a", "n"] == 3 and s.loc["a", "x_n"] == 2 and s.loc["a", "y_n"] == 3
    assert np.isnan(s.loc["b", "x_std"])  # one value: no spread
    assert list(s.columns) == ["x_mean", "x_std", "y_mean", "y_std", "x_n", "y_n", "n"]


def _rows(n_seeds=2, controls=False):
    rows, probes, trains = [], [], []
    for method in ("supervised", "diet"):
        for seed in range(n_seeds):
            row = {**DEFAULT_BASE, "experiment": "e", "design": "grid", "method": method,
                   "normalize_w": False, "seed": seed, "data_seed": seed, "dataset_id": f"ds{seed}"}
            rows.append(row)
            metrics = {m: 0.5 + 0.1 * seed for m in PROBE_METRICS}
            if controls:
                metrics.update({control_column(m, "init"): 0.2 for m in CONTROL_METRICS})
                metrics.update(r2_affine_lo=0.4 + 0.1 * seed, r2_affine_hi=0.6 + 0.1 * seed)
            probes.append({"metrics": metrics, "features_uid": "f", "job_uid": "p"})
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
    # 95 % t-interval of the mean of 0.5, 0.6, 0.7: 0.6 ± t(0.975, 2) · 0.1 / √3
    half = 4.302652729911275 * 0.1 / np.sqrt(3)
    assert s["r2_affine_ci_lo"].tolist() == pytest.approx([0.6 - half] * 2)
    assert s["r2_affine_ci_hi"].tolist() == pytest.approx([0.6 + half] * 2)
    md = markdown_table(s)
    body = [line for line in md.splitlines() if line.startswith("| ")]
    assert len(body) == 1 + 2 and "0.600 ± 0.100" in md
    assert f"[{0.6 - half:.3f}, {0.6 + half:.3f}]" in md
    # only the axis that varies (method) is a column; the shared settings are stated once
    assert body[0].startswith("| method | n | R²_a trained |") and "latent_dim" not in body[0]
    assert "Shared by every row:" in md and "latent_dim = 5" in md
    assert all(f"{m}_mean" in s for m in SUMMARY_METRICS)


def test_controls_and_gain_sit_beside_each_model_and_never_replace_it():
    rows, probes, trains = _rows(n_seeds=2, controls=True)
    obs = {f"ds{seed}": {control_column(m, "x"): 0.3 for m in CONTROL_METRICS} for seed in range(2)}
    table = tidy_table(rows, probes, trains, obs)
    assert table["r2_affine"].tolist() == pytest.approx([0.5, 0.6, 0.5, 0.6])
    assert table["r2_affine_x"].eq(0.3).all() and table["r2_affine_init"].eq(0.2).all()
    assert table["gain_x"].tolist() == pytest.approx([0.2, 0.3, 0.2, 0.3])
    assert (table["r2_affine_lo"] < table["r2_affine"]).all() and (table["r2_affine"] < table["r2_affine_hi"]).all()
    assert table["r2_affine_init_bn"].isna().all()  # a control not computed stays missing
    md = markdown_table(probe_summary(table))
    assert "| 0.300 ± 0.000 | 0.200 ± 0.000 | – | +0.250 [" in md


def test_t_interval_needs_two_values():
    assert all(np.isnan(t_interval(1.0, np.nan, 1)))
    lo, hi = t_interval(0.0, 1.0, 2, level=0.9)
    assert hi == pytest.approx(6.313751514675043 / np.sqrt(2)) and lo == -hi


def test_curves_table_repeats_identifying_columns():
    rows = _rows(1)[0]
    curves = [pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0]}) for _ in rows]
    out = curves_table(rows, curves)
    assert len(out) == 4 and out["monitor_r2"].isna().all() and set(out["method"]) == {"supervised", "diet"}


def test_interval_of_a_metric_bounded_by_one_stops_at_one():
    """R² values 0.7 and 1.0 (n = 2) have a t-interval far above 1; the summary stops it at 1, a gain
    (a difference, no ceiling) keeps its full interval."""
    import pandas as pd

    from linid.report.tables import summarize, t_interval

    df = pd.DataFrame({"cell": ["a", "a"], "r2_affine": [0.7, 1.0], "gain_x": [0.7, 1.0]})
    out = summarize(df, ["cell"], ["r2_affine", "gain_x"], level=0.95).iloc[0]
    lo, hi = t_interval(0.85, float(pd.Series([0.7, 1.0]).std()), 2)
    assert hi > 2 and out["r2_affine_ci_hi"] == 1.0 and out["r2_affine_ci_lo"] == pytest.approx(lo)
    assert out["gain_x_ci_hi"] == pytest.approx(hi)


def test_a_sweep_named_after_its_method_is_one_column_in_probes_summary():
    """The README's demo: sweeps 'supervised' and 'diet', one method each (issue 28, item 4)."""
    rows, probes, trains = _rows(n_seeds=2)
    for r in rows:
        r["experiment"] = r["method"]
    md = markdown_table(probe_summary(tidy_table(rows, probes, trains)))
    header = next(line for line in md.splitlines() if line.startswith("| "))
    assert header.startswith("| method | n |") and "experiment" not in header
    assert "Not repeated as a column: experiment (the same as method)." in md
    assert "experiment = " not in md  # a column that varies is never listed as shared


def _family_pairs() -> pd.DataFrame:
    rows = []
    for k in (18, 2, 3, 6):  # text order of the ids: K18 before K2
        for layer in ("hidden_untrained", "f", "hidden", "f_untrained"):
            rows.append({"experiment": "family", "cell": f"fam_K{k}_x2_s0_M2", "method": "family",
                         "head": "", "rep_dim": 2, "n_classes": k, "diverse": k >= 3, "layer": layer,
                         "n_pairs": 3, "mcca_mean": 0.9, "mcca_std": 0.01})
    return pd.DataFrame(rows)


def test_pairs_summary_markdown_sorts_k_as_numbers_and_drops_empty_and_repeated_columns():
    md = markdown_pairs(_family_pairs(), ["mcca"])
    table = [line for line in md.splitlines() if line.startswith("| ")]
    header, body = table[0], table[1:]
    assert header == "| K | diverse | layer | n_pairs | mcca |"  # no empty head, no raw cell id
    assert [int(line.split(" | ")[0][2:]) for line in body[::4]] == [2, 3, 6, 18]
    assert [line.split(" | ")[2] for line in body[:4]] == ["f", "hidden", "f_untrained", "hidden_untrained"]
    assert "Shared by every row: experiment = family, method = family, M = 2." in md
    # two cells alike in every shown column: the raw id is what tells them apart
    two = pd.concat([_family_pairs(), _family_pairs().assign(cell=lambda d: d["cell"] + "b")])
    header = next(line for line in markdown_pairs(two, ["mcca"]).splitlines() if line.startswith("| "))
    assert header.startswith("| cell | K |")
