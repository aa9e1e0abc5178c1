"""Tables: the tidy per-model probe and pair tables, and one mean ± std summariser for all of them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from linid.names import (
    CELL_AXES,
    CONTROL_METRICS,
    CONTROLS,
    GAIN,
    INTERVAL_COLUMNS,
    LAYERS,
    PAIR_METRICS,
    PROBE_METRICS,
    SUMMARY_METRICS,
    control_column,
    has_ceiling_one,
    has_floor_zero,
)

#: what identifies a sweep cell (summaries pool every data seed and model seed of a cell)
CELL_COLUMNS = ["experiment", "design", "method", "normalize_w", *CELL_AXES]
ID_COLUMNS = CELL_COLUMNS + ["data_seed", "seed", "steps", "batch_size"]
#: every control column of probes.csv: metric m of control c is ``m_c`` (names.control_column)
CONTROL_COLUMNS = [control_column(m, c) for c in CONTROLS for m in CONTROL_METRICS]
#: what the summaries pool per cell: the trained model's metrics, its gain over x, the controls
METRICS = [*SUMMARY_METRICS, GAIN, *CONTROL_COLUMNS]
EXTRA = [m for m in PROBE_METRICS if m not in SUMMARY_METRICS] + ["final_loss", "final_monitor_r2", "train_seconds", "device"]
RUN_IDS = ["dataset_uid", "train_uid", "features_uid", "probe_uid", "train_run_id", "dataset_id"]


def read_table(path) -> pd.DataFrame:
    """A CSV written by linid, read back as written: a name like "NA", "null" or "nan" (a sweep
    called so) stays a string; only an empty field is missing (pandas writes NaN as "")."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def tidy_table(
    rows: list[dict], probes: list[dict], trains: list[dict], observations: dict[str, dict] | None = None
) -> pd.DataFrame:
    """One row per (sweep, model): identifying columns, probe metrics with their bootstrap interval,
    the controls on the same draws (``observations``: dataset id → the x control's metrics; the
    untrained encoder's come with each probe), R²_a − R²_a(x), training summary, run ids."""
    if not (len(rows) == len(probes) == len(trains)):
        raise ValueError(f"rows/probes/trains differ in length: {len(rows)}, {len(probes)}, {len(trains)}")
    observations = observations or {}
    records = []
    for row, probe, tr in zip(rows, probes, trains, strict=True):
        rec = dict(row)
        values = {**probe["metrics"], **observations.get(row["dataset_id"], {})}
        rec.update({k: values.get(k, np.nan) for k in (*PROBE_METRICS, *INTERVAL_COLUMNS, *CONTROL_COLUMNS)})
        rec[GAIN] = rec["r2_affine"] - rec[control_column("r2_affine", "x")]
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
    cols = ID_COLUMNS + [*SUMMARY_METRICS, *INTERVAL_COLUMNS, GAIN, *CONTROL_COLUMNS] + EXTRA + RUN_IDS
    sort = CELL_COLUMNS + ["data_seed", "seed"]
    return df[cols].sort_values(sort, kind="stable").reset_index(drop=True)


#: the columns that state a run's budget next to its cell
BUDGET_COLUMNS = ["steps", "batch_size"]


