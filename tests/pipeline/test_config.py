"""Config contract: sweep expansion, and one clear message per malformed config."""

from pathlib import Path

import pytest
import yaml

from linid.pipeline.cells import cell_steps, expand, sweep_cells
from linid.pipeline.config import ConfigError, check_config, load_schema
from tests.helpers import _DELETE, BAD, _set  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
GOOD = yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_and_presets_are_valid():
    check_config(GOOD, SCHEMA)
    for preset in sorted((ROOT / "configs").glob("*.yaml")):
        check_config(yaml.safe_load(preset.read_text()), SCHEMA)


def test_grid_expansion_counts_and_dedup():
    sim = {
        "sweeps": {
            "a": {"design": "grid", "axes": {"latent_dim": [2, 5], "n_classes": [5, 20, 100]}, "methods": ["supervised", "diet"], "seeds": [0, 1]},
            "b": {"design": "grid", "axes": {"latent_dim": [2], "n_classes": [5]}, "methods": ["supervised"], "seeds": [0]},
        }
    }
    specs = expand(sim)
    assert len(specs) == 2 * 3 * 2 * 2 + 1
    assert len({s.key for s in specs}) == 24  # sweep b's model is one of sweep a's
    assert {s.cell.kappa for s in specs} == {10.0}


def test_paired_data_seeds_and_heads_expand_as_the_official_runs():
    sweep = {"design": "one_factor", "methods": ["diet"], "seeds": [0, 1, 2], "data_seeds": "paired",
             "normalize_w": [False, True]}
    specs = expand({"sweeps": {"t2": sweep}})
    assert [(s.cell.data_seed, s.seed) for s in specs if s.head == "free"] == [(0, 0), (1, 1), (2, 2)]
    assert {s.head for s in specs} == {"free", "unit"}
    base = specs[0].cell
    # the default base cell is the paper's: d = 5, |C| = 100, N = 10,240, κ = 10, vMF, uniform
    assert (base.latent_dim, base.n_classes, base.n_instances, base.kappa) == (5, 100, 10240, 10.0)
    assert (base.conditional, base.cluster_prior) == ("vmf", "uniform")


def test_dataset_ids_are_injective_and_ignore_unused_shapes():
    cells = sweep_cells({"design": "grid", "axes": {"kappa": [10.0, 10.000001, 1e-7, 1.0000001e-7]}})
    ids = {expand({"sweeps": {"s": {"design": "grid", "axes": {"kappa": [c["kappa"]]}, "methods": ["supervised"],
                                     "seeds": [0]}}})[0].cell.dataset_id for c in cells}
    assert len(ids) == 4
    # cond_beta does not change a vMF process: one cell, not two
    assert len(sweep_cells({"design": "grid", "axes": {"cond_beta": [1.0, 3.0]}})) == 1
    assert len(sweep_cells({"design": "grid", "base": {"conditional": "gennorm"}, "axes": {"cond_beta": [1.0, 3.0]}})) == 2


def test_epochs_give_the_official_step_count():

    assert cell_steps({"epochs": 50000, "batch_size": 1024, "steps": 7}, 10240) == 500_000
    assert cell_steps({"epochs": 50000, "batch_size": 1024, "steps": 7}, 1000) == 50_000
    assert cell_steps({"epochs": None, "batch_size": 1024, "steps": 7}, 1000) == 7


def test_one_factor_expansion():
    sweep = {
        "design": "one_factor",
        "base": {"latent_dim": 10, "n_classes": 100},
        "axes": {"latent_dim": [5, 10, 20], "kappa": [5, 10, 50]},
    }
    cells = sweep_cells(sweep)
    # base + 2 new d values + 2 new kappa values (the base values are not repeated)
    assert len(cells) == 5
    assert all(c["n_classes"] == 100 for c in cells)
    assert sum(c["latent_dim"] != 10 and c["kappa"] != 10 for c in cells) == 0




