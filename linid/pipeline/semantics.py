"""Checks of a config that a JSON schema cannot express: finite numbers, no '<' in any text (it would
reach the Snakemake report raw), integers written without a decimal point, and the cross-field constraints of every experiment (sizes a statistic needs, files a
stage reads, read from headers at parse time). Each returns one message per problem, naming the key;
:func:`linid.pipeline.config.check_config` raises them together."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from linid.images.names import DSPRITES_IMAGES
from linid.pipeline.cells import sweep_cells
from linid.probes.sizes import comparison_rows, max_compared_width, probe_block_problems


def non_finite_numbers(config: Any, where: str = "") -> list[str]:
    """Every NaN or ±inf in the config (JSON schema's ``number`` lets them through every bound)."""
    out = []
    if isinstance(config, dict):
        for key, value in config.items():
            out += non_finite_numbers(value, f"{where}.{key}" if where else str(key))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            out += non_finite_numbers(value, f"{where}[{i}]")
    elif isinstance(config, float) and not math.isfinite(config):
        out.append(f"config key {where} = {config!r}: must be a finite number")
    return out


#: what no config text may hold: '<' opens a tag, and the Snakemake report writes job params, file
#: names and wildcards raw into its <script> data blocks, so '</script>' there would end the block
#: and the rest would run as the report's own HTML
REPORT_UNSAFE = "<"


def report_unsafe_text(config: Any, where: str = "") -> list[str]:
    """Every key and string value holding REPORT_UNSAFE (paths, URIs, names: any free text that can
    reach a job's params, its file lists or the report)."""
    out = []
    if isinstance(config, dict):
        for key, value in config.items():
            here = f"{where}.{key}" if where else str(key)
            if REPORT_UNSAFE in str(key):
                out.append(f"config key {here}: the name holds '{REPORT_UNSAFE}', which would end the "
                           "Snakemake report's embedded data (rename it)")
            out += report_unsafe_text(value, here)
    elif isinstance(config, list):
        for i, value in enumerate(config):
            out += report_unsafe_text(value, f"{where}[{i}]")
    elif isinstance(config, str) and REPORT_UNSAFE in config:
        out.append(f"config key {where} = {config!r}: holds '{REPORT_UNSAFE}', which would end the "
                   "Snakemake report's embedded data (job params and file names are written into it "
                   "raw); rename the file or the value")
    return out


def float_integers(config: Any, schema: dict, root: dict | None = None, where: str = "") -> list[str]:
    """Every float where the schema wants an integer: JSON schema counts 1000.0 as an integer, and a
    float step count or seed crashes inside a job."""
    root = root or schema
    while "$ref" in schema:
        schema = {**root["$defs"][schema["$ref"].split("/")[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    out = []
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "integer" in types and "number" not in types and isinstance(config, float):
        out.append(f"config key {where} = {config!r}: must be an integer (no decimal point)")
    for alternative in schema.get("oneOf", []):
        out += float_integers(config, alternative, root, where)
    if isinstance(config, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, value in config.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                out += float_integers(value, sub, root, f"{where}.{key}" if where else str(key))
    elif isinstance(config, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(config):
            out += float_integers(value, schema["items"], root, f"{where}[{i}]")
    return sorted(set(out))


def semantic_problems(config: dict, schema: dict | None = None, contents: bool = True) -> list[str]:
    """Checks a schema cannot express: finite numbers, no '<' in any key or text, integers without a
    decimal point (with the schema), cross-field constraints. ``contents=False`` leaves out reading
    whole user files (the text corpus): a job's process re-reads the workflow after the main process
    checked them."""
    out = non_finite_numbers(config) + report_unsafe_text(config)
    out += float_integers(config, schema) if schema else []
    if out:
        return out
    sim = config.get("simulation") or {}
    sim_on = sim.get("enabled", True)
    fam_on = (config.get("family") or {}).get("enabled", False)
    if sim_on and not sim.get("sweeps"):
        out.append(
            "config key simulation.sweeps: missing; give at least one sweep, or set "
            "simulation.enabled: false"
        )
    images = config.get("images") or {}
    byo = config.get("byo") or {}
    text = config.get("text") or {}
    if not (sim_on or fam_on or images.get("enabled") or byo.get("enabled") or text.get("enabled")):
        out.append("config: nothing to run (simulation, family, images, byo and text are all disabled)")
    out += image_problems(images)
    out += family_problems(config.get("family") or {})
    out += text_problems(text, contents)
    out += byo_problems(byo, images)
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
    if sim_on:
        out += probe_size_problems(probe, sim.get("sweeps") or {})
    need = probe.get("n_affine", 8192) + probe.get("n_linear", 4096)
    if data.get("n_eval", need) < need:
        out.append(
            f"config key simulation.data.n_eval = {data.get('n_eval')}: must be >= "
            f"probe.n_affine + probe.n_linear = {need}"
        )
    return out


def probe_size_problems(probe: dict, sweeps: dict) -> list[str]:
    """Probe sizes that leave a statistic undefined, by the rule the probe job itself applies
    (:func:`linid.probes.sizes.probe_block_problems`), for the largest latent dimension."""
    dims = [c["latent_dim"] for sweep in sweeps.values() for c in sweep_cells(sweep)]
    if not dims:
        return []
    problems = probe_block_problems(max(dims), probe.get("n_affine", 8192), probe.get("n_linear", 4096),
                                    probe.get("knn_neighbors", 10))
    return [f"config key simulation.probe.{p}" for p in problems]


def family_problems(family: dict) -> list[str]:
    """The family comparisons' rows against their widest layer (f is M-D, the last hidden layer as
    wide as model.hidden[-1]), by the comparisons' own rule (linid.probes.sizes.comparison_rows)."""
    if not family.get("enabled"):
        return []
    dims = (family.get("axes") or {}).get("rep_dim", [2])
    widest = max(*dims, *((family.get("model") or {}).get("hidden", [64, 64]))[-1:])
    n_eval, need = (family.get("data") or {}).get("n_eval", 2000), comparison_rows(widest, widest)
    if n_eval < need:
        return [f"config key family.data.n_eval = {n_eval}: the comparisons of two models' {widest}-wide "
                f"layers need at least {need} held-out inputs (CCA needs more rows than both layers' "
                "columns, the affine fit the width + 2 in its half); raise it, or narrow the layers"]
    return []


def image_problems(images: dict) -> list[str]:
    """The image experiment's cross-field checks: datasets given, files present, sizes possible."""
    if not images.get("enabled"):
        return []
    out = []
    datasets = images.get("datasets") or {}
    if not datasets:
        out.append("config key images.datasets: empty; give at least one dataset, or set images.enabled: false")
    for name, d in datasets.items():
        where = f"config key images.datasets.{name}"
        layout, path = d.get("layout", "dsprites"), d.get("path", "")
        if not path:
            if layout != "dsprites":
                out.append(f"{where}.path: empty, but only the dsprites layout can be rendered here; give the "
                           f"{layout} file's path")
                continue
            elif (d.get("subsample") or 0) > DSPRITES_IMAGES:
                out.append(f"{where}.subsample = {d['subsample']}: the dSprites grid has {DSPRITES_IMAGES} images")
                continue
        elif not Path(path).is_file():
            out.append(f"{where}.path = {path!r}: no such file")
            continue
        from linid.images.check import dataset_problems  # headers and cheap statistics, no torch

        out += dataset_problems(name, d, images)
    return out


def text_problems(text: dict, contents: bool = True) -> list[str]:
    """The text experiment's corpus file, its content and cells (only when it is enabled)."""
    if not text.get("enabled"):
        return []
    from linid.text.cells import cell_problems, text_cells

    corpus = text.get("corpus") or {}
    source = corpus.get("source", "generated")
    out = []
    if source != "generated":
        path = corpus.get("path", "")
        if not path:
            out.append(f"config key text.corpus.path: source {source} needs the corpus file")
        elif not Path(path).is_file():
            out.append(f"config key text.corpus.path = {path!r}: no such file")
        elif source == "ids" and not path.endswith(".npy"):
            out.append(f"config key text.corpus.path = {path!r}: source ids reads a .npy file of token ids")
    try:
        cells = text_cells(text)
    except ValueError as err:
        return [*out, str(err)]
    out += cell_problems(cells)
    if not out and contents:  # the corpus's content (the user's file read) and every cell's comparison sized
        from linid.text.check import corpus_problems

        out += corpus_problems(cells, text.get("compare") or {})
    return out


def byo_problems(byo: dict, images: dict) -> list[str]:
    """Bring-your-own checks that need no file contents (the files' own checks run in common.smk)."""
    if not byo.get("enabled"):
        return []
    source = byo.get("source", "files")
    out = []
    if source == "files":
        models = byo.get("models") or {}
        if len(models) < 2:
            out.append(f"config key byo.models: {len(models)} model(s); the comparisons need at least 2")
        for name, path in models.items():
            if not Path(path).is_file():
                out.append(f"config key byo.models.{name} = {path!r}: no such file")
        if byo.get("factors") and not Path(byo["factors"]).is_file():
            out.append(f"config key byo.factors = {byo['factors']!r}: no such file")
    else:
        if byo.get("models") or byo.get("factors"):
            out.append(f"config key byo.source = {source}: the models and factors come from that source; "
                       "leave byo.models and byo.factors empty (or use source: files)")
    if source == "images":
        name = byo.get("images_dataset", "")
        exp = images.get("export_activations") or {}
        if not (images.get("enabled") and exp.get("enabled")):
            out.append("config key byo.source = images: needs images.enabled and images.export_activations.enabled")
        if name not in (images.get("datasets") or {}):
            out.append(f"config key byo.images_dataset = {name!r}: not one of images.datasets "
                       f"({', '.join(images.get('datasets') or {}) or 'none'})")
        rows = exp.get("rows", 2000)
        k = byo.get("svcca_k")
        widest = max_compared_width(rows)
        if k is None or k > widest:
            out.append(f"config key byo.svcca_k = {k}: with source images, layers are far wider than the "
                       f"{rows} exported rows (pixels: 4096 per channel, features: 512), and CCA overfits "
                       f"beyond (rows − 4)/2 columns; set byo.svcca_k <= {widest} (e.g. 20) so that wide "
                       "layers are reduced to their top principal directions, or export more rows")
        n_models = len(images.get("models") or ["pixels", "mlp", "cnn"]) * len(images.get("seeds") or [0, 1, 2])
        if n_models < 2:
            out.append("config key byo.source = images: the image experiment has fewer than 2 models to compare")
    return out
