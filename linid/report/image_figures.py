"""DisLib figures: Pearson r per factor and model (with [R] Table 4's values), and training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from linid.images.names import UNTRAINED
from linid.report.image_tables import MODEL_LABELS, MODEL_ORDER, TABLE_ROLES
from linid.report.style import check, save

COLORS = {"pixels": "tab:gray", "mlp": "tab:blue", "cnn": "tab:green", "linear": "tab:purple",
          # the untrained controls: the light shade of their trained model's colour, hatched
          "mlp_init": "#aec7e8", "cnn_init": "#98df8a", "linear_init": "#c5b0d5"}


def probe_bars(summary: pd.DataFrame, stem: str | Path, published: pd.DataFrame | None = None) -> list[Path]:
    """One panel per dataset: bars of mean Pearson r (± std over seeds) per factor and model (the
    untrained controls hatched, in the light shade of their trained model); the paper's value of the
    same cell as a black tick."""
    check(summary, ["dataset", "factor", "role", "model", "mean", "std", "n_seeds"], "image probe summary")
    part = summary[summary["role"].isin(TABLE_ROLES)]
    datasets = list(dict.fromkeys(part["dataset"]))
    models = [m for m in MODEL_ORDER if m in set(part["model"])] + sorted(set(part["model"]) - set(MODEL_ORDER))
    fig, axes = plt.subplots(1, len(datasets), figsize=(1.2 + 2.6 * len(datasets) + 0.6 * len(models), 3.4),
                             squeeze=False, constrained_layout=True)
    width = 0.8 / len(models)
    for ax, ds in zip(axes[0], datasets, strict=True):
        d = part[part["dataset"] == ds]
        factors = list(dict.fromkeys(d.sort_values("role", key=lambda r: r.map({"categorical": 0}).fillna(1))["factor"]))
        x = np.arange(len(factors))
        for i, m in enumerate(models):
            vals = [d[(d["factor"] == f) & (d["model"] == m)] for f in factors]
            mean = [v["mean"].iloc[0] if not v.empty else np.nan for v in vals]
            std = [v["std"].iloc[0] if not v.empty else 0.0 for v in vals]
            ax.bar(x + (i - (len(models) - 1) / 2) * width, mean, width, yerr=std, capsize=2,
                   color=COLORS.get(m, f"C{i}"), label=MODEL_LABELS.get(m, m),
                   hatch="//" if m in UNTRAINED else None, edgecolor="white" if m in UNTRAINED else None)
            if published is not None:
                for j, f in enumerate(factors):
                    role = d.loc[d["factor"] == f, "role"].iloc[0]
                    key = "category" if role == "categorical" else f
                    p = published[(published["dataset"] == ds) & (published["factor"] == key) & (published["model"] == m)]
                    if not p.empty:
                        xc = x[j] + (i - (len(models) - 1) / 2) * width
                        ax.plot([xc - width / 2, xc + width / 2], [p["published"].iloc[0]] * 2, color="black", lw=1.5,
                                label="[R] Table 4" if (i == 0 and j == 0) else None)
        labels = [f"category\n({f})" if d.loc[d["factor"] == f, "role"].iloc[0] == "categorical" else f for f in factors]
        ax.set_xticks(x, labels)
        ax.set_ylim(min(0.0, float(np.nanmin(d["mean"])) - 0.05), 1.05)
        ax.set_title(ds)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("Pearson r (held out)")
    n = int(part["n_seeds"].max())
    # outside the panels: with the controls there are up to five bars per factor
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5),
                       title=f"mean ± std, ≤ {n} seeds", title_fontsize=7)
    return save(fig, stem)


def training_curves(curves: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Validation accuracy and training loss per epoch, one line per (dataset, model, seed)."""
    check(curves, ["dataset", "model", "seed", "epoch", "loss", "val_accuracy"], "image training curves")
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True)
    for i, ((ds, m), g) in enumerate(curves.groupby(["dataset", "model"], sort=False)):
        for j, (_, s) in enumerate(g.groupby("seed")):
            label = f"{ds} {m}" if j == 0 else None
            marker = "o" if len(s) < 3 else None  # a one-epoch run is a point, not a line
            a.plot(s["epoch"], s["loss"], color=COLORS.get(m, f"C{i}"), alpha=0.8, label=label, marker=marker)
            b.plot(s["epoch"], s["val_accuracy"], color=COLORS.get(m, f"C{i}"), alpha=0.8, label=label,
                   marker=marker)
    a.set(xlabel="epoch", ylabel="training loss", yscale="log")
    b.set(xlabel="epoch", ylabel="validation accuracy")
    b.legend(fontsize=7)
    return save(fig, stem)

