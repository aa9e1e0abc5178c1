"""Figures of the text experiment: every word label readable and inside its panel, the legend off
the points, every mean on the agreement axis (issue 28, item 4)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from linid.report import text_figures as T
from linid.report.tables import summarize


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """The figure a text_figures function draws, kept open instead of saved."""
    figs = []
    monkeypatch.setattr(T, "save", lambda fig, stem: figs.append(fig) or [tmp_path / "x.png"])
    yield figs
    for fig in figs:
        plt.close(fig)


def _panel(seed: int, n: int = 12) -> dict:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 2))
    a[1] = a[0] + 0.01  # two words on one spot: their labels must not overprint
    a[2] = [4.0, 4.0]  # a word at the corner: its label must stay inside the panel
    b = a @ np.array([[0.5, 1.0], [-1.0, 0.3]]) + 0.01 * rng.normal(size=a.shape)
    return {"title": f"cell{seed}", "a": a, "b": b, "words": [f"word{i}" for i in range(n)],
            "names": ("replica 1 (seed 0)", "replica 2 (seed 1)")}


def test_overlay_labels_never_overlap_or_leave_their_panel_and_the_legend_sits_outside(drawn):
    T.overlay_figure([_panel(0), _panel(1)], 10, "unused")
    fig = drawn[0]
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        assert ax.get_legend() is None  # no legend over the points
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        inside = ax.get_window_extent(renderer)
        for i, box in enumerate(boxes):
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
            assert not any(box.overlaps(other) for other in boxes[:i])
    labelled = [ax for ax in fig.axes if ax.texts]
    assert len(labelled) == 4 and all(len(ax.texts) == 10 for ax in labelled)  # every word labelled
    assert len(fig.legends) == 1 and "mapped onto replica 2" in fig.legends[0].texts[1].get_text()


def _summary(untrained_r2: float) -> pd.DataFrame:
    rows = []
    for kind in ("replicas", "truth"):
        for state, r2, cca in (("trained", 0.95, [0.9, 0.95, 0.97]), ("untrained", untrained_r2, [0.05, 0.3, 0.6])):
            for i, c in enumerate(cca):
                rows.append({"cell": "c", "kind": kind, "space": "q", "state": state, "r2w": r2 + 0.01 * i,
                             "mcca": c, "cca_min": c / 2})
    return summarize(pd.DataFrame(rows), ["cell", "kind", "space", "state"], ["r2w", "mcca", "cca_min"],
                     count="n_pairs", level=0.95)


def test_canonical_correlation_intervals_stop_at_zero_and_r2_ones_do_not():
    s = _summary(-0.3)
    un = s[s["state"] == "untrained"]
    assert (un["cca_min_ci_lo"] == 0).all() and (un["mcca_ci_lo"] == 0).all()  # t-interval: below 0
    assert (un["r2w_ci_lo"] < -0.3).all()  # an R² can be negative: no floor


@pytest.mark.parametrize("untrained_r2", [-0.3, -3.0])
def test_every_untrained_mean_is_on_the_agreement_axis_or_marked_at_its_floor(drawn, untrained_r2):
    s = _summary(untrained_r2)
    T.agreement_figure(s, "unused")
    fig = drawn[0]
    ax = fig.axes[0]
    floor = ax.get_ylim()[0]
    assert floor <= -0.3 - 0.01 if untrained_r2 > T.AGREEMENT_FLOOR else floor >= T.AGREEMENT_FLOOR - 0.05
    for a in fig.axes[1:]:  # the CCA panels: every interval within the axis
        for line in a.get_lines():
            assert np.nanmin(line.get_ydata()) >= 0 - 1e-9
    if untrained_r2 < T.AGREEMENT_FLOOR:  # drawn as an arrowhead with the value written beside it
        assert any(t.get_text() == f"{untrained_r2 + 0.01:.2f}" for t in ax.texts)  # the mean
        assert any("mean below" in t.get_text() for t in fig.legends[0].texts)


@pytest.mark.parametrize("n", [0, 1])
def test_a_cell_with_too_few_compared_words_is_said_in_the_overlay_not_a_crash(drawn, n):
    """A generated corpus is sized at the door by an upper bound: a cell may still end with fewer
    than 2 compared words; its row says so and the other cells are drawn as usual."""
    few = {**_panel(1), "a": np.zeros((n, 2)), "b": np.zeros((n, 2)), "words": [f"w{i}" for i in range(n)]}
    T.overlay_figure([few, _panel(2)], 10, "unused")
    (fig,) = drawn
    axes = np.array(fig.axes[:6]).reshape(2, 3)
    assert not any(ax.axison for ax in axes[0])
    assert [t.get_text() for t in axes[0][1].texts] == [f"cell1: {n} compared word(s), too few to draw"]
    assert all(len(ax.collections) > 0 for ax in axes[1])
    assert len(fig.legends) == 1
