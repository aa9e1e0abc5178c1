"""The config contract: schema checks with one clear message per problem, and the sweep expansion.

A sweep is a grid (the cartesian product of its axes) or one-factor-at-a-time (the base cell plus
variations of one axis at a time, the others at base — how the paper's tables are built). Every
(cell, data seed) is one dataset; every (dataset, method, seed) one trained model. Identical cells
declared by several sweeps share their dataset and models.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CELL_AXES = ("latent_dim", "n_classes", "kappa", "conditional", "cluster_prior", "label_noise")


class ConfigError(ValueError):
    """The config breaks the contract; the message names the key and what is allowed."""


def load_schema(path: str | Path) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def _path(err) -> str:
    parts = []
    for p in err.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
    return "".join(parts) or "<top level>"


def _allowed(schema: dict) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"])
    bits = []
    t = schema.get("type")
    if t:
        bits.append(f"type {t}")
    for key, sym in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in schema:
            bits.append(f"{sym} {schema[key]}")
    if "minItems" in schema:
        bits.append(f"at least {schema['minItems']} item(s)")
    if schema.get("uniqueItems"):
        bits.append("no duplicates")
    return ", ".join(bits)


def _message(err) -> str:
    where = _path(err)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        return (
            f"config key {where}: unknown key(s) {', '.join(map(repr, extra))}; "
            f"allowed keys: {', '.join(allowed)}"
        )
    if err.validator == "required":
        return f"config key {where}: {err.message}"
    return f"config key {where} = {err.instance!r}: {err.message} (allowed: {_allowed(err.schema)})"


def check_config(config: dict, schema: dict) -> None:
    """Validate against the JSON schema, then semantic checks; raise ConfigError listing every problem."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_message(e) for e in errors]
    if not problems:
        problems = semantic_problems(config)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))


def semantic_problems(config: dict) -> list[str]:
    """Checks a schema cannot express (cross-field constraints)."""
    out = []
    sim = config.get("simulation") or {}
    sim_on = sim.get("enabled", True)
    fam_on = (config.get("family") or {}).get("enabled", False)
    if sim_on and not sim.get("sweeps"):
        out.append(
            "config key simulation.sweeps: missing; give at least one sweep, or set "
            "simulation.enabled: false"
        )
    if not sim_on and not fam_on:
        out.append("config: nothing to run (simulation.enabled and family.enabled are both false)")
    data = sim.get("data") or {}
    n_inst = data.get("n_instances", 10240)
    for name, sweep in (sim.get("sweeps") or {}).items():
        axes = sweep.get("axes") or {}
        base = sweep.get("base") or {}
        for c in axes.get("n_classes", [base.get("n_classes", 0)]):
            if c > n_inst:
                out.append(
                    f"config key simulation.sweeps.{name}.axes.n_classes = {c}: larger than "
                    f"simulation.data.n_instances = {n_inst} (every class needs an instance)"
                )
        if sweep.get("design") == "one_factor":
            missing = [a for a in ("latent_dim", "n_classes") if a not in base]
            if missing:
                out.append(f"config key simulation.sweeps.{name}.base: one_factor sweeps need {missing}")
        elif not axes:
            out.append(f"config key simulation.sweeps.{name}.axes: a grid sweep needs at least one axis")
    probe = sim.get("probe") or {}
    need = probe.get("n_affine", 8192) + probe.get("n_linear", 4096)
    if data.get("n_eval", need) < need:
        out.append(
            f"config key simulation.data.n_eval = {data.get('n_eval')}: must be >= "
            f"probe.n_affine + probe.n_linear = {need}"
        )
    return out


@dataclass(frozen=True)
class Cell:
    """One point of the data-generating grid, plus the dataset seed."""

    latent_dim: int
    n_classes: int
    kappa: float
    conditional: str
    cluster_prior: str
    label_noise: float
    data_seed: int

    @property
    def dataset_id(self) -> str:
        return (
            f"d{self.latent_dim}_C{self.n_classes}_k{self.kappa:g}_{self.conditional}"
            f"_{self.cluster_prior}_p{self.label_noise:g}_s{self.data_seed}"
        )


@dataclass(frozen=True)
class ModelSpec:
    """One trained model: a cell, a method and a seed, listed under the sweep that asked for it."""

    experiment: str
    design: str
    cell: Cell
    method: str
    seed: int

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.cell.dataset_id, self.method, self.seed)

    def row(self) -> dict[str, Any]:
        d = asdict(self.cell)
        d.update(experiment=self.experiment, design=self.design, method=self.method, seed=self.seed)
        d["dataset_id"] = self.cell.dataset_id
        return d


DEFAULT_BASE = {"kappa": 10.0, "conditional": "vmf", "cluster_prior": "uniform", "label_noise": 0.0}


def sweep_cells(sweep: dict) -> list[dict]:
    """Cells of one sweep as dicts of the six axes: grid product, or base + one axis at a time."""
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
    for c in cells:
        key = tuple(c[a] for a in CELL_AXES)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def expand(sim: dict) -> list[ModelSpec]:
    """All (sweep, cell, data seed, method, seed) combinations of the ``simulation`` section."""
    specs = []
    for name, sweep in sim["sweeps"].items():
        for c in sweep_cells(sweep):
            for ds in sweep.get("data_seeds", [0]):
                cell = Cell(
                    latent_dim=int(c["latent_dim"]),
                    n_classes=int(c["n_classes"]),
                    kappa=float(c["kappa"]),
                    conditional=str(c["conditional"]),
                    cluster_prior=str(c["cluster_prior"]),
                    label_noise=float(c["label_noise"]),
                    data_seed=int(ds),
                )
                for method in sweep["methods"]:
                    for seed in sweep["seeds"]:
                        specs.append(ModelSpec(name, sweep.get("design", "grid"), cell, method, int(seed)))
    return specs


def load_preset(root: str | Path, name: str) -> dict:
    """``configs/<name>.yaml`` (``snakemake --config preset=<name>``), or a ConfigError listing the presets."""
    import yaml

    folder = Path(root) / "configs"
    allowed = sorted(p.stem for p in folder.glob("*.yaml"))
    path = folder / f"{name}.yaml"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(name)) or not path.is_file():
        raise ConfigError(
            f"config key preset = {name!r}: no such preset file configs/{name}.yaml "
            f"(allowed: {', '.join(allowed)})"
        )
    return yaml.safe_load(path.read_text()) or {}
