"""Lesson 1: the perceptron, Rosenblatt's artificial neuron (1958).

A neuron weighs its inputs, adds a bias and fires when the sum reaches zero::

    z = w · x + b          (weighted_sum)
    ŷ = step(z)            (1 if z >= 0 else 0)

Rosenblatt's learning rule nudges the weights after every mistake::

    w ← w + lr (y - ŷ) x,    b ← b + lr (y - ŷ)

On linearly separable data the rule stops making mistakes after finitely many
updates (the perceptron convergence theorem); on XOR it never does.
"""

from __future__ import annotations

import numpy as np

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.validation import (
    as_rng,
    check_array,
    check_labels,
    check_positive,
    check_positive_int,
    check_same_length,
)

__all__ = [
    "Perceptron",
    "count_mistakes",
    "perceptron_update",
    "step",
    "weighted_sum",
]


def _check_weights(w: object, b: object, *, owner: str) -> tuple[np.ndarray, float]:
    w_arr = check_array(w, owner=owner, name="w", ndim=1, kind="number").astype(np.float64)
    b_arr = check_array(b, owner=owner, name="b", kind="number")
    if b_arr.ndim != 0:
        raise ShapeError(
            f"{owner}: expected the bias b to be a single number, got an array of shape "
            f"{tuple(b_arr.shape)}."
        )
    return w_arr, float(b_arr)


def _check_inputs(x: object, d: int, *, owner: str, name: str = "x") -> np.ndarray:
    x_arr = check_array(x, owner=owner, name=name, kind="number")
    if x_arr.ndim not in (1, 2) or x_arr.shape[-1] != d:
        raise ShapeError(
            f"{owner}: expected {name} of shape ({d},) or (N, {d}) to match w of shape "
            f"({d},), got {tuple(x_arr.shape)}."
        )
    return x_arr


