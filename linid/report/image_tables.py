"""The DisLib tables: one tidy row per (dataset, model, seed, factor), [R] Table 4's layout, the paper.

``tidy`` → ``results/tables/image_probes.csv`` (columns ``dataset, model, encoder, factor, role,
seed, pearson_r`` and more); ``summarize`` → mean ± std over seeds; ``markdown`` → rows dataset ×
factor (the category first, then the continuous factors), columns pixels / MLP / CNN as in [R]
Table 4, then the untrained controls (``mlp_init``, ``cnn_init``: the same encoders at their seeds'
initialisation); ``compare_published`` → every published value of Table 4 next to the reproduced
one and, for a trained model, its untrained control.

``encoder`` names what was probed: ``input`` (the pixels), ``trained``, or ``untrained`` (a
control); a control's model name always ends in ``_init``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from linid.images.names import TRAINED, encoder, untrained
from linid.report.tables import md_cell, md_row

#: column order of the paper's table, then its controls (models the paper does not report come after)
MODEL_ORDER = ("pixels", "mlp", "cnn", "mlp_init", "cnn_init", "linear", "linear_init")
MODEL_LABELS = {
    "pixels": "x (pixels)", "mlp": "f_MLP(x)", "cnn": "f_CNN(x)", "linear": "f_linear(x)",
    "mlp_init": "f_MLP(x) untrained", "cnn_init": "f_CNN(x) untrained", "linear_init": "f_linear(x) untrained",
}
#: the roles [R] Table 4 reports (periodic and "other" factors are kept in the CSV only)
TABLE_ROLES = ("categorical", "continuous")
KEYS = ["dataset", "factor", "role", "model"]


def tidy(records: list[dict]) -> pd.DataFrame:
    """One row per (dataset, model, seed, factor) from the probe records (see ``image_probe``)."""
    rows = []
    for rec in records:
        for f in rec["factors"]:
            rows.append({
                "dataset": rec["dataset"], "model": rec["model"], "encoder": encoder(rec["model"]),
                "factor": f["factor"], "role": f["role"],
                "seed": rec["seed"], "model_seed": rec["model_seed"], "pearson_r": f["pearson_r"],
                "pearson_r_lstsq": f.get("pearson_r_lstsq", math.nan), "split": rec["split"],
                "n_train": rec["n_train"], "n_eval": rec["n_eval"], "feature_dim": rec["feature_dim"],
                "val_accuracy": rec.get("val_accuracy", math.nan), "best_epoch": rec.get("best_epoch", math.nan),
                "epochs": rec.get("epochs", math.nan), "max_epochs": rec.get("max_epochs", math.nan),
                "train_run_id": rec.get("train_run_id", ""), "job_uid": rec["job_uid"],
            })
    if not rows:
        raise ValueError("no image probe results to tabulate")
    order = {m: i for i, m in enumerate(MODEL_ORDER)}
    df = pd.DataFrame(rows)
    df["_m"] = df["model"].map(lambda m: order.get(m, len(order)))
    return df.sort_values(["dataset", "_m", "seed"], kind="stable").drop(columns="_m").reset_index(drop=True)


def summarize(table: pd.DataFrame, metric: str = "pearson_r") -> pd.DataFrame:
    """Mean, std (ddof 0, as numpy's and the paper's ±) and seed count per dataset, factor, model."""
    g = table.groupby(KEYS, sort=False)[metric]
    out = g.agg(mean="mean", std=lambda s: float(s.std(ddof=0)), n_seeds="count").reset_index()
    return out


def _factor_rows(summary: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(dataset, factor, role) in table order: per dataset the category first, then continuous."""
    seen = []
    for ds in dict.fromkeys(summary["dataset"]):
        part = summary[summary["dataset"] == ds]
        for role in TABLE_ROLES:
            for f in dict.fromkeys(part.loc[part["role"] == role, "factor"]):
                seen.append((ds, f, role))
    return seen


def markdown(summary: pd.DataFrame) -> str:
    """[R] Table 4's layout: rows dataset × factor, columns models, ``mean ± std (n)``."""
    models = [m for m in MODEL_ORDER if m in set(summary["model"])]
    models += sorted(set(summary["model"]) - set(models))
    head = md_row(["dataset", "factor", *(MODEL_LABELS.get(m, m) for m in models)])
    lines = [head, "|" + "---|" * (2 + len(models))]
    for ds, factor, role in _factor_rows(summary):
        label = f"category ({factor})" if role == "categorical" else factor
        cells = []
        for m in models:
            hit = summary[(summary["dataset"] == ds) & (summary["factor"] == factor) & (summary["model"] == m)]
            cells.append("–" if hit.empty else f"{hit['mean'].iloc[0]:.2f} ± {hit['std'].iloc[0]:.2f}")
        lines.append(md_row([ds, label, *cells]))
    n = summary.groupby("model")["n_seeds"].max().to_dict()
    lines.append("")
    lines.append("Pearson r of a linear map (no intercept) from the features to each z-scored factor, fitted "
                 "on the training split, on held-out images; mean ± std over seeds ("
                 + ", ".join(f"{m}: {n[m]}" for m in models) + ")."
                 + (" 'untrained': the same encoder at its seed's initialisation (eval mode, BatchNorm with its "
                    "initial statistics), probed the same way — the control of the trained column."
                    if any(encoder(m) == "untrained" for m in models) else ""))
    return "\n".join(lines) + "\n"


