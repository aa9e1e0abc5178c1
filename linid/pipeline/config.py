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

from linid.pipeline.semantics import (  # noqa: F401 (the config contract's public checks)
    byo_problems,
    float_integers,
    image_problems,
    non_finite_numbers,
    probe_size_problems,
    semantic_problems,
    text_problems,
)


class ConfigError(ValueError):
    """The config breaks the contract; the message names the key and what is allowed."""


#: Snakemake renders a config file holding this top-level key as a YTE template (Python code)
YTE_KEY = "__use_yte__"


def load_yaml(path: str | Path) -> Any:
    """A config file as plain YAML: a key repeated in one mapping (PyYAML silently keeps the last
    one), a YAML tag (``!!python/object``…) and a YTE template (``__use_yte__: true``) are refused
    with a ConfigError of one line."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"config file {path}: cannot read it ({err.strerror or err})") from None
    data = load_yaml_text(text, str(path))
    if isinstance(data, dict) and YTE_KEY in data:
        raise ConfigError(
            f"{path}: sets {YTE_KEY}: {data[YTE_KEY]!r}; Snakemake renders such a file as a YTE "
            "template, which runs the Python code in it: a config file is code to Snakemake, so "
            "linid takes only plain YAML (drop the key and write the values out)"
        )
    return data


def load_yaml_text(text: str, where: str, syntax: bool = True) -> Any:
    """YAML text (a file's, or a ``--config`` value's) read strictly: plain YAML only (no tags),
    every key once per mapping; any problem is a ConfigError of one line naming ``where``
    (``syntax=False``: text that is not YAML at all is returned as it is)."""
    import yaml

    # libyaml's parser when PyYAML has it (10× faster on the schema: read at every parse, in every job)
    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    def mapping(loader, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                lines = (f" (lines {seen[key]} and {key_node.start_mark.line + 1})"
                         if "\n" in text.strip() else "")
                raise ConfigError(
                    f"{where}: key {key!r} appears twice in one mapping{lines}; YAML would silently "
                    "keep the last one"
                )
            seen[key] = key_node.start_mark.line + 1
        return loader.construct_mapping(node, deep=deep)

    def tagged(loader, suffix, node):
        raise ConfigError(
            f"{where}, line {node.start_mark.line + 1}: YAML tag {node.tag!r} refused; a config "
            "holds plain values only (a tag can build Python objects)"
        )

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    StrictLoader.add_multi_constructor("!", tagged)
    StrictLoader.add_multi_constructor("tag:yaml.org,2002:python/", tagged)
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as err:
        if not syntax:
            return text
        mark = getattr(err, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}{line}: not valid YAML ({problem})") from None


def check_command_line(config_args: list[str] | None) -> None:
    """Read every ``--config KEY=VALUE`` as strictly as a config file: Snakemake parses a nested
    value itself and keeps the last of a repeated key, and passes a tagged value on as text."""
    for entry in config_args or []:
        key, sep, value = str(entry).partition("=")
        if sep and value.strip():
            # text that is no YAML at all stays text, as Snakemake keeps it
            load_yaml_text(value, f"--config {key}=…", syntax=False)


def load_schema(path: str | Path) -> dict:
    """The config schema with its registry-backed parts filled in (:func:`fill_registries`)."""
    return fill_registries(load_yaml(path))


def fill_registries(schema: Any) -> Any:
    """Fill every node marked ``x-registry`` from the registry it names, so that no list of
    plug-ins is kept by hand in the schema: ``objectives`` (a method name: enum and description
    from ``linid.sim.objectives.REGISTRY``) and ``objective_settings`` (one mapping per objective
    that has settings: its registration's schema fragments)."""
    from linid.sim.objectives import REGISTRY

    if isinstance(schema, list):
        return [fill_registries(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: fill_registries(v) for k, v in schema.items()}
    kind = out.pop("x-registry", None)
    if kind == "objectives":
        out["enum"] = list(REGISTRY)
        out["description"] = "; ".join(f"{s.name}: {s.description}" for s in REGISTRY.values())
    elif kind == "objective_settings":
        out["properties"] = {
            s.name: {
                "type": "object",
                "additionalProperties": False,
                "default": {},
                "properties": dict(s.settings),
            }
            for s in REGISTRY.values()
            if s.settings
        }
    elif kind is not None:
        raise ValueError(f"schema: unknown x-registry {kind!r}")
    return out


def merge_overrides(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` applied key by key (nested mappings merged, anything else replaced)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(schema: dict, root: dict) -> dict:
    """``schema`` with its ``$ref`` (to ``root``'s ``$defs``) folded in."""
    while isinstance(schema, dict) and "$ref" in schema:
        target = root["$defs"][schema["$ref"].split("/")[-1]]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _types(schema: dict, root: dict) -> set[str]:
    """The JSON types a (sub)schema allows, through ``$ref``, ``oneOf``/``anyOf`` and ``const``/``enum``."""
    schema = _resolve(schema, root)
    t = schema.get("type")
    out = {t} if isinstance(t, str) else set(t or [])
    for value in [schema["const"]] if "const" in schema else schema.get("enum", []):
        out.add("string" if isinstance(value, str) else "other")
    for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
        out |= _types(alt, root)
    return out


def _child(schema: dict, root: dict, key: str) -> dict | None:
    """The subschema of mapping key ``key``; None when the schema does not allow that key."""
    schema = _resolve(schema, root)
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
        if (sub := _child(alt, root, key)) is not None:
            return sub
    return None


def _items(schema: dict, root: dict) -> dict | None:
    schema = _resolve(schema, root)
    if isinstance(schema.get("items"), dict):
        return schema["items"]
    for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
        if (sub := _items(alt, root)) is not None:
            return sub
    return None


def _keys_below(schema: dict, root: dict, where: str, depth: int = 4) -> list[str]:
    """Every declared key path under ``schema`` (for "did you mean")."""
    schema = _resolve(schema, root)
    out = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{where}.{key}" if where else key
        out.append(path)
        if depth > 1:
            out += _keys_below(sub, root, path, depth - 1)
    return out


def _unknown(where: str, key: str, schema: dict, root: dict) -> ConfigError:
    import difflib

    path = f"{where}.{key}" if where else key
    # close to a key of this mapping first, then to any key path of the config
    siblings = [f"{where}.{k}" if where else k for k in _resolve(schema, root).get("properties", {})]
    guess = (difflib.get_close_matches(path, siblings, n=1, cutoff=0.6)
             or difflib.get_close_matches(path, _keys_below(root, root, ""), n=1, cutoff=0.75))
    hint = f"; did you mean {guess[0]}?" if guess else (
        f"; allowed here: {', '.join(siblings)}" if siblings else "")
    return ConfigError(f"unknown config key {path}{hint}")


def _typed(value: Any, schema: dict, root: dict) -> Any:
    """A text value (Snakemake hands nested ``--config`` values over as YAML text) as the type the
    schema wants: "100" → 100, "0.5" → 0.5, "false" → False, "null" → None, "[2, 5]" → [2, 5]."""
    types = _types(schema, root)
    if isinstance(value, str) and types and types != {"string"}:
        import yaml

        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if not isinstance(parsed, str):
            value = parsed
        elif "number" in types:  # YAML 1.1 reads 1e-3 as text; Python as the number meant
            try:
                value = float(value)
            except ValueError:
                pass
    if isinstance(value, list) and (items := _items(schema, root)) is not None:
        return [_typed(v, items, root) for v in value]
    if isinstance(value, dict):
        return {k: _typed(v, sub, root) if (sub := _child(schema, root, str(k))) is not None else v
                for k, v in value.items()}
    return value


def type_overrides(overrides: dict, schema: dict, base: dict | None = None, where: str = "") -> dict:
    """``--config`` overrides as the schema types them, dotted key paths expanded, unknown keys refused.

    Snakemake parses a top-level ``KEY=VALUE`` itself (numbers and booleans typed) but hands nested
    values (``simulation={train: {steps: 100}}``) over as text; here they get the schema's types.
    A dotted key inside a mapping (``simulation={train.steps: 100}``) is a key path. A key the schema
    does not have raises a ConfigError naming it and the closest key that exists.
    """
    return _type_mapping(overrides, schema, schema, base or {}, where)


def _type_mapping(overrides: dict, schema: dict, root: dict, base: Any, where: str) -> dict:
    out: dict = {}
    base = base if isinstance(base, dict) else {}
    resolved = _resolve(schema, root)
    declared = resolved.get("properties", {})
    named_freely = isinstance(resolved.get("additionalProperties"), dict)  # sweeps, datasets, models
    for key, value in overrides.items():
        key = str(key)
        if "." in key and key not in declared:
            head, rest = key.split(".", 1)
            # a key path, unless this mapping takes free names (which may hold dots) and none matches
            if head in declared or head in base or not named_freely:
                value, key = {rest: value}, head
        sub = _child(schema, root, key)
        if sub is None:
            raise _unknown(where, key, schema, root)
        path = f"{where}.{key}" if where else key
        if isinstance(value, dict) and "object" in _types(sub, root):
            value = _type_mapping(value, sub, root, base.get(key), path)
        else:
            value = _typed(value, sub, root)
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = merge_overrides(out[key], value)
        out[key] = value
    return out


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
    if "pattern" in schema:
        bits.append(f"matching {schema['pattern']}")
    if "minLength" in schema:
        bits.append(f"at least {schema['minLength']} character(s)")
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
    # a bound that keeps a statistic defined says why (the key's description)
    why = f"; {err.schema['description']}" if err.validator in ("minLength", "minimum", "pattern") and "description" in err.schema else ""
    return f"config key {where} = {err.instance!r}: {err.message} (allowed: {_allowed(err.schema)}{why})"


def check_config(config: dict, schema: dict) -> None:
    """Validate against the JSON schema, then semantic checks; raise ConfigError listing every problem."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_message(e) for e in errors]
    if not problems:
        problems = semantic_problems(config, schema)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))


def validate_config(config: dict, schema: dict, contents: bool = True) -> None:
    """Fill in the schema's defaults (into ``config``) and validate it against the JSON schema, then
    the cross-field checks; raise ConfigError listing every problem, one line each.

    What ``snakemake.utils.validate`` does (the jsonschema FAQ's default-filling validator), on the
    schema already read: Snakemake's reads the file again through its template engine, which
    costs a third of a second in every job's parse."""
    import copy

    import jsonschema

    base = jsonschema.Draft202012Validator
    properties = base.VALIDATORS["properties"]

    def set_defaults(validator, props, instance, subschema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from properties(validator, props, instance, subschema)

    validator = jsonschema.validators.extend(base, {"properties": set_defaults})(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_message(e) for e in errors] or semantic_problems(config, schema, contents)
    if problems:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(problems))


def load_preset(root: str | Path, name: str) -> dict:
    """``configs/<name>.yaml`` (``snakemake --config preset=<name>``), or a ConfigError listing the presets."""
    folder = Path(root) / "configs"
    allowed = sorted(p.stem for p in folder.glob("*.yaml"))
    path = folder / f"{name}.yaml"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(name)) or not path.is_file():
        raise ConfigError(
            f"config key preset = {name!r}: no such preset file configs/{name}.yaml "
            f"(allowed: {', '.join(allowed)})"
        )
    return load_yaml(path) or {}


def fields_of(cls: type, *sources: dict[str, Any]) -> dict[str, Any]:
    """The values of ``cls``'s dataclass fields found in ``sources`` (later sources win), in field order.

    The order is the dataclass's, never the sources': a config file whose keys are merely
    reordered gives equal params, so Snakemake reruns nothing.
    """
    merged: dict[str, Any] = {}
    for src in sources:
        merged.update(src)
    return {f.name: merged[f.name] for f in dataclasses.fields(cls) if f.name in merged}
