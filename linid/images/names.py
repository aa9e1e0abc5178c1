"""The image experiment's model names: the encoders, which are trained, their untrained controls, and
what an epoch of each costs (torch-free: the workflow reads them when it parses the Snakefile;
``linid.images.models`` builds the encoders these names stand for)."""

from __future__ import annotations

import math

MODELS = ("pixels", "linear", "mlp", "cnn")
TRAINED = ("linear", "mlp", "cnn")
#: suffix of a trained model type's control: the same encoder, untrained (its seed's initial weights)
INIT = "_init"
UNTRAINED = tuple(m + INIT for m in TRAINED)
#: an epoch's relative cost on CPU (2 cores: ResNet-18 about 170 images/s, the MLP about 8,000),
#: to start the heaviest trainings first (``image_train``'s priority)
EPOCH_COST = {"linear": 1, "mlp": 1, "cnn": 40}


def untrained(name: str) -> str:
    """The control of trained model type ``name``: ``mlp`` → ``mlp_init``."""
    if name not in TRAINED:
        raise ValueError(f"image model {name!r} is not trained, so it has no untrained control")
    return name + INIT


def architecture(name: str) -> str:
    """The encoder a probed model name stands for: ``mlp_init`` → ``mlp``; ``pixels`` → ``pixels``."""
    base = name.removesuffix(INIT) if name in UNTRAINED else name
    if base not in MODELS:
        raise ValueError(f"image model {name!r}: unknown; choose one of {', '.join(MODELS + UNTRAINED)}")
    return base


def encoder(name: str) -> str:
    """``input`` (the pixels), ``trained`` or ``untrained`` (a control at initialisation)."""
    base = architecture(name)
    return "input" if base == "pixels" else ("untrained" if name != base else "trained")

#: the encoders' input size: every layout's images are 64 × 64 (csi's get_model)
IMAGE_SIZE = 64
#: the dSprites grid (color, shape, scale, orientation, posX, posY), row-major, posY fastest
DSPRITES_LATENT_SIZES: tuple[int, ...] = (1, 3, 6, 40, 32, 32)
#: images of the full dSprites grid: 737,280
DSPRITES_IMAGES: int = math.prod(DSPRITES_LATENT_SIZES)
