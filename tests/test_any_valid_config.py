"""Property-based, end to end: configs drawn from what the schema accepts run to the end (tables,
figures, paper comparison) or are refused before the first job; never a failure half-way.

Slow (one real workflow run per example): ``pytest -m slow tests/test_any_valid_config.py``;
``LINID_PROPERTY_EXAMPLES`` sets how many configs are drawn (default 4).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linid.sim.objectives import METHODS
from tests.helpers import TINY, make_checkout, smk

pytestmark = pytest.mark.slow

AXES = {
    "latent_dim": st.integers(2, 4),
    "n_classes": st.integers(2, 12),
    "kappa": st.floats(0.5, 60.0),
    "conditional": st.sampled_from(["vmf", "laplace", "normal", "gennorm", "truncated_laplace"]),
    "cluster_prior": st.sampled_from(["uniform", "laplace", "normal", "gennorm"]),
    "label_noise": st.floats(0.0, 0.5),
    "cond_beta": st.floats(0.5, 4.0),
}
# names pandas would read back as missing unless the tables are read as written
NAMES = st.sampled_from(["NA", "null", "nan", "None", "main", "s-1", "a.b"])


@st.composite
def configs(draw) -> dict:
    cfg = yaml.safe_load(TINY.read_text())
    swept = draw(st.lists(st.sampled_from(sorted(AXES)), min_size=1, max_size=2, unique=True))
    axes = {a: draw(st.lists(AXES[a], min_size=1, max_size=2, unique=True)) for a in swept}
    sweep = {
        "design": draw(st.sampled_from(["grid", "one_factor"])),
        "base": {"n_instances": 64, "n_classes": 8, "latent_dim": 2},
        "axes": axes,
        # every registered objective (linid.sim.objectives), never a hand-kept list
        "methods": draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=2, unique=True)),
        "normalize_w": draw(st.lists(st.booleans(), min_size=1, max_size=2, unique=True)),
        "seeds": draw(st.sampled_from([[0], [0, 1]])),
    }
    cfg["name"] = "prop"
    cfg["simulation"]["sweeps"] = {draw(NAMES): sweep}
    cfg["simulation"]["train"].update(steps=20, pack_size=draw(st.sampled_from([1, 2])))
    cfg["family"]["enabled"] = False
    cfg["compare"] = {"enabled": draw(st.booleans())}
    return cfg


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    return make_checkout(tmp_path_factory.mktemp("prop"))


@settings(max_examples=int(os.environ.get("LINID_PROPERTY_EXAMPLES", "4")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cfg=configs())
def test_every_valid_config_runs_to_the_end(checkout, cfg):
    shutil.rmtree(checkout / "results", ignore_errors=True)
    shutil.rmtree(checkout / ".snakemake", ignore_errors=True)
    path = checkout / "drawn.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = smk(checkout, config=path, check=False)
    out = proc.stdout[-4000:] + proc.stderr[-4000:]
    if proc.returncode != 0:  # refused before the first job is fine; a failure half-way is not
        assert "invalid config" in out and not (checkout / "results" / "sim").exists(), out
        return
    res = checkout / "results"
    table = pd.read_csv(res / "tables" / "probes.csv", keep_default_na=False, na_values=[""])
    assert set(table["experiment"]) == set(cfg["simulation"]["sweeps"])
    assert (res / "figures" / "r2_heatmap.png").exists()
    assert (res / "tables" / "paper_comparison.md").exists()
