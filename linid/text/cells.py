"""The text experiment's sweep: the ``text`` config section as a list of cells.

A cell is the base settings (``text.corpus``, ``text.model``, ``text.train``) with one value of
every axis in ``text.axes`` (a grid over the axes given). Its id names the axes only, e.g.
``rank1`` or ``dim3_rank2``; without axes the single cell is ``base``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

#: axis → the section that holds it
AXES = {
    "vocab_size": "corpus",
    "n_windows": "corpus",
    "true_dim": "corpus",
    "rank": "corpus",
    "dim": "model",
    "noise": "train",
    "noise_samples": "train",
}


@dataclass(frozen=True)
class TextCell:
    cell_id: str
    corpus: dict
    model: dict
    train: dict

    @property
    def row(self) -> dict:
        """Identifying columns of the cell's rows in the tables."""
        c, m, t = self.corpus, self.model, self.train
        out = {"cell": self.cell_id, "source": c["source"], "vocab_size": c["vocab_size"], "dim": m["dim"],
               "noise": t["noise"], "noise_samples": t["noise_samples"], "steps": t["steps"]}
        if c["source"] == "generated":
            out.update(n_windows=c["n_windows"], true_dim=c["true_dim"], rank=c["rank"],
                       diverse=c["rank"] >= m["dim"])
        return out


def text_cells(text: dict) -> list[TextCell]:
    """Every cell of the ``text`` section (grid over its axes, in the order written), or none when
    it is disabled."""
    if not text.get("enabled"):
        return []
    axes = {k: list(v) for k, v in (text.get("axes") or {}).items()}
    unknown = sorted(set(axes) - set(AXES))
    if unknown:
        raise ValueError(f"text.axes: unknown axis {unknown[0]!r}; allowed: {', '.join(AXES)}")
    cells = []
    for values in product(*axes.values()):
        sections = {s: dict(text.get(s) or {}) for s in ("corpus", "model", "train")}
        for k, v in zip(axes, values, strict=True):
            sections[AXES[k]][k] = v
        cid = "_".join(f"{k}{v}" for k, v in zip(axes, values, strict=True)) or "base"
        # keys sorted: a config file whose keys are merely reordered gives equal params (no rerun)
        sections = {k: dict(sorted(v.items())) for k, v in sections.items()}
        cells.append(TextCell(cid, sections["corpus"], sections["model"], sections["train"]))
    return cells


def cell_problems(cells: list[TextCell]) -> list[str]:
    """Cross-field problems of the cells (one line each; a key left out has the schema's default)."""
    out = []
    for c in cells:
        rank, true_dim = c.corpus.get("rank", 2), c.corpus.get("true_dim", 2)
        if c.corpus.get("source", "generated") == "generated" and rank > true_dim:
            out.append(f"config key text: cell {c.cell_id} has rank = {rank} > "
                       f"true_dim = {true_dim} (the truth's rank cannot exceed its dimension)")
    return out
