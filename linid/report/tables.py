"""Tables: the tidy per-model probe and pair tables, and one mean ± std summariser for all of them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from linid.names import CELL_AXES, PAIR_METRICS, PROBE_METRICS, SUMMARY_METRICS

#: what identifies a sweep cell (summaries pool every data seed and model seed of a cell)
CELL_COLUMNS = ["experiment", "design", "method", "normalize_w", *CELL_AXES]
ID_COLUMNS = CELL_COLUMNS + ["data_seed", "seed", "steps", "batch_size"]
METRICS = list(SUMMARY_METRICS)
EXTRA = [m for m in PROBE_METRICS if m not in SUMMARY_METRICS] + ["final_loss", "final_monitor_r2", "train_seconds", "device"]
RUN_IDS = ["dataset_uid", "train_uid", "features_uid", "probe_uid", "train_run_id", "dataset_id"]


def read_table(path) -> pd.DataFrame:
    """A CSV written by linid, read back as written: a name like "NA", "null" or "nan" (a sweep
    called so) stays a string; only an empty field is missing (pandas writes NaN as "")."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def tidy_table(rows: list[dict], probes: list[dict], trains: list[dict]) -> pd.DataFrame:
    """One row per (sweep, model): identifying columns, probe metrics, training summary, run ids."""
    if not (len(rows) == len(probes) == len(trains)):
        raise ValueError(f"rows/probes/trains differ in length: {len(rows)}, {len(probes)}, {len(trains)}")
    records = []
    for row, probe, tr in zip(rows, probes, trains, strict=True):
        rec = dict(row)
        rec.update({k: probe["metrics"].get(k, np.nan) for k in PROBE_METRICS})
        rec.update(
            steps=tr["steps"],
            batch_size=tr["batch_size"],
            final_loss=tr["final_loss"],
            final_monitor_r2=tr.get("final_monitor_r2", np.nan),
            train_seconds=tr["seconds"],
            device=tr["device"],
            dataset_uid=tr["dataset_uid"],
            train_uid=tr["job_uid"],
            features_uid=probe["features_uid"],
            probe_uid=probe["job_uid"],
            train_run_id=tr.get("run_id", ""),
        )
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    cols = ID_COLUMNS + METRICS + EXTRA + RUN_IDS
    sort = CELL_COLUMNS + ["data_seed", "seed"]
    return df[cols].sort_values(sort, kind="stable").reset_index(drop=True)


#: the columns that state a run's budget next to its cell
BUDGET_COLUMNS = ["steps", "batch_size"]


def summarize(
    df: pd.DataFrame, by: Sequence[str], metrics: Sequence[str], count: str = "n", per_metric_counts: bool = False
) -> pd.DataFrame:
    """Per group of ``by``: ``<m>_mean`` and ``<m>_std`` (ddof = 1, NaNs skipped) of every metric, and
    ``count`` = rows in the group (plus ``<m>_n`` = finite values of m, when ``per_metric_counts``)."""
    keys = list(by)
    values = df[keys].copy()
    for m in metrics:
        values[m] = pd.to_numeric(df[m], errors="coerce")
    g = values.groupby(keys, dropna=False, sort=True)[list(metrics)]
    out = g.agg(["mean", "std"])
    out.columns = [f"{m}_{s}" for m, s in out.columns]
    if per_metric_counts:
        for m, n in g.count().items():
            out[f"{m}_n"] = n
    out[count] = g.size()
    return out.reset_index()


def probe_summary(table: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """probes_summary.csv: mean ± std over every run (data seed × model seed) of a cell and budget."""
    keys = CELL_COLUMNS + BUDGET_COLUMNS
    out = summarize(table, keys, metrics, count="n_seeds")
    out["n_data_seeds"] = table.groupby(keys, dropna=False, sort=True)["data_seed"].nunique().to_numpy()
    return out


def _markdown_mean_std(summary: pd.DataFrame, keys: list[str], metrics: Sequence[str], digits: int) -> str:
    """Markdown rows: the key columns as they are, each metric as 'mean ± std' ('–' when NaN)."""
    header = [*keys, *metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in summary.iterrows():
        cells = [str(r[k]) for k in keys]
        for m in metrics:
            mean, std = r[f"{m}_mean"], r[f"{m}_std"]
            if pd.isna(mean):
                cells.append("–")
            elif pd.isna(std):
                cells.append(f"{mean:.{digits}f}")
            else:
                cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_table(summary: pd.DataFrame, metrics: Sequence[str] = METRICS, digits: int = 3) -> str:
    """Paper-style Markdown: one line per cell, metrics as 'mean ± std'."""
    keys = [c for c in CELL_COLUMNS if c != "design"] + ["steps", "n_seeds"]
    return _markdown_mean_std(summary, keys, metrics, digits)


def curves_table(rows: list[dict], curves: list[pd.DataFrame]) -> pd.DataFrame:
    """Training curves of every model, with the identifying columns repeated on each point."""
    frames = []
    for row, curve in zip(rows, curves, strict=True):
        c = curve.copy()
        for k in CELL_COLUMNS + ["data_seed", "seed"]:
            c[k] = row[k]
        frames.append(c)
    df = pd.concat(frames, ignore_index=True)
    if "monitor_r2" not in df:
        df["monitor_r2"] = np.nan
    return df[CELL_COLUMNS + ["data_seed", "seed", "step", "loss", "monitor_r2"]]


PAIR_KEYS = ["experiment", "cell", "method", "head", "rep_dim", "n_classes", "diverse", "layer", "in_family"]


def pairs_summary(pairs: pd.DataFrame, metrics: Sequence[str] = PAIR_METRICS) -> pd.DataFrame:
    """pairs_summary.csv: mean ± std over seed pairs for every (experiment, cell, method, layer).

    A metric missing from ``pairs`` (e.g. ``g_span`` when only simulation cells were compared)
    is summarised as NaN.
    """
    pairs = pairs.reindex(columns=list(dict.fromkeys([*pairs.columns, *metrics])))
    return summarize(pairs, PAIR_KEYS, metrics, count="n_pairs")


def markdown_pairs(summary: pd.DataFrame, metrics: Sequence[str] = PAIR_METRICS, digits: int = 3) -> str:
    """Markdown: one line per (cell, layer), metrics as 'mean ± std' over seed pairs."""
    keys = ["experiment", "cell", "method", "head", "rep_dim", "n_classes", "diverse", "layer", "n_pairs"]
    return _markdown_mean_std(summary, keys, metrics, digits)
