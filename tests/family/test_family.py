"""Tests for linid.family (docs/science.md §4): the angle data, the model family and cross-model mCCA."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from linid.family.data import AngleData, angle_labels, sample_angle_data
from linid.family.models import FamilyModel, diversity_ok
from linid.family.training import NonFiniteLoss, train_family
from linid.probes import cca as compare
from linid.probes.pairs import label_span


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny MLPs train fastest single-threaded (thread start-up dominates, worse on busy CPUs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- data


def test_labels_balanced_and_in_range():
    cfg = AngleData()
    x, y = sample_angle_data(cfg, 20000, _gen(0))
    assert x.shape == (20000, 2) and x.dtype == torch.float32
    assert y.shape == (20000,) and y.dtype == torch.int64
    assert int(y.min()) >= 0 and int(y.max()) < 18
    counts = torch.bincount(y, minlength=18).numpy()
    expected = 20000 / 18
    assert np.all(np.abs(counts - expected) < 0.2 * expected), counts


def test_sigma_is_the_input_scale():
    x, _ = sample_angle_data(AngleData(sigma=3.0), 20000, _gen(1))
    assert x.std(dim=0).numpy() == pytest.approx([3.0, 3.0], rel=0.03)
    assert x.mean(dim=0).numpy() == pytest.approx([0.0, 0.0], abs=0.1)


def test_sampling_is_deterministic_per_seed():
    cfg = AngleData()
    x1, y1 = sample_angle_data(cfg, 500, _gen(7))
    x2, y2 = sample_angle_data(cfg, 500, _gen(7))
    x3, _ = sample_angle_data(cfg, 500, _gen(8))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_label_is_the_angular_bin():
    cfg = AngleData(n_classes=18)
    width = 2 * math.pi / 18
    centres = torch.tensor([(k + 0.5) * width for k in range(18)], dtype=torch.float64)
    for radius in (0.1, 5.0):
        x = radius * torch.stack([torch.cos(centres), torch.sin(centres)], dim=1)
        assert torch.equal(angle_labels(x, cfg), torch.arange(18))


def test_pi_folding_gives_opposite_points_the_same_label():
    x, _ = sample_angle_data(AngleData(), 5000, _gen(2))
    folded = AngleData(angle_range="pi")
    assert torch.equal(angle_labels(x, folded), angle_labels(-x, folded))
    # without folding opposite points sit K/2 bins apart
    full = AngleData(angle_range="2pi")
    assert torch.equal(angle_labels(-x, full), (angle_labels(x, full) + 9) % 18)
    # folded labels still use all K bins, evenly
    counts = torch.bincount(angle_labels(x, folded), minlength=18).numpy()
    assert np.all(np.abs(counts - 5000 / 18) < 0.3 * 5000 / 18), counts


def test_extra_input_dims_are_distractors():
    cfg = AngleData(input_dim=4)
    x, y = sample_angle_data(cfg, 300, _gen(3))
    assert x.shape == (300, 4)
    assert torch.equal(y, angle_labels(x[:, :2], cfg))


@pytest.mark.parametrize(
    "kwargs", [{"angle_range": "tau"}, {"n_classes": 1}, {"input_dim": 1}, {"sigma": 0.0}]
)
def test_bad_data_config_raises(kwargs):
    with pytest.raises(ValueError):
        AngleData(**kwargs)


def test_diversity_condition():
    assert diversity_ok(18, 2)
    assert diversity_ok(3, 2)
    assert not diversity_ok(2, 2)
    assert not diversity_ok(10, 10)


# --------------------------------------------------------------------------- model


@pytest.mark.parametrize("g_kind", ["embedding", "mlp"])
def test_shapes(g_kind):
    torch.manual_seed(0)
    model = FamilyModel(2, 3, 18, hidden=(16, 8), g_kind=g_kind)
    x = torch.randn(11, 2)
    assert model.f(x).shape == (11, 3)
    assert model.g_all().shape == (18, 3)
    assert model.logits(x).shape == (11, 18)
    assert model.hidden(x).shape == (11, 8)
    assert model(x).shape == (11, 18)


def test_logits_are_inner_products():
    torch.manual_seed(0)
    model = FamilyModel(2, 3, 5, hidden=(8,), g_init="default")
    x = torch.randn(4, 2)
    with torch.no_grad():
        f, g = model.f(x), model.g_all()
        expected = torch.stack([torch.stack([f[i] @ g[k] for k in range(5)]) for i in range(4)])
        torch.testing.assert_close(model.logits(x), expected)


def test_hidden_is_the_input_to_the_output_layer():
    torch.manual_seed(0)
    model = FamilyModel(2, 2, 6, hidden=(8, 5))
    x = torch.randn(7, 2)
    with torch.no_grad():
        torch.testing.assert_close(model.f_net[-1](model.hidden(x)), model.f(x))


def test_unknown_g_kind_and_init_raise():
    with pytest.raises(ValueError, match="g_kind"):
        FamilyModel(2, 2, 18, g_kind="table")
    with pytest.raises(ValueError, match="g_init"):
        FamilyModel(2, 2, 18, g_init="xavier")


# --------------------------------------------------------------------------- training


def _accuracy(model: FamilyModel, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model.logits(x).argmax(dim=1) == y).float().mean())


@pytest.mark.parametrize("optimizer,lr", [("sgd", 1e-2), ("adam", 3e-3)])
def test_training_reduces_loss_and_fits(one_thread, optimizer, lr):
    cfg = AngleData()
    x, y = sample_angle_data(cfg, 5000, _gen(0))
    torch.manual_seed(0)
    model = FamilyModel(2, 2, 18, hidden=(32, 32))
    curve = train_family(
        model, cfg, steps=300, batch_size=256, lr=lr, train_x=x, train_y=y, generator=_gen(1),
        optimizer=optimizer,
    )
    steps = [s for s, _ in curve]
    assert steps[:3] == [0, 6, 12] and steps[-1] == 299
    assert all(isinstance(v, float) for _, v in curve)
    assert curve[0][1] == pytest.approx(math.log(18), abs=1e-4)  # g starts at 0: uniform p(y|x)
    assert np.mean([v for _, v in curve[-5:]]) < 0.5 * curve[0][1]
    assert _accuracy(model, x, y) > 0.7


def test_training_is_deterministic(one_thread):
    cfg = AngleData()
    x, y = sample_angle_data(cfg, 1000, _gen(0))
    curves = []
    for _ in range(2):
        torch.manual_seed(3)
        model = FamilyModel(2, 2, 18, hidden=(8,), g_kind="mlp")
        curves.append(
            train_family(
                model,
                cfg,
                steps=20,
                batch_size=64,
                lr=1e-2,
                train_x=x,
                train_y=y,
                generator=_gen(4),
            )
        )
    assert curves[0] == curves[1]



def _plain_loop(model, x, y, steps, lr, generator, optimizer):
    """train_family as it was before the one loop (linid.core.training): the frozen expectation."""
    every = max(1, steps // 50)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    curve = []
    for step in range(steps):
        idx = torch.randint(len(x), (64,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model.logits(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps - 1:
            curve.append((step, float(loss.detach())))
    return curve


@pytest.mark.parametrize("optimizer,steps", [("sgd", 7), ("sgd", 123), ("adam", 101), ("adam", 1)])
def test_the_one_loop_keeps_the_plain_loops_curve_and_weights(one_thread, optimizer, steps):
    """Bit for bit: the same draws in the same order, the loss at steps 0, s, 2s, … and the last."""
    cfg = AngleData()
    x, y = sample_angle_data(cfg, 1000, _gen(0))
    runs = []
    for train in (train_family, None):
        torch.manual_seed(3)
        model = FamilyModel(2, 2, 18, hidden=(8,), g_kind="mlp")
        if train is None:
            curve = _plain_loop(model, x, y, steps, 1e-2, _gen(4), optimizer)
        else:
            curve = train(model, cfg, steps=steps, batch_size=64, lr=1e-2, train_x=x, train_y=y,
                          generator=_gen(4), optimizer=optimizer)
        runs.append((curve, model.state_dict()))
    (curve, state), (expected, frozen) = runs
    assert curve == expected
    assert all(torch.equal(state[k], frozen[k]) for k in frozen)


def test_a_nan_is_named_at_the_step_it_appears(one_thread):
    """Every step's loss is checked, not only the curve's points: an input of inf first drawn at
    step k (0-based) is named as the k+1-th step, whether or not the curve records it."""
    cfg = AngleData()
    x, y = sample_angle_data(cfg, 400, _gen(0))
    x[123, 0] = float("inf")
    g = _gen(7)
    first = next(k for k in range(200) if 123 in torch.randint(400, (8,), generator=g).tolist())
    assert (first + 1) % 4 != 0  # steps=200: the curve records every 4th step; this one is not
    torch.manual_seed(0)
    model = FamilyModel(2, 2, 18, hidden=(8,))
    with pytest.raises(NonFiniteLoss, match=rf"training diverged: non-finite training loss at step {first + 1} "):
        train_family(model, cfg, steps=200, batch_size=8, lr=1e-2, train_x=x, train_y=y, generator=_gen(7))


def _rotated_copy(model: FamilyModel, angle: float) -> FamilyModel:
    """The same p(y|x) with f's output space rotated: W → RW, b → Rb, g → Rg."""
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s], [s, c]])
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.f_net[-1].weight.copy_(rot @ model.f_net[-1].weight)
        twin.f_net[-1].bias.copy_(rot @ model.f_net[-1].bias)
        twin.g_net.weight.copy_(model.g_net.weight @ rot.T)
    return twin