def load_published(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", keep_default_na=False)


def compare_published(summary: pd.DataFrame, published: pd.DataFrame, budgets: pd.DataFrame) -> pd.DataFrame:
    """Every published value next to the reproduced mean over seeds, with the run's budget.

    A published row ``(dataset, factor, model)`` matches the reproduced dataset of the same name; its
    factor ``category`` matches the categorical factor. ``budgets`` has per dataset the fraction of
    the full dataset used and per (dataset, model) the epochs allowed (the paper: all images,
    ≤ 100 epochs). ``agrees``: |mean − published| ≤ max(0.02, 2 × published std), at full budget only.

    For a trained model (mlp, cnn) the row also carries its control: ``control_model`` (``mlp_init``,
    ``cnn_init``) and the untrained encoder's ``control_mean`` / ``control_std`` / ``control_n_seeds``
    on the same factor (NaN / 0 when the control was not probed; empty for the pixels).
    """

    def cell(dataset: str, factor: str, model: str) -> pd.DataFrame:
        if factor == "category":
            return summary[(summary["dataset"] == dataset) & (summary["role"] == "categorical")
                           & (summary["model"] == model)]
        return summary[(summary["dataset"] == dataset) & (summary["factor"] == factor) & (summary["model"] == model)]

    rows = []
    for _, p in published.iterrows():
        hit = cell(p["dataset"], p["factor"], p["model"])
        row = {"dataset": p["dataset"], "factor": p["factor"], "model": p["model"],
               "published": float(p["published"]), "published_std": float(p["published_std"]),
               "reproduced_mean": math.nan, "reproduced_std": math.nan, "n_seeds": 0,
               "control_model": "", "control_mean": math.nan, "control_std": math.nan, "control_n_seeds": 0,
               "data_fraction": math.nan, "max_epochs": math.nan, "full_budget": False, "agrees": "", "status": "not run"}
        if p["model"] in TRAINED:
            row["control_model"] = untrained(p["model"])
            ctrl = cell(p["dataset"], p["factor"], row["control_model"])
            if not ctrl.empty:
                row.update(control_mean=float(ctrl["mean"].iloc[0]), control_std=float(ctrl["std"].iloc[0]),
                           control_n_seeds=int(ctrl["n_seeds"].iloc[0]))
        if not hit.empty:
            b = budgets[(budgets["dataset"] == p["dataset"]) & (budgets["model"] == p["model"])]
            frac = float(b["data_fraction"].iloc[0]) if not b.empty else math.nan
            epochs = float(b["max_epochs"].iloc[0]) if not b.empty else math.nan
            full = frac == 1.0 and (p["model"] == "pixels" or epochs >= 100)
            mean = float(hit["mean"].iloc[0])
            tol = max(0.02, 2 * float(p["published_std"]))
            row.update(reproduced_mean=mean, reproduced_std=float(hit["std"].iloc[0]),
                       n_seeds=int(hit["n_seeds"].iloc[0]), data_fraction=frac, max_epochs=epochs, full_budget=full,
                       agrees=str(abs(mean - float(p["published"])) <= tol) if full else "",
                       status="full budget" if full else "reduced budget")
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_markdown(comp: pd.DataFrame) -> str:
    ran = comp[comp["status"] != "not run"]
    lines = ["| dataset | factor | model | published | reproduced | untrained (control) | seeds | budget | agrees |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in ran.iterrows():
        budget = ("full" if r["full_budget"]
                  else f"{100 * r['data_fraction']:.1f} % of the images" + ("" if r["model"] == "pixels" else f", ≤ {r['max_epochs']:.0f} epochs"))
        control = ("–" if r["control_n_seeds"] == 0
                   else f"{r['control_mean']:.2f} ± {r['control_std']:.2f} ({r['control_model']})")
        lines.append(f"| {md_cell(r['dataset'])} | {md_cell(r['factor'])} | {r['model']} | {r['published']:.2f} ± {r['published_std']:.2f} | "
                     f"{r['reproduced_mean']:.2f} ± {r['reproduced_std']:.2f} | {control} | {r['n_seeds']} | {budget} | "
                     f"{r['agrees'] or '–'} |")
    lines.append("")
    lines.append(f"{len(ran)} of {len(comp)} published values of [R] Table 4 have a reproduced counterpart here; "
                 "'agrees' is judged at the paper's budget only (|difference| ≤ max(0.02, 2 × published std)). "
                 "'untrained (control)': the same encoder at its seeds' initialisation, probed the same way "
                 "(the paper reports no such control; the pixels are the input itself).")
    return "\n".join(lines) + "\n"
