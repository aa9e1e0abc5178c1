"""Tables of the text experiment: every comparison of every cell, and their summary over pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linid.report.tables import md_cell, summarize

#: the summary's metrics: the two R² directions averaged per comparison, and the CCA measures
SUMMARY_METRICS = ["r2", "r2w", "mcca", "cca_min"]
KEYS = ["cell", "kind", "space", "state"]


def pair_table(pairs: list[pd.DataFrame], cells: list[dict]) -> pd.DataFrame:
    """All comparisons, with the cell's settings and r2 / r2w: the mean of both directions."""
    df = pd.concat(pairs, ignore_index=True)
    df["a"], df["b"] = df["a"].astype(str), df["b"].astype(str)
    df["r2"] = (df["r2_ab"] + df["r2_ba"]) / 2
    df["r2w"] = (df["r2w_ab"] + df["r2w_ba"]) / 2
    settings = pd.DataFrame(cells)
    return settings.merge(df, on="cell", how="right", validate="one_to_many")


def summary_table(pairs: pd.DataFrame, cells: list[dict], level: float = 0.95) -> pd.DataFrame:
    """Mean, std, n and the t-interval at ``level`` over the pairs of every (cell, kind, space,
    state); the cells' settings first, in the cells' order."""
    out = summarize(pairs, KEYS, SUMMARY_METRICS, count="n_pairs", level=level)
    order = {c["cell"]: i for i, c in enumerate(cells)}
    out = out.sort_values(["cell", "kind", "space", "state"], key=lambda s: s.map(order) if s.name == "cell" else s,
                          kind="stable")
    settings = pd.DataFrame(cells)
    return settings.merge(out, on="cell", how="right").assign(level=level).reset_index(drop=True)


def _mean_ci(r: pd.Series, m: str, digits: int, ci: bool) -> str:
    mean, lo, hi = r.get(f"{m}_mean", np.nan), r.get(f"{m}_ci_lo", np.nan), r.get(f"{m}_ci_hi", np.nan)
    if pd.isna(mean):
        return "–"
    if not ci or pd.isna(lo):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def markdown_summary(summary: pd.DataFrame, digits: int = 3) -> str:
    """One line per (cell, compared with, space): trained next to untrained for every metric."""
    level = float(summary["level"].iloc[0]) if len(summary) else 0.95
    settings = [c for c in ("rank", "dim", "diverse", "vocab_size", "noise", "noise_samples")
                if c in summary and summary[c].astype(str).nunique() > 1] or ["dim"]
    lines = [
        f"Mean over the pairs of each row [{100 * level:g} % t-interval of the mean]. replicas: every pair of "
        "seeds; truth: every seed against the generating model. space q: target embeddings ([K]'s g), r: context "
        "embeddings. untrained: the same seeds' initial models. R²: affine map both ways, fitted on half the "
        "compared words and scored on the others; R²w: the same with the target whitened; mCCA / min CCA: "
        "mean / smallest canonical correlation.",
        "",
    ]
    header = ["cell", *settings, "compared", "space", "n", "R² trained", "R² untrained", "R²w trained",
              "R²w untrained", "mCCA trained", "mCCA untrained", "min CCA trained", "min CCA untrained"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (cell, kind, space), g in summary.groupby(["cell", "kind", "space"], sort=False):
        t = g[g["state"] == "trained"].iloc[0]
        u = g[g["state"] == "untrained"].iloc[0]
        cells = [md_cell(cell), *(md_cell(t[c]) for c in settings), kind, space, str(int(t["n_pairs"]))]
        for m in ("r2", "r2w", "mcca", "cca_min"):
            cells += [_mean_ci(t, m, digits, ci=m in ("r2w", "mcca")), _mean_ci(u, m, digits, ci=False)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
