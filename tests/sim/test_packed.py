"""Packed training: k models in one process give each model its own batches, updates and results."""

import signal

import numpy as np
import pytest
import torch

from linid.core.errors import NonFiniteLoss
from linid.probes.regression import r2_affine
from linid.runtime import Interrupted
from linid.sim.features import encode
from linid.sim.process import DGPConfig, make_process
from linid.sim.training import TrainConfig, check_packable, train, train_pack
from tests.helpers import signal_after_steps

PROCS = [make_process(DGPConfig(latent_dim=3, n_classes=20, n_instances=200, cond_candidates=200, seed=s))
         for s in range(3)]
FAST = dict(batch_size=64, log_every=10, eval_every=10**9, checkpoint_every=10**9, chunk_steps=8, bn_batches=4)


def _members(steps, seeds=(0, 1, 2), **kw):
    return [(PROCS[s], TrainConfig(**{**FAST, **kw, "steps": steps, "seed": s})) for s in seeds]


def _held_out(proc, n=4000):
    b = proc.sample(n, torch.Generator().manual_seed(99))
    return b.x, b.z


def test_every_model_sees_its_own_batches():
    """With lr = 0 the weights never move: equal losses mean equal batches (up to kernel rounding)."""
    packed = train_pack(_members(24, lr=0.0))
    for (proc, cfg), res in zip(_members(24, lr=0.0), packed, strict=True):
        single = train(proc, cfg)
        assert [p.get("loss") for p in res.curve] == pytest.approx([p.get("loss") for p in single.curve], rel=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_models_training_does_not_depend_on_its_pack_or_position(threads):
    """Bit for bit on CPU: the same weights, BN statistics, head and curve alone, third of three, first
    of two (what makes adding seeds to a sweep leave the earlier models' numbers unchanged)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        alone = train_pack(_members(30, seeds=(2,)))[0]
        third = train_pack(_members(30, seeds=(0, 1, 2)))[2]
        first = train_pack(_members(30, seeds=(2, 0)))[0]
    finally:
        torch.set_num_threads(before)
    for other in (third, first):
        assert [p.get("loss") for p in other.curve] == [p.get("loss") for p in alone.curve]
        for part in ("encoder", "head"):
            ref = getattr(alone, part).state_dict()
            for name, value in getattr(other, part).state_dict().items():
                assert torch.equal(value, ref[name]), (part, name)


def test_packed_matches_single_model_training():
    """Weights close after a few steps; trained to convergence, the probe R²_a agrees within 0.005."""
    short = train_pack(_members(5))
    for (proc, cfg), res in zip(_members(5), short, strict=True):
        single = train(proc, cfg)
        for (name, a), b in zip(single.encoder.state_dict().items(), res.encoder.state_dict().values(), strict=True):
            if name.endswith("weight"):  # pre-BN biases get no gradient but rounding, which Adam scales up
                assert torch.allclose(a, b, atol=1e-3), name
    # to convergence (rounding only shuffles the path there): R²_a within 0.005 per model
    # seeds 1 and 2 converge at this budget (R²_a ≈ 0.98; seed 0 is still on its way, ≈ 0.83, where
    # rounding moves the path more): the claim is about converged models
    procs = {s: make_process(DGPConfig(latent_dim=3, n_classes=100, n_instances=1000, cond_candidates=200,
                                       seed=s)) for s in (1, 2)}
    members = [(p, TrainConfig(**{**FAST, "batch_size": 256, "steps": 2000, "seed": s}))
               for s, p in procs.items()]
    for (proc, cfg), res in zip(members, train_pack(members), strict=True):
        single = train(proc, cfg)
        x, z = _held_out(proc)
        r_single = r2_affine(encode(single.encoder, x.numpy()), z.numpy())
        r_packed = r2_affine(encode(res.encoder, x.numpy()), z.numpy())
        assert abs(r_single - r_packed) < 0.005, (cfg.seed, r_single, r_packed)
        assert r_packed > 0.9


def test_non_finite_loss_names_the_model_and_step():
    with pytest.raises(NonFiniteLoss, match=r"model-[ab]: non-finite training loss at step \d+"):
        train_pack(_members(20, seeds=(0, 1), lr=1e30), labels=["model-a", "model-b"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_resume_after_signal_is_exact(tmp_path, sig):
    members = _members(40, checkpoint_every=10)
    ref = train_pack(members)
    ckpt = tmp_path / "pack.ckpt"
    with signal_after_steps(13, sig), pytest.raises(Interrupted, match=f"{sig.name} at step 13"):
        train_pack(members, checkpoint=ckpt)  # 13: inside a chunk of 8
    resumed = train_pack(members, checkpoint=ckpt)
    for a, b in zip(ref, resumed, strict=True):
        assert b.resumed_from == 13
        for x, y in zip(a.encoder.state_dict().values(), b.encoder.state_dict().values(), strict=True):
            assert torch.equal(x, y)
        assert torch.equal(a.head.weight, b.head.weight)
        assert [p.get("loss") for p in a.curve] == [p.get("loss") for p in b.curve]


def test_pack_members_must_agree():
    members = _members(10, seeds=(0, 1))
    check_packable(members)
    with pytest.raises(ValueError, match="every training setting but the seed"):
        check_packable([members[0], (PROCS[1], TrainConfig(**{**FAST, "steps": 10, "seed": 1, "lr": 0.1}))])
    other = make_process(DGPConfig(latent_dim=4, n_classes=20, n_instances=200, cond_candidates=200))
    with pytest.raises(ValueError, match="agree in"):
        check_packable([members[0], (other, members[1][1])])
    with pytest.raises(ValueError, match="at least one"):
        check_packable([])


def test_unit_heads_stay_unit():
    res = train_pack(_members(12, seeds=(0, 1), normalize_w=True))
    for r in res:
        np.testing.assert_allclose(r.head.weight.norm(dim=1).detach().numpy(), 1.0, atol=1e-5)


def test_bf16_autocast_is_an_option_that_tracks_fp32():
    """bf16 changes the arithmetic (so the numbers), not the training: losses within 2 % of fp32."""
    fp32 = train_pack(_members(30, seeds=(0, 1)))
    bf16 = train_pack(_members(30, seeds=(0, 1), precision="bf16"))
    for a, b in zip(fp32, bf16, strict=True):
        la, lb = [p.get("loss") for p in a.curve], [p.get("loss") for p in b.curve]
        assert la != lb and lb == pytest.approx(la, rel=0.02)
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the CUDA graph path needs a GPU")
def test_cuda_graph_replay_matches_eager_training_on_gpu():
    """Captured after the warm-up, replayed for the rest: the same losses and weights as eager."""
    cuda = torch.device("cuda")
    eager = train_pack(_members(40, cuda_graph=False), device=cuda)
    graphed = train_pack(_members(40), device=cuda)
    for a, b in zip(eager, graphed, strict=True):
        assert [p.get("loss") for p in b.curve] == pytest.approx([p.get("loss") for p in a.curve], rel=1e-4)
        for (name, x), y in zip(a.encoder.state_dict().items(), b.encoder.state_dict().values(), strict=True):
            if x.is_floating_point():
                assert torch.allclose(x, y, atol=1e-4), name


def test_a_checkpoint_resumes_only_under_the_same_training_code(tmp_path, monkeypatch, caplog):
    import linid.core.checkpoints as checkpoints

    members = _members(20, checkpoint_every=10, seeds=(0,))
    ckpt = tmp_path / "pack.ckpt"
    with signal_after_steps(12, signal.SIGTERM), pytest.raises(Interrupted):
        train_pack(members, checkpoint=ckpt)
    monkeypatch.setattr(checkpoints, "code_fingerprint", lambda *modules: "edited-model-code")
    with caplog.at_level("WARNING"):
        result = train_pack(members, checkpoint=ckpt)[0]
    assert result.resumed_from == 0 and "different config or training code" in caplog.text
