"""Figures of the text experiment: [K] Figure 1 (two replicas and their aligned overlay) per cell,
and the agreement of replicas with each other and with the truth, trained vs untrained."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from linid.report.style import check, save
from linid.text.compare import overlay

SERIES = [  # (kind, state, colour, marker, label)
    ("replicas", "trained", "C0", "o", "replica vs replica, trained"),
    ("truth", "trained", "C2", "s", "replica vs truth, trained"),
    ("replicas", "untrained", "C0", "x", "replica vs replica, untrained"),
    ("truth", "untrained", "C2", "+", "replica vs truth, untrained"),
]


def overlay_figure(panels: list[dict], n_words: int, stem: str | Path) -> list[Path]:
    """One row per cell: replica 1, replica 2 (each coordinate standardised over the compared
    words) and replica 1 mapped onto replica 2 by the least-squares 2×2 linear map, overlaid.
    ``panels``: {"title", "a", "b", "words", "names": (name a, name b)}; the first ``n_words``
    words (most frequent first) are drawn and labelled; the map is fitted on every compared word.
    Only the first two coordinates are drawn when the embedding has more."""
    if not panels:
        raise ValueError("overlay_figure needs at least one cell")
    fig, axes = plt.subplots(len(panels), 3, figsize=(11, 3.6 * len(panels) + 0.3), squeeze=False,
                             layout="constrained")
    rows_labels = []
    for row, p in zip(axes, panels, strict=True):
        if len(p["a"]) < 2:  # the cell's comparisons are undefined (too few words): said, not drawn
            for ax in row:
                ax.set_axis_off()
            row[1].text(0.5, 0.5, f"{p['title']}: {len(p['a'])} compared word(s), too few to draw",
                        ha="center", va="center", transform=row[1].transAxes, fontsize=9)
            continue
        xs, ys, mapped = overlay(p["a"], p["b"])
        k = min(n_words, len(xs))
        words = [str(w) for w in p["words"][:k]]

        def pts(z):
            return z[:k, 0], (z[:k, 1] if z.shape[1] > 1 else np.zeros(k))

        labelled = []
        for ax, z, color, title in ((row[0], xs, "C0", p["names"][0]), (row[1], ys, "C1", p["names"][1])):
            x, y = pts(z)
            ax.scatter(x, y, s=12, color=color)
            labelled.append((ax, x, y))
            ax.set_title(f"{p['title']}: {title}", fontsize=9)
        x, y = pts(ys)
        mx, my = pts(mapped)
        row[2].scatter(x, y, s=16, color="C1", label="replica 2 (the middle panel)")
        row[2].scatter(mx, my, s=16, marker="x", color="C0",
                       label="replica 1 mapped onto replica 2 (2×2 least-squares map)")
        for i in range(k):
            row[2].plot([x[i], mx[i]], [y[i], my[i]], color="0.7", lw=0.6, zorder=0)
        row[2].set_title(f"{p['title']}: aligned overlay", fontsize=9)
        for ax in row:
            ax.set_xlabel("coordinate 1 (standardised)")
            ax.set_ylabel("coordinate 2 (standardised)")
            ax.grid(True, alpha=0.3)
            ax.margins(0.12)  # room for the labels of the outermost words
        rows_labels.append((labelled, words))
    handles, labels = next((h for row in axes if (h := row[2].get_legend_handles_labels())[0]), ([], []))
    if handles:
        fig.legend(handles, labels, loc="outside lower center", fontsize=7, ncols=2, frameon=False)
    fig.canvas.draw()  # the layout is fixed now: labels are placed in display space
    for labelled, words in rows_labels:
        for ax, x, y in labelled:
            place_labels(ax, x, y, words)
    return save(fig, stem)


#: where a word's label may go, tried in turn: offsets (points) from its dot, with the alignment
LABEL_SPOTS = [((3, 2), "left", "bottom"), ((3, -2), "left", "top"), ((-3, 2), "right", "bottom"),
               ((-3, -2), "right", "top"), ((0, 5), "center", "bottom"), ((0, -5), "center", "top")]


def place_labels(ax, x, y, words, fontsize: float = 6) -> None:
    """Label each dot with its word at the first of LABEL_SPOTS where the label overlaps no label
    placed before it and stays inside the axes; a label with no free spot is left out rather than
    overprinted or clipped (the dot stays)."""
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    taken = []
    for xi, yi, w in zip(x, y, words, strict=True):
        for offset, ha, va in LABEL_SPOTS:
            t = ax.annotate(w, (xi, yi), xytext=offset, textcoords="offset points", ha=ha, va=va,
                            fontsize=fontsize, color="0.25")
            box = t.get_window_extent(renderer)
            fits = (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0
                    and box.y1 <= inside.y1)
            if fits and not any(box.overlaps(b) for b in taken):
                taken.append(box)
                break
            t.remove()


#: the lowest agreement axis drawn: an untrained model's R² can be far below 0, a CCA never is
AGREEMENT_FLOOR = -0.5


def agreement_floor(summary: pd.DataFrame, metrics) -> float:
    """The y axis' lower end: 0 less a margin, lower as far as the lowest mean needs, at most down to
    AGREEMENT_FLOOR (a mean below that is drawn as an arrowhead at the floor with its value)."""
    means = summary[[f"{m}_mean" for m in metrics]].to_numpy(float)
    low = float(np.nanmin(means)) if np.isfinite(means).any() else 0.0
    return max(AGREEMENT_FLOOR, min(-0.05, np.floor((low - 0.02) * 10) / 10))


def agreement_figure(summary: pd.DataFrame, stem: str | Path, metrics=("r2w", "mcca", "cca_min")) -> list[Path]:
    """Per metric a panel: x the cells (× space q / r), dots the mean over pairs with their
    t-interval, for replicas vs replicas and replicas vs truth, trained and untrained. Every mean is
    on the axis (``agreement_floor``) or an arrowhead at its floor with the value written beside;
    a CCA's interval stops at 0 (tables.summarize)."""
    check(summary, ["cell", "kind", "space", "state", *(f"{m}_mean" for m in metrics)], "agreement_figure")
    cells = list(dict.fromkeys(summary["cell"]))
    spaces = ["q", "r"]
    names = {"r2w": "R² (whitened target), both ways", "mcca": "mean CCA", "cca_min": "smallest CCA"}
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.9), squeeze=False,
                             layout="constrained", sharey=True)
    slots = [(c, s) for c in cells for s in spaces]
    floor = agreement_floor(summary, metrics)
    for ax, m in zip(axes[0], metrics, strict=True):
        for j, (kind, state, color, marker, label) in enumerate(SERIES):
            xs, ys, lo, hi = [], [], [], []
            for i, (c, s) in enumerate(slots):
                r = summary[(summary["cell"] == c) & (summary["space"] == s) & (summary["kind"] == kind)
                            & (summary["state"] == state)]
                if r.empty:
                    continue
                r = r.iloc[0]
                xs.append(i + (j - 1.5) * 0.12)
                ys.append(r[f"{m}_mean"])
                lo.append(r.get(f"{m}_ci_lo", np.nan))
                hi.append(r.get(f"{m}_ci_hi", np.nan))
            if not xs:
                continue
            xs, ys, lo, hi = np.array(xs), np.array(ys), np.array(lo), np.array(hi)
            below = ys < floor  # a mean under the axis: an arrowhead at the floor, with its value
            shown = np.where(below, floor, ys)
            lo = np.clip(np.where(np.isnan(lo), shown, lo), floor, None)
            err = np.nan_to_num(np.vstack([shown - lo, hi - shown]), nan=0.0)
            alpha = 1.0 if state == "trained" else 0.6
            ax.errorbar(xs[~below], shown[~below], yerr=np.clip(err[:, ~below], 0, None), fmt=marker,
                        color=color, capsize=2, label=label, alpha=alpha)
            for x, y in zip(xs[below], ys[below], strict=True):
                ax.plot(x, floor, marker="v", color=color, alpha=alpha, ms=6, clip_on=False)
                ax.annotate(f"{y:.2f}", (x, floor), xytext=(0, 6), textcoords="offset points", fontsize=6,
                            ha="center", color=color)
        ax.set_xticks(range(len(slots)), [f"{c}\n{s}" for c, s in slots], fontsize=8)
        ax.set_title(names.get(m, m), fontsize=10)
        ax.set_ylim(floor - 0.03, 1.05)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("agreement (1: identical up to a linear map)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if (summary[[f"{m}_mean" for m in metrics]] < floor).any().any():
        handles.append(Line2D([], [], marker="v", color="0.4", ls="none"))
        labels.append(f"mean below {floor:g} (its value above the arrowhead)")
    fig.legend(handles, labels, loc="outside lower center", fontsize=7, ncols=len(handles), frameon=False)
    return save(fig, stem)
