"""Supervised cross-entropy, the [R] paper's main objective: a |C|-way head on the (noisy) class.

csi ``simulation/main_sup.py`` (docs/science.md §2): logits β·W f(x), one row of W per class.
"""

from __future__ import annotations

from linid.sim.objectives import Spec
from linid.sim.objectives.base import CrossEntropy


def build(spec: Spec, settings: dict) -> CrossEntropy:
    return CrossEntropy(spec, settings, labels="label_class")
