"""The [R] simulation as a plan: datasets, models, training packs, their params and resources.

Every model is trained in a pack (``simulation.train.pack_size``; 1 is a pack of one): one job of
rule ``train`` per pack writes its members' files into the pack's folder, and the local rule
``trained_model`` copies each member's files to the model's own place, where everything
downstream reads them. The rule graph therefore shows one ``train`` node whatever the sweep.
"""

from __future__ import annotations

from linid.names import CELL_AXES, GRID_AXES, HEADS
from linid.pipeline.cells import cell_steps, expand, sweep_base
from linid.pipeline.config import fields_of
from linid.pipeline.packs import Pack, plan_packs
from linid.pipeline.shards import capped_mem, capped_runtime
from linid.sim.config import DGPConfig, TrainConfig
from linid.sim.objectives import spec

#: what training writes per model (rule ``trained_model``; everything downstream reads these)
TRAINED = {
    "model": "results/sim/models/{data}/{method}/{head}/seed{seed}/model.pt",
    "curve": "results/sim/models/{data}/{method}/{head}/seed{seed}/curve.csv",
    "summary": "results/sim/models/{data}/{method}/{head}/seed{seed}/train.json",
}
#: one training job's folder: every member's files under its model path below ``results/sim/models``
PACK_DIR = "results/sim/packs/{pack}"
#: a member's files inside its pack's folder
MEMBER_DIR = "{data}/{method}/{head}/seed{seed}"


