"""Training packs: who shares a job, and what a change of the seed list touches."""

import zipfile

import pytest

from linid.pipeline.cells import expand
from linid.pipeline.packs import plan_packs

TRAIN = {"steps": 100, "batch_size": 64}


def _sim(seeds, methods=("supervised", "diet"), n_classes=(10, 100), latent_dim=(2, 5), **sweep):
    return {"sweeps": {"s": {"design": "grid", "base": {"n_instances": 100},
                             "axes": {"latent_dim": list(latent_dim), "n_classes": list(n_classes)},
                             "methods": list(methods), "seeds": list(seeds), **sweep}}}


def _plan(sim, k, train=TRAIN):
    specs = expand(sim)
    cells = {s.cell.dataset_id: s.cell for s in specs}
    return plan_packs(sorted({s.key for s in specs}), cells, train, k), specs


def test_every_model_in_exactly_one_pack_of_one_shape():
    packs, specs = _plan(_sim(range(5)), 4)
    members = [m for p in packs for m in p.members]
    assert sorted(members) == sorted(s.key for s in specs) and len(members) == len(set(members))
    cells = {s.cell.dataset_id: s.cell for s in specs}
    for p in packs:
        assert 1 <= len(p.members) <= 4
        assert p.id.isidentifier()
        methods = {m for _, m, _, _ in p.members}
        dims = {cells[d].latent_dim for d, *_ in p.members}
        assert len(methods) == 1 and len(dims) == 1
        if methods == {"supervised"}:  # rows of W = |C|
            assert len({cells[d].n_classes for d, *_ in p.members}) == 1
    assert len({p.id for p in packs}) == len(packs)


def test_diet_cells_of_one_shape_share_packs_across_classes():
    """DIET's head has N rows whatever |C|: cells differing in |C| only pack together."""
    packs, _ = _plan(_sim([0, 1], methods=["diet"], latent_dim=[2]), 4)
    assert [len(p.members) for p in packs] == [4]
    assert {d.split("_")[1] for d, *_ in packs[0].members} == {"C10", "C100"}


def test_adding_seeds_leaves_full_packs_unchanged():
    before, _ = _plan(_sim(range(5)), 2)
    after, _ = _plan(_sim(range(7)), 2)
    old = {p.id: p.members for p in before}
    changed = [p.id for p in after if old.get(p.id) not in (None, p.members)]
    new = [p.id for p in after if p.id not in old]
    # each group (method, d, rows of W) of 5 → 7 seeds × its cells: only its last, partial pack changes
    for pid in changed:
        assert len(old[pid]) < 2
    assert all(old[p.id] == p.members for p in after if p.id in old and len(old[p.id]) == 2)
    assert new  # the added seeds' models land in new packs


def test_budget_splits_groups():
    """Steps differ by N under ``epochs``: such models never share a pack."""
    sim = _sim([0, 1], methods=["diet"], latent_dim=[2], n_classes=[10])
    sim["sweeps"]["s"]["axes"]["n_instances"] = [100, 200]
    sim["sweeps"]["s"]["base"] = {}
    packs, _ = _plan(sim, 8, train={"epochs": 2, "batch_size": 10})
    assert sorted(len(p.members) for p in packs) == [2, 2]


def test_pack_size_one_is_a_pack_of_one_per_model_and_zero_is_refused():
    packs, specs = _plan(_sim([0, 1]), 1)
    assert sorted(m for p in packs for m in p.members) == sorted(s.key for s in specs)
    assert all(len(p.members) == 1 for p in packs) and len({p.id for p in packs}) == len(packs)
    with pytest.raises(ValueError, match="pack_size"):
        _plan(_sim([0]), 0)


def test_a_member_is_copied_out_of_its_pack_whole(tmp_path):
    from linid.pipeline.packs import BadMember, copy_member

    member = tmp_path / "pack" / "d2" / "diet" / "free" / "seed1"
    member.mkdir(parents=True)
    with zipfile.ZipFile(member / "model.pt", "w") as archive:  # torch.save writes a zip archive
        archive.writestr("archive/data.pkl", b"weights")
    (member / "train.json").write_text("{}")
    out = {"model": str(tmp_path / "m" / "model.pt"), "summary": str(tmp_path / "m" / "train.json")}
    log = tmp_path / "copy.log"
    copy_member(str(tmp_path / "pack"), "d2/diet/free/seed1", out, str(log))
    assert (tmp_path / "m" / "model.pt").read_bytes() == (member / "model.pt").read_bytes()
    assert len(log.read_text().splitlines()) == 2 and not list((tmp_path / "m").glob("*.part"))
    with pytest.raises(BadMember, match="seed2/model.pt"):
        copy_member(str(tmp_path / "pack"), "d2/diet/free/seed2", out)
