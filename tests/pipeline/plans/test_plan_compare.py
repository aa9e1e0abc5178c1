"""The family and comparison plans: family params and budgets, seed pairs cut into parts."""

import copy
from pathlib import Path
from types import SimpleNamespace as W

import yaml

from linid.pipeline.plans.compare import ComparePlan
from linid.pipeline.plans.family import FamilyPlan
from linid.pipeline.plans.sim import SimPlan
from tests.helpers import validated

ROOT = Path(__file__).resolve().parents[3]
TINY = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())


def _plans(seeds=(0, 1, 2), max_pairs=2, compare=True):
    cfg = copy.deepcopy(TINY)
    cfg["simulation"]["sweeps"]["tiny"]["seeds"] = list(seeds)
    cfg["compare"] = {"enabled": compare, "max_pairs_per_job": max_pairs}
    validated(cfg)  # the schema's defaults filled in, as the workflow reads it
    sim, fam = SimPlan(cfg), FamilyPlan(cfg)
    return cfg, sim, fam, ComparePlan(cfg, sim, fam)


def test_family_params_and_files_follow_the_cells():
    cfg, _, fam, _ = _plans()
    assert [c.n_classes for c in fam.cells] == [2, 6] and len(fam.datasets) == 2
    cell = fam.cells[1]
    data = fam.data_params(W(fdata=cell.dataset_id))
    assert data["n_classes"] == 6 and data["seed"] == cell.data_seed and data["n_train"] == 2000
    train = fam.train_params(W(M="2"))
    assert train["rep_dim"] == 2 and train["seeds"] == [0, 1, 2]
    assert fam.files("{fdata}/M{M}") == [f"{c.dataset_id}/M2" for c in fam.cells]
    assert [r["n_classes"] for r in fam.cells_table()] == [2, 6]
    # three seeds: three pairs, at least 5 minutes, × attempt
    assert fam.compare_runtime(W(), 1) == 5 and fam.compare_runtime(W(), 2) == 10


def test_a_cells_seed_pairs_are_cut_into_parts_that_cover_each_pair_once():
    _, sim, _, cmp = _plans(seeds=range(4), max_pairs=2)
    assert len(cmp.groups) == len(sim.models) // 4  # every (dataset, method, head) of 4 seeds
    data, method, head = next(iter(cmp.groups))
    parts = cmp.shards(data, method, head)
    assert [len(p) for p in parts] == [2, 2, 2]  # 6 pairs
    assert sorted(pair for part in parts for pair in part) == [(a, b) for a in range(4) for b in range(a + 1, 4)]
    w = W(data=data, method=method, head=head, part="1")
    assert cmp.part_pairs(w) == parts[1] and cmp.part_seeds(w) == sorted({s for p in parts[1] for s in p})
    assert len(cmp.part_features("{data}/{method}/{head}/seed{seed}")(w)) == len(cmp.part_seeds(w))
    assert cmp.part_files("{data}/{method}/{head}/part{part}")(w)[-1].endswith("part2")
    assert cmp.part_runtime(w, 1) == 5


def test_compared_cells_list_family_first_and_mark_diversity():
    _, sim, fam, cmp = _plans()
    cells = cmp.cells()
    assert [c["experiment"] for c in cells[: len(fam.cells)]] == ["family"] * len(fam.cells)
    files = cmp.files("F/{fdata}/M{M}", "S/{data}/{method}/{head}")
    assert len(files) == len(cells) and files[0].startswith("F/") and files[-1].startswith("S/")
    for c in cells[len(fam.cells):]:
        # |C| = 8 ≥ d + 1 for d = 2, 3: both supervised cells are diverse; DIET always is
        assert c["diverse"] is True and c["rep_dim"] == sim.datasets[c["cell"]].latent_dim


def test_one_seed_or_comparisons_off_compares_no_simulation_cell():
    assert _plans(seeds=[0])[3].groups == {}
    _, _, fam, cmp = _plans(compare=False)
    assert cmp.groups == {} and cmp.any() == bool(fam.cells)
