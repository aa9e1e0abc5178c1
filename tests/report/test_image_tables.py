"""DisLib tables: tidy rows, mean ± std, [R] Table 4's layout and the comparison with the paper."""

import tempfile
from pathlib import Path

import pandas as pd
import pytest

from linid.report import image_figures, image_tables
from tests.helpers import ROOT

PUBLISHED = ROOT / "workflow" / "resources" / "published_reizinger2025_table4.csv"


def _records(controls: bool = False):
    recs = []
    models = [("pixels", (0.30, 0.20)), ("mlp", (0.90, 0.94)), ("cnn", (0.99, 1.0))]
    if controls:  # listed first: the table orders the columns, not the records
        models = [("cnn_init", (0.40, 0.50)), ("mlp_init", (0.10, 0.20))] + models
    for model, rs in models:
        for seed, r in enumerate(rs):
            recs.append({
                "dataset": "dsprites", "model": model, "seed": seed, "model_seed": 42 + seed, "split": "val",
                "n_train": 800, "n_eval": 100, "feature_dim": 4096 if model == "pixels" else 512, "job_uid": f"{model}{seed}",
                "factors": [
                    {"factor": "shape", "role": "categorical", "pearson_r": r, "pearson_r_lstsq": r},
                    {"factor": "scale", "role": "continuous", "pearson_r": r - 0.1, "pearson_r_lstsq": r},
                    {"factor": "orientation", "role": "periodic", "pearson_r": 0.0, "pearson_r_lstsq": 0.0},
                ],
            })
    return recs


def test_tidy_has_one_row_per_model_seed_factor_in_paper_order():
    t = image_tables.tidy(_records())
    assert len(t) == 3 * 2 * 3
    assert {"dataset", "model", "factor", "role", "seed", "pearson_r"} <= set(t.columns)
    assert list(dict.fromkeys(t["model"])) == ["pixels", "mlp", "cnn"]
    with pytest.raises(ValueError, match="no image probe"):
        image_tables.tidy([])


def test_summary_and_markdown_follow_table_4():
    s = image_tables.summarize(image_tables.tidy(_records()))
    mlp = s[(s["model"] == "mlp") & (s["factor"] == "shape")].iloc[0]
    assert mlp["mean"] == pytest.approx(0.92) and mlp["std"] == pytest.approx(0.02) and mlp["n_seeds"] == 2
    md = image_tables.markdown(s)
    lines = md.splitlines()
    assert lines[0] == "| dataset | factor | x (pixels) | f_MLP(x) | f_CNN(x) |"
    assert lines[2].startswith("| dsprites | category (shape) | 0.25 ± 0.05 | 0.92 ± 0.02 | 0.99 ± 0.01 |")
    assert "orientation" not in md  # periodic factors stay in the CSV only


def test_comparison_matches_category_and_judges_only_full_budgets():
    s = image_tables.summarize(image_tables.tidy(_records()))
    pub = image_tables.load_published(PUBLISHED)
    assert len(pub) == 51 and set(pub["model"]) == {"pixels", "mlp", "cnn"}
    small = pd.DataFrame([{"dataset": "dsprites", "model": m, "data_fraction": 0.1, "max_epochs": 2}
                          for m in ("pixels", "mlp", "cnn")])
    comp = image_tables.compare_published(s, pub, small)
    cat = comp[(comp["factor"] == "category") & (comp["model"] == "cnn") & (comp["dataset"] == "dsprites")].iloc[0]
    assert cat["published"] == 1.0 and cat["reproduced_mean"] == pytest.approx(0.995)
    assert cat["status"] == "reduced budget" and cat["agrees"] == ""
    assert (comp["status"] == "not run").sum() == 51 - 6  # posX/posY and the other datasets did not run
    full = small.assign(data_fraction=1.0, max_epochs=100)
    comp = image_tables.compare_published(s, pub, full)
    row = comp[(comp["factor"] == "scale") & (comp["model"] == "mlp")].iloc[0]
    assert row["full_budget"] and row["agrees"] == "False"  # 0.82 vs published 0.98
    assert "6 of 51" in image_tables.comparison_markdown(comp)


def test_bar_figure_is_written(tmp_path):
    s = image_tables.summarize(image_tables.tidy(_records()))
    paths = image_figures.probe_bars(s, tmp_path / "bars", image_tables.load_published(PUBLISHED))
    assert all(p.stat().st_size > 5000 for p in paths)


def test_the_untrained_controls_get_their_own_columns_and_sit_beside_the_paper():
    t = image_tables.tidy(_records(controls=True))
    assert list(dict.fromkeys(t["model"])) == ["pixels", "mlp", "cnn", "mlp_init", "cnn_init"]
    enc = dict(zip(t["model"], t["encoder"], strict=True))
    assert enc == {"pixels": "input", "mlp": "trained", "cnn": "trained", "mlp_init": "untrained",
                   "cnn_init": "untrained"}
    s = image_tables.summarize(t)
    lines = image_tables.markdown(s).splitlines()
    assert lines[0] == ("| dataset | factor | x (pixels) | f_MLP(x) | f_CNN(x) | f_MLP(x) untrained "
                        "| f_CNN(x) untrained |")
    assert lines[2] == "| dsprites | category (shape) | 0.25 ± 0.05 | 0.92 ± 0.02 | 0.99 ± 0.01 | 0.15 ± 0.05 | 0.45 ± 0.05 |"
    assert "untrained': the same encoder at its seed's initialisation" in lines[-1]
    pub = image_tables.load_published(PUBLISHED)
    budgets = pd.DataFrame([{"dataset": "dsprites", "model": m, "data_fraction": 0.1, "max_epochs": 0 if "_init" in m else 2}
                            for m in ("pixels", "mlp", "cnn", "mlp_init", "cnn_init")])
    comp = image_tables.compare_published(s, pub, budgets)
    assert len(comp) == 51  # one row per published value: the controls are columns, not rows
    cnn = comp[(comp["dataset"] == "dsprites") & (comp["factor"] == "scale") & (comp["model"] == "cnn")].iloc[0]
    assert cnn["control_model"] == "cnn_init" and cnn["control_mean"] == pytest.approx(0.35)
    assert cnn["control_n_seeds"] == 2 and cnn["reproduced_mean"] == pytest.approx(0.895)
    pix = comp[(comp["dataset"] == "dsprites") & (comp["factor"] == "scale") & (comp["model"] == "pixels")].iloc[0]
    assert pix["control_model"] == "" and pix["control_n_seeds"] == 0
    not_run = comp[(comp["dataset"] == "shapes3d") & (comp["model"] == "mlp")].iloc[0]
    assert not_run["control_model"] == "mlp_init" and not_run["control_n_seeds"] == 0
    md = image_tables.comparison_markdown(comp).splitlines()
    assert "untrained (control)" in md[0]
    assert "| dsprites | scale | cnn | 0.92 ± 0.05 | 0.90 ± 0.01 | 0.35 ± 0.05 (cnn_init) | 2 |" in "\n".join(md)
    assert any(line.startswith("| dsprites | scale | pixels |") and "| – |" in line for line in md)
    # without the controls the comparison still has the columns, empty
    plain = image_tables.compare_published(image_tables.summarize(image_tables.tidy(_records())), pub, budgets)
    assert (plain["control_n_seeds"] == 0).all()
    paths = image_figures.probe_bars(s, Path(tempfile.mkdtemp()) / "bars", pub)
    assert all(p.stat().st_size > 5000 for p in paths)
