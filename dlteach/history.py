"""What a training run records, and when it should stop early.

:class:`History` keeps one value per epoch for the loss and every metric;
:class:`EarlyStopping` watches one of them and stops training (and restores the best
parameters) when it has stopped improving. :func:`dlteach.training.fit` fills both.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np

from dlteach.core import Layer
from dlteach.errors import DTypeError, InvalidValueError
from dlteach.validation import check_positive_int, compact_number


class History(dict):
    """Per-epoch values recorded by :func:`fit`, as lists keyed by name.

    ``history["loss"]``, ``history["accuracy"]`` (one value per epoch, averaged over the
    epoch's minibatches while the weights were changing, as Keras does), and with
    validation data ``history["val_loss"]``, ``history["val_accuracy"]`` (measured at the
    end of each epoch in evaluation mode). ``epochs`` lists the epoch numbers 1, 2, ...
    With early stopping: ``best_epoch`` (1-based) and ``stopped_epoch`` (None if training
    ran all its epochs).
    """

    def __init__(self, keys: Sequence[str] = ()) -> None:
        super().__init__({k: [] for k in keys})
        self.epochs: list[int] = []
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={compact_number(v[-1])}" for k, v in self.items() if v)
        best = f", best_epoch={self.best_epoch}" if self.best_epoch is not None else ""
        return f"History(epochs={len(self.epochs)}{', ' if last else ''}{last}{best})"


class EarlyStopping:
    """Stop training when a monitored value has stopped improving.

    monitor: a key of the history, such as "val_loss" (the default) or "val_accuracy".
    patience: how many epochs without improvement to wait before stopping.
    min_delta: an improvement must beat the best value by more than this.
    mode: "min" (a loss), "max" (an accuracy) or "auto" ("min" when the name has "loss").
    restore_best: at the end of training, put back the parameters of the best epoch.

    Pass it to ``fit(..., early_stopping=EarlyStopping())``; it can be reused.
    """

    def __init__(
        self,
        patience: int = 5,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        restore_best: bool = True,
        mode: str = "auto",
    ) -> None:
        owner = "EarlyStopping"
        self.patience = check_positive_int(patience, owner=owner, name="patience")
        if not isinstance(monitor, str):
            raise DTypeError(
                f"{owner}: expected monitor to be a str, got {type(monitor).__name__}."
            )
        self.monitor = monitor
        if isinstance(min_delta, bool) or not isinstance(min_delta, Real):
            raise DTypeError(
                f"{owner}: expected min_delta to be a number, got {type(min_delta).__name__}."
            )
        if not np.isfinite(min_delta) or min_delta < 0:
            raise InvalidValueError(f"{owner}: min_delta must be a number >= 0, got {min_delta}.")
        self.min_delta = float(min_delta)
        if mode not in ("auto", "min", "max"):
            raise InvalidValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}.")
        self.mode = ("min" if "loss" in monitor else "max") if mode == "auto" else mode
        self.restore_best = bool(restore_best)
        self._reset()

    def _reset(self) -> None:
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_params: dict[str, np.ndarray] | None = None

    def _update(self, epoch: int, value: float, model: Layer) -> bool:
        """Record this epoch's value; return True when training should stop."""
        if self.best_value is None:
            improved = np.isfinite(value)
        elif self.mode == "min":
            improved = value < self.best_value - self.min_delta
        else:
            improved = value > self.best_value + self.min_delta
        if improved:
            self.best_value, self.best_epoch = float(value), epoch
            if self.restore_best:
                self._best_params = {k: p.value.copy() for k, p in model.named_parameters().items()}
            return False
        waited = epoch - (self.best_epoch or 0)
        if waited >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def _restore(self, model: Layer) -> bool:
        if not self.restore_best or self._best_params is None:
            return False
        for name, p in model.named_parameters().items():
            np.copyto(p.value, self._best_params[name])  # in place: optimizers may hold p.value
        return True

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, "
                f"min_delta={self.min_delta:g}, restore_best={self.restore_best})")
