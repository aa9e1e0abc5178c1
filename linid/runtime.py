"""What a training job needs from its host: the device to run on, and stop signals as a flag."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import torch


class Interrupted(RuntimeError):
    """A stop signal arrived; a checkpoint was written and the job should exit non-zero."""


def pick_device(require_gpu: bool = False, allow_cpu: bool = True) -> torch.device:
    """CUDA when visible; else CPU, unless a GPU was required and CPU is not allowed (clear error)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if require_gpu and not allow_cpu:
        raise RuntimeError(
            "this job asked for a GPU but torch sees none "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); set "
            "train.allow_cpu: true in the config to run on CPU anyway"
        )
    return torch.device("cpu")


@contextmanager
def stop_on_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGUSR1)) -> Iterator[dict]:
    """Turn the given signals into a flag the training loop polls (restoring handlers afterwards)."""
    flag = {"stop": None}

    def handler(signum, frame):
        flag["stop"] = signal.Signals(signum).name

    old = {}
    for s in signals:
        try:
            old[s] = signal.signal(s, handler)
        except ValueError:  # not in the main thread
            pass
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)
