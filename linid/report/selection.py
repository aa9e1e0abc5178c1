"""Which rows a figure draws: one-factor slices around each sweep's base cell, and head labels."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from linid.names import CELL_AXES
from linid.report.style import check

#: columns that identify one trained model (a model run by several sweeps is drawn once)
MODEL_COLUMNS = ["method", "normalize_w", *CELL_AXES, "data_seed", "seed"]


def _matches(col: pd.Series, value: Any) -> pd.Series:
    """Boolean mask of ``col == value``, tolerant to int/float (5 == 5.0) and to NaN == NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return col.isna()
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        num = pd.to_numeric(col, errors="coerce").astype(float)
        return pd.Series(
            np.isclose(num.to_numpy(), float(value), rtol=1e-9, atol=1e-12), index=col.index
        )
    return col.astype(str) == str(value)


def select_base(df: pd.DataFrame, base: Mapping[str, Any], keep: Sequence[str]) -> pd.DataFrame:
    """Rows equal to ``base`` on every sweep axis except those in ``keep`` (one-factor slices).

    Only the axes of :data:`CELL_AXES` are compared; other keys of ``base`` are ignored, and an
    axis absent from ``base`` is not constrained. Numbers compare tolerantly (5 == 5.0).
    """
    if isinstance(keep, str):
        keep = [keep]
    unknown = [k for k in keep if k not in CELL_AXES]
    if unknown:
        raise ValueError(
            f"select_base: keep names unknown sweep axis/axes {unknown}; known: {list(CELL_AXES)}"
        )
    fixed = [a for a in CELL_AXES if a in base and a not in keep]
    check(df, fixed + [k for k in keep], "probes table")
    mask = pd.Series(True, index=df.index)
    for axis in fixed:
        mask &= _matches(df[axis], base[axis])
    return df.loc[mask]


def slice_sweeps(df: pd.DataFrame, bases: Mapping[str, Mapping[str, Any]], keep: Sequence[str]) -> pd.DataFrame:
    """Rows of every sweep that vary only the ``keep`` axes around that sweep's base cell."""
    parts = [select_base(df[df["experiment"] == name], base, keep) for name, base in bases.items()]
    out = pd.concat(parts, ignore_index=True) if parts else df.iloc[:0]
    return out.drop_duplicates(subset=MODEL_COLUMNS)


def with_head_label(df: pd.DataFrame) -> pd.DataFrame:
    """Runs whose W rows were renormalised are drawn as their own method, e.g. 'diet (unit W)'."""
    out = df.copy()
    unit = out["normalize_w"].astype(str).str.lower() == "true"
    out.loc[unit, "method"] = out.loc[unit, "method"] + " (unit W)"
    return out
