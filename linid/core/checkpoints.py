"""Resume files of every trainer: written atomically, read back only under the same configs and code.

The generic half of resuming (docs/layout.md "One training loop"): a trainer names the modules whose
code decides what a step does (``modules``, e.g. ``linid.sim.training.TRAINING_CODE``); their import
closure, configs and data make the checkpoint's fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path

import torch

from linid.core.fingerprints import module_closure
from linid.core.io import atomic_path

log = logging.getLogger(__name__)



@functools.cache
def code_fingerprint(modules: tuple[str, ...]) -> str:
    """Hash of the syntax trees of ``modules`` and of every ``linid`` module they import, transitively."""
    digest = hashlib.sha256()
    for name, tree_hash in sorted(module_closure(modules).items()):
        digest.update(f"{name}={tree_hash};".encode())
    return digest.hexdigest()[:16]


def fingerprint(train: dict, data: dict, modules: tuple[str, ...]) -> str:
    """Hash of the training and dataset configs and of the training code (``modules``): a checkpoint
    is resumed only under the same ones (after an edit of the model code a stale checkpoint could
    crash a rerun, or resume silently when the shapes still match)."""
    blob = json.dumps({"train": train, "data": data, "code": code_fingerprint(modules)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def rng_states(gen: torch.Generator) -> dict:
    """The data generator's state and torch's global CPU (and CUDA) states."""
    states = {"data": gen.get_state(), "torch": torch.random.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_global_rng(states: dict) -> None:
    """Set torch's global CPU (and CUDA, when present) generators back to ``rng_states``' values."""
    torch.random.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, payload: dict) -> None:
    """torch.save atomically (write then rename)."""
    with atomic_path(path, ".ckpt") as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, expected_fingerprint: str) -> dict | None:
    """The checkpoint at ``path`` if it is readable and made under the same config; else None + warning."""
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or truncated file
        log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
        return None
    if not isinstance(ckpt, dict) or ckpt.get("fingerprint") != expected_fingerprint:
        log.warning(
            "ignoring checkpoint %s: it was written for a different config or training code "
            "(fingerprint %s, expected %s); training starts from step 0",
            path,
            ckpt.get("fingerprint") if isinstance(ckpt, dict) else None,
            expected_fingerprint,
        )
        return None
    return ckpt
