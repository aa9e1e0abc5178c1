"""Features of a [K] cell: f, the last hidden layer and g of every seed, trained and untrained."""

from __future__ import annotations

import numpy as np
import torch

from linid.family.models import FamilyModel, build_from_meta


@torch.no_grad()
def cell_features(
    data: dict[str, torch.Tensor], models: dict[int, FamilyModel], meta: dict
) -> dict[str, np.ndarray]:
    """Per seed s: f_s, hidden_s (trained), f_untrained_s, hidden_untrained_s on held-out x; g_s."""
    x = data["eval_x"].float()
    out: dict[str, np.ndarray] = {"eval_x": x.numpy(), "eval_y": data["eval_y"].numpy()}
    for seed, model in sorted(models.items()):
        untrained = build_from_meta(meta, seed).eval()
        out[f"f_untrained_s{seed}"] = untrained.f(x).numpy()
        out[f"hidden_untrained_s{seed}"] = untrained.hidden(x).numpy()
        model.eval()
        out[f"f_s{seed}"] = model.f(x).numpy()
        out[f"hidden_s{seed}"] = model.hidden(x).numpy()
        out[f"g_s{seed}"] = model.g_all().numpy()
    out["seeds"] = np.asarray(sorted(models), dtype=np.int64)
    return out
