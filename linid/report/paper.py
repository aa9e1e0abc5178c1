"""Published vs reproduced: match every reproduced cell to the paper's rows (docs/science.md §6).

The published values live in ``workflow/resources/published_reizinger2025.csv`` (Reizinger et al.
2025, Tables 2, 3 and 5, as fractions). A reproduced run matches a published row when it equals the
row in everything but the budget: method, W-row normalisation, d, |C|, N, κ, conditional, cluster
prior, with label noise 0 and the default shape parameters. Runs of one match are pooled over seeds
per budget (steps × batch size), and the budget is reported as a fraction of the official one
(50,000 epochs of ``max(N // 1024, 1)`` steps at batch 1024), so a cell run at 0.4 % of the paper's
budget is shown as such, never as a reproduction.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from linid.names import CELL_AXES
from linid.pipeline.cells import DEFAULT_BASE, PAPER_BATCH, PAPER_EPOCHS
from linid.report.style import check, save
from linid.report.tables import summarize

#: settings a published row leaves at the base cell (they must hold in a matching run too)
FIXED = {k: DEFAULT_BASE[k] for k in ("label_noise", "cond_beta", "prior_shape", "prior_scale")}
#: the columns of a published row that a reproduced run must equal
MATCH_COLUMNS = ["method", "normalize_w", *(a for a in CELL_AXES if a not in FIXED)]
COLUMNS = [
    "table",
    "block",
    "setting",
    "method",
    "normalize_w",
    "metric",
    "published",
    "published_std",
    "reproduced_mean",
    "reproduced_std",
    "n_seeds",
    "steps",
    "batch_size",
    "budget_fraction",
    "delta",
    "status",
    "note",
]
#: a reproduced mean within this many units of the published one counts as agreeing
TOLERANCE = 0.01


def load_published(path: str | Path) -> pd.DataFrame:
    """The published table ('#' lines are comments), with typed columns; ValueError if malformed."""
    df = pd.read_csv(path, comment="#", keep_default_na=False, na_values={"published_std": [""]})
    missing = [c for c in [*MATCH_COLUMNS, "table", "block", "metric", "published"] if c not in df]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    df["normalize_w"] = df["normalize_w"].map({"True": True, "False": False, True: True, False: False})
    if df["normalize_w"].isna().any():
        raise ValueError(f"{path}: normalize_w must be True or False")
    for c in ("latent_dim", "n_classes", "n_instances"):
        df[c] = df[c].astype(int)
    for c in ("kappa", "published", "published_std"):
        df[c] = pd.to_numeric(df[c], errors="raise").astype(float)
    df["note"] = df.get("note", "").fillna("") if "note" in df else ""
    return df


def official_steps(n_instances: int) -> int:
    """Steps of the official run at N instances: 50,000 epochs of max(N // 1024, 1) steps."""
    return PAPER_EPOCHS * max(int(n_instances) // PAPER_BATCH, 1)


def budget_fraction(steps: int, batch_size: int, n_instances: int) -> float:
    """Samples seen (steps × batch) as a fraction of the official run's."""
    return steps * batch_size / (official_steps(n_instances) * PAPER_BATCH)


def setting_label(row: pd.Series) -> str:
    """The row's varied setting in the paper's words, e.g. 'd = 10' or 'p(z|v) = laplace'."""
    names = {
        "latent_dim": "d",
        "n_classes": "|C|",
        "n_instances": "N",
        "kappa": "κ",
        "conditional": "p(z|v)",
        "cluster_prior": "p(v)",
    }
    if row["block"] in names:
        value = row[row["block"]]
        value = f"{value:g}" if isinstance(value, float) else value
        return f"{names[row['block']]} = {value}"
    return "base cell"


def _matching_runs(probes: pd.DataFrame, pub: pd.Series) -> pd.DataFrame:
    mask = pd.Series(True, index=probes.index)
    for c in MATCH_COLUMNS:
        if c == "kappa":
            mask &= np.isclose(probes[c].astype(float), float(pub[c]))
        elif c == "normalize_w":
            mask &= probes[c].astype(str).str.lower() == str(bool(pub[c])).lower()
        else:
            mask &= probes[c].astype(str) == str(pub[c])
    for c, v in FIXED.items():
        if c in probes:
            mask &= np.isclose(probes[c].astype(float), float(v))
    runs = probes.loc[mask]
    # a model listed by several sweeps appears once per sweep: count it once
    return runs.drop_duplicates(subset=["dataset_id", "method", "normalize_w", "seed"])


def compare(published: pd.DataFrame, probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (published row, reproduced budget); published rows with no run say 'not run'."""
    out = []
    for _, pub in published.iterrows():
        base = {
            "table": pub["table"],
            "block": pub["block"],
            "setting": setting_label(pub),
            "method": pub["method"],
            "normalize_w": bool(pub["normalize_w"]),
            "metric": pub["metric"],
            "published": float(pub["published"]),
            "published_std": float(pub["published_std"]),
            "note": pub.get("note", ""),
        }
        runs = _matching_runs(probes, pub)
        values = runs.assign(value=pd.to_numeric(runs.get(pub["metric"]), errors="coerce"))
        values = values.dropna(subset=["value"]) if len(values) else values
        if values.empty:
            out.append({**base, "n_seeds": 0, "status": "not run"})
            continue
        for _, grp in summarize(values, ["steps", "batch_size"], ["value"]).iterrows():
            steps, batch, mean = grp["steps"], grp["batch_size"], float(grp["value_mean"])
            frac = budget_fraction(int(steps), int(batch), int(pub["n_instances"]))
            delta = mean - base["published"]
            agrees = abs(delta) <= max(TOLERANCE, 2 * np.nan_to_num(base["published_std"]))
            budget = "full budget" if frac >= 1 else f"partial budget ({100 * frac:.3g} %)"
            out.append(
                {
                    **base,
                    "reproduced_mean": mean,
                    "reproduced_std": float(grp["value_std"]),
                    "n_seeds": int(grp["n"]),
                    "steps": int(steps),
                    "batch_size": int(batch),
                    "budget_fraction": frac,
                    "delta": delta,
                    "status": f"{budget}, {'agrees' if agrees else 'differs'}",
                }
            )
    df = pd.DataFrame(out)
    for c in COLUMNS:
        if c not in df:
            df[c] = np.nan
    return df[COLUMNS]


def _pct(x: float) -> str:
    return "–" if pd.isna(x) else f"{100 * x:.1f}"


def markdown(table: pd.DataFrame) -> str:
    """The comparison as Markdown: reproduced rows first (values × 100, as the paper prints them),
    then the published rows this config did not run."""
    done = table[table["n_seeds"] > 0]
    lines = [
        "# Published vs reproduced (Reizinger et al. 2025)",
        "",
        "Values × 100 (MAE as printed). Budget: samples seen as a share of the official run "
        "(50,000 epochs of max(N // 1024, 1) steps at batch 1024).",
        "",
        "| table | setting | method | W rows | metric | published | reproduced | seeds | steps × batch"
        " | budget | Δ | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in done.iterrows():
        is_mae = str(r["metric"]).startswith("mae")
        fmt = (lambda v: "–" if pd.isna(v) else f"{v:.3f}") if is_mae else _pct
        rep = fmt(r["reproduced_mean"])
        if not pd.isna(r["reproduced_std"]):
            rep += f" ± {fmt(r['reproduced_std'])}"
        pub = fmt(r["published"])
        if not pd.isna(r["published_std"]):
            pub += f" ± {r['published_std']:.2f}"
        lines.append(
            f"| {r['table']} | {r['setting']} | {r['method']} | "
            f"{'unit' if r['normalize_w'] else 'free'} | {r['metric']} | {pub} | {rep} | "
            f"{int(r['n_seeds'])} | {int(r['steps'])} × {int(r['batch_size'])} | "
            f"{100 * r['budget_fraction']:.3g} % | {fmt(r['delta'])} | {r['status']} |"
        )
    missing = table[table["n_seeds"] == 0]
    if len(missing):
        lines += ["", f"Not run in this config: {len(missing)} published value(s) of "
                  f"{missing['table'].nunique()} table(s) (all listed in paper_comparison.csv)."]
    return "\n".join(lines) + "\n"


def paper_comparison(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Published (x) vs reproduced (y) R² per matched row, coloured by the budget fraction.

    One marker per (published row, budget); error bars are the std over seeds; the diagonal is
    perfect agreement. MAE rows are left out (another scale). With no reproduced row the figure
    says so instead of being empty.
    """
    check(table, ["published", "reproduced_mean", "budget_fraction", "metric", "table"], "comparison")
    done = table[(table["n_seeds"] > 0) & ~table["metric"].astype(str).str.startswith("mae")]
    fig, ax = plt.subplots(figsize=(6.2, 5.2), layout="constrained")
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, zorder=0)
    if done.empty:
        ax.text(0.5, 0.5, "no reproduced cell matches a published row", ha="center", va="center")
    else:
        frac = done["budget_fraction"].astype(float).clip(lower=1e-4)
        norm = matplotlib.colors.LogNorm(vmin=min(1e-3, float(frac.min())), vmax=1.0)
        markers = {"Table 2": "s", "Table 3": "o", "Table 5": "D"}
        for name, part in done.groupby("table"):
            pf = part["budget_fraction"].astype(float).clip(lower=1e-4)
            ax.errorbar(part["published"], part["reproduced_mean"],
                        yerr=part["reproduced_std"].fillna(0), fmt="none", ecolor="0.5", lw=0.8)
            sc = ax.scatter(part["published"], part["reproduced_mean"], c=pf, cmap="viridis",
                            norm=norm, marker=markers.get(name, "^"), s=46, edgecolor="k",
                            label=str(name), zorder=3)
        # one label per point: rows that land on the same spot share it
        labels: dict[tuple[float, float], list[str]] = {}
        for _, r in done.iterrows():
            key = (round(float(r["published"]), 3), round(float(r["reproduced_mean"]), 3))
            text = f"{r['table'].replace('Table ', 'T')} {r['setting']} {r['metric'].replace('r2_', 'R² ')}"
            labels.setdefault(key, []).append(text)
        for i, ((x, y), texts) in enumerate(sorted(labels.items())):
            ax.annotate("; ".join(texts), (x, y), fontsize=6, xytext=(-4, -10 - 7 * (i % 3)),
                        textcoords="offset points", ha="right")
        cb = fig.colorbar(sc, ax=ax)
        cb.set_label("budget: share of the paper's samples (log)")
        ax.legend(loc="upper left", fontsize=8)
        values = done[["published", "reproduced_mean"]].to_numpy(dtype=float)
        lo = max(0.0, math.floor((float(np.nanmin(values)) - 0.05) * 10) / 10)
        ax.set_xlim(lo, 1.01)
        ax.set_ylim(lo, 1.01)
    ax.set_xlabel("published (Reizinger et al. 2025)")
    ax.set_ylabel("reproduced (mean ± std over seeds)")
    ax.set_title("Published vs reproduced R²", fontsize=10)
    return save(fig, stem)