def t_interval(mean: float, std: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of a mean: mean ± t_{(1+level)/2, n−1} · std / √n (nan for n < 2)."""
    if n < 2 or not np.isfinite(std):
        return float("nan"), float("nan")
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * std / np.sqrt(n)
    return mean - half, mean + half


def summarize(
    df: pd.DataFrame,
    by: Sequence[str],
    metrics: Sequence[str],
    count: str = "n",
    per_metric_counts: bool = False,
    level: float | None = None,
) -> pd.DataFrame:
    """Per group of ``by``: ``<m>_mean`` and ``<m>_std`` (ddof = 1, NaNs skipped) of every metric, and
    ``count`` = rows in the group (plus ``<m>_n`` = finite values of m, when ``per_metric_counts``).
    With ``level``, also ``<m>_ci_lo`` / ``<m>_ci_hi``: the t-interval of the mean over the finite
    values of m (``t_interval``; nan with fewer than 2), its upper end at most 1 for metrics that
    cannot exceed 1 (``names.has_ceiling_one``), its lower end at least 0 for canonical
    correlations (``names.has_floor_zero``)."""
    keys = list(by)
    values = df[keys].copy()
    for m in metrics:
        values[m] = pd.to_numeric(df[m], errors="coerce")
    g = values.groupby(keys, dropna=False, sort=True)[list(metrics)]
    out = g.agg(["mean", "std"])
    out.columns = [f"{m}_{s}" for m, s in out.columns]
    counts = g.count()
    extra: dict[str, object] = {}
    if level is not None:
        for m in metrics:
            ci = [t_interval(mu, sd, int(n), level) for mu, sd, n in
                  zip(out[f"{m}_mean"], out[f"{m}_std"], counts[m], strict=True)]
            # the same at the floor: a canonical correlation's interval stops at 0
            floor = 0.0 if has_floor_zero(m) else -np.inf
            extra[f"{m}_ci_lo"] = [max(lo, floor) for lo, _ in ci]
            # a mean of values ≤ 1 is ≤ 1: the interval of such a metric stops at its ceiling
            cap = 1.0 if has_ceiling_one(m) else np.inf
            extra[f"{m}_ci_hi"] = [min(hi, cap) for _, hi in ci]
    if per_metric_counts:
        extra.update({f"{m}_n": n for m, n in counts.items()})
    extra[count] = g.size()
    out = pd.concat([out, pd.DataFrame(extra, index=out.index)], axis=1)
    return out.reset_index()


def probe_summary(table: pd.DataFrame, metrics: Sequence[str] = METRICS, level: float = 0.95) -> pd.DataFrame:
    """probes_summary.csv: mean, std, n and the t-interval at ``level`` over every run (data seed ×
    model seed) of a cell and budget, for the trained metrics, the gain over x and the controls."""
    keys = CELL_COLUMNS + BUDGET_COLUMNS
    out = summarize(table, keys, metrics, count="n_seeds", level=level)
    n_data = table.groupby(keys, dropna=False, sort=True)["data_seed"].nunique().to_numpy()
    return out.assign(n_data_seeds=n_data, level=level)


def _markdown_mean_std(summary: pd.DataFrame, keys: list[str], metrics: Sequence[str], digits: int) -> str:
    """Markdown rows: the key columns as they are, each metric as 'mean ± std' ('–' when NaN)."""
    header = [*keys, *metrics]
    lines = [md_row(header), "|" + "---|" * len(header)]
    for _, r in summary.iterrows():
        cells = [md_cell(r[k]) for k in keys]
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


#: the columns of probes_summary.md after the varying axes: (header, summary column, format)
MARKDOWN_COLUMNS = [
    ("R²_a trained", "r2_affine", "mean_std"),
    ("95 % CI", "r2_affine", "ci"),
    ("R²_a x", control_column("r2_affine", "x"), "mean_std"),
    ("R²_a untrained", control_column("r2_affine", "init"), "mean_std"),
    ("R²_a untrained (BN)", control_column("r2_affine", "init_bn"), "mean_std"),
    ("gain over x [95 % CI]", GAIN, "mean_ci"),
    ("MCC aligned", "mcc_pearson_aligned", "mean_std"),
    ("MCC aligned x", control_column("mcc_pearson_aligned", "x"), "mean_std"),
    ("reverse R²", "r2_reverse", "mean_std"),
]


def varying_columns(summary: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    """The candidate columns that take more than one value in ``summary`` (NaN counts as a value)."""
    return [c for c in candidates if c in summary and summary[c].astype(str).nunique() > 1]


#: what a Markdown cell escapes with a backslash: '|' ends a cell, '<' and '>' open raw HTML (a name
#: like '</script><script>…' would be live markup in any Markdown viewer), '\\' escapes
MD_ESCAPED = "\\|<>"


def distinct_columns(summary: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """``keys`` less any column whose values repeat another key's row for row (a sweep named after
    its method: the later, science column is kept)."""
    out: list[str] = []
    for k in reversed(list(keys)):
        if not any(summary[k].astype(str).equals(summary[kept].astype(str)) for kept in out):
            out.append(k)
    return out[::-1]


def md_cell(text: object) -> str:
    """A value as one Markdown table cell: '\\', '|', '<' and '>' backslash-escaped (CommonMark shows
    them as themselves), line breaks as spaces."""
    out = "".join(f"\\{c}" if c in MD_ESCAPED else c for c in str(text))
    return out.replace("\r", " ").replace("\n", " ")


def md_row(cells: Sequence[object]) -> str:
    """One Markdown table row, every cell through :func:`md_cell` (names brought by users, sweep
    names, layer and factor names may hold '|' or a line break)."""
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def _fmt(row: pd.Series, col: str, kind: str, digits: int) -> str:
    mean, std = row.get(f"{col}_mean", np.nan), row.get(f"{col}_std", np.nan)
    lo, hi = row.get(f"{col}_ci_lo", np.nan), row.get(f"{col}_ci_hi", np.nan)
    if pd.isna(mean):
        return "–"
    m = f"{mean:+.{digits}f}" if kind == "mean_ci" else f"{mean:.{digits}f}"
    ci = "–" if pd.isna(lo) else f"[{lo:.{digits}f}, {hi:.{digits}f}]"
    if kind == "ci":
        return ci
    if kind == "mean_ci":
        return m if pd.isna(lo) else f"{m} {ci}"
    if kind == "mean_std" and not pd.isna(std):
        return f"{m} ± {std:.{digits}f}"
    return m


def markdown_table(summary: pd.DataFrame, digits: int = 3) -> str:
    """probes_summary.md: one line per cell, only the axes that vary across the table, the trained
    R²_a (mean ± std over runs, t-interval), its controls on the same draws and the gain over x;
    the settings every row shares are listed once above the table."""
    candidates = [c for c in CELL_COLUMNS if c != "design"] + BUDGET_COLUMNS
    varying = varying_columns(summary, candidates)
    keys = distinct_columns(summary, varying) or ["method"]
    shared = [c for c in candidates if c in summary and c not in varying and len(summary)]
    repeats = [c for c in varying if c not in keys]
    level = float(summary["level"].iloc[0]) if "level" in summary and len(summary) else 0.95
    lines = [
        f"Mean ± std over the n runs (data seed × model seed) of each cell; CI: {100 * level:g} % "
        "t-interval of the mean. x: the observations themselves (no encoder); untrained: the same "
        "seed's encoder at initialisation, with its initial BatchNorm statistics or with precise-BN "
        "(as trained models are evaluated); gain: R²_a − R²_a(x), per run on the same draws.",
        "",
        "Shared by every row: " + ", ".join(f"{c} = {md_cell(summary[c].iloc[0])}" for c in shared) + ".",
        "",
    ]
    if repeats:  # e.g. sweeps named after their method: one column says it
        same = [next(k for k in keys if summary[k].astype(str).equals(summary[c].astype(str))) for c in repeats]
        lines += ["Not repeated as a column: " + ", ".join(f"{c} (the same as {k})" for c, k in
                                                          zip(repeats, same, strict=True)) + ".", ""]
    header = [*keys, "n", *(h for h, _, _ in MARKDOWN_COLUMNS)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, r in summary.iterrows():
        cells = [md_cell(r[k]) for k in keys] + [str(int(r["n_seeds"]))]
        cells += [_fmt(r, col, kind, digits) for _, col, kind in MARKDOWN_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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


#: pairs_summary.md's headers of the identifying columns ([K]'s letters; d and |C| for [R] cells)
PAIR_HEADERS = {"rep_dim": "M", "n_classes": "K"}


def markdown_pairs(summary: pd.DataFrame, metrics: Sequence[str] = PAIR_METRICS, digits: int = 3) -> str:
    """pairs_summary.md: one line per (cell, layer), metrics as 'mean ± std' over seed pairs, sorted
    by the numbers (K = 2, 3, 6, 18; layers in names.LAYERS order). Only the identifying columns that
    vary are shown (the shared ones are stated once above), a column repeating another one's values
    row for row is shown once, and the raw cell id only where M, K and the rest leave rows alike."""
    order = {name: i for i, name in enumerate(LAYERS)}
    summary = summary.assign(
        _layer=summary["layer"].map(order).fillna(len(order)),
        head=summary["head"].fillna("").astype(str).replace("", "–"),  # a family model has no W head
    ).sort_values(
        ["experiment", "method", "head", "rep_dim", "n_classes", "diverse", "cell", "_layer"], kind="stable"
    )
    candidates = ["experiment", "method", "head", "rep_dim", "n_classes", "diverse"]
    keys = distinct_columns(summary, varying_columns(summary, candidates))
    shared = [c for c in candidates if c not in keys and c in summary and len(summary)
              and summary[c].astype(str).nunique() == 1 and str(summary[c].iloc[0]) not in ("", "nan", "–")]
    if summary[[*keys, "layer"]].astype(str).duplicated().any():
        keys.insert(0, "cell")  # rows the shown columns cannot tell apart: name the cell
    keys += ["layer", "n_pairs"]
    lines = [
        "Mean ± std over the seed pairs of each cell. M: representation dimension (d for [R] cells); "
        "K: classes (|C|); diverse: K ≥ M + 1.",
        "",
    ]
    if shared:
        lines += ["Shared by every row: " + ", ".join(
            f"{PAIR_HEADERS.get(c, c)} = {md_cell(summary[c].iloc[0])}" for c in shared) + ".", ""]
    table = _markdown_mean_std(summary, keys, metrics, digits)
    header, rest = table.split("\n", 1)
    header = md_row([PAIR_HEADERS.get(k, k) for k in [*keys, *metrics]])
    return "\n".join(lines) + "\n" + header + "\n" + rest