@pytest.mark.parametrize("optimizer,equivariant", [("sgd", True), ("adam", False)])
def test_sgd_is_rotation_equivariant_adam_is_not(one_thread, optimizer, equivariant):
    """Why the optimizer matters below the boundary: SGD treats all directions of R^M alike."""
    cfg = AngleData(n_classes=2)
    x, y = sample_angle_data(cfg, 500, _gen(0))
    torch.manual_seed(0)
    model = FamilyModel(2, 2, 2, hidden=(8,), g_init="default")
    twin = _rotated_copy(model, 0.7)
    with torch.no_grad():
        torch.testing.assert_close(twin.logits(x), model.logits(x))  # same model
    for m in (model, twin):
        train_family(m, cfg, steps=50, batch_size=64, lr=1e-2, train_x=x, train_y=y,
                     generator=_gen(5), optimizer=optimizer)
    with torch.no_grad():
        gap = float((twin.logits(x) - model.logits(x)).abs().max())
        scale = float(model.logits(x).abs().max())
    if equivariant:
        assert gap < 1e-4 * scale
    else:
        assert gap > 1e-2 * scale


def test_train_family_validates_inputs():
    cfg = AngleData()
    x, y = sample_angle_data(cfg, 100, _gen(0))
    model = FamilyModel(2, 2, 18, hidden=(4,))
    kw = {"steps": 1, "batch_size": 8, "lr": 1e-3, "generator": _gen(0)}
    with pytest.raises(ValueError, match="classes"):
        train_family(model, AngleData(n_classes=10), train_x=x, train_y=y, **kw)
    with pytest.raises(ValueError, match="train_y"):
        train_family(model, cfg, train_x=x, train_y=y[:50], **kw)
    with pytest.raises(ValueError, match="train_x"):
        train_family(model, cfg, train_x=x[:, :1], train_y=y, **kw)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        train_family(model, cfg, train_x=x, train_y=y, optimizer="rmsprop", **kw)
    with pytest.raises(ValueError, match="momentum"):
        train_family(model, cfg, train_x=x, train_y=y, momentum=1.0, **kw)


