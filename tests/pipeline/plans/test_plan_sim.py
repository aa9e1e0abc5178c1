"""The simulation's plan: packs of every size, each model in one pack, params and resources."""

import copy
from pathlib import Path
from types import SimpleNamespace as W

import pytest
import yaml

from linid.pipeline import shards
from linid.pipeline.cells import cell_steps
from linid.pipeline.plans.sim import MEMBER_DIR, PACK_DIR, TRAINED, SimPlan
from tests.helpers import validated

ROOT = Path(__file__).resolve().parents[3]
TINY = yaml.safe_load((ROOT / "tests/data/tiny.yaml").read_text())


def _config(pack_size=1, seeds=(0, 1), **resources) -> dict:
    cfg = copy.deepcopy(TINY)
    cfg["simulation"]["sweeps"]["tiny"]["seeds"] = list(seeds)
    cfg["simulation"]["train"]["pack_size"] = pack_size
    cfg["resources"].update(resources)
    validated(cfg)  # the schema's defaults filled in, as the workflow reads it
    return cfg


@pytest.mark.parametrize("k", [1, 2, 3])
def test_every_model_is_in_exactly_one_pack_of_at_most_k(k):
    plan = SimPlan(_config(pack_size=k, seeds=range(3)))
    members = [m for p in plan.packs for m in p.members]
    assert sorted(members) == plan.models and len(plan.models) == 2 * 2 * 3  # d × methods × seeds
    assert all(1 <= len(p.members) <= k for p in plan.packs)
    for model in plan.models:
        assert model in plan.pack_by_id[plan.pack_of_model[model]].members


def test_a_packs_members_carry_their_own_train_config():
    cfg = _config(pack_size=2)
    plan = SimPlan(cfg)
    pack = plan.packs[0]
    members = plan.members(W(pack=pack.id))
    assert [(m["data"], m["method"], m["head"], m["seed"]) for m in members] == list(pack.members)
    for m in members:
        assert m["train"]["seed"] == m["seed"] and m["train"]["method"] == m["method"]
        assert m["train"]["steps"] == 40 and m["train"]["batch_size"] == 64
        assert m["train"]["normalize_w"] is False  # the free head
    assert plan.checkpoint(W(pack=pack.id)) == f"results/checkpoints/sim/packs/{pack.id}.ckpt"


def test_inputs_name_the_packs_datasets_and_each_models_pack():
    plan = SimPlan(_config(pack_size=2))
    pack = plan.packs[0]
    data = plan.pack_inputs("results/sim/datasets/{data}.npz")(W(pack=pack.id))
    assert data == sorted({f"results/sim/datasets/{d}.npz" for d, *_ in pack.members})
    d, m, h, s = pack.members[-1]
    found = plan.member_pack(PACK_DIR)(W(data=d, method=m, head=h, seed=str(s)))
    assert found == PACK_DIR.format(pack=pack.id)
    # a member's files sit in its pack's folder under the model's own path
    assert TRAINED["model"].endswith(MEMBER_DIR + "/model.pt")


def test_runtime_and_memory_grow_with_the_members_and_the_attempt():
    cfg = _config(pack_size=2, train_minutes_per_10k_steps=1000, pack_model_cost=0.5)
    plan = SimPlan(cfg)
    pairs = [p for p in plan.packs if len(p.members) == 2]
    pack = W(pack=pairs[0].id)
    d = pairs[0].members[0][0]
    cell = plan.datasets[d]
    one = int(max(10, 1.5 * cell_steps(cfg["simulation"]["train"], cell.n_instances) / 10_000 * 1000 * 0.5))
    assert plan.model_minutes(d) == one
    # an InfoNCE item is a positive pair: twice the observations, twice the work and the minutes
    assert plan.model_work(d, "infonce") == 2 * plan.model_work(d, "supervised")
    assert plan.model_minutes(d, "infonce") == int(max(10, 2 * 1.5 * plan.model_work(d) * 1000))
    assert plan.runtime(pack, 1) == int(one + 0.5 * one) and plan.runtime(pack, 2) == 2 * int(1.5 * one)
    res = cfg["resources"]
    assert plan.mem(pack, 1) == res["train_mem_mb"] + res["train_mem_mb_per_packed_model"]
    assert plan.mem(pack, 3) == 3 * plan.mem(pack, 1)


def test_requests_are_capped_and_heavy_packs_start_first(capsys, monkeypatch):
    monkeypatch.setattr(shards, "_WARNED", set())  # warned once per process: start afresh
    plan = SimPlan(_config(pack_size=1, train_minutes_per_10k_steps=10**9, max_runtime_minutes=60))
    assert plan.runtime(W(pack=plan.packs[0].id), 1) == 60
    assert "rule train asks for runtime" in capsys.readouterr().err
    d3 = [p for p in plan.packs if "_d3_" in p.id][0]
    d2 = [p for p in plan.packs if "_d2_" in p.id][0]
    assert plan.priority(W(pack=d3.id)) >= plan.priority(W(pack=d2.id))  # d = 2, 3: at least 0.5 each
    assert plan.dataset_priority > max(plan.work(p) for p in plan.packs)


def test_a_disabled_simulation_plans_nothing():
    cfg = _config()
    cfg["simulation"]["enabled"] = False
    plan = SimPlan(cfg)
    assert plan.models == [] and plan.packs == [] and plan.model_files("{data}") == []
    assert plan.dataset_priority == 1


def test_rows_files_and_axes_follow_the_models():
    plan = SimPlan(_config())
    files = plan.model_files(TRAINED["summary"])
    assert len(files) == len(plan.models) == len(plan.probe_rows())
    assert plan.dataset_files("{data}") == list(plan.datasets)
    assert plan.extra_axes() == []  # only d and |C| vary: the grid's own axes
    assert set(plan.sweep_bases()) == {"tiny"}