class SimPlan:
    """The simulation section of a validated config as records; ids and paths are built from them,
    never parsed back. Methods taking ``wildcards`` are Snakemake params/resources callables."""

    def __init__(self, config: dict):
        self.sim = config["simulation"]
        self.resources = config["resources"]
        self.train = self.sim["train"]
        self.specs = expand(self.sim) if self.sim["enabled"] else []
        self.datasets = {s.cell.dataset_id: s.cell for s in self.specs}
        self.models = sorted({s.key for s in self.specs})
        self.packs = (
            plan_packs(self.models, self.datasets, self.train, self.train["pack_size"])
            if self.models
            else []
        )
        self.pack_by_id = {p.id: p for p in self.packs}
        self.pack_of_model = {m: p.id for p in self.packs for m in p.members}
        # a dataset unlocks its training jobs: generate every one before any training starts
        self.dataset_priority = max((self.work(p) for p in self.packs), default=0) + 1

    # -- params ------------------------------------------------------------------------------
    def dataset_params(self, wildcards) -> dict:
        """The DGPConfig of one dataset: the cell's axes, its data seed and the data section."""
        cell = self.datasets[wildcards.data]
        return fields_of(DGPConfig, self.sim["data"], cell.axes(), {"seed": cell.data_seed})

    def model_train(self, data: str, method: str, head: str, seed) -> dict:
        """The TrainConfig of one model: the train section, its method, head, seed and budget."""
        steps = cell_steps(self.train, self.datasets[data].n_instances)
        model = {"method": method, "seed": int(seed), "normalize_w": HEADS[head], "steps": steps}
        if defaults := spec(method).defaults:  # the objective's own settings, defaults filled in
            model["settings"] = {**defaults, **self.sim.get("objectives", {}).get(method, {})}
        return fields_of(TrainConfig, self.train, model)

    def members(self, wildcards) -> list[dict]:
        """Every member of pack ``wildcards.pack``: identity and TrainConfig, in pack order."""
        pack = self.pack_by_id[wildcards.pack]
        return [
            {"data": d, "method": m, "head": h, "seed": s, "train": self.model_train(d, m, h, s)}
            for d, m, h, s in pack.members
        ]

    def pack_method(self, wildcards) -> str:
        """The objective every model of pack ``wildcards.pack`` trains (a pack has one)."""
        return self.pack_by_id[wildcards.pack].members[0][1]

    def compares_objectives(self) -> bool:
        """Whether some dataset is trained with more than one objective (rule objectives runs)."""
        methods: dict[str, set[str]] = {}
        for d, m, _, _ in self.models:
            methods.setdefault(d, set()).add(m)
        return any(len(v) > 1 for v in methods.values())

    def checkpoint(self, wildcards) -> str:
        """Resume file of a training job: outside its outputs, so a killed job keeps it."""
        return f"results/checkpoints/sim/packs/{wildcards.pack}.ckpt"

    # -- inputs ------------------------------------------------------------------------------
    def pack_inputs(self, pattern: str):
        """Input function: ``pattern`` (with {data}) for every dataset of the job's pack."""

        def files(wildcards):
            members = self.pack_by_id[wildcards.pack].members
            return sorted({pattern.format(data=d) for d, *_ in members})

        return files

    def member_pack(self, pattern: str):
        """Input function of ``trained_model``: ``pattern`` (with {pack}) of the model's pack."""

        def pack(wildcards):
            w = wildcards
            return pattern.format(pack=self.pack_of_model[(w.data, w.method, w.head, int(w.seed))])

        return pack

    # -- resources and priorities ------------------------------------------------------------
    def model_work(self, data: str, method: str = "supervised") -> float:
        """Estimated work of one model in 10k-step units at d = 10 (scaled by d, at least 0.5), times
        the observations its objective encodes per item (a positive pair: 2)."""
        cell = self.datasets[data]
        steps = cell_steps(self.train, cell.n_instances)
        return steps / 10_000 * max(cell.latent_dim / 10, 0.5) * spec(method).samples

    def work(self, pack: Pack) -> int:
        """A pack's scheduling priority: its estimated work, so the heaviest packs start first and
        the last jobs to run are short ones (no core idles behind a long pack started late)."""
        return int(1000 * sum(self.model_work(d, m) for d, m, *_ in pack.members))

    def priority(self, wildcards) -> int:
        return self.work(self.pack_by_id[wildcards.pack])

    def model_minutes(self, data: str, method: str = "supervised") -> int:
        """Minutes of one model alone: the work × train_minutes_per_10k_steps × 1.5, at least 10."""
        per10k = self.resources["train_minutes_per_10k_steps"]
        return int(max(10, 1.5 * self.model_work(data, method) * per10k))

    def runtime(self, wildcards, attempt) -> int:
        """Minutes: the first member's estimate plus pack_model_cost × the others' (1.0: no packing
        gain assumed), × attempt."""
        est = [self.model_minutes(d, m) for d, m, *_ in self.pack_by_id[wildcards.pack].members]
        cost = self.resources["pack_model_cost"]
        return capped_runtime(self.resources, "train", int(est[0] + cost * sum(est[1:])) * attempt)

    def mem(self, wildcards, attempt) -> int:
        """MB: train_mem_mb plus train_mem_mb_per_packed_model for every further member, × attempt."""
        res = self.resources
        extra = (len(self.pack_by_id[wildcards.pack].members) - 1) * res["train_mem_mb_per_packed_model"]
        return capped_mem(res, "train", (res["train_mem_mb"] + extra) * attempt)

    # -- targets and the rows of the tables --------------------------------------------------
    def model_files(self, pattern: str) -> list[str]:
        """``pattern`` (with {data}, {method}, {head}, {seed}) for every model, in ``models`` order."""
        return [pattern.format(data=d, method=m, head=h, seed=s) for d, m, h, s in self.models]

    def dataset_files(self, pattern: str) -> list[str]:
        """``pattern`` (with {data}) for every dataset, in ``datasets`` order."""
        return [pattern.format(data=d) for d in self.datasets]

    def probe_rows(self) -> list[dict]:
        """One row per (sweep, model): the identifying columns of probes.csv."""
        return [s.row() for s in self.specs]

    def extra_axes(self) -> list[str]:
        """Sweep axes beyond the grid's that take more than one value within one sweep and method
        (each gets its own figure). An axis that differs only between sweeps or methods (e.g. N,
        10,240 for supervised and 1,000 for DIET) gets none: its figure would confound the two."""
        values: dict[tuple, set] = {}
        for s in self.specs:
            for a in CELL_AXES:
                if a not in GRID_AXES:
                    values.setdefault((a, s.experiment, s.method), set()).add(getattr(s.cell, a))
        return sorted({a for (a, *_), v in values.items() if len(v) > 1})

    def sweep_bases(self) -> dict:
        """Base cell of every sweep (the slice each one-factor figure varies around)."""
        return {name: sweep_base(sweep) for name, sweep in self.sim.get("sweeps", {}).items()}