# --------------------------------------------------------------------------- identifiability


@dataclass
class _Pair:
    f: tuple[np.ndarray, np.ndarray]
    f_init: tuple[np.ndarray, np.ndarray]
    hidden: tuple[np.ndarray, np.ndarray]
    hidden_init: tuple[np.ndarray, np.ndarray]
    acc: tuple[float, float]


@pytest.fixture(scope="module")
def trained_pair() -> _Pair:
    """Two models (M=2, K=18) from different seeds, features on the same 2000 held-out inputs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = AngleData()
        x, y = sample_angle_data(cfg, 10000, _gen(0))
        x_test, y_test = sample_angle_data(cfg, 2000, _gen(1))
        cols: dict[str, list] = {"f": [], "f_init": [], "hidden": [], "hidden_init": [], "acc": []}
        for seed in (0, 1):
            torch.manual_seed(seed)
            model = FamilyModel(2, 2, 18, hidden=(32, 32))
            with torch.no_grad():
                cols["f_init"].append(model.f(x_test).numpy())
                cols["hidden_init"].append(model.hidden(x_test).numpy())
            train_family(
                model,
                cfg,
                steps=1000,
                batch_size=256,
                lr=3e-3,
                train_x=x,
                train_y=y,
                generator=_gen(10 + seed),
                optimizer="adam",
            )
            with torch.no_grad():
                cols["f"].append(model.f(x_test).numpy())
                cols["hidden"].append(model.hidden(x_test).numpy())
            cols["acc"].append(_accuracy(model, x_test, y_test))
        return _Pair(**{k: tuple(v) for k, v in cols.items()})
    finally:
        torch.set_num_threads(before)


def test_trained_models_fit_held_out_data(trained_pair):
    assert min(trained_pair.acc) > 0.9


def test_trained_models_are_linearly_identified(trained_pair):
    out = compare.compare_pair(*trained_pair.f)
    assert out["mcca"] > 0.95  # measured ≈ 0.998
    assert min(out["cca_spectrum"]) > 0.9
    assert out["r2_ab"] > 0.95 and out["r2_ba"] > 0.95


def test_untrained_models_agree_much_less(trained_pair):
    trained = compare.mean_cca(*trained_pair.f)
    untrained = compare.mean_cca(*trained_pair.f_init)
    assert untrained < trained - 0.2  # measured ≈ 0.60 vs ≈ 0.998


def test_hidden_layer_outside_the_family_agrees_less(trained_pair):
    f_mcca = compare.mean_cca(*trained_pair.f)
    hidden_mcca = compare.mean_cca(*trained_pair.hidden)
    assert hidden_mcca < f_mcca - 0.1  # measured ≈ 0.78 vs ≈ 0.998


# --------------------------------------------------------------------------- diversity, measured


def test_label_span_exact_cases():
    angles = np.linspace(0, 2 * np.pi, 18, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    assert label_span(circle) == pytest.approx(1.0)  # evenly spread over R^2
    assert label_span(7.5 * circle + 3.0) == pytest.approx(1.0)  # scale- and shift-free
    assert label_span(np.array([[1.0, 2.0], [-1.0, -2.0]])) == 0.0  # K = 2 ≤ M: one direction
    flat = np.concatenate([circle, np.zeros((18, 1))], axis=1)  # M = 3, all in a plane
    assert label_span(flat) == pytest.approx(0.0, abs=1e-12)
    stretched = circle * np.array([1.0, 0.1])
    assert label_span(stretched) == pytest.approx(0.1)
    assert label_span(torch.tensor(circle)) == pytest.approx(1.0)
    assert label_span(np.zeros((4, 2))) == 0.0
    with pytest.raises(ValueError, match="shape"):
        label_span(np.zeros(3))


def test_divergent_training_is_stopped_not_saved(one_thread):
    """A NaN in training names the cell, seed and step (it used to surface as an SVD error later)."""
    from linid.family.models import FamilyModelConfig
    from linid.family.training import FamilyTrainConfig, NonFiniteLoss, train_cell

    cfg = AngleData(n_classes=6)
    x, y = sample_angle_data(cfg, 500, _gen(0))
    data = {"train_x": x, "train_y": y, "eval_x": x, "eval_y": y}
    tcfg = FamilyTrainConfig(steps=30, batch_size=64, lr=1e30, optimizer="sgd")
    with pytest.raises(NonFiniteLoss, match=r"family cell K=6, M=2, seed 0: training diverged: non-finite"):
        train_cell(data, cfg, 2, FamilyModelConfig(hidden=(16,)), tcfg, [0], torch.device("cpu"))
