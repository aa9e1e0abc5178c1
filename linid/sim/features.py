"""Feature extraction: what the probes read of a model on the held-out draws — its objective's
representation of f(x) — and the head's rows where the objective has a head (docs/science.md §3),
and the untrained controls: the same seed's encoder at initialisation (docs/science.md "Controls")."""

from __future__ import annotations

import numpy as np
import torch

from linid.sim.models import Encoder, Head, build_models
from linid.sim.objectives import objective
from linid.sim.process import GenerativeProcess
from linid.sim.training import TrainConfig, calibrated_copy


@torch.no_grad()
def encode(encoder: Encoder, x: np.ndarray, batch_size: int = 8192, represent=None) -> np.ndarray:
    """f(x) in eval mode (BatchNorm running statistics), batched; ``represent`` (an objective's)
    maps the encoder's output to the features the probes read (default: itself)."""
    encoder.eval()
    device = next(encoder.parameters()).device
    represent = represent or (lambda h: h)
    out = [
        represent(encoder(torch.from_numpy(x[i : i + batch_size]).float().to(device))).cpu()
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).numpy()


def extract(encoder: Encoder, head: Head, process: GenerativeProcess, cfg: TrainConfig, eval_arrays: dict) -> dict:
    """Arrays written by the features stage: features, latents, labels, the singular-value scale
    κ of MAE_o, and — where the objective has a head — W's rows and what they should encode."""
    obj = objective(cfg.method, cfg.settings)
    out = {
        "features": encode(encoder, eval_arrays["eval_x"], represent=obj.represent),
        "latents": eval_arrays["eval_z"],
        "klass": eval_arrays["eval_class"],
        "instance": eval_arrays["eval_instance"],
        "temperature": np.asarray(float(head.temperature.detach())),
        "sv_kappa": np.asarray(obj.singular_value_scale(process.cfg.kappa)),
    }
    targets = obj.head_targets(process)
    if targets is not None:
        out.update(w_rows=head.weight.detach().cpu().numpy(), w_targets=targets)
    return out


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
    represent = objective(cfg.method, cfg.settings).represent
    raw = encode(encoder, x, represent=represent)
    calibrated = calibrated_copy(encoder, process.to(device), cfg, seed=cfg.steps)
    return {"features_init": raw, "features_init_bn": encode(calibrated, x, represent=represent)}
