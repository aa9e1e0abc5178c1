"""Feature extraction: encoder outputs f(x) on the held-out draws and the head's rows (docs/science.md §3),
and the untrained controls: the same seed's encoder at initialisation (docs/science.md "Controls")."""

from __future__ import annotations

import numpy as np
import torch

from linid.sim.models import Encoder, Head, build_models
from linid.sim.process import GenerativeProcess
from linid.sim.training import TrainConfig, calibrated_copy


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


@torch.no_grad()
def untrained_features(
    cfg: TrainConfig, meta: dict, process: GenerativeProcess, x: np.ndarray, device: torch.device
) -> dict[str, np.ndarray]:
    """f_init(x) of the encoder the model started from (same seed, same architecture, nothing trained).

    ``features_init``: eval mode on the initial BatchNorm statistics (mean 0, variance 1), so no
    data enters; ``features_init_bn``: the precise-BN statistics linid gives a trained model,
    from the same draws (``calibrated_copy`` seeded with the step budget, as training ends).
    ``meta`` is the model file's metadata (architecture); ``cfg`` the model's TrainConfig.
    """
    encoder, _ = build_models(
        meta["latent_dim"],
        meta["n_outputs"],
        cfg.seed,
        width_multipliers=tuple(meta["width_multipliers"]),
        temperature=cfg.temperature,
        learn_temperature=cfg.learn_temperature,
    )
    encoder.to(device)
    raw = encode(encoder, x)
    calibrated = calibrated_copy(encoder, process.to(device), cfg, seed=cfg.steps)
    return {"features_init": raw, "features_init_bn": encode(calibrated, x)}
