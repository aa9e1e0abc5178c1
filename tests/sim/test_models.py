"""Encoder and head: the paper's widths, the head's logits, precise BN, self-describing model files."""

import pytest
import torch

from linid.sim.config import n_outputs_for
from linid.sim.features import encode
from linid.sim.models import (
    build_models,
    hidden_widths,
    load_model,
    recalibrate_batchnorm,
    save_model,
)


def test_paper_widths_and_shapes():
    assert hidden_widths(5) == [50, 250, 250, 250, 250, 50]
    enc, head = build_models(5, 100, seed=0)
    linears = [m for m in enc.net if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [50, 250, 250, 250, 250, 50, 5]
    assert enc(torch.randn(8, 5)).shape == (8, 5)
    assert head(torch.randn(8, 5)).shape == (8, 100)


def test_same_seed_same_weights_other_seed_other_weights():
    a, _ = build_models(3, 10, seed=1)
    b, _ = build_models(3, 10, seed=1)
    c, _ = build_models(3, 10, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


def test_head_logits_are_temperature_times_w_f():
    _, head = build_models(3, 7, seed=0, temperature=2.5)
    h = torch.randn(4, 3)
    assert torch.allclose(head(h), 2.5 * h @ head.weight.T, atol=1e-6)
    head.normalize_rows()
    assert torch.allclose(head.weight.norm(dim=1), torch.ones(7), atol=1e-6)


def test_n_outputs_per_method():
    assert n_outputs_for("supervised", 10, 1000) == 10
    assert n_outputs_for("diet", 10, 1000) == 1000
    assert n_outputs_for("infonce", 10, 1000) == 0  # no head: the loss compares features
    with pytest.raises(ValueError, match="unknown training objective 'simclr'; registered: supervised, diet"):
        n_outputs_for("simclr", 10, 1000)


def test_precise_bn_sets_exact_batch_statistics():
    enc, _ = build_models(2, 8, 0)
    xs = [torch.randn(64, 2) * 3 + 1 for _ in range(4)]
    recalibrate_batchnorm(enc, xs)
    first_bn = enc.net[1]
    h = enc.net[0](torch.cat(xs))
    assert torch.allclose(first_bn.running_mean, h.mean(0), atol=1e-5)


@pytest.mark.parametrize("learn_temperature", [False, True])
def test_model_file_rebuilds_without_the_callers_help(tmp_path, learn_temperature):
    enc, head = build_models(3, 12, seed=4, temperature=0.7, learn_temperature=learn_temperature)
    enc.eval()
    save_model(tmp_path / "m.pt", enc, head, {"method": "diet"})
    enc2, head2, meta = load_model(tmp_path / "m.pt")
    x = torch.randn(50, 3)
    assert torch.allclose(torch.from_numpy(encode(enc2, x.numpy())), enc(x), atol=1e-6)
    assert torch.equal(head2.weight, head.weight)
    assert float(head2.temperature) == pytest.approx(0.7)
    assert meta["method"] == "diet"
    assert (meta["latent_dim"], meta["n_outputs"], meta["learn_temperature"]) == (3, 12, learn_temperature)
    # the file holds tensors and strings only: loadable with weights_only=True
    torch.load(tmp_path / "m.pt", weights_only=True)


def test_a_models_initialisation_is_not_drawn_from_its_datasets_stream():
    """Model seed s and dataset seed s must read different random numbers (paired seeds)."""
    from linid.sim.models import init_seed
    from linid.sim.process import DGPConfig, make_process

    for s in range(4):
        proc = make_process(DGPConfig(latent_dim=3, n_classes=6, n_instances=30, cond_candidates=50, seed=s))
        enc, _ = build_models(3, 6, seed=s)
        first = enc.net[0].weight.detach().flatten()
        u = torch.rand(first.numel(), generator=torch.Generator().manual_seed(s))
        bound = 1 / 3**0.5  # nn.Linear's kaiming-uniform bound for fan_in 3
        assert not torch.allclose(first, bound * (2 * u - 1), atol=1e-6)
        assert init_seed(s) not in {s, s * 1_000_003 + 1, s * 1_000_003 + 2}
        assert not torch.equal(proc.cluster_vectors.flatten()[:3], first[:3])
