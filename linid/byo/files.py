"""The bring-your-own-activations file formats (docs/byo.md §1): reading and checking them.

- One **factors file** (``.npz``), every array optional: ``continuous`` float (n, k) with
  ``continuous_names`` str (k,); ``binary`` 0/1 int or bool (n, m) with ``binary_names`` str (m,);
  ``labels`` int (n,).
- One **model file** per model (``.npz``): one 2-D float array (n, width) per layer, the array name
  being the layer name; an optional str array ``layers`` gives the layer order (else the order of
  the arrays in the file).

Row i of every array, in every file, is the same sample. :func:`check_inputs` lists every problem
of a set of files while reading only the ``.npy`` headers inside the archives, except where values
must be seen: NaN/inf in a layer is found by streaming each layer in chunks, and the small factor
arrays are read whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from linid.core.npz import NpzEntry, Unreadable, count_nonfinite, describe, load_member, npz_index
from linid.probes.sizes import max_compared_width

Array = NDArray[np.float64]

FACTOR_KEYS = ("continuous", "continuous_names", "binary", "binary_names", "labels")
ORDER_KEY = "layers"
_NUMERIC = "biuf"  # dtype kinds accepted for numbers: bool, int, uint, float


@dataclass(frozen=True)
class Factors:
    """The ground-truth factors of the samples; an absent part is None (arrays) or empty (names)."""

    continuous: Array | None = None
    continuous_names: list[str] = field(default_factory=list)
    binary: NDArray[np.int64] | None = None
    binary_names: list[str] = field(default_factory=list)
    labels: NDArray[np.int64] | None = None

    @property
    def n(self) -> int | None:
        """Number of samples (rows), None when the file holds no factor at all."""
        for arr in (self.continuous, self.binary, self.labels):
            if arr is not None:
                return int(arr.shape[0])
        return None


# ----------------------------------------------------------------------------- checks


def _check_names(
    where: str, path: Path, idx: dict[str, NpzEntry], data_key: str, width: int | None
) -> list[str]:
    """Problems of ``<data_key>_names``: str 1-D, one unique name per column of ``data_key``."""
    key = f"{data_key}_names"
    if key not in idx:
        return []
    e = idx[key]
    if width is None:
        return [f"{where}: '{key}' is given but '{data_key}' is not"]
    if e.dtype.kind not in "US" or len(e.shape) != 1:
        return [
            f"{where}: '{key}' must be a 1-D str array (np.array(names, dtype=str)), "
            f"got {describe(e)}"
        ]
    names = [str(s) for s in load_member(path, key)]
    if len(names) != width:
        return [f"{where}: '{key}' has {len(names)} name(s) but '{data_key}' has {width} column(s)"]
    dup = sorted({s for s in names if names.count(s) > 1})
    return [f"{where}: '{key}' repeats name(s) {dup}"] if dup else []


def _factor_names(path: Path, idx: dict[str, NpzEntry], data_key: str, width: int) -> list[str]:
    key = f"{data_key}_names"
    if key in idx:
        return [str(s) for s in load_member(path, key)]
    return [f"{data_key}_{j}" for j in range(width)]


def _check_factors(path: Path, rows: list[tuple[str, int]]) -> list[str]:
    """Problems of the factors file; appends (description, n_rows) of each factor array to rows."""
    where = f"factors file {path}"
    try:
        idx = npz_index(path)
    except Unreadable as e:
        return [f"{where}: {e}"]
    problems: list[str] = []
    unknown = [k for k in idx if k not in FACTOR_KEYS]
    if unknown:
        problems.append(
            f"{where}: unknown array(s) {unknown}; a factors file may hold only {list(FACTOR_KEYS)}"
        )
    if not any(k in idx for k in ("continuous", "binary", "labels")):
        problems.append(f"{where}: holds no factor (none of 'continuous', 'binary', 'labels')")
    for e in idx.values():
        if e.dtype.hasobject:
            problems.append(
                f"{where}: an array is a pickled object array ({describe(e)}); save numbers as "
                "numeric arrays and names as np.array(names, dtype=str)"
            )
            return problems

    for key in ("continuous", "binary"):
        if key not in idx:
            problems += _check_names(where, path, idx, key, None)
            continue
        e = idx[key]
        if len(e.shape) != 2 or e.dtype.kind not in _NUMERIC:
            problems.append(
                f"{where}: '{key}' must be a 2-D numeric array (n samples, factors), got "
                f"{describe(e)} (one factor: reshape to (n, 1))"
            )
            continue
        rows.append((f"{where}, array '{key}'", e.shape[0]))
        names_problems = _check_names(where, path, idx, key, e.shape[1])
        problems += names_problems
        names = _factor_names(path, idx, key, e.shape[1]) if not names_problems else None
        values = load_member(path, key)
        if key == "continuous":
            bad = int(values.size - np.count_nonzero(np.isfinite(values)))
            if bad:
                problems.append(f"{where}: 'continuous' holds {bad} NaN/inf value(s)")
            continue
        for j in range(values.shape[1]):
            col = values[:, j]
            label = f"binary factor '{names[j]}'" if names else f"binary factor column {j}"
            uniq = np.unique(col[np.isfinite(col)] if col.dtype.kind == "f" else col)
            if not np.all(np.isin(col, [0, 1])):
                odd = [v.item() for v in uniq if v not in (0, 1)][:5]
                if col.dtype.kind == "f" and not np.all(np.isfinite(col)):
                    odd = ["nan/inf", *odd][:5]
                problems.append(f"{where}: {label} holds values other than 0/1, e.g. {odd}")
            elif uniq.size < 2:
                problems.append(
                    f"{where}: {label} has only one class (every sample is {uniq[0].item()})"
                )

    if "labels" in idx:
        e = idx["labels"]
        if len(e.shape) != 1 or e.dtype.kind not in _NUMERIC:
            problems.append(
                f"{where}: 'labels' must be a 1-D integer array (n,), got {describe(e)}"
            )
        else:
            rows.append((f"{where}, array 'labels'", e.shape[0]))
            lab = load_member(path, "labels")
            if lab.dtype.kind == "f" and not np.all(np.isfinite(lab) & (lab == np.round(lab))):
                problems.append(f"{where}: 'labels' holds non-integer or NaN/inf values")
            elif np.unique(lab).size < 2:
                problems.append(f"{where}: 'labels' has only one class")
    return problems


def _layer_order(path: Path, idx: dict[str, NpzEntry], where: str) -> tuple[list[str], list[str]]:
    """(layer names in order, problems) from the optional ``layers`` array, else archive order."""
    arrays = [k for k in idx if k != ORDER_KEY]
    if ORDER_KEY not in idx:
        return arrays, []
    e = idx[ORDER_KEY]
    if e.dtype.kind not in "US" or len(e.shape) != 1:
        return arrays, [
            f"{where}: '{ORDER_KEY}' is reserved for the layer order and must be a 1-D str array, "
            f"got {describe(e)}"
        ]
    order = [str(s) for s in load_member(path, ORDER_KEY)]
    problems = []
    dup = sorted({s for s in order if order.count(s) > 1})
    if dup:
        problems.append(f"{where}: '{ORDER_KEY}' repeats layer name(s) {dup}")
    missing = [s for s in order if s not in idx or s == ORDER_KEY]
    if missing:
        problems.append(f"{where}: '{ORDER_KEY}' names layer(s) {missing} that are not in the file")
    unlisted = [s for s in arrays if s not in order]
    if unlisted:
        problems.append(
            f"{where}: array(s) {unlisted} are not listed in '{ORDER_KEY}' (list every layer)"
        )
    return [s for s in dict.fromkeys(order) if s in idx and s != ORDER_KEY], problems


def _check_model(name: str, path: Path, rows: list[tuple[str, int]]) -> list[str]:
    """Problems of one model file; appends (description, n_rows) of each 2-D layer to rows."""
    where = f"model '{name}' ({path})"
    try:
        idx = npz_index(path)
    except Unreadable as e:
        return [f"{where}: {e}"]
    order, problems = _layer_order(path, idx, where)
    if not order:
        return [*problems, f"{where}: holds no layers (one 2-D array per layer expected)"]
    for layer in order:
        e = idx[layer]
        if e.dtype.kind not in _NUMERIC:
            problems.append(f"{where}: layer '{layer}' is not numeric ({describe(e)})")
            continue
        if len(e.shape) != 2:
            problems.append(
                f"{where}: layer '{layer}' must be 2-D (n samples, width), got shape {e.shape}"
            )
            continue
        if e.shape[0] == 0 or e.shape[1] == 0:
            problems.append(f"{where}: layer '{layer}' is empty (shape {e.shape})")
            continue
        rows.append((f"{where}, layer '{layer}'", e.shape[0]))
        bad = count_nonfinite(path, layer, e)
        if bad:
            problems.append(f"{where}: layer '{layer}' holds {bad} NaN/inf value(s)")
    return problems


def _minority_needed(test_fraction: float) -> int:
    """Samples of each class a binary factor needs so that every stratified split of the probes
    (test_fraction) leaves at least 2 of each class in both halves, with a margin for rounding."""
    return max(4, math.ceil(2 / min(test_fraction, 1 - test_fraction)) + 1)


def _check_sizes(
    factors_path: Path | None, models: Mapping[str, str | Path], settings: Mapping
) -> list[str]:
    """What the probes and comparisons need of sizes, from headers and the (small) factors: every
    class of a binary factor in both halves of the split, layers no wider than half the rows the
    comparisons use unless svcca_k reduces them."""
    problems: list[str] = []
    tf = settings.get("test_fraction", 0.3)
    if factors_path is not None:
        idx = npz_index(factors_path)
        if "binary" in idx and len(idx["binary"].shape) == 2:
            values = load_member(factors_path, "binary")
            names = _factor_names(factors_path, idx, "binary", values.shape[1])
            need = _minority_needed(tf)
            for j, name in enumerate(names):
                counts = np.bincount(values[:, j].astype(np.int64), minlength=2)
                if counts.min() < need:
                    problems.append(
                        f"factors file {factors_path}: binary factor '{name}' has {counts[1]} "
                        f"positive(s) and {counts[0]} negative(s) in {values.shape[0]} rows; the "
                        f"probes' stratified split (byo.test_fraction = {tf}) needs at least "
                        f"{need} of each class (drop the factor or give more rows)"
                    )
    widths: dict[str, tuple[str, int]] = {}
    n_rows = None
    for name, path in models.items():
        idx = npz_index(Path(path))
        order, _ = _layer_order(Path(path), idx, "")
        for layer in order:
            shape = idx[layer].shape
            n_rows = shape[0] if n_rows is None else n_rows
            if len(shape) == 2 and shape[1] > widths.get("max", ("", 0))[1]:
                widths["max"] = (f"model '{name}', layer '{layer}'", shape[1])
    if n_rows is None or "max" not in widths:
        return problems
    max_rows = settings.get("max_rows", 5000)
    used = n_rows if max_rows is None else min(n_rows, max_rows)
    k = settings.get("svcca_k")
    where, width = widths["max"]
    widest = max_compared_width(used)
    if k is None and width > widest:
        problems.append(
            f"{where} is {width} wide but the comparisons use {used} rows; CCA and the affine R² "
            f"are meaningless beyond (rows − 4)/2 = {widest} columns: set byo.svcca_k <= {widest} (e.g. 20) "
            "so that wide layers are reduced to their top principal directions, or give more rows"
        )
    elif k is not None and k > widest:
        problems.append(f"config key byo.svcca_k = {k}: more than the {widest} directions the {used} rows "
                        "the comparisons use can compare ((rows − 4)/2)")
    return problems


def check_inputs(
    factors_path: str | Path | None,
    models: Mapping[str, str | Path],
    settings: Mapping | None = None,
) -> list[str]:
    """Every problem of a factors file (None: no probes) and model files (name → path); [] = fine.

    Reads the ``.npy`` headers in each archive for shapes and dtypes; layer values are streamed in
    chunks only to look for NaN/inf, and the (small) factor arrays are read whole. Row counts are
    compared against the factors file (else the first layer of the first model): every array must
    hold one row per sample. Comparison needs at least 2 models. With ``settings`` (the byo config
    section), also what the probes and comparisons need of the sizes (:func:`_check_sizes`).
    """
    problems: list[str] = []
    rows: list[tuple[str, int]] = []
    if len(models) < 2:
        problems.append(
            f"need at least 2 model files to compare models pairwise, got {len(models)}"
            + (f" ({list(models)})" if models else "")
        )
    if factors_path is not None:
        problems += _check_factors(Path(factors_path), rows)
    for name, path in models.items():
        problems += _check_model(str(name), Path(path), rows)
    if rows:
        ref, n = rows[0]
        for what, r in rows[1:]:
            if r != n:
                problems.append(
                    f"{what} has {r} rows but {ref} has {n}: every layer and factor array needs "
                    "one row per sample, in the same order"
                )
    if settings is not None and not problems:  # the files are readable: what the stages need
        problems += _check_sizes(None if factors_path is None else Path(factors_path), models, settings)
    return problems


# ----------------------------------------------------------------------------- loading


def load_factors(path: str | Path) -> Factors:
    """Read a factors file; ValueError listing its problems (see :func:`check_inputs`) if any.

    Missing ``*_names`` default to ``continuous_0, …`` / ``binary_0, …``.
    """
    path = Path(path)
    rows: list[tuple[str, int]] = []
    problems = _check_factors(path, rows)
    problems += [
        f"{what} has {r} rows but {rows[0][0]} has {rows[0][1]}"
        for what, r in rows[1:]
        if r != rows[0][1]
    ]
    if problems:
        raise ValueError("invalid factors file:\n  " + "\n  ".join(problems))
    idx = npz_index(path)
    with np.load(path, allow_pickle=False) as z:
        cont = z["continuous"].astype(np.float64) if "continuous" in z else None
        binary = z["binary"].astype(np.int64) if "binary" in z else None
        labels = z["labels"].astype(np.int64) if "labels" in z else None
    return Factors(
        continuous=cont,
        continuous_names=[]
        if cont is None
        else _factor_names(path, idx, "continuous", cont.shape[1]),
        binary=binary,
        binary_names=[] if binary is None else _factor_names(path, idx, "binary", binary.shape[1]),
        labels=labels,
    )


def load_model(path: str | Path) -> dict[str, Array]:
    """Read a model file: layer name → float64 (n, width) array, in the file's layer order.

    ValueError when the file is unreadable, holds no layers, or a layer is not a finite 2-D numeric
    array, or the layers' row counts differ.
    """
    path = Path(path)
    where = f"model file {path}"
    try:
        idx = npz_index(path)
    except Unreadable as e:
        raise ValueError(f"{where}: {e}") from None
    order, problems = _layer_order(path, idx, where)
    if problems:
        raise ValueError("\n".join(problems))
    if not order:
        raise ValueError(f"{where}: holds no layers")
    out: dict[str, Array] = {}
    with np.load(path, allow_pickle=False) as z:
        for layer in order:
            arr = z[layer]
            if arr.dtype.kind not in _NUMERIC or arr.ndim != 2 or 0 in arr.shape:
                raise ValueError(
                    f"{where}: layer '{layer}' must be a non-empty 2-D numeric array, "
                    f"got shape {arr.shape}, dtype {arr.dtype}"
                )
            arr = arr.astype(np.float64)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{where}: layer '{layer}' holds NaN/inf values")
            out[layer] = arr
    n = {a.shape[0] for a in out.values()}
    if len(n) > 1:
        sizes = {k: a.shape[0] for k, a in out.items()}
        raise ValueError(f"{where}: layers have different row counts {sizes}")
    return out
