"""Errors shared by every experiment (the bottom layer: imported by the trainers, caught by the scripts)."""


class NonFiniteLoss(RuntimeError):
    """Training produced a NaN/inf loss or weights; no model is saved (every trainer raises this one)."""
