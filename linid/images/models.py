"""The encoders of the DisLib experiment ([R] §4.2; klindtlab/csi ``dislib/main.py``, ``get_model``).

Every encoder maps a [n, C, 64, 64] image batch to features; a ``Linear(512, classes)`` readout on
top is trained with cross-entropy on the categorical factor.

* ``pixels``: the flattened image (the baseline; nothing is trained);
* ``linear``: one ``Linear(C·64·64, 512)`` (in the official sweep, not in [R] Table 4);
* ``mlp``: 3 × [Linear 512 → BatchNorm1d → ReLU];
* ``cnn``: ResNet-18 (torchvision's ``resnet18()`` layout: 7×7/2 stem, 3×3/2 max-pool, four stages of
  two basic blocks with 64/128/256/512 channels, global average pool) whose first convolution takes
  C channels and whose ``fc`` is the identity, so its features are the 512-d pooled activations.
  Written here with ``torch.nn`` (no torchvision for this CPU build of torch). As in torchvision,
  convolutions start from Kaiming-normal (fan-out, ReLU) and BatchNorms from weight 1, bias 0, except
  the first convolution: the official code *replaces* it after construction, so it keeps PyTorch's
  default initialisation.

``build(name, channels, seed)`` seeds torch before building, as the official ``get_model`` does, and
``layer_outputs`` names the intermediate activations that ``image_activations`` exports.

**Controls.** Every trained encoder is also probed *at initialisation*: the model name
``<name>_init`` (``mlp_init``, ``cnn_init``, ``linear_init``) is the same architecture built from the
same seed — exactly the weights the trained model started from — in eval mode right after
construction, so its BatchNorms use their initial, data-free running statistics (mean 0, variance
1). ``probed(name, channels, seed)`` builds any probed model name; ``architecture`` and ``encoder``
(:mod:`linid.images.names`, with the names themselves) say what a name is (``pixels`` → ``input``, ``mlp`` → ``trained``, ``mlp_init`` → ``untrained``).
"""

from __future__ import annotations

import torch
from torch import nn

from linid.images.names import IMAGE_SIZE, MODELS, architecture

FEATURES = 512


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with BatchNorm and a residual connection (1×1 projection when the
    shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 for 64×64 inputs with ``channels`` input channels and 512-d pooled features."""

    STAGES = ("layer1", "layer2", "layer3", "layer4")

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)  # replaced below, as the official code does
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = (64, 128, 256, 512)
        c_in = 64
        for name, width in zip(self.STAGES, widths, strict=True):
            stride = 1 if width == 64 else 2
            setattr(self, name, nn.Sequential(BasicBlock(c_in, width, stride), BasicBlock(width, width, 1)))
            c_in = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)  # PyTorch's default init

    def stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage's output, average-pooled to one vector per image, and the features."""
        out: dict[str, torch.Tensor] = {}
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.STAGES:
            x = getattr(self, name)(x)
            out[name] = torch.flatten(self.avgpool(x), 1)
        out["features"] = out["layer4"]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.STAGES:
            x = getattr(self, name)(x)
        return torch.flatten(self.avgpool(x), 1)


def mlp(channels: int) -> nn.Sequential:
    """3 × [Linear 512 → BatchNorm1d → ReLU] on the flattened image."""
    layers: list[nn.Module] = [nn.Flatten(1)]
    width = channels * IMAGE_SIZE * IMAGE_SIZE
    for _ in range(3):
        layers += [nn.Linear(width, FEATURES), nn.BatchNorm1d(FEATURES), nn.ReLU()]
        width = FEATURES
    return nn.Sequential(*layers)


def build(name: str, channels: int, seed: int) -> nn.Module:
    """The encoder ``name`` for ``channels``-channel images, built right after ``torch.manual_seed(seed)``."""
    if name not in MODELS:
        raise ValueError(f"image model {name!r}: unknown; choose one of {', '.join(MODELS)}")
    torch.manual_seed(seed)
    if name == "pixels":
        return nn.Flatten(1)
    if name == "linear":
        return nn.Sequential(nn.Flatten(1), nn.Linear(channels * IMAGE_SIZE * IMAGE_SIZE, FEATURES))
    if name == "mlp":
        return mlp(channels)
    return ResNet18(channels)


def feature_dim(name: str, channels: int) -> int:
    return channels * IMAGE_SIZE * IMAGE_SIZE if architecture(name) == "pixels" else FEATURES


def layer_outputs(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named intermediate activations (in depth order) whose last entry is the features.

    pixels: ``pixels``; linear: ``features``; mlp: ``block1``, ``block2``, ``block3`` (= features,
    each after its ReLU); cnn: ``layer1`` … ``layer4`` (each stage average-pooled; layer4 = features).
    """
    if isinstance(net, ResNet18):
        out = net.stages(x)
        del out["features"]
        return out
    if isinstance(net, nn.Flatten):
        return {"pixels": net(x)}
    if isinstance(net, nn.Sequential) and any(isinstance(m, nn.BatchNorm1d) for m in net):
        out: dict[str, torch.Tensor] = {}
        h = x
        block = 0
        for m in net:
            h = m(h)
            if isinstance(m, nn.ReLU):
                block += 1
                out[f"block{block}"] = h
        return out
    return {"features": net(x)}


def probed(name: str, channels: int, seed: int) -> nn.Module:
    """The encoder of a probed model name, in eval mode, as it is *before* any training.

    For a trained name the caller loads the trained weights into it; for ``<name>_init`` this is the
    control: ``build(name, channels, seed)`` — the very weights training starts from — with the
    BatchNorms' initial, data-free statistics (eval mode, nothing has seen an image).
    """
    return build(architecture(name), channels, seed).eval()