@pytest.mark.parametrize("path,value,msg", BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_malformed_config_gives_one_clear_message(path, value, msg):
    cfg = _set(GOOD, path, value)
    with pytest.raises(ConfigError) as exc:
        check_config(cfg, SCHEMA)
    text = str(exc.value)
    assert msg in text, text
    # the message names the offending key
    assert path.split(".")[-1].replace("laten_dim", "axes").replace("trian", "simulation") in text or "unknown" in text


def test_a_repeated_yaml_key_is_refused_not_dropped(tmp_path):
    from linid.pipeline.config import load_yaml

    path = tmp_path / "c.yaml"
    path.write_text("simulation:\n  train:\n    steps: 100\n    lr: 0.001\n    steps: 500000\n")
    with pytest.raises(ConfigError, match=r"key 'steps' appears twice in one mapping \(lines 3 and 5\)"):
        load_yaml(path)
    path.write_text("a: 1\nb: {a: 2}\n")  # the same key in different mappings is fine
    assert load_yaml(path) == {"a": 1, "b": {"a": 2}}


def test_overrides_merge_into_a_preset():
    from linid.pipeline.config import merge_overrides

    preset = {"name": "p", "simulation": {"train": {"steps": 10, "lr": 0.1}}}
    out = merge_overrides(preset, {"name": "mine", "simulation": {"train": {"steps": 20}}})
    assert out == {"name": "mine", "simulation": {"train": {"steps": 20, "lr": 0.1}}}
    assert preset["simulation"]["train"]["steps"] == 10


def _typed(overrides, base=GOOD):
    from linid.pipeline.config import type_overrides

    return type_overrides(overrides, SCHEMA, base)


def test_overrides_get_the_schemas_types():
    # what Snakemake hands over for --config 'simulation={train: {steps: 100, ...}}': text
    got = _typed({"simulation": {"train": {"steps": "100", "lr": "1e-3", "temperature": "0.5",
                                           "allow_cpu": "false", "epochs": "null"}}})
    assert got == {"simulation": {"train": {"steps": 100, "lr": 0.001, "temperature": 0.5,
                                            "allow_cpu": False, "epochs": None}}}
    assert type(got["simulation"]["train"]["steps"]) is int
    # lists, as text or item by item; a oneOf (data_seeds: list or 'paired'); strings stay strings
    sweep = _typed({"simulation": {"sweeps": {"supervised": {
        "axes": {"latent_dim": ["2", "5"], "kappa": "[5, 10.5]"}, "seeds": "[0,1]",
        "data_seeds": "paired"}}}, "name": "2025", "tracking": {"uri": "123"}})
    assert sweep["simulation"]["sweeps"]["supervised"] == {
        "axes": {"latent_dim": [2, 5], "kappa": [5, 10.5]}, "seeds": [0, 1], "data_seeds": "paired"}
    assert sweep["name"] == "2025" and sweep["tracking"]["uri"] == "123"
    # Snakemake's own top-level typing (KEY=VALUE) is kept
    assert _typed({"name": "x", "compare": {"svcca_k": 7}}) == {"name": "x", "compare": {"svcca_k": 7}}
    # a value that is not of the schema's type stays as given, and validation names it
    assert _typed({"simulation": {"train": {"steps": "many"}}}) == {"simulation": {"train": {"steps": "many"}}}


def test_dotted_key_paths_expand_and_merge():
    got = _typed({"simulation": {"train.steps": "100", "train.lr": "0.01", "probe.n_affine": "4096"}})
    assert got == {"simulation": {"train": {"steps": 100, "lr": 0.01}, "probe": {"n_affine": 4096}}}
    # into a named sweep of the base config; a new sweep name may hold a dot
    assert _typed({"simulation": {"sweeps": {"supervised.seeds": "[3]"}}}) == {
        "simulation": {"sweeps": {"supervised": {"seeds": [3]}}}}
    assert _typed({"byo": {"models": {"resnet.v2": "a.npz"}}}) == {"byo": {"models": {"resnet.v2": "a.npz"}}}


@pytest.mark.parametrize("overrides,msg", [
    ({"simulation": {"train": {"stepz": "100"}}},
     "unknown config key simulation.train.stepz; did you mean simulation.train.steps?"),
    ({"simulation": {"train.stepz": "100"}},
     "unknown config key simulation.train.stepz; did you mean simulation.train.steps?"),
    ({"simulaton": {"train": {"steps": "1"}}}, "unknown config key simulaton; did you mean simulation?"),
    ({"simulation": {"trian.steps": "1"}}, "unknown config key simulation.trian; did you mean simulation.train?"),
    ({"simulation": {"sweeps": {"supervised": {"axes": {"laten_dim": "[2]"}}}}},
     "unknown config key simulation.sweeps.supervised.axes.laten_dim; did you mean "
     "simulation.sweeps.supervised.axes.latent_dim?"),
    ({"zzz": 1}, "unknown config key zzz; allowed here: name, tracking"),
])
def test_unknown_override_keys_are_refused_by_name(overrides, msg):
    with pytest.raises(ConfigError) as exc:
        _typed(overrides)
    assert str(exc.value).startswith(msg), str(exc.value)


def test_typed_overrides_merge_into_the_base_and_validate():
    from linid.pipeline.config import merge_overrides

    cfg = merge_overrides(GOOD, _typed({"simulation": {"train": {"steps": "100"}}}))
    assert cfg["simulation"]["train"]["steps"] == 100
    assert cfg["simulation"]["train"]["batch_size"] == GOOD["simulation"]["train"]["batch_size"]
    check_config(cfg, SCHEMA)
    # the untyped value is what Snakemake validation refused before ("'100' is not of type 'integer'")
    with pytest.raises(ConfigError, match="steps = '100'"):
        check_config(merge_overrides(GOOD, {"simulation": {"train": {"steps": "100"}}}), SCHEMA)


def test_validate_config_fills_the_same_defaults_as_snakemake_validate(tmp_path):
    """The workflow validates with linid's validate_config (the schema read once, its registry
    parts filled in); it must fill in exactly what snakemake.utils.validate fills in from the same
    schema, for the demo and every preset."""
    import copy

    from snakemake.utils import validate

    from linid.pipeline.config import validate_config

    filled = tmp_path / "config.schema.yaml"
    filled.write_text(yaml.safe_dump(SCHEMA, allow_unicode=True))
    for path in [ROOT / "config.yaml", *sorted((ROOT / "configs").glob("*.yaml"))]:
        ours, theirs = yaml.safe_load(path.read_text()), yaml.safe_load(path.read_text())
        validate_config(ours, copy.deepcopy(SCHEMA))
        validate(theirs, str(filled))
        assert ours == theirs, path.name
        assert ours["simulation"]["train"]["pack_size"] >= 1 and "max_runtime_minutes" in ours["resources"]


def test_validate_config_names_every_problem_in_one_line_each():
    from linid.pipeline.config import validate_config

    bad = yaml.safe_load((ROOT / "config.yaml").read_text())
    bad["simulation"]["train"]["steps"] = -5
    bad["simulation"]["train"]["lr"] = "fast"
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    lines = str(err.value).splitlines()[1:]
    assert len(lines) == 2 and all(line.startswith("  - config key simulation.train.") for line in lines)
