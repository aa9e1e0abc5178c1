"""The objectives table and figure: only shared datasets, every objective beside its controls."""

import numpy as np
import pandas as pd
import pytest

from linid.names import CELL_AXES
from linid.report import objectives


def _probes():
    rows = []
    rng = np.random.default_rng(0)
    base = {"latent_dim": 5, "n_instances": 1000, "kappa": 10.0, "conditional": "vmf", "cluster_prior": "uniform",
            "label_noise": 0.0, "cond_beta": 2.0, "prior_shape": 3.0, "prior_scale": 1.0, "normalize_w": False,
            "steps": 100, "batch_size": 64}
    for n_classes in (10, 100):
        for method, level in (("supervised", 0.9), ("infonce", 0.95), ("diet", 0.8)):
            for seed in range(3):
                r2 = level + 0.01 * rng.standard_normal()
                rows.append({**base, "n_classes": n_classes, "method": method, "data_seed": seed, "seed": seed,
                             "r2_affine": r2, "mcc_pearson": r2 - 0.1, "gain_x": r2 - 0.85,
                             "r2_affine_x": 0.85, "r2_affine_init_bn": 0.3, "mcc_pearson_x": 0.7,
                             "mcc_pearson_init_bn": 0.4})
    # a dataset only supervised saw: not part of the comparison
    rows.append({**base, "n_classes": 1000, "method": "supervised", "data_seed": 0, "seed": 0, "r2_affine": 0.5,
                 "mcc_pearson": 0.4, "gain_x": -0.3, "r2_affine_x": 0.8, "r2_affine_init_bn": 0.3,
                 "mcc_pearson_x": 0.7, "mcc_pearson_init_bn": 0.4})
    return pd.DataFrame(rows)


def test_the_summary_compares_objectives_on_shared_datasets_only_with_intervals():
    summary = objectives.objectives_summary(_probes())
    assert sorted(summary["n_classes"].unique()) == [10, 100]  # |C| = 1000: one objective only
    assert list(summary["method"][:3]) == ["supervised", "diet", "infonce"]  # the styles' order
    assert (summary["n_runs"] == 3).all()
    row = summary[(summary["method"] == "infonce") & (summary["n_classes"] == 10)].iloc[0]
    assert row["r2_affine_ci_lo"] < row["r2_affine_mean"] < row["r2_affine_ci_hi"] <= 1.0
    assert row["r2_affine_x_mean"] == pytest.approx(0.85)
    assert set(CELL_AXES) <= set(summary.columns)


def test_the_markdown_and_the_figure(tmp_path):
    summary = objectives.objectives_summary(_probes())
    md = objectives.markdown(summary)
    assert "| n_classes | objective | n | R²_a | R²_a x | R²_a untrained |" in md
    assert "| 10 | infonce | 3 | 0.9" in md and "latent_dim = 5" in md
    written = objectives.figure(summary, tmp_path / "objectives")
    assert [p.suffix for p in written] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in written)
