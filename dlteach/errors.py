"""Exceptions raised by dlteach.

Every error subclasses both :class:`DLTeachError` and the built-in exception a
Python programmer would expect (``ValueError`` for a wrong shape or value,
``TypeError`` for a wrong type), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class DLTeachError(Exception):
    """Base class of every error dlteach raises on purpose."""


class ShapeError(DLTeachError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class DTypeError(DLTeachError, TypeError):
    """An array has the wrong dtype (for example integers where floats are needed)."""


class UnsupportedLayerError(DLTeachError, TypeError):
    """A layer (or module) that a conversion has no counterpart for."""


class InvalidValueError(DLTeachError, ValueError):
    """A value is out of range: a negative learning rate, a label >= n_classes, empty data."""


class NonFiniteError(InvalidValueError):
    """An array holds NaN or infinite values where only finite numbers make sense."""


class ParameterMismatchError(DLTeachError, ValueError):
    """Saved parameters do not fit the model they are loaded into."""


class TrainingDivergedError(DLTeachError, FloatingPointError):
    """The loss became NaN or infinite during training."""
