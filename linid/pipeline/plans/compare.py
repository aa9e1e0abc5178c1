"""Model-to-model comparisons as a plan: which cells are compared, and their seed pairs cut into
jobs of bounded work (``compare.max_pairs_per_job``; ``linid.pipeline.shards``)."""

from __future__ import annotations

from functools import cache

from linid.pipeline.plans.family import FamilyPlan
from linid.pipeline.plans.sim import SimPlan
from linid.pipeline.shards import capped_runtime, pair_shards, pairs_runtime, shard_seeds
from linid.sim.objectives import spec


class ComparePlan:
    """Every family cell and every simulation cell with at least two seeds (one row of the pair
    tables per seed pair). Methods taking ``wildcards`` are Snakemake params/resources callables."""

    def __init__(self, config: dict, sim: SimPlan, family: FamilyPlan):
        self.compare = config["compare"]
        self.resources = config["resources"]
        self.sim = sim
        self.family = family
        self.groups = self._groups() if (sim.sim["enabled"] and self.compare["enabled"]) else {}
        self.shards = cache(self._shards)

    def _groups(self) -> dict[tuple[str, str, str], list[int]]:
        """(dataset, method, head) → seeds, for every simulation cell with at least two seeds."""
        groups: dict[tuple[str, str, str], list[int]] = {}
        for d, m, h, s in self.sim.models:
            groups.setdefault((d, m, h), []).append(s)
        return {k: sorted(v) for k, v in sorted(groups.items()) if len(v) >= 2}

    def _shards(self, data: str, method: str, head: str) -> list[list[tuple[int, int]]]:
        return pair_shards(self.groups[(data, method, head)], self.compare["max_pairs_per_job"])

    # -- compare_sim_part: params, inputs, resources ------------------------------------------
    def part_pairs(self, wildcards) -> list[tuple[int, int]]:
        w = wildcards
        return self.shards(w.data, w.method, w.head)[int(w.part)]

    def part_seeds(self, wildcards) -> list[int]:
        return shard_seeds(self.part_pairs(wildcards))

    def part_features(self, pattern: str):
        """Input function: ``pattern`` (a model's features) for every seed a part reads."""

        def files(wildcards):
            w = wildcards
            return [pattern.format(data=w.data, method=w.method, head=w.head, seed=s) for s in self.part_seeds(w)]

        return files

    def part_files(self, pattern: str):
        """Input function of ``compare_sim``: ``pattern`` (with {part}) for every part of the cell."""

        def files(wildcards):
            w = wildcards
            n = len(self.shards(w.data, w.method, w.head))
            return [pattern.format(data=w.data, method=w.method, head=w.head, part=i) for i in range(n)]

        return files

    def part_runtime(self, wildcards, attempt) -> int:
        """Minutes: the part's pairs × resources.compare_seconds_per_pair (at least 5), × attempt."""
        per_pair = self.resources["compare_seconds_per_pair"]
        minutes = pairs_runtime(len(self.part_pairs(wildcards)), per_pair, attempt)
        return capped_runtime(self.resources, "compare_sim_part", minutes)

    # -- the pair tables ------------------------------------------------------------------------
    def any(self) -> bool:
        return bool(self.family.cells or self.groups)

    def files(self, family_pattern: str, sim_pattern: str) -> list[str]:
        """One compared cell's output per cell: family cells first, then simulation cells."""
        sim = [sim_pattern.format(data=d, method=m, head=h) for d, m, h in self.groups]
        return self.family.files(family_pattern) + sim

    def cells(self) -> list[dict]:
        """The identifying columns of every compared cell, in :meth:`files` order."""
        out = [
            {
                "experiment": "family",
                "cell": c.cell_id,
                "method": "family",
                "head": "",
                "rep_dim": c.rep_dim,
                "n_classes": c.n_classes,
                "diverse": c.diverse,
            }
            for c in self.family.cells
        ]
        for d, m, h in self.groups:
            cell = self.sim.datasets[d]
            # the head's rows play g: |C| class vectors (supervised) or N ≥ d + 1 instances (DIET)
            diverse = spec(m).diverse(cell.latent_dim, cell.n_classes)
            out.append(
                {
                    "experiment": "simulation",
                    "cell": d,
                    "method": m,
                    "head": h,
                    "rep_dim": cell.latent_dim,
                    "n_classes": cell.n_classes,
                    "diverse": diverse,
                }
            )
        return out
