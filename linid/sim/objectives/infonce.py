"""InfoNCE on positive pairs of the [R] process (Zimmermann et al. 2021, brendel-group/cl-ica).

A positive pair is (x, x̃) = (g(z), g(z̃)) with z a draw of the process and z̃ ~ vMF(z, κ₊) on the
sphere (cl-ica's sphere setting, ``--space-type sphere --c-p 0 --c-param κ₊``); both go through the
same official mixing g. The negatives of anchor i are the batch's anchors f(x_k), k = 1 … B — the
anchor itself included, as cl-ica's ``torch.roll`` of the batch makes them (main_mlp.py:266, 272) —
and the loss of anchor i is cl-ica's ``simclr_compatibility_mode`` form with α = ½
(losses.py:458-469):

    ℓ_i = −s(i, ĩ)/τ + log( e^{s(i, ĩ)/τ} + Σ_k e^{s(i, k)/τ} )

with s the similarity: ``dot`` — f(x)ᵀf(x̃) of features normalised to the unit sphere (cl-ica's
sphere model, ``--p 0``: ``SimCLRLoss`` with the ``fixed_sphere`` output layer, main_mlp.py:142-147,
293-294) — or ``l2`` — −‖f(x) − f(x̃)‖² (``LpSimCLRLoss(p=2, simclr_compatibility_mode=True)``,
cl-ica's argparse default, used there for its box space). docs/science.md §2c cites each line.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from linid.sim.objectives import Spec
from linid.sim.objectives.base import Objective
from linid.sim.process import mix
from linid.sim.samplers import sample_vmf

SIMILARITIES = ("dot", "l2")


@dataclass(frozen=True)
class InfoNCE(Objective):
    """cl-ica's contrastive loss on the [R] process; a pair per item (registered ``samples=2``)."""

    def draw(self, process, n, generator):
        b = process.sample(n, generator)
        z_tilde = sample_vmf(b.z, float(self.settings["kappa"]), generator)
        x_tilde = mix(z_tilde, process.mixing_weights, process.cfg.mixing_slope)
        return torch.stack([b.x, x_tilde], dim=1), b.instance

    def outputs(self, head, h):
        return h

    def represent(self, h):
        return F.normalize(h, dim=-1) if self.settings["normalize"] else h

    def loss(self, outputs, y):
        k, n = y.shape
        pairs = self.represent(outputs.float()).view(k, n, 2, -1)
        anchor, positive = pairs[:, :, 0], pairs[:, :, 1]
        tau = float(self.settings["tau"])
        if self.settings["similarity"] == "dot":
            pos = (anchor * positive).sum(-1)
            neg = torch.bmm(anchor, anchor.transpose(1, 2))
        else:  # −‖a − b‖², the Gram form (no (B, B, d) difference tensor)
            sq = (anchor * anchor).sum(-1)
            pos = -((anchor - positive) ** 2).sum(-1)
            neg = -(sq[:, :, None] + sq[:, None, :] - 2 * torch.bmm(anchor, anchor.transpose(1, 2))).clamp_min(0)
        logits = torch.cat([neg, pos[..., None]], dim=2) / tau
        return (torch.logsumexp(logits, dim=2) - pos / tau).mean(1)

    def singular_value_scale(self, kappa: float) -> float:
        """On the sphere the theorem's map is orthogonal: singular values 1 (κβ = 1)."""
        return 1.0


def build(spec: Spec, settings: dict) -> InfoNCE:
    """The objective with ``settings`` (the config's were checked against the registration's
    schema at the door; these checks guard direct library use)."""
    if settings["similarity"] not in SIMILARITIES:
        raise ValueError(f"infonce: similarity must be one of {SIMILARITIES}, got {settings['similarity']!r}")
    for name in ("tau", "kappa"):
        if not float(settings[name]) > 0:
            raise ValueError(f"infonce: {name} must be > 0, got {settings[name]!r}")
    return InfoNCE(spec, settings)
