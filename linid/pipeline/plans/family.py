"""The [K] family experiment as a plan: the angle datasets and the cells (dataset × M) trained."""

from __future__ import annotations

from linid.family.config import AngleData
from linid.pipeline.cells import family_cells
from linid.pipeline.config import fields_of
from linid.pipeline.shards import capped_runtime, pairs_runtime


class FamilyPlan:
    """The family section of a validated config as records (``linid.pipeline.cells.FamilyCell``).
    Methods taking ``wildcards`` are Snakemake params/resources callables."""

    def __init__(self, config: dict):
        self.family = config["family"]
        self.resources = config["resources"]
        self.cells = family_cells(self.family)
        self.datasets = {c.dataset_id: c for c in self.cells}

    def data_params(self, wildcards) -> dict:
        """Everything that determines one family dataset: the AngleData, sizes and seed."""
        cell = self.datasets[wildcards.fdata]
        d = self.family["data"]
        task = fields_of(AngleData, d, {"n_classes": cell.n_classes})
        return {**task, "seed": cell.data_seed, "n_train": d["n_train"], "n_eval": d["n_eval"]}

    def train_params(self, wildcards) -> dict:
        return {
            "rep_dim": int(wildcards.M),
            "seeds": list(self.family["seeds"]),
            "model": dict(self.family["model"]),
            "train": dict(self.family["train"]),
        }

    def train_runtime(self, wildcards, attempt) -> int:
        """Minutes for all seeds of a cell: steps × seeds in 10k-step units, small-MLP rate."""
        per10k = self.resources["train_minutes_per_10k_steps"]
        est = self.family["train"]["steps"] * len(self.family["seeds"]) / 10_000 * per10k * 0.5
        return capped_runtime(self.resources, "family_train", int(max(10, 1.5 * est) * attempt))

    def compare_runtime(self, wildcards, attempt) -> int:
        """Minutes: every seed pair of a cell × resources.compare_seconds_per_pair, × attempt."""
        n = len(self.family["seeds"])
        minutes = pairs_runtime(n * (n - 1) // 2, self.resources["compare_seconds_per_pair"], attempt)
        return capped_runtime(self.resources, "compare_family", minutes)

    def files(self, pattern: str) -> list[str]:
        """``pattern`` (with {fdata} and {M}) for every cell, in ``cells`` order."""
        return [pattern.format(fdata=c.dataset_id, M=c.rep_dim) for c in self.cells]

    def cells_table(self) -> list[dict]:
        """Identifying columns of every cell, in ``cells`` order."""
        return [{"fdata": c.dataset_id, "rep_dim": c.rep_dim, "n_classes": c.n_classes} for c in self.cells]
