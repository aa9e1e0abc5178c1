"""The one training loop of every experiment (docs/layout.md "One training loop").

What every trainer shares lives here once: the step counter from ``start`` (0, or where a checkpoint
left off) to ``steps``; the losses kept on the device and read back only at log points; the
non-finite check naming the model and the step; the log points (every ``log_every`` steps and the
last); periodic checkpoints and one on SIGTERM/SIGUSR1/SIGINT followed by :class:`Interrupted`;
early stopping. What differs — the model, how a batch is drawn, the loss, what a log point
measures, what a checkpoint holds — is the experiment's: it passes a ``step`` function and hooks.

A "step" is the loop's unit: one optimiser step for the simulation, the family and the text
models, one epoch for the image models (``unit="epoch"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from linid.core.errors import NonFiniteLoss
from linid.runtime import Interrupted, stop_on_signals


@dataclass
class Loop:
    """The schedule of one training job and the losses not yet read back.

    ``name`` names the job in an interruption ("pack of 3", "image model cnn seed 0");
    ``labels`` name the k models trained together (a pack; one model: one label) in errors;
    ``context`` is added to a non-finite error (e.g. the method and learning rate).
    ``checkpoint_every``: 0 writes checkpoints on a signal only. ``window`` holds the step losses
    since the last log point (device tensors of shape (k,) or ()): a checkpoint keeps them so a
    resumed curve averages the same losses.
    """

    steps: int
    name: str = "training"
    log_every: int = 1
    checkpoint_every: int = 0
    labels: Sequence[str] = ("model",)
    context: str = ""
    unit: str = "step"
    window: list[torch.Tensor] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.log_every < 1 or self.checkpoint_every < 0:
            raise ValueError(
                f"need steps ≥ 1, log_every ≥ 1, checkpoint_every ≥ 0; got {self.steps}, "
                f"{self.log_every}, {self.checkpoint_every}"
            )

    def read_window(self, done: int) -> torch.Tensor:
        """The window's losses on the host as a (steps, k) tensor, emptied; NonFiniteLoss names the
        first model and step whose loss is NaN or infinite."""
        losses = torch.stack(self.window).reshape(len(self.window), -1).cpu()
        self.window.clear()
        bad = ~torch.isfinite(losses)
        if bad.any():
            row, i = (int(v) for v in bad.nonzero()[0])
            detail = f" ({self.context})" if self.context else ""
            raise NonFiniteLoss(
                f"{self.labels[i]}: non-finite training loss at {self.unit} {done - len(losses) + row + 1}"
                f"{detail}; no output was written"
            )
        return losses


def run(
    loop: Loop,
    step: Callable[[int], torch.Tensor],
    *,
    start: int = 0,
    on_log: Callable[[int, torch.Tensor, bool], None] | None = None,
    save: Callable[[int], None] | None = None,
    finished: Callable[[], bool] | None = None,
) -> int:
    """Run ``step(i)`` for i = start … loop.steps − 1; return the number of steps done.

    ``step(i)`` does the i-th update (0-based) and returns its loss (shape (k,) or (), kept on the
    device: it is read back at log points only). ``on_log(done, losses, last)`` gets the losses
    since the previous log point, (steps, k) on the host, after the non-finite check. ``save(done)``
    writes a checkpoint: every ``checkpoint_every`` steps (not at the last) and when a signal
    arrives, after which :class:`Interrupted` is raised. ``finished()`` (asked after each log point)
    ends training early; with ``log_every = 1`` that is after every step.
    """
    done = start
    with stop_on_signals() as flag:
        for i in range(start, loop.steps):
            loop.window.append(step(i))
            done = i + 1
            last = done == loop.steps
            if done % loop.log_every == 0 or last:
                losses = loop.read_window(done)
                if on_log is not None:
                    on_log(done, losses, last)
                last = last or (finished is not None and finished())
            stop = flag["stop"] is not None and not last
            every = loop.checkpoint_every
            if save is not None and (stop or (every and done % every == 0 and not last)):
                save(done)
            if stop:
                what = "checkpoint saved" if save is not None else "no checkpoint (none configured)"
                raise Interrupted(f"{loop.name}: received {flag['stop']} at {loop.unit} {done}; {what}")
            if last:
                break
    return done
