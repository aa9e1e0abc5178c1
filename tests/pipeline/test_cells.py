"""Cells as records: injective ids, canonical shape parameters, the family grid, config → dataclass."""

import dataclasses

import pytest

from linid.names import CELL_AXES
from linid.pipeline.cells import (
    DEFAULT_BASE,
    Cell,
    FamilyCell,
    canonical_cell,
    family_cells,
    num_id,
)
from linid.pipeline.config import fields_of
from linid.sim.process import DGPConfig
from linid.sim.training import TrainConfig


def _cell(**kw):
    return Cell(**{**{a: DEFAULT_BASE[a] for a in CELL_AXES}, "data_seed": 0, **kw})


def test_num_id_is_exact():
    assert num_id(10.0) == "10" and num_id(0.1) == "0.1"
    assert num_id(10.000001) != num_id(10.0000011)


def test_dataset_ids_are_injective_over_what_changes_the_process():
    cells = [_cell(), _cell(kappa=10.5), _cell(label_noise=0.01), _cell(data_seed=1),
             _cell(conditional="gennorm", cond_beta=1.5), _cell(conditional="gennorm", cond_beta=2.5),
             _cell(cluster_prior="gennorm", prior_shape=4.0), _cell(cluster_prior="laplace", prior_scale=2.0)]
    ids = [c.dataset_id for c in cells]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "d5_C100_N10240_k10_vmf_uniform_p0_s0"


def test_unused_shape_parameters_are_canonicalised_away():
    vmf = canonical_cell({**DEFAULT_BASE, "cond_beta": 7.0, "prior_shape": 9.0, "prior_scale": 3.0})
    assert vmf == DEFAULT_BASE  # vMF with a uniform prior uses none of them
    kept = canonical_cell({**DEFAULT_BASE, "conditional": "gennorm", "cond_beta": 7.0})
    assert kept["cond_beta"] == 7.0


def test_cell_axes_record():
    assert _cell(kappa=3.0).axes() == {**DEFAULT_BASE, "kappa": 3.0}


def test_family_cells_are_records_with_ids():
    fam = {"enabled": True, "data_seed": 4, "axes": {"n_classes": [2, 6], "rep_dim": [2, 3]}}
    cells = family_cells(fam)
    assert cells[0] == FamilyCell(2, 4, 2) and len(cells) == 4
    assert cells[1].dataset_id == "K2_s4" and cells[1].cell_id == "K2_s4_M3"
    assert [c.diverse for c in cells] == [False, False, True, True]
    assert family_cells({**fam, "enabled": False}) == []


def test_fields_of_takes_exactly_the_dataclass_fields():
    train = {"steps": 10, "batch_size": 8, "threads": 2, "allow_cpu": True, "epochs": None}
    out = fields_of(TrainConfig, train, {"method": "diet", "steps": 20})
    assert out == {"steps": 20, "batch_size": 8, "method": "diet"}
    assert list(out) == ["method", "steps", "batch_size"]  # field order, whatever the sources' order
    TrainConfig(**out)
    data = fields_of(DGPConfig, {"n_eval": 5, "mixing_layers": 3}, _cell().axes(), {"seed": 2})
    assert set(data) == {f.name for f in dataclasses.fields(DGPConfig)} - {
        "mixing_slope", "cond_candidates", "cond_quantile", "cond_strategy"}
    assert DGPConfig(**data).seed == 2


def test_schema_defaults_match_the_dataclass_defaults():
    """The schema fills the config; the dataclasses' own defaults must say the same."""
    from pathlib import Path

    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parents[2] / "workflow/schemas/config.schema.yaml").read_text())
    sim = schema["properties"]["simulation"]["properties"]
    for section, cls in (("train", TrainConfig), ("data", DGPConfig)):
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for key, spec in sim[section]["properties"].items():
            if key in defaults and "default" in spec and key != "steps":
                assert spec["default"] == pytest.approx(defaults[key]), (section, key)


def test_figures_slice_a_grid_around_values_it_swept():
    """A grid that sweeps an axis without the default value (prior gennorm only) is sliced at that
    value, canonicalised like its cells (a vMF cell's cond_beta is the default): never empty."""
    from linid.pipeline.cells import sweep_base, sweep_cells

    sweep = {"design": "grid", "base": {"latent_dim": 2}, "axes": {"cluster_prior": ["gennorm"], "cond_beta": [0.5]}}
    base = sweep_base(sweep)
    assert base["cluster_prior"] == "gennorm" and base["cond_beta"] == 2.0 and base["latent_dim"] == 2
    assert any(all(c[a] == base[a] for a in base) for c in sweep_cells(sweep))
    one = {"design": "one_factor", "axes": {"kappa": [5.0, 50.0]}}
    assert sweep_base(one)["kappa"] == 10.0  # a one-factor sweep always trains its base cell
