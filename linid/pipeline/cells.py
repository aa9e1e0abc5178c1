"""Cells as records: the sweep expansion, and every id and path built from a record (never parsed back).

A sweep is a grid (the cartesian product of its axes) or one-factor-at-a-time (the base cell plus
variations of one axis at a time, the others at base — how the paper's tables are built). Every
(cell, data seed) is one dataset; every (dataset, method, head, seed) one trained model. Identical
cells declared by several sweeps share their dataset and models.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from linid.names import BETA_CONDITIONALS, CELL_AXES, DEFAULT_BASE, HEADS


def cell_steps(train: dict, n_instances: int) -> int:
    """Training steps of a model: ``epochs · max(N // batch_size, 1)`` (the official budget) when
    ``epochs`` is set, else ``steps``."""
    if train.get("epochs"):
        return int(train["epochs"]) * max(int(n_instances) // int(train["batch_size"]), 1)
    return int(train["steps"])


def num_id(x: float) -> str:
    """A short exact spelling of a number for ids: ``%g`` when it round-trips, else ``repr``."""
    short = f"{x:g}"
    return short if float(short) == float(x) else repr(float(x))


def canonical_cell(values: dict) -> dict:
    """Set the parameters a cell does not use to their defaults, so equal processes share one id.

    ``cond_beta`` matters only for the truncated_laplace and gennorm conditionals, ``prior_shape``
    only for the gennorm prior, ``prior_scale`` only for non-uniform priors.
    """
    out = dict(values)
    if out["conditional"] not in BETA_CONDITIONALS:
        out["cond_beta"] = DEFAULT_BASE["cond_beta"]
    if out["cluster_prior"] != "gennorm":
        out["prior_shape"] = DEFAULT_BASE["prior_shape"]
    if out["cluster_prior"] == "uniform":
        out["prior_scale"] = DEFAULT_BASE["prior_scale"]
    return out


@dataclass(frozen=True)
class Cell:
    """One point of the data-generating grid, plus the dataset seed."""

    latent_dim: int
    n_classes: int
    n_instances: int
    kappa: float
    conditional: str
    cluster_prior: str
    label_noise: float
    data_seed: int
    cond_beta: float = 2.0
    prior_shape: float = 3.0
    prior_scale: float = 1.0

    def axes(self) -> dict[str, Any]:
        """The cell's value on every sweep axis."""
        return {a: getattr(self, a) for a in CELL_AXES}

    @property
    def dataset_id(self) -> str:
        """Injective id: every number spelled exactly; shape parameters only where they matter."""
        out = (
            f"d{self.latent_dim}_C{self.n_classes}_N{self.n_instances}_k{num_id(self.kappa)}"
            f"_{self.conditional}"
            f"_{self.cluster_prior}_p{num_id(self.label_noise)}"
        )
        if self.conditional in BETA_CONDITIONALS:
            out += f"_b{num_id(self.cond_beta)}"
        if self.cluster_prior == "gennorm":
            out += f"_q{num_id(self.prior_shape)}"
        if self.cluster_prior != "uniform":
            out += f"_r{num_id(self.prior_scale)}"
        return out + f"_s{self.data_seed}"


@dataclass(frozen=True)
class ModelSpec:
    """One trained model: a cell, a method and a seed, listed under the sweep that asked for it."""

    experiment: str
    design: str
    cell: Cell
    method: str
    seed: int
    head: str = "free"

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.cell.dataset_id, self.method, self.head, self.seed)

    def row(self) -> dict[str, Any]:
        d = asdict(self.cell)
        d.update(
            experiment=self.experiment,
            design=self.design,
            method=self.method,
            normalize_w=HEADS[self.head],
            seed=self.seed,
        )
        d["dataset_id"] = self.cell.dataset_id
        return d


def sweep_base(sweep: dict) -> dict:
    """The cell a sweep's one-factor slices and d × |C| figures are drawn around: its base, where a
    grid sweeps an axis without the base value, that axis's first value, canonicalised like the
    sweep's own cells (so the slice always meets cells the sweep trained)."""
    base = {**DEFAULT_BASE, **(sweep.get("base") or {})}
    if sweep.get("design", "grid") == "grid":
        for axis, values in (sweep.get("axes") or {}).items():
            if values and base[axis] not in values:
                base[axis] = values[0]
    return canonical_cell(base)


def sweep_cells(sweep: dict) -> list[dict]:
    """Cells of one sweep as dicts of every axis: grid product, or base + one axis at a time."""
    base = {**DEFAULT_BASE, **(sweep.get("base") or {})}
    axes = sweep.get("axes") or {}
    cells: list[dict] = []
    if sweep.get("design", "grid") == "grid":
        names = list(axes)
        for values in itertools.product(*(axes[n] for n in names)):
            cells.append({**base, **dict(zip(names, values, strict=False))})
    else:
        cells.append(dict(base))
        for name, values in axes.items():
            for v in values:
                cells.append({**base, name: v})
    unique, seen = [], set()
    for c in map(canonical_cell, cells):
        key = tuple(c[a] for a in CELL_AXES)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def expand(sim: dict) -> list[ModelSpec]:
    """All (sweep, cell, data seed, method, seed) combinations of the ``simulation`` section."""
    specs = []
    for name, sweep in sim["sweeps"].items():
        design = sweep.get("design", "grid")
        data_seeds = sweep.get("data_seeds", [0])
        pairs = (
            [(int(s), int(s)) for s in sweep["seeds"]]
            if data_seeds == "paired"
            else [(int(ds), int(s)) for ds in data_seeds for s in sweep["seeds"]]
        )
        heads = ["unit" if n else "free" for n in sweep.get("normalize_w", [False])]
        for c in sweep_cells(sweep):
            for ds, seed in pairs:
                cell = Cell(
                    latent_dim=int(c["latent_dim"]),
                    n_classes=int(c["n_classes"]),
                    n_instances=int(c["n_instances"]),
                    kappa=float(c["kappa"]),
                    conditional=str(c["conditional"]),
                    cluster_prior=str(c["cluster_prior"]),
                    label_noise=float(c["label_noise"]),
                    data_seed=ds,
                    cond_beta=float(c["cond_beta"]),
                    prior_shape=float(c["prior_shape"]),
                    prior_scale=float(c["prior_scale"]),
                )
                for method in sweep["methods"]:
                    for head in heads:
                        specs.append(ModelSpec(name, design, cell, method, seed, head))
    return specs


# --------------------------------------------------------------------------- [K] family cells


@dataclass(frozen=True)
class FamilyCell:
    """One [K] cell: an angle task (K classes, data seed) and a representation dimension M."""

    n_classes: int
    data_seed: int
    rep_dim: int

    @property
    def dataset_id(self) -> str:
        return f"K{self.n_classes}_s{self.data_seed}"

    @property
    def cell_id(self) -> str:
        return f"{self.dataset_id}_M{self.rep_dim}"

    @property
    def diverse(self) -> bool:
        """The counting part of the diversity condition, K ≥ M + 1."""
        return self.n_classes >= self.rep_dim + 1


def family_cells(family: dict) -> list[FamilyCell]:
    """Every (K, M) cell of the ``family`` section, K-major, or none when it is disabled."""
    if not family.get("enabled"):
        return []
    axes = family["axes"]
    return [
        FamilyCell(int(k), int(family["data_seed"]), int(m))
        for k in axes["n_classes"]
        for m in axes["rep_dim"]
    ]
