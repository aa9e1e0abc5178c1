"""The config contract: schema checks with one clear message per problem, cross-field checks, presets.

The schema (``workflow/schemas/config.schema.yaml``) is the one home of every key and default; the
dataclasses that consume a section (``DGPConfig``, ``TrainConfig``, …) take exactly their fields
from it (:func:`fields_of`).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from linid.pipeline.cells import sweep_cells


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


def fields_of(cls: type, *sources: dict[str, Any]) -> dict[str, Any]:
    """The values of ``cls``'s dataclass fields found in ``sources`` (later sources win), in field order.

    The order is the dataclass's, never the sources': a config file whose keys are merely
    reordered gives equal params, so Snakemake reruns nothing.
    """
    merged: dict[str, Any] = {}
    for src in sources:
        merged.update(src)
    return {f.name: merged[f.name] for f in dataclasses.fields(cls) if f.name in merged}
