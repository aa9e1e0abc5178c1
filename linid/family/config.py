"""The [K] angle task's settings as a plain dataclass (torch-free: the workflow reads its fields when it
parses the Snakefile). ``linid.family.data`` samples the task; this module only says what it is."""

from __future__ import annotations

import math
from dataclasses import dataclass

ANGLE_RANGES = {"2pi": 2.0 * math.pi, "pi": math.pi}


@dataclass(frozen=True)
class AngleData:
    """x ~ N(0, σ² I_D); y = ⌊angle(x_1, x_2) / (range / K)⌋ with range 2π or π (folded)."""

    sigma: float = 3.0
    n_classes: int = 18
    angle_range: str = "2pi"  # or "pi": the angle is folded to [0, π), so x and −x share a label
    input_dim: int = 2

    def __post_init__(self) -> None:
        if self.angle_range not in ANGLE_RANGES:
            raise ValueError(
                f"angle_range must be one of {sorted(ANGLE_RANGES)}, got {self.angle_range!r}"
            )
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be ≥ 2, got {self.n_classes}")
        if self.input_dim < 2:
            raise ValueError(
                f"input_dim must be ≥ 2 (the angle uses x_1, x_2), got {self.input_dim}"
            )
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma}")
