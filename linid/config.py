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

CELL_AXES = (
    "latent_dim",
    "n_classes",
    "n_instances",
    "kappa",
    "conditional",
    "cluster_prior",
    "label_noise",
    "cond_beta",
    "prior_shape",
    "prior_scale",
)
#: the base cell of the paper's tables (official defaults ``--n 5 --nr-clusters 100 --c-param 10``,
#: ``--nr-indices 10240``, ``--c-p 0 --m-p 0``, ``--beta-param 2``, ``--m-param 1.0``)
DEFAULT_BASE = {
    "latent_dim": 5,
    "n_classes": 100,
    "n_instances": 10240,
    "kappa": 10.0,
    "conditional": "vmf",
    "cluster_prior": "uniform",
    "label_noise": 0.0,
    "cond_beta": 2.0,
    "prior_shape": 3.0,
    "prior_scale": 1.0,
}
#: the head variants of a model: W's rows free, or renormalised to unit norm before every step
HEADS = {"free": False, "unit": True}


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
    for name, sweep in (sim.get("sweeps") or {}).items():
        axes = sweep.get("axes") or {}
        for c in sweep_cells(sweep):
            if c["n_classes"] > c["n_instances"]:
                out.append(
                    f"config key simulation.sweeps.{name}: a cell has n_classes = {c['n_classes']} "
                    f"> n_instances = {c['n_instances']} (every class needs an instance; raise "
                    f"base.n_instances or axes.n_instances)"
                )
        if sweep.get("design", "grid") == "grid" and not axes:
            out.append(f"config key simulation.sweeps.{name}.axes: a grid sweep needs at least one axis")
    probe = sim.get("probe") or {}
    need = probe.get("n_affine", 8192) + probe.get("n_linear", 4096)
    if data.get("n_eval", need) < need:
        out.append(
            f"config key simulation.data.n_eval = {data.get('n_eval')}: must be >= "
            f"probe.n_affine + probe.n_linear = {need}"
        )
    return out


def cell_steps(train: dict, n_instances: int) -> int:
    """Training steps of a model: ``epochs · max(N // batch_size, 1)`` (the official budget) when
    ``epochs`` is set, else ``steps``."""
    if train.get("epochs"):
        return int(train["epochs"]) * max(int(n_instances) // int(train["batch_size"]), 1)
    return int(train["steps"])


#: the official budget of the paper's runs (``--n-epochs 50000``, ``--batch-size 1024``)
PAPER_EPOCHS = 50_000
PAPER_BATCH = 1024


def num_id(x: float) -> str:
    """A short exact spelling of a number for ids: ``%g`` when it round-trips, else ``repr``."""
    short = f"{x:g}"
    return short if float(short) == float(x) else repr(float(x))


def canonical_cell(values: dict) -> dict:
    """Set the parameters a cell does not use to their defaults, so equal processes share one id.

    ``cond_beta`` matters only for the truncated_laplace and gennorm conditionals, ``prior_shape``
    only for the gennorm prior, ``prior_scale`` only for non-uniform priors.
    """
    from linid.data import BETA_CONDITIONALS

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

    @property
    def dataset_id(self) -> str:
        """Injective id: every number spelled exactly; shape parameters only where they matter."""
        out = (
            f"d{self.latent_dim}_C{self.n_classes}_N{self.n_instances}_k{num_id(self.kappa)}"
            f"_{self.conditional}"
            f"_{self.cluster_prior}_p{num_id(self.label_noise)}"
        )
        if self.conditional in ("truncated_laplace", "gennorm"):
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
