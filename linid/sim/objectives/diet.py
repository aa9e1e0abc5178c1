"""DIET, cross-entropy on the instance index (csi ``simulation/main_diet.py``, docs/science.md §2):
an N-way head, one row per instance, row i encoding v_{i mod |C|}.
"""

from __future__ import annotations

from linid.sim.objectives import Spec
from linid.sim.objectives.base import CrossEntropy


def build(spec: Spec, settings: dict) -> CrossEntropy:
    return CrossEntropy(spec, settings, labels="label_instance")
