"""Feature extraction: encoder outputs f(x) on the held-out draws and the head's rows (docs/science.md §3)."""

from __future__ import annotations

import numpy as np
import torch

from linid.sim.models import Encoder, Head
from linid.sim.process import GenerativeProcess


@torch.no_grad()
def encode(encoder: Encoder, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """f(x) in eval mode (BatchNorm running statistics), batched."""
    encoder.eval()
    device = next(encoder.parameters()).device
    out = [
        encoder(torch.from_numpy(x[i : i + batch_size]).float().to(device)).cpu()
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy()


def head_targets(process: GenerativeProcess, method: str) -> np.ndarray:
    """What each row of W should encode: v_c (supervised) or v_{i mod |C|} (DIET)."""
    if method == "supervised":
        return process.cluster_vectors.numpy()
    return process.instance_targets().numpy()


def extract(encoder: Encoder, head: Head, process: GenerativeProcess, method: str, eval_arrays: dict) -> dict:
    """Arrays written by the features stage: features, latents, labels, W's rows and their targets."""
    return {
        "features": encode(encoder, eval_arrays["eval_x"]),
        "latents": eval_arrays["eval_z"],
        "klass": eval_arrays["eval_class"],
        "instance": eval_arrays["eval_instance"],
        "w_rows": head.weight.detach().cpu().numpy(),
        "w_targets": head_targets(process, method),
        "temperature": np.asarray(float(head.temperature.detach())),
    }
