"""The [K] experiment's stages as library calls: dataset, per-seed training, features, pairs, tables, plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from linid.family.data import AngleData, load_angle_dataset, make_angle_dataset, sample_angle_data
from linid.family.features import cell_features
from linid.family.models import (
    FamilyModelConfig,
    architecture,
    build_model,
    load_models,
    models_from_states,
    save_models,
)
from linid.family.training import FamilyTrainConfig, train_cell
from linid.names import LAYERS
from linid.probes.pairs import pairwise
from linid.report.family_figures import alignment, cca_spectra, mcca_vs_classes
from linid.report.tables import markdown_pairs, pairs_summary

CFG = AngleData(n_classes=6, input_dim=3)
MODEL = FamilyModelConfig(hidden=(16, 16))
META = architecture(3, 6, 2, MODEL)


def features(data, cfg, model_cfg, states):
    meta = architecture(cfg.input_dim, cfg.n_classes, 2, model_cfg)
    return cell_features(data, models_from_states(states, meta), meta)


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    path = tmp_path_factory.mktemp("fam") / "data.npz"
    info = make_angle_dataset(path, CFG, 2000, 400, seed=3)
    data = load_angle_dataset(path)
    states, summary = train_cell(
        data, CFG, 2, MODEL, FamilyTrainConfig(steps=300), [0, 1, 2], torch.device("cpu")
    )
    return info, data, states, summary


def test_dataset_is_deterministic_and_labelled(cell, tmp_path):
    info, data, _, _ = cell
    make_angle_dataset(tmp_path / "again.npz", CFG, 2000, 400, seed=3)
    again = load_angle_dataset(tmp_path / "again.npz")
    for k in data:
        assert torch.equal(data[k], again[k]), k
    assert data["train_x"].shape == (2000, 3) and data["eval_x"].shape == (400, 3)
    assert info["min_class_count"] > 0 and set(data["train_y"].tolist()) == set(range(6))
    assert not torch.equal(data["train_x"][:400], data["eval_x"])  # separate streams


def test_untrained_model_depends_only_on_seed():
    a = build_model(3, 6, 2, MODEL, seed=5)
    b = build_model(3, 6, 2, MODEL, seed=5)
    c = build_model(3, 6, 2, MODEL, seed=6)
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    assert not torch.equal(a.f_net[0].weight, c.f_net[0].weight)


def test_training_fits_and_is_reproducible(cell):
    _, data, states, summary = cell
    assert [s["seed"] for s in summary] == [0, 1, 2]
    assert min(s["eval_accuracy"] for s in summary) > 0.6  # 6 classes: chance is 1/6
    again, _ = train_cell(
        data, CFG, 2, MODEL, FamilyTrainConfig(steps=300), [1], torch.device("cpu")
    )
    for k, v in states[1].items():
        assert torch.equal(v, again[1][k]), k


def test_models_roundtrip_weights_only(cell, tmp_path):
    _, _, states, _ = cell
    save_models(tmp_path / "m.pt", states, {**META, "note": "x"})
    loaded, meta = load_models(tmp_path / "m.pt")  # no architecture from the caller
    assert meta["rep_dim"] == 2 and meta["note"] == "x" and sorted(loaded) == [0, 1, 2]
    assert all(torch.equal(loaded[0].state_dict()[k], v) for k, v in states[0].items())
    assert not loaded[0].training
    with pytest.raises(ValueError, match="architecture"):
        save_models(tmp_path / "bad.pt", states, {"rep_dim": 2})


def test_features_and_pairs(cell):
    _, data, states, _ = cell
    feats = features(data, CFG, MODEL, states)
    assert feats["f_s0"].shape == (400, 2) and feats["hidden_s0"].shape == (400, 16)
    assert feats["g_s0"].shape == (6, 2)
    assert not np.allclose(feats["f_s0"], feats["f_untrained_s0"])
    rows, spectra = pairwise(feats, tuple(LAYERS), svcca_k=2)
    assert len(rows) == 3 * 4  # 3 pairs × 4 layers
    assert len(spectra) == 3 * (2 + 16 + 2 + 16)  # one row per canonical correlation (f: 2, hidden: 16)
    df = pd.DataFrame(rows)
    assert df["mcca"].between(0, 1 + 1e-9).all() and (df["cca_min"] <= df["mcca"] + 1e-12).all()
    trained = df[df.layer == "f"]["mcca"].mean()
    untrained = df[df.layer == "f_untrained"]["mcca"].mean()
    assert trained > untrained + 0.2


def test_pairs_of_a_linear_copy_are_exact():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(500, 3))
    a = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    feats = {"seeds": np.array([0, 1]), "f_s0": f, "f_s1": f @ a + 1.0}
    (row,), _ = pairwise(feats, ("f",), svcca_k=2)
    assert row["mcca"] == pytest.approx(1.0, abs=1e-9) and row["cca_min"] == pytest.approx(1.0, abs=1e-9)
    assert row["r2_ab"] == pytest.approx(1.0, abs=1e-9) and row["r2_ba"] == pytest.approx(1.0, abs=1e-9)
    assert np.isnan(row["g_span"])  # no label embeddings given
    feats["f_s1"] = rng.normal(size=(500, 3))
    (row,), _ = pairwise(feats, ("f",), svcca_k=2)
    assert row["mcca"] < 0.2


def test_pairs_summary_and_figures(cell, tmp_path):
    _, data, states, _ = cell
    pair_rows, spectra = pairwise(features(data, CFG, MODEL, states), tuple(LAYERS), 2)
    rows, spectra = pd.DataFrame(pair_rows), pd.DataFrame(spectra)
    for frame in (rows, spectra):
        frame.insert(0, "experiment", "family")
        frame.insert(1, "cell", "K6_s3_M2")
    rows.insert(2, "method", "family")
    rows.insert(3, "head", "")
    rows.insert(4, "rep_dim", 2)
    rows.insert(5, "n_classes", 6)
    rows.insert(6, "diverse", True)
    summary = pairs_summary(rows)
    assert len(summary) == 4 and summary["n_pairs"].eq(3).all()
    f = summary[summary.layer == "f"].iloc[0]
    assert f["mcca_mean"] == pytest.approx(rows[rows.layer == "f"]["mcca"].mean())
    assert "±" in markdown_pairs(summary)
    assert summary.loc[summary.layer == "f_untrained", "g_span_mean"].isna().all()
    assert (summary.loc[summary.layer == "f", "g_span_mean"] > 0).all()
    assert "| – |" in markdown_pairs(summary)  # untrained rows: no g_span
    no_span = pairs_summary(rows.drop(columns="g_span"))  # e.g. only [R] cells compared
    assert no_span["g_span_mean"].isna().all() and len(no_span) == 4
    written = mcca_vs_classes(rows, tmp_path / "mcca")
    written += cca_spectra(spectra, tmp_path / "spectra")
    feats = features(data, CFG, MODEL, states)
    written += alignment(feats["f_s0"], feats["f_s1"], feats["eval_y"], tmp_path / "align")
    assert all(p.stat().st_size > 3000 for p in written)
    assert {p.suffix for p in written} == {".png", ".pdf"}


def _f_agreement(n_classes: int, optimizer: str, lr: float) -> pd.DataFrame:
    cfg = AngleData(n_classes=n_classes, input_dim=6)
    x, y = sample_angle_data(cfg, 5000, torch.Generator().manual_seed(1))
    ex, ey = sample_angle_data(cfg, 1000, torch.Generator().manual_seed(2))
    data = {"train_x": x, "train_y": y, "eval_x": ex, "eval_y": ey}
    tcfg = FamilyTrainConfig(steps=1500, lr=lr, optimizer=optimizer)
    model = FamilyModelConfig()
    states, summary = train_cell(data, cfg, 2, model, tcfg, [0, 1, 2], torch.device("cpu"))
    assert min(s["eval_accuracy"] for s in summary) > 0.95
    return pd.DataFrame(pairwise(features(data, cfg, model, states), ("f",), 2)[0])


def test_diversity_boundary_with_sgd():
    """M = 2: K = 3 ≥ M + 1 pins f down up to a linear map; K = 2 leaves one direction free."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        above = _f_agreement(3, "sgd", 0.01)
        below = _f_agreement(2, "sgd", 0.01)
        below_adam = _f_agreement(2, "adam", 0.003)
    finally:
        torch.set_num_threads(before)
    assert above["cca_min"].min() > 0.9
    assert below["cca_min"].max() < 0.8 and below["mcca"].mean() < above["mcca"].mean() - 0.1
    # Adam moves the free direction too (not rotation-equivariant): far more agreement than SGD
    assert below_adam["cca_min"].mean() > below["cca_min"].mean() + 0.2
    # the measured diversity: K = 2 gives g(1) − g(0) only; K = 3 spreads over R^2
    assert (below["g_span"] == 0).all() and (above["g_span"] > 0.5).all()


def test_alignment_colour_bar_is_ticked_at_whole_classes_only(monkeypatch, tmp_path):
    """Issue 28: classes are integers; the bar showed 2.5, 7.5 (a continuous scale)."""
    import matplotlib.pyplot as plt

    from linid.report import family_figures

    assert family_figures.class_ticks(6) == [0, 1, 2, 3, 4, 5]
    assert family_figures.class_ticks(18) == [0, 2, 4, 6, 8, 10, 12, 14, 17]
    figs = []
    monkeypatch.setattr(family_figures, "save", lambda fig, stem: figs.append(fig) or [])
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 6
    family_figures.alignment(rng.normal(size=(300, 2)), rng.normal(size=(300, 2)), labels, tmp_path / "a")
    bar = figs[0].axes[-1]  # the colour bar's axes
    ticks = bar.get_yticks()
    assert list(ticks) == [0, 1, 2, 3, 4, 5] and [t.get_text() for t in bar.get_yticklabels()] == list("012345")
    colours = figs[0].axes[0].collections[0].cmap.colors
    assert len({tuple(c) for c in colours}) == 6  # one colour per class: hsv's ends (both red) not both used
    plt.close(figs[0])
