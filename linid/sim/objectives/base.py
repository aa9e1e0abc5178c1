"""What every objective provides to the trainer, and the cross-entropy objectives' common form.

The packed trainer (:mod:`linid.sim.packed`) calls, for a pack of k models:

- ``draw(process, n, generator)`` → (x, y): x of shape (n, m, d) — m = ``samples`` observations
  per item (the registration's: 1 for cross-entropy, 2 for a positive pair) — and y the items'
  integer targets (n,);
- ``outputs(head, h)`` on the encoder's (k, n·m, d) features, inside the step's precision context;
- ``loss(outputs, y)`` → the k models' mean losses, shape (k,) (model i's depends on its own
  parameters only, so the sum's gradient is each model's own);
- ``represent(h)``: the features the probes and the monitor read (the encoder's output, or its
  projection to the sphere where the objective's theory puts it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from linid.sim.objectives import Spec
from linid.sim.process import GenerativeProcess


@dataclass(frozen=True)
class Objective:
    """One registered objective with its settings; subclasses implement the four calls above."""

    spec: Spec
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def samples(self) -> int:
        """Observations per item of a batch (the registration's): a step encodes samples · batch inputs."""
        return self.spec.samples

    def draw(self, process: GenerativeProcess, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def outputs(self, head: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def represent(self, h: torch.Tensor) -> torch.Tensor:
        """The features probes read: the encoder's output itself unless the objective says otherwise."""
        return h

    def head_targets(self, process: GenerativeProcess) -> np.ndarray | None:
        """What each row of W should encode (None without a head)."""
        if self.spec.head == "class":
            return process.cluster_vectors.cpu().numpy()
        if self.spec.head == "instance":
            return process.instance_targets().cpu().numpy()
        return None

    def singular_value_scale(self, kappa: float) -> float:
        """The κ of MAE_o's singular-value target 1/(κβ) (docs/science.md §3): the cell's κ for
        cross-entropy; objectives whose map is orthogonal return 1."""
        return kappa


@dataclass(frozen=True)
class CrossEntropy(Objective):
    """Softmax cross-entropy of the head's logits β·W f(x) against one label per draw.

    ``labels``: the :class:`linid.sim.process.Batch` field that is the target (``label_class`` or
    ``label_instance``: the true class or instance, resampled with probability ``label_noise``)."""

    labels: str = "label_class"

    def draw(self, process, n, generator):
        b = process.sample(n, generator)
        return b.x.unsqueeze(1), getattr(b, self.labels)

    def outputs(self, head, h):
        return head(h)

    def loss(self, outputs, y):
        k, n = y.shape
        per_item = F.cross_entropy(outputs.float().flatten(0, 1), y.flatten(), reduction="none")
        return per_item.view(k, n).mean(1)
