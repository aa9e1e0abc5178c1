"""The host side of training: device choice and stop signals turned into a flag."""

import os
import signal

import pytest
import torch

from linid.runtime import pick_device, stop_on_signals


def test_gpu_required_but_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="asked for a GPU"):
        pick_device(require_gpu=True, allow_cpu=False)
    assert pick_device(require_gpu=True, allow_cpu=True).type == "cpu"


def test_cuda_is_picked_when_visible(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device().type == "cuda"


def test_signal_becomes_a_flag_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGUSR1)
    with stop_on_signals() as flag:
        assert flag["stop"] is None
        os.kill(os.getpid(), signal.SIGUSR1)
        assert flag["stop"] == "SIGUSR1"
    assert signal.getsignal(signal.SIGUSR1) == before


def test_progress_line_tells_how_far_a_job_is():
    from linid.runtime import progress_line

    line = progress_line("train d5", 250, 100_250, 0, 10.0, 4.56789, 0.9876)
    assert line == ("train d5: step 250/100250 (0 %), loss 4.5679, monitor R² 0.9876, 25.0 steps/s, "
                    "ETA 1:06:40")
    assert "monitor" not in progress_line("x", 10, 10, 5, 1.0, 1.0)  # resumed at 5: 5 steps/s
    assert "5.0 steps/s, ETA 0:00:00" in progress_line("x", 10, 10, 5, 1.0, 1.0)
