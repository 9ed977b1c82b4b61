"""Callbacks for training loops: early stopping and the reasons a loop stops."""

from .early_stopping import EarlyStopping, StopReason

__all__ = ["EarlyStopping", "StopReason"]
