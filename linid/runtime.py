"""What a training job needs from its host: the device, the arithmetic, and stop signals as a flag."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from linid.names import PRECISIONS

log = logging.getLogger(__name__)


class Interrupted(RuntimeError):
    """A stop signal arrived; a checkpoint was written and the job should exit non-zero."""


def exit_with(main, smk) -> None:
    """Run a training script's ``main(smk)`` and exit with its code; 143 (as SIGTERM) when it was
    interrupted after writing its checkpoint, so SLURM and Snakemake see a killed job."""
    try:
        code = main(smk)
    except Interrupted:
        raise SystemExit(143) from None
    raise SystemExit(code)


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
def stop_on_signals(
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT),
) -> Iterator[dict]:
    """Turn the given signals into a flag the training loop polls (restoring handlers afterwards).

    SIGTERM (SLURM time limit, preemption), SIGUSR1 (SLURM --signal) and SIGINT (Ctrl-C: the
    terminal sends it to every job of the workflow) all end in a checkpoint, so no progress is lost."""
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


@contextmanager
def precision(mode: str, device: torch.device) -> Iterator[None]:
    """The arithmetic of a training step's forward pass: ``fp32`` (nothing changes), ``tf32`` (CUDA
    matmuls in TF32; no effect on CPU, which has no TF32) or ``bf16`` (``torch.autocast`` to
    bfloat16 on the step's device; weights, optimiser and loss stay fp32). Never a silent default:
    the mode is a training setting (``simulation.train.precision``) and part of every model's params."""
    if mode not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {mode!r}")
    if mode == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False):
            yield
        return
    if mode == "tf32" and device.type == "cuda":
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old
        return
    yield


def progress_line(label: str, done: int, total: int, start: int, seconds: float, loss: float,
                  r2: float | None = None, unit: str = "step") -> str:
    """``label: step done/total (p %), loss, monitor R², steps/s, ETA`` for ``tail -f`` of a job log."""
    rate = (done - start) / max(seconds, 1e-9)
    eta = (total - done) / max(rate, 1e-9)
    hours, rest = divmod(int(eta), 3600)
    r2_part = f", monitor R² {r2:.4f}" if r2 is not None else ""
    return (f"{label}: {unit} {done}/{total} ({100 * done / total:.0f} %), loss {loss:.4f}{r2_part}, "
            f"{rate:.{3 if unit == 'epoch' else 1}f} {unit}s/s, ETA {hours}:{rest // 60:02d}:{rest % 60:02d}")
