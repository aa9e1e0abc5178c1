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

from linid.names import CELL_AXES, DEFAULT_BASE, PAPER_BATCH, PAPER_EPOCHS
from linid.report.style import check, save
from linid.report.tables import md_cell, summarize

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
    "reproduced_ci_lo",
    "reproduced_ci_hi",
    "n_seeds",
    "steps",
    "batch_size",
    "budget_fraction",
    "delta",
    "status",
    "note",
]
#: the published value's band: ± max(TOLERANCE, 2 × its published std)
TOLERANCE = 0.01
#: coverage of the reproduced t-interval over seeds
LEVEL = 0.95


def published_band(published, published_std):
    """The published value's band, (low, high): published ± max(TOLERANCE, 2 × published std), the
    high end at most 1 (every published value but MAE is an R² or a correlation, ≤ 1)."""
    pub = np.asarray(published, dtype=float)
    band = np.maximum(TOLERANCE, 2 * np.nan_to_num(np.asarray(published_std, dtype=float)))
    return pub - band, np.minimum(pub + band, 1.0)


def agrees(published: float, published_std: float, ci_lo: float, ci_hi: float, mean: float) -> bool:
    """Whether the reproduced t-interval [ci_lo, ci_hi] (the mean alone when n < 2) overlaps the
    published band (``published_band``)."""
    band_lo, band_hi = (float(v) for v in published_band(published, published_std))
    lo, hi = (mean, mean) if pd.isna(ci_lo) else (ci_lo, ci_hi)
    return hi >= band_lo and lo <= band_hi


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
        runs, m = _matching_runs(probes, pub), str(pub["metric"])
        # the metric keeps its name, so that summarize caps its interval at 1 where it cannot pass 1
        values = runs.assign(**{m: pd.to_numeric(runs.get(m), errors="coerce")})
        values = values.dropna(subset=[m]) if len(values) else values
        if values.empty:
            out.append({**base, "n_seeds": 0, "status": "not run"})
            continue
        for _, grp in summarize(values, ["steps", "batch_size"], [m], level=LEVEL).iterrows():
            steps, batch, mean = grp["steps"], grp["batch_size"], float(grp[f"{m}_mean"])
            frac = budget_fraction(int(steps), int(batch), int(pub["n_instances"]))
            delta = mean - base["published"]
            lo, hi = float(grp[f"{m}_ci_lo"]), float(grp[f"{m}_ci_hi"])
            if frac >= 1:
                ok = agrees(base["published"], base["published_std"], lo, hi, mean)
                status = f"full budget, {'agrees' if ok else 'differs'}"
            else:  # a partial budget is a different experiment: shown, never judged
                status = f"partial budget ({100 * frac:.3g} %), not judged"
            out.append(
                {
                    **base,
                    "reproduced_mean": mean,
                    "reproduced_std": float(grp[f"{m}_std"]),
                    "reproduced_ci_lo": lo,
                    "reproduced_ci_hi": hi,
                    "n_seeds": int(grp["n"]),
                    "steps": int(steps),
                    "batch_size": int(batch),
                    "budget_fraction": frac,
                    "delta": delta,
                    "status": status,
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
        "Values × 100 (MAE as printed), every ± too: published ± is the paper's spread over seeds, "
        "reproduced ± the std over seeds, next to the 95 % t-interval of the mean (an R² or MCC "
        "interval stops at 100, the ceiling). Budget: samples seen as a share of the official run (50,000 epochs of "
        "max(N // 1024, 1) steps at batch 1024). Only a full-budget row is judged: it agrees when its "
        "interval overlaps the published value ± max(1, 2 × published std).",
        "",
        "| table | setting | method | W rows | metric | published | reproduced | 95 % CI | seeds |"
        " steps × batch | budget | Δ | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in done.iterrows():
        is_mae = str(r["metric"]).startswith("mae")
        fmt = (lambda v: "–" if pd.isna(v) else f"{v:.3f}") if is_mae else _pct
        rep = fmt(r["reproduced_mean"])
        if not pd.isna(r["reproduced_std"]):
            rep += f" ± {fmt(r['reproduced_std'])}"
        ci = "–" if pd.isna(r["reproduced_ci_lo"]) else f"[{fmt(r['reproduced_ci_lo'])}, {fmt(r['reproduced_ci_hi'])}]"
        pub = fmt(r["published"])
        if not pd.isna(r["published_std"]):  # the paper's ± is in the unit of its value
            pub += f" ± {fmt(r['published_std'])}"
        lines.append(
            f"| {r['table']} | {md_cell(r['setting'])} | {r['method']} | "
            f"{'unit' if r['normalize_w'] else 'free'} | {r['metric']} | {pub} | {rep} | {ci} | "
            f"{int(r['n_seeds'])} | {int(r['steps'])} × {int(r['batch_size'])} | "
            f"{100 * r['budget_fraction']:.3g} % | {fmt(r['delta'])} | {r['status']} |"
        )
    missing = table[table["n_seeds"] == 0]
    if len(missing):
        lines += ["", f"Not run in this config: {len(missing)} published value(s) of "
                  f"{missing['table'].nunique()} table(s) (all listed in paper_comparison.csv)."]
    return "\n".join(lines) + "\n"


def paper_comparison(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Published vs reproduced, one row per (published value, budget): a dot plot whose labels sit
    on the y axis (they never overlap). Black diamond: the published value with its band
    (``published_band``: ± 2 × published std, at least ± TOLERANCE, at most 1); circle: the reproduced mean with its 95 % t-interval over
    seeds (at most 1, as in the table), coloured by the budget (share of the paper's samples). MAE rows are left out (another
    scale). With no reproduced row the figure says so instead of being empty.
    """
    check(table, ["published", "reproduced_mean", "budget_fraction", "metric", "table"], "comparison")
    done = table[(table["n_seeds"] > 0) & ~table["metric"].astype(str).str.startswith("mae")]
    done = done.sort_values(["table", "setting", "metric", "budget_fraction"], kind="stable")
    n = max(len(done), 1)
    fig, ax = plt.subplots(figsize=(7.4, 1.6 + 0.34 * n), layout="constrained")
    if done.empty:
        ax.text(0.5, 0.5, "no reproduced cell matches a published row", ha="center", va="center")
        ax.set_yticks([])
    else:
        y = np.arange(len(done))[::-1]
        pub = done["published"].to_numpy(float)
        # the band of a value that cannot pass 1 stops at 1, as the reproduced interval does
        band_lo, band_hi = published_band(pub, done["published_std"].to_numpy(float))
        ax.errorbar(pub, y, xerr=[pub - band_lo, band_hi - pub], fmt="D", color="black", ms=5,
                    capsize=3, lw=1,
                    label="published (± max(0.01, 2 std), at most 1)", zorder=3)
        frac = done["budget_fraction"].astype(float).clip(lower=1e-4).to_numpy()
        norm = matplotlib.colors.LogNorm(vmin=min(1e-3, float(frac.min())), vmax=1.0)
        cmap = plt.get_cmap("viridis")
        mean = done["reproduced_mean"].to_numpy(float)
        lo = done["reproduced_ci_lo"].to_numpy(float) if "reproduced_ci_lo" in done else mean
        hi = done["reproduced_ci_hi"].to_numpy(float) if "reproduced_ci_hi" in done else mean
        lo, hi = np.where(np.isnan(lo), mean, lo), np.where(np.isnan(hi), mean, hi)
        values = np.concatenate([band_lo, mean])
        left = max(0.0, math.floor((float(np.nanmin(values)) - 0.05) * 10) / 10)
        right = 1.01
        for yi, a_, b_, f in zip(y, lo, hi, frac, strict=True):
            ax.plot([max(a_, left), min(b_, right)], [yi - 0.18] * 2, color=cmap(norm(f)), lw=2.2)
            # an interval that runs past the axis ends in an arrowhead at the edge
            for edge, past, mark in ((left, a_ < left, "<"), (right, b_ > right, ">")):
                if past:
                    ax.plot(edge, yi - 0.18, marker=mark, color=cmap(norm(f)), ms=6, clip_on=False)
        sc = ax.scatter(mean, y - 0.18, c=frac, cmap=cmap, norm=norm, s=40, edgecolor="k", zorder=4,
                        label="reproduced (mean, 95 % CI over seeds)")
        labels = [
            f"{r['table'].replace('Table ', 'T')} · {r['setting']} · {r['method']}"
            f"{' (unit W)' if r['normalize_w'] else ''} · {_metric_name(r['metric'])} · n={int(r['n_seeds'])}"
            for _, r in done.iterrows()
        ]
        ax.set_yticks(y, labels, fontsize=7.5)
        cb = fig.colorbar(sc, ax=ax, pad=0.01)
        cb.set_label("budget: share of the paper's samples", fontsize=8)
        ax.set_xlim(left, right)
        ax.set_ylim(-0.8, len(done) - 0.4)
        ax.grid(axis="x", color="0.9")
        fig.legend(loc="outside lower center", fontsize=7, ncols=2, frameon=False)
    ax.set_xlabel("value (R² or MCC; 1 = exact; an arrowhead: the interval runs past the axis)", fontsize=8)
    ax.set_title("Published (Reizinger et al. 2025) vs reproduced", fontsize=10)
    return save(fig, stem)


def _metric_name(metric: str) -> str:
    names = {"r2_affine": "R²_a", "r2_linear": "R²_o", "r2_w_v": "W→v R²_a", "r2_w_v_linear": "W→v R²_o"}
    return names.get(metric, metric)
