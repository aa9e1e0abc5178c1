"""The [K] Figure 1 word-embedding experiment as a plan: its cells as records, and the params and
resources of every job.

``TextPlan(config)`` is built once when the workflow is read; ``workflow/rules/text.smk`` asks it.
A cell (:class:`linid.text.cells.TextCell`, wildcard ``tcell``) is one corpus and model setting;
every cell is trained from each of ``text.seeds`` (wildcard ``seed``).
"""

from __future__ import annotations

from collections.abc import Callable

from linid.pipeline.shards import capped_runtime
from linid.text.cells import TextCell, text_cells


class TextPlan:
    """The text experiment of one validated config (no cells when ``text.enabled`` is off)."""

    def __init__(self, config: dict):
        self.cfg = text = config["text"]
        self.resources = config["resources"]
        self.cells: dict[str, TextCell] = {c.cell_id: c for c in text_cells(text)}
        self.seeds: list[int] = list(text["seeds"])
        # the text model trains where the simulation's models do (simulation.train.allow_cpu)
        self.allow_cpu = config["simulation"]["train"]["allow_cpu"]
        self.compare = dict(sorted(text["compare"].items()))
        #: the identifying columns of every cell, in :attr:`cells` order
        self.rows = [c.row for c in self.cells.values()]

    # -- inputs --------------------------------------------------------------------------------
    def corpus_input(self, wildcards) -> dict:
        """The user's corpus file of the cell (source text / ids), an input of ``text_corpus`` so
        that overwriting it reruns the cell; none for a generated corpus."""
        corpus = self.cells[wildcards.tcell].corpus
        return {"source": corpus["path"]} if corpus["source"] != "generated" else {}

    # -- params --------------------------------------------------------------------------------
    def corpus_params(self, wildcards) -> dict:
        """The corpus section of one cell (its axes applied)."""
        return dict(self.cells[wildcards.tcell].corpus)

    def train_params(self, wildcards) -> dict:
        """One model: its seed, and its cell's model and train sections."""
        cell = self.cells[wildcards.tcell]
        return {"seed": int(wildcards.seed), "model": cell.model, "train": cell.train}

    # -- resources -----------------------------------------------------------------------------
    def train_runtime(self, wildcards, attempt) -> int:
        """Minutes: steps in 10k-step units at the family's small-model rate, x attempt."""
        per10k = self.resources["train_minutes_per_10k_steps"]
        steps = self.cells[wildcards.tcell].train["steps"]
        return capped_runtime(self.resources, "text_train", int(max(10, 1.5 * steps / 10_000 * per10k * 0.5) * attempt))

    @staticmethod
    def train_mem(wildcards, attempt) -> int:
        """MB: 2,000 x attempt."""
        return 2000 * attempt

    # -- files ---------------------------------------------------------------------------------
    def cell_files(self, pattern: str) -> list[str]:
        """``pattern`` (with {tcell}) for every cell."""
        return [pattern.format(tcell=c) for c in self.cells]

    def seed_files(self, pattern: str) -> list[str]:
        """``pattern`` (with {tcell}, {seed}) for every cell and seed."""
        return [pattern.format(tcell=c, seed=s) for c in self.cells for s in self.seeds]

    def cell_seed_files(self, pattern: str) -> Callable:
        """An input function: ``pattern`` (with {tcell}, {seed}) for every seed of the job's cell."""

        def files(wildcards) -> list[str]:
            return [pattern.format(tcell=wildcards.tcell, seed=s) for s in self.seeds]

        return files
