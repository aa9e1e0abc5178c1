"""Image encoders: shapes, sizes, seeding and initialisation as in the official get_model; the untrained controls."""

import pytest
import torch
from torch import nn

from linid.images.models import ResNet18, build, feature_dim, layer_outputs, probed
from linid.images.names import MODELS, TRAINED, UNTRAINED, architecture, encoder, untrained


def _n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_encoder_maps_64px_images_to_its_features(name, channels):
    net = build(name, channels, seed=42).eval()
    x = torch.rand(4, channels, 64, 64)
    with torch.no_grad():
        f = net(x)
        layers = layer_outputs(net, x)
    assert f.shape == (4, feature_dim(name, channels))
    assert torch.equal(list(layers.values())[-1], f)  # the last named layer is the features


def test_resnet18_has_torchvisions_size_with_a_c_channel_stem_and_no_fc():
    # torchvision resnet18(): 11,689,512 parameters = fc 512·1000 + 1000, stem 64·3·7·7
    tv = 11_689_512
    for c in (1, 3):
        assert _n_params(build("cnn", c, 0)) == tv - (512 * 1000 + 1000) - 64 * 3 * 49 + 64 * c * 49
    net = build("cnn", 1, 0)
    assert [n for n in layer_outputs(net, torch.rand(2, 1, 64, 64))] == ["layer1", "layer2", "layer3", "layer4"]


def test_mlp_is_three_linear_batchnorm_relu_blocks():
    net = build("mlp", 1, 0)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Flatten"] + ["Linear", "BatchNorm1d", "ReLU"] * 3
    assert _n_params(net) == (4096 * 512 + 512) + 2 * (512 * 512 + 512) + 3 * 2 * 512


def test_the_seed_decides_the_initial_weights():
    a, b, c = build("mlp", 1, 42), build("mlp", 1, 42), build("mlp", 1, 43)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a[1].weight, c[1].weight)


def test_convolutions_start_kaiming_normal_except_the_replaced_stem():
    torch.manual_seed(0)
    net = ResNet18(1)
    w = net.layer3[0].conv1.weight  # fan_out = 256 · 3 · 3: std = sqrt(2 / fan_out)
    assert abs(w.std().item() / (2 / (256 * 9)) ** 0.5 - 1) < 0.05
    stem = net.conv1.weight  # PyTorch default: U(±1/sqrt(fan_in)), fan_in = 1 · 7 · 7
    bound = 1 / 49 ** 0.5
    assert stem.abs().max().item() <= bound and stem.abs().max().item() > 0.9 * bound
    assert torch.equal(net.bn1.weight, torch.ones(64)) and torch.equal(net.bn1.bias, torch.zeros(64))


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        build("vit", 1, 0)


def test_a_control_is_its_seeds_initial_encoder_in_eval_mode():
    for name in TRAINED:
        ctrl = probed(untrained(name), 1, 42)
        start = build(name, 1, 42)  # what training starts from (linid.images.training)
        assert not ctrl.training and all(not m.training for m in ctrl.modules())
        a, b = ctrl.state_dict(), start.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        again = probed(untrained(name), 1, 42).state_dict()
        assert all(torch.equal(a[k], again[k]) for k in a)  # deterministic from the seed
        other = probed(untrained(name), 1, 43).state_dict()
        assert any(not torch.equal(a[k], other[k]) for k in a if a[k].is_floating_point())
    bn = [m for m in probed("cnn_init", 1, 42).modules() if isinstance(m, nn.BatchNorm2d)]
    assert bn and all(torch.all(m.running_mean == 0) and torch.all(m.running_var == 1) for m in bn)


def test_model_names_say_what_was_probed():
    assert [encoder(m) for m in ("pixels", "mlp", "mlp_init", "cnn_init")] == ["input", "trained", "untrained", "untrained"]
    assert architecture("cnn_init") == "cnn" and architecture("pixels") == "pixels"
    assert UNTRAINED == ("linear_init", "mlp_init", "cnn_init") and feature_dim("mlp_init", 1) == 512
    with pytest.raises(ValueError, match="no untrained control"):
        untrained("pixels")
    for bad in ("pixels_init", "vit_init", "mlp_init_init"):
        with pytest.raises(ValueError, match="unknown"):
            architecture(bad)
