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
