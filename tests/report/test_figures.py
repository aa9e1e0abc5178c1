"""Tests for linid.report.sim_figures and selection: every figure is written as a real PNG + PDF, selections are exact."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linid.report import sim_figures as P
from linid.report.selection import select_base

METRICS = [
    "r2_affine",
    "r2_linear",
    "mae_sv",
    "r2_w_v",
    "mcc_pearson",
    "mcc_spearman",
    "mcc_pearson_aligned",
    "mcc_spearman_aligned",
    "r2_knn",
]
BASE = {
    "latent_dim": 5,
    "n_classes": 20,
    "kappa": 10.0,
    "conditional": "vmf",
    "cluster_prior": "uniform",
    "label_noise": 0.0,
}


def _row(method: str, d: int, c: int, seed: int, rng: np.random.Generator, **axes) -> dict:
    cell = {**BASE, "latent_dim": d, "n_classes": c, **axes}
    # a known, seed-dependent value so cell means can be checked exactly
    r2 = 0.5 + 0.04 * d + 0.01 * np.log10(c) + 0.01 * seed - (0.1 if method == "diet" else 0.0)
    row = {
        "experiment": "grid",
        "method": method,
        **cell,
        "data_seed": 0,
        "seed": seed,
        "steps": 1000,
    }
    row.update({m: float(np.clip(r2 + 0.02 * rng.standard_normal(), -1, 1)) for m in METRICS})
    row["r2_affine"] = r2
    row["mae_sv"] = abs(rng.standard_normal()) * 0.05
    row["r2_w_v"] = np.nan if method == "diet" else row["r2_w_v"]
    return row


@pytest.fixture(scope="module")
def probes() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        _row(m, d, c, s, rng)
        for m, d, c, s in itertools.product(["supervised", "diet"], [2, 5], [5, 20], range(3))
    ]
    # one-factor variations around BASE (d=5, |C|=20)
    for m, s in itertools.product(["supervised", "diet"], range(3)):
        for k in (5.0, 50.0):
            rows.append({**_row(m, 5, 20, s, rng, kappa=k), "experiment": "one_factor"})
        for cond in ("laplace", "normal"):
            rows.append({**_row(m, 5, 20, s, rng, conditional=cond), "experiment": "one_factor"})
        rows.append({**_row(m, 5, 20, s, rng, label_noise=0.1), "experiment": "one_factor"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def grid(probes: pd.DataFrame) -> pd.DataFrame:
    return probes[probes["experiment"] == "grid"]


@pytest.fixture(scope="module")
def curves() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    steps = np.arange(0, 1001, 50)
    for m, d, c, s in itertools.product(["supervised", "diet"], [2, 5], [5, 20], range(3)):
        loss = np.log(c) * np.exp(-steps / 300) + 0.05 + 0.01 * rng.random(len(steps))
        mon = 1 - np.exp(-steps / 200) - 0.02 * rng.random(len(steps))
        for i, (st, lo, r2) in enumerate(zip(steps, loss, mon, strict=False)):
            rows.append(
                {
                    "experiment": "grid",
                    "method": m,
                    **BASE,
                    "latent_dim": d,
                    "n_classes": c,
                    "data_seed": 0,
                    "seed": s,
                    "step": int(st),
                    "loss": float(lo),
                    "monitor_r2": float(r2) if i % 4 == 0 else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _assert_figure(paths: list[Path], stem: Path) -> None:
    assert [p.name for p in paths] == [stem.name + ".png", stem.name + ".pdf"]
    png, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5_000
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert pdf.stat().st_size > 1_000


# ----------------------------------------------------------------------------- figures


@pytest.mark.parametrize("metric", ["r2_affine", "r2_w_v"])  # r2_w_v: all-NaN diet panel
def test_heatmap_writes_png_and_pdf(grid, tmp_path, metric):
    stem = tmp_path / "sub" / f"heat_{metric}"
    _assert_figure(P.heatmap(grid, stem, metric=metric), stem)


def test_metric_vs_classes_writes_png_and_pdf(grid, tmp_path):
    stem = tmp_path / "vs_classes"
    _assert_figure(P.metric_vs_classes(grid, stem), stem)


@pytest.mark.parametrize("axis", ["kappa", "conditional", "n_classes"])
def test_metric_vs_axis_writes_png_and_pdf(probes, tmp_path, axis):
    data = select_base(probes, BASE, keep=[axis])
    stem = tmp_path / f"axis_{axis}"
    _assert_figure(P.metric_vs_axis(data, axis, stem, metric="mcc_pearson"), stem)


def test_training_curves_writes_png_and_pdf(curves, tmp_path):
    stem = tmp_path / "curves"
    _assert_figure(P.training_curves(curves, stem), stem)


def test_training_curves_many_models(tmp_path):
    rng = np.random.default_rng(2)
    steps = np.arange(0, 500, 50)
    n = 200
    df = pd.DataFrame(
        {
            "method": np.repeat(rng.choice(["supervised", "diet"], n), len(steps)),
            "latent_dim": np.repeat(rng.choice([2, 5, 10], n), len(steps)),
            "n_classes": np.repeat(rng.choice([10, 100, 1000, 10000], n), len(steps)),
            "seed": np.repeat(np.arange(n), len(steps)),
            "step": np.tile(steps, n),
            "loss": rng.random(n * len(steps)) + 0.1,
            "monitor_r2": rng.random(n * len(steps)),
        }
    )
    stem = tmp_path / "many"
    _assert_figure(P.training_curves(df, stem), stem)


def test_stem_with_suffix_is_normalised_and_non_unit_metric(grid, tmp_path):
    paths = P.heatmap(grid, tmp_path / "h.png", metric="mae_sv")
    _assert_figure(paths, tmp_path / "h")


# ----------------------------------------------------------------------------- cell means


def test_cell_means_put_the_right_mean_in_the_right_cell(grid):
    sup = grid[grid["method"] == "supervised"]
    means = P.cell_means(sup, "r2_affine")
    stds = P.cell_stds(sup, "r2_affine")
    assert list(means.index) == [2, 5] and list(means.columns) == [5, 20]
    for d, c in itertools.product([2, 5], [5, 20]):
        seeds = np.array([0.5 + 0.04 * d + 0.01 * np.log10(c) + 0.01 * s for s in range(3)])
        assert means.loc[d, c] == pytest.approx(seeds.mean(), abs=1e-12)
        assert stds.loc[d, c] == pytest.approx(seeds.std(ddof=1), abs=1e-12)
    # rows and columns are not transposed: d changes the value more than |C|
    assert means.loc[5, 5] - means.loc[2, 5] == pytest.approx(0.12)
    assert means.loc[2, 20] - means.loc[2, 5] == pytest.approx(0.01 * np.log10(4))


def test_cell_means_skip_nan():
    df = pd.DataFrame({"latent_dim": [2, 2, 2], "n_classes": [5, 5, 5], "m": [0.2, np.nan, 0.4]})
    assert P.cell_means(df, "m").loc[2, 5] == pytest.approx(0.3)


# ----------------------------------------------------------------------------- select_base


def test_select_base_one_factor_kappa(probes):
    out = select_base(probes, BASE, keep=["kappa"])
    # base cell from the grid (d=5, |C|=20: 2 methods x 3 seeds) + kappa in {5, 50} (2 x 2 x 3)
    assert len(out) == 6 + 12
    assert sorted(out["kappa"].unique()) == [5.0, 10.0, 50.0]
    assert (out["latent_dim"] == 5).all() and (out["n_classes"] == 20).all()
    assert (out["conditional"] == "vmf").all() and (out["label_noise"] == 0.0).all()
    expected = probes[
        (probes["latent_dim"] == 5)
        & (probes["n_classes"] == 20)
        & (probes["conditional"] == "vmf")
        & (probes["label_noise"] == 0.0)
    ]
    assert out.index.equals(expected.index)


def test_select_base_tolerates_int_float_and_no_keep(probes):
    base = {**BASE, "latent_dim": 5.0, "n_classes": np.int64(20), "kappa": 10}
    out = select_base(probes, base, keep=[])
    assert len(out) == 6
    assert set(out["experiment"]) == {"grid"}


def test_select_base_keep_grid_axes(probes):
    out = select_base(probes, BASE, keep=["latent_dim", "n_classes"])
    assert len(out) == 24  # the whole grid, no one-factor variation


def test_select_base_rejects_unknown_axis(probes):
    with pytest.raises(ValueError, match="kapa"):
        select_base(probes, BASE, keep=["kapa"])


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, column",
    [
        (lambda df, p: P.heatmap(df, p), "n_classes"),
        (lambda df, p: P.metric_vs_classes(df, p), "n_classes"),
        (lambda df, p: P.metric_vs_axis(df, "n_classes", p), "n_classes"),
        (lambda df, p: select_base(df, BASE, ["kappa"]), "n_classes"),
    ],
)
def test_missing_column_raises_naming_it(grid, tmp_path, call, column):
    with pytest.raises(ValueError, match=column):
        call(grid.drop(columns=[column]), tmp_path / "x")


def test_missing_metric_raises(grid, tmp_path):
    with pytest.raises(ValueError, match="r2_nope"):
        P.heatmap(grid, tmp_path / "x", metric="r2_nope")


def test_training_curves_missing_column_raises(curves, tmp_path):
    with pytest.raises(ValueError, match="monitor_r2"):
        P.training_curves(curves.drop(columns=["monitor_r2"]), tmp_path / "x")


@pytest.mark.parametrize(
    "call",
    [
        lambda df, p: P.heatmap(df, p),
        lambda df, p: P.metric_vs_classes(df, p),
        lambda df, p: P.metric_vs_axis(df, "kappa", p),
    ],
)
def test_empty_frame_raises(grid, tmp_path, call):
    with pytest.raises(ValueError, match="empty"):
        call(grid.iloc[:0], tmp_path / "x")
    assert not (tmp_path / "x.png").exists()


def test_empty_curves_raise(curves, tmp_path):
    with pytest.raises(ValueError, match="empty"):
        P.training_curves(curves.iloc[:0], tmp_path / "x")


def test_error_bars_stop_at_the_ceiling_of_a_unit_metric():
    """R² cannot exceed 1: a mean of 0.95 ± 0.2 draws its upper bar to 1, its lower bar in full."""
    import matplotlib.pyplot as plt

    from linid.report.style import errorbar, unit_cap

    s = pd.DataFrame({"mean": [0.95, 0.5, 1.0], "std": [0.2, 0.1, np.nan]})
    fig, ax = plt.subplots()
    errorbar(ax, s, np.arange(3.0), "x", cap=unit_cap("r2_affine"))
    segments = ax.containers[0].lines[2][0].get_segments()
    tops = [seg[:, 1].max() for seg in segments]
    bottoms = [seg[:, 1].min() for seg in segments]
    plt.close(fig)
    assert tops == pytest.approx([1.0, 0.6, 1.0]) and bottoms == pytest.approx([0.75, 0.4, 1.0])
    assert unit_cap("loss") is None
