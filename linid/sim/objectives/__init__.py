"""The training objectives of the [R] simulation, registered by name (docs/extending.md "An objective").

An objective decides what a model is trained to do on the process: the head (W's rows and what
they should encode), how a batch and its targets are drawn, the loss, and which features the probes
read. Its behaviour lives in one module (``linid.sim.objectives.<name>``, imported on use: it needs
torch); its registration is one :class:`Spec` in ``REGISTRY`` below, torch-free, because the workflow
reads it when it parses the Snakefile: the schema's method list, the ``method`` wildcard, the
pair comparison's diversity condition and the probes' choices all come from here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

#: what W's rows are in each head kind: the rows' count and what each row should encode
HEAD_KINDS = {
    "class": "|C| rows, one per class (row c → cluster vector v_c)",
    "instance": "N rows, one per instance (row i → v_{i mod |C|})",
}


@dataclass(frozen=True)
class Spec:
    """The registration of one objective: what the workflow needs before any torch import.

    ``head``: a key of ``HEAD_KINDS`` (a linear head W is trained with the encoder and the W → v
    probes apply) or None (no head: the loss compares features directly). ``samples``: the
    observations one item of a batch holds (a positive pair: 2): a step encodes samples × batch
    inputs (the trainer's draws and the jobs' runtime estimate). ``settings``: the
    objective's own settings (``simulation.objectives.<name>`` in the config), each a JSON-schema
    fragment with its ``default`` (and its type, range, choices, description): the config schema
    is filled from them, so a bad value is refused when the config is read.
    """

    name: str
    module: str
    description: str
    head: str | None
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: int = 1

    def __post_init__(self) -> None:
        if self.head is not None and self.head not in HEAD_KINDS:
            raise ValueError(f"{self.name}: head must be one of {list(HEAD_KINDS)} or None, got {self.head!r}")
        for key, fragment in self.settings.items():
            if "default" not in fragment or "type" not in fragment:
                raise ValueError(f"{self.name}: setting {key!r} needs a type and a default")

    @property
    def defaults(self) -> dict[str, Any]:
        """Every setting's default value."""
        return {key: fragment["default"] for key, fragment in self.settings.items()}

    def n_outputs(self, n_classes: int, n_instances: int) -> int:
        """Rows of W: |C| (class head), N (instance head), 0 (no head)."""
        return {"class": n_classes, "instance": n_instances, None: 0}[self.head]

    def diverse(self, latent_dim: int, n_classes: int) -> bool:
        """Whether the theorem's diversity condition can hold for a cell: a class head needs
        |C| ≥ d + 1 class vectors; an instance head has N ≥ |C| ≥ d + 1 whenever the cell is
        valid, and the contrastive objectives' conditions hold on the sphere for every cell."""
        return n_classes >= latent_dim + 1 if self.head == "class" else True


REGISTRY: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        Spec(
            "supervised",
            "linid.sim.objectives.supervised",
            "softmax cross-entropy on the class: a |C|-way head",
            head="class",
        ),
        Spec(
            "diet",
            "linid.sim.objectives.diet",
            "softmax cross-entropy on the instance index (DIET): an N-way head",
            head="instance",
        ),
        Spec(
            "infonce",
            "linid.sim.objectives.infonce",
            "InfoNCE on positive pairs (z, z̃ ~ vMF(z, κ₊)), negatives from the batch, no head",
            head=None,
            samples=2,
            settings={
                "tau": {"type": "number", "exclusiveMinimum": 0, "default": 1.0,
                        "description": "temperature τ (cl-ica --tau, default 1.0)"},
                "kappa": {"type": "number", "exclusiveMinimum": 0, "default": 1.0,
                          "description": "concentration κ₊ of the positive pair's vMF(z, κ₊) (cl-ica --c-param with --c-p 0)"},
                "similarity": {"type": "string", "enum": ["dot", "l2"], "default": "dot",
                               "description": "dot: f(x)ᵀf(x̃) on the unit sphere (cl-ica's sphere model, --p 0); "
                                              "l2: −‖f(x) − f(x̃)‖² (LpSimCLRLoss p = 2, cl-ica's default)"},
                "normalize": {"type": "boolean", "default": True,
                              "description": "project the features to the unit sphere (loss and probes)"},
            },
        ),
    )
}

#: every registered objective's name, in registration order
METHODS: tuple[str, ...] = tuple(REGISTRY)


def spec(name: str) -> Spec:
    """The registration of ``name``; a ValueError naming the registered ones for anything else
    (an unknown method never falls back to another objective)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown training objective {name!r}; registered: {', '.join(METHODS)}") from None


def objective(name: str, settings: dict | None = None):
    """The objective ``name`` with ``settings`` over its defaults (an ``Objective`` of its module)."""
    s = spec(name)
    unknown = sorted(set(settings or {}) - set(s.settings))
    if unknown:
        raise ValueError(f"objective {name!r} has no setting {unknown}; its settings: {sorted(s.settings)}")
    return importlib.import_module(s.module).build(s, {**s.defaults, **(settings or {})})