def weighted_sum(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray | float:
    """The neuron's pre-activation z = w · x + b.

    x: (N, D) -> z: (N,), or one example x: (D,) -> z: a float.
    w: (D,) weights;  b: the bias (a number).
    """
    w, b = _check_weights(w, b, owner="weighted_sum")
    x = _check_inputs(x, w.shape[0], owner="weighted_sum")
    z = x @ w + b  # one matrix-vector product for the whole batch
    return float(z) if np.ndim(z) == 0 else z


def step(z: np.ndarray | float) -> np.ndarray | int:
    """The Heaviside step activation: 1 where z >= 0, else 0.

    z: any shape -> same shape, integer 0/1 (a plain int for a scalar z).
    By convention step(0) = 1: a point exactly on the boundary is classified positive.
    """
    z_arr = check_array(z, owner="step", name="z", kind="number", allow_empty=True)
    out = (z_arr >= 0).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def perceptron_update(
    w: np.ndarray, b: float, x_i: np.ndarray, y_i: int, lr: float
) -> tuple[np.ndarray, float]:
    """One step of Rosenblatt's rule on one example; returns (new_w, new_b).

    w: (D,), b: float, x_i: (D,) one example, y_i: its label 0 or 1, lr > 0.
    ŷ = step(w · x_i + b);  new_w = w + lr (y_i - ŷ) x_i;  new_b = b + lr (y_i - ŷ).
    A correct prediction (y_i == ŷ) changes nothing. The inputs are never modified.
    """
    owner = "perceptron_update"
    w, b = _check_weights(w, b, owner=owner)
    x_i = check_array(x_i, owner=owner, name="x_i", shape=(w.shape[0],), kind="number")
    if isinstance(y_i, np.ndarray):
        if y_i.ndim != 0:
            raise ShapeError(
                f"{owner}: the label y_i must be a single number 0 or 1, got an array of "
                f"shape {y_i.shape}. Pass y[i], not y[i:i + 1]."
            )
        y_i = y_i.item()
    if isinstance(y_i, bool | np.bool_) or y_i not in (0, 1):
        raise InvalidValueError(f"{owner}: the label y_i must be 0 or 1, got {y_i!r}.")
    lr = check_positive(lr, owner=owner, name="lr")
    new_w, new_b, _ = _update(w, b, x_i.astype(np.float64), int(y_i), lr)
    return new_w, new_b


def _update(
    w: np.ndarray, b: float, x_i: np.ndarray, y_i: int, lr: float
) -> tuple[np.ndarray, float, int]:
    """Rosenblatt's rule without input checks; also returns the error y_i - ŷ.

    The training loop calls it N times per epoch, so it skips the validation.
    """
    y_hat = 1 if float(x_i @ w) + b >= 0 else 0
    error = y_i - y_hat  # -1, 0 or +1
    return w + lr * error * x_i, b + lr * error, error  # new arrays: w is never modified


def count_mistakes(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray) -> int:
    """How many examples the perceptron (w, b) misclassifies.

    w: (D,), b: float, X: (N, D), y: (N,) labels 0/1 -> an int in 0..N.
    """
    owner = "count_mistakes"
    w, b = _check_weights(w, b, owner=owner)
    X = check_array(X, owner=owner, name="X", shape=("N", w.shape[0]), kind="number")
    y = check_labels(y, 2, owner=owner, name="y")
    check_same_length(X, y, owner=owner, names=("X", "y"))
    return int(np.count_nonzero((X @ w + b >= 0).astype(np.int64) != y))


class Perceptron:
    """Rosenblatt's perceptron: a linear classifier trained by the online rule.

    lr: the learning rate (> 0);  max_epochs: at most this many passes over the data;
    seed: int or numpy Generator, for the order in which examples are visited;
    shuffle: visit the examples in a new random order each epoch.

    After ``fit(X, y)`` (X: (N, D), y: (N,) labels 0/1):
      w_: (D,) weights and b_: the bias, starting from zero;
      converged_: True when an epoch made no mistake (training stops there);
      n_epochs_: how many epochs ran;  mistakes_per_epoch_: one count per epoch;
      history_: (w, b) after each epoch, to watch the decision boundary move.
    """

    def __init__(
        self,
        lr: float = 1.0,
        max_epochs: int = 100,
        seed: int | np.random.Generator | None = 0,
        shuffle: bool = True,
    ) -> None:
        self.lr = check_positive(lr, owner="Perceptron", name="lr")
        self.max_epochs = check_positive_int(max_epochs, owner="Perceptron", name="max_epochs")
        self.seed = seed
        self.shuffle = bool(shuffle)
        as_rng(seed, owner="Perceptron")  # validate the seed now rather than at fit time
        self.w_: np.ndarray | None = None
        self.b_: float = 0.0
        self.converged_: bool = False
        self.n_epochs_: int = 0
        self.mistakes_per_epoch_: list[int] = []
        self.history_: list[tuple[np.ndarray, float]] = []

    def fit(self, X: np.ndarray, y: np.ndarray) -> Perceptron:
        """Train with Rosenblatt's rule until an epoch makes no mistake or max_epochs run.

        X: (N, D) numbers;  y: (N,) integer labels 0/1. Returns self.
        """
        X = check_array(X, owner=repr(self), name="X", shape=("N", "D"), kind="number")
        y = check_labels(y, 2, owner=repr(self), name="y")
        check_same_length(X, y, owner=repr(self), names=("X", "y"))
        X = X.astype(np.float64)
        rng = as_rng(self.seed, owner=repr(self))
        w, b = np.zeros(X.shape[1]), 0.0
        self.mistakes_per_epoch_, self.history_ = [], []
        self.converged_ = False
        order = np.arange(len(X))
        for _ in range(self.max_epochs):
            if self.shuffle:
                order = rng.permutation(len(X))
            mistakes = 0
            # Rosenblatt's rule is online: each update changes the next prediction,
            # so this loop over examples is inherent to the algorithm.
            for i in order:
                w, b, error = _update(w, b, X[i], int(y[i]), self.lr)
                mistakes += error != 0
            self.mistakes_per_epoch_.append(mistakes)
            self.history_.append((w.copy(), float(b)))
            if mistakes == 0:
                self.converged_ = True
                break
        self.w_, self.b_ = w, float(b)
        self.n_epochs_ = len(self.mistakes_per_epoch_)
        return self

    def _check_fitted(self) -> np.ndarray:
        if self.w_ is None:
            raise InvalidValueError(f"{self!r}: not fitted yet. Call fit(X, y) first.")
        return self.w_

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The pre-activation z = X @ w + b for every example. X: (N, D) -> z: (N,)."""
        w = self._check_fitted()
        X = check_array(X, owner=repr(self), name="X", shape=("N", w.shape[0]), kind="number")
        return X @ w + self.b_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels step(X @ w + b). X: (N, D) -> (N,) integers 0/1."""
        return (self.decision_function(X) >= 0).astype(np.int64)

    def report(self) -> str:
        """One sentence on how training went."""
        self._check_fitted()
        last = self.mistakes_per_epoch_[-1]
        epochs = f"{self.n_epochs_} epoch{'s' if self.n_epochs_ != 1 else ''}"
        if self.converged_:
            return f"converged after {epochs} (0 mistakes in the last epoch)"
        return (
            f"did not converge in {epochs}: {last} mistake{'s' if last != 1 else ''} in the "
            f"last epoch — the data may not be linearly separable"
        )

    def __repr__(self) -> str:
        seed = self.seed if not isinstance(self.seed, np.random.Generator) else "Generator"
        return (
            f"Perceptron(lr={self.lr}, max_epochs={self.max_epochs}, seed={seed}, "
            f"shuffle={self.shuffle})"
        )
