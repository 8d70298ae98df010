"""Checks for lesson 3, deep networks (``solutions/03_deep_networks.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases, edge
cases included (ties, a last batch that is smaller, the first Adam step, a zero
gradient), against the library's reference, and returns a
:class:`~dlteach.checking.Verdict`. Randomized answers are checked either with a
given Generator (``minibatches``: the order must be ``rng.permutation(N)``) or by
their statistics (``he_normal``: mean, standard deviation and shape of a large
sample).
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlteach.checking import FAILED, PASSED, Case, Verdict, check_function, not_attempted
from dlteach.data import minibatches as reference_minibatches
from dlteach.exercises import LESSON_EXERCISES
from dlteach.metrics import accuracy as reference_accuracy
from dlteach.optim import adam_step, momentum_step

LESSON = "03_deep_networks"
EXERCISES = LESSON_EXERCISES[LESSON]


def check_accuracy(fn: Callable) -> Verdict:
    """accuracy(y_true, y_pred) -> the fraction of rows of scores y_pred (N, K) whose largest
    score is at the true class."""
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(50, 10))
    labels = rng.integers(0, 10, size=50)
    cases = [
        Case((np.array([0, 1, 2]), np.array([[2.0, 1.0, 0.1], [0.5, 3.0, 0.2], [0.1, 0.2, 4.0]])),
             label="every prediction right"),
        Case((np.array([1, 0]), np.array([[2.0, 1.0], [0.5, 3.0]])),
             label="every prediction wrong"),
        Case((np.array([2, 0, 1, 1]),
              np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.5, 0.3]])),
             label="probabilities, 3 of 4 right"),
        Case((np.array([3]), np.array([[-1.0, -2.0, -0.5, 0.0]])),
             label="a single example with negative scores"),
        Case((np.array([1, 0]), np.array([[1.0, 1.0], [2.0, 2.0]])),
             label="ties: argmax picks the first largest score"),
        Case((labels, scores), label="50 random examples, 10 classes"),
    ]
    return check_function(
        fn,
        reference_accuracy,
        cases,
        exercise="accuracy",
        hint=(
            "The predicted class of each row is the index of its largest score: "
            "np.argmax(scores, axis=1) (axis=1: along each row). Compare with y_true and "
            "take the mean of the matches, a number between 0 and 1 (not a count)."
        ),
    )


def _summary(batches: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(batch sizes, labels in the order visited, rows in that order) of a list of batches."""
    sizes = np.array([len(b[1]) for b in batches])
    return sizes, np.concatenate([b[1] for b in batches]), np.concatenate([b[0] for b in batches])


@dataclass(frozen=True)
class _Rng:
    """A seed that a failure message shows as the call a learner can paste to reproduce it."""

    seed: int

    def generator(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def __repr__(self) -> str:
        return f"np.random.default_rng({self.seed})"


def _batches_of(make: Callable) -> Callable:
    """Run a batch iterator on a seeded Generator and summarise the batches it yields."""

    def run(X: np.ndarray, y: np.ndarray, batch_size: int, rng: _Rng):
        out = make(X, y, batch_size, rng.generator())
        if out is None:
            return None  # compare() explains a missing return
        try:
            batches = list(out)
        except TypeError:
            raise TypeError(
                f"minibatches must return (or yield) (X_batch, y_batch) pairs, "
                f"got {type(out).__name__}"
            ) from None
        if not batches:
            raise ValueError("minibatches yielded no batch at all")
        for b in batches:
            if not isinstance(b, tuple | list) or len(b) != 2:
                raise TypeError("each batch must be a pair (X_batch, y_batch)")
        return _summary(batches)

    return run


def check_minibatches(fn: Callable) -> Verdict:
    """minibatches(X, y, batch_size, rng) -> (X_batch, y_batch) pairs in the order
    rng.permutation(N), the last batch holding the rest.

    The batches are compared through a summary: (the batch sizes, the labels in the
    order the batches visit them, the rows of X in that order).
    """
    if not callable(fn):
        return check_function(fn, len, [Case(([],))], exercise="minibatches")
    X10, y10 = np.arange(20.0).reshape(10, 2), np.arange(10)
    X7, y7 = np.arange(14.0).reshape(7, 2), np.arange(7)
    cases = [
        Case((X10, y10, 5, _Rng(0)), label="10 examples in batches of 5"),
        Case((X7, y7, 3, _Rng(1)), label="7 examples in batches of 3: the last batch holds 1"),
        Case((X7, y7, 10, _Rng(2)), label="batch_size larger than N: one batch"),
        Case((X7, y7, 1, _Rng(3)), label="batch_size 1"),
        Case((X10, y10 % 3, 4, _Rng(4)), label="another seed, repeated labels"),
    ]

    def reference(X: np.ndarray, y: np.ndarray, batch_size: int, rng: _Rng):
        return _summary(list(reference_minibatches(X, y, batch_size, shuffle=True,
                                                   seed=rng.generator())))

    return check_function(
        _batches_of(fn),
        reference,
        cases,
        exercise="minibatches",
        hint=(
            "The check compares (element [0]) the batch sizes, (element [1]) the labels in "
            "the order your batches visit them and (element [2]) the rows of X in that order. "
            "Draw the order once with order = rng.permutation(len(X)) (the check passes a "
            "seeded Generator rng and expects that order), then for start in "
            "range(0, N, batch_size): idx = order[start:start + batch_size] and "
            "yield X[idx], y[idx]. The last slice is simply shorter."
        ),
    )


def check_momentum_step(fn: Callable) -> Verdict:
    """momentum_step(w, grad, velocity, lr, momentum) -> (w_new, v_new)."""
    rng = np.random.default_rng(4)
    W, G, V = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    cases = [
        Case((np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.zeros(2), 0.1, 0.9),
             label="first step, zero velocity: a plain SGD step"),
        Case((np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-0.05, -0.05]), 0.1, 0.9),
             label="second step: the old velocity keeps going"),
        Case((np.array([0.3, 0.7, -1.0]), np.zeros(3), np.array([0.2, -0.1, 0.0]), 0.5, 0.5),
             label="zero gradient: the ball still rolls"),
        Case((np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.array([3.0, 3.0]), 0.01, 0.0),
             label="momentum 0 forgets the velocity"),
        Case((W, G, V, 0.05, 0.95), label="a (3, 4) weight matrix"),
    ]
    return check_function(
        fn,
        momentum_step,
        cases,
        exercise="momentum_step",
        hint=(
            "First the new velocity, v_new = momentum * velocity - lr * grad, then the step "
            "w_new = w + v_new; return (w_new, v_new). Build new arrays (w + ...), do not "
            "change w or velocity in place (w += ... would)."
        ),
    )


def check_adam_step(fn: Callable) -> Verdict:
    """adam_step(w, grad, m, v, t, lr, beta1, beta2, eps) -> (w_new, m_new, v_new)."""
    rng = np.random.default_rng(5)
    W, G = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    M, V = 0.1 * rng.normal(size=(2, 3)), 0.1 * rng.random(size=(2, 3))
    z2 = np.zeros(2)
    cases = [
        Case((np.array([1.0, -1.0]), np.array([0.2, -3.0]), z2, z2, 1, 0.01, 0.9, 0.999, 1e-8),
             label="first step (t=1): every weight moves by about lr"),
        Case((np.array([1.0, -1.0]), np.array([0.2, -3.0]), np.array([0.02, -0.3]),
              np.array([4e-5, 9e-3]), 2, 0.01, 0.9, 0.999, 1e-8),
             label="second step (t=2): bias correction still matters"),
        Case((np.array([0.5, 0.5]), z2, np.array([0.1, -0.1]), np.array([0.01, 0.01]), 10,
              0.001, 0.9, 0.999, 1e-8), label="zero gradient at t=10"),
        Case((W, G, M, V, 100, 0.003, 0.8, 0.99, 1e-6),
             label="a (2, 3) matrix, t=100, other betas and eps"),
    ]
    return check_function(
        fn,
        adam_step,
        cases,
        exercise="adam_step",
        hint=(
            "m_new = beta1 * m + (1 - beta1) * grad;  v_new = beta2 * v + (1 - beta2) * grad**2; "
            "m_hat = m_new / (1 - beta1**t);  v_hat = v_new / (1 - beta2**t); "
            "w_new = w - lr * m_hat / (np.sqrt(v_hat) + eps). Return (w_new, m_new, v_new): "
            "the uncorrected m_new and v_new, which the next step builds on."
        ),
        rtol=1e-6,
        atol=1e-10,
    )


# ---------------------------------------------------------------- he_normal (statistics)

_HE_HINT = (
    "He initialization draws every weight from a normal distribution with mean 0 and "
    "standard deviation sqrt(2 / fan_in), where fan_in = shape[0] for a Dense weight "
    "(D_in, D_out): rng.standard_normal(shape) * np.sqrt(2 / shape[0]). Use the rng you "
    "are given, so the same seed gives the same weights."
)


def _wrapped(key: str, text: str) -> str:
    """``key: text`` wrapped at 88 characters, continuation lines aligned (as checking does)."""
    pad = " " * (len(key) + 2)
    return f"{key}: " + textwrap.fill(text, width=88 - len(pad), break_on_hyphens=False,
                                      subsequent_indent="").replace("\n", "\n" + pad)


def _he_failure(index: int, n: int, label: str, shape: tuple, problem: str) -> Verdict:
    lines = [f"case {index + 1} of {n}: {label}", _wrapped("problem", problem),
             f"input: shape = {shape}", _wrapped("hint", _HE_HINT)]
    return Verdict("he_normal", FAILED, "\n".join(lines))


def check_he_normal(fn: Callable) -> Verdict:
    """he_normal(shape, rng) -> weights (D_in, D_out) ~ N(0, 2 / D_in), checked by statistics.

    A random answer cannot be compared value by value, so each case draws a large
    sample and checks its shape, its mean (0), its standard deviation (sqrt(2 / fan_in)),
    that it looks normal (68.3% of the weights within one standard deviation) and that
    the same seed gives the same weights. The statistics may miss by 5 standard errors
    of the sample, so a correct sampler fails about once in a million draws whatever
    random stream it uses, while the usual mistakes (fan_out or fan_in + fan_out instead
    of fan_in, the variance used as the standard deviation, a uniform distribution) are
    off by 10 standard errors or more in at least one case.
    """
    if not callable(fn):
        return check_function(fn, len, [Case(((1, 1),))], exercise="he_normal")
    cases = [((256, 128), "a hidden layer 256 -> 128"),
             ((64, 512), "fan_in 64, fan_out 512: only fan_in counts"),
             ((1000, 20), "fan_in 1000, fan_out 20"),
             ((300, 300), "a square layer")]
    n = len(cases)
    for i, (shape, label) in enumerate(cases):
        draws = []
        for _ in range(2):
            try:
                draws.append(fn(copy.copy(shape), np.random.default_rng(100 + i)))
            except NotImplementedError:
                return not_attempted("he_normal")
            except Exception as exc:  # the learner's bug, reported without a traceback
                return _he_failure(i, n, label, shape,
                                   f"your function raised {type(exc).__name__}: {exc}")
        W = draws[0]
        if W is None:
            return _he_failure(i, n, label, shape, "your function returned None: did you "
                                                   "forget the return statement?")
        if not isinstance(W, np.ndarray) or W.dtype.kind != "f":
            kind = f"dtype {W.dtype}" if isinstance(W, np.ndarray) else type(W).__name__
            return _he_failure(i, n, label, shape,
                               f"expected a NumPy array of floats, got {kind}")
        if W.shape != shape:
            return _he_failure(i, n, label, shape,
                               f"expected an array of shape {shape}, got shape {W.shape}")
        if not np.array_equal(W, np.asarray(draws[1])):
            return _he_failure(i, n, label, shape,
                               "two calls with the same seed gave different weights: draw "
                               "from the rng argument, not from np.random")
        want = np.sqrt(2.0 / shape[0])
        mean, std = float(W.mean()), float(W.std())
        if abs(mean) > 5 * max(std, want) / np.sqrt(W.size):  # 5 standard errors
            return _he_failure(i, n, label, shape,
                               f"the mean of your weights is {mean:.4f}, expected about 0")
        # The sample standard deviation has a relative standard error of 1/sqrt(2 n).
        if abs(std / want - 1) > 5 / np.sqrt(2 * W.size):
            return _he_failure(
                i, n, label, shape,
                f"the standard deviation of your weights is {std:.4f}, expected about "
                f"{want:.4f} = sqrt(2 / fan_in) with fan_in = {shape[0]}")
        within = float(np.mean(np.abs(W) <= want))
        if abs(within - 0.6827) > 5 * np.sqrt(0.6827 * 0.3173 / W.size):
            return _he_failure(
                i, n, label, shape,
                f"{within:.1%} of your weights lie within one standard deviation of 0; a "
                f"normal distribution has 68.3% there (a uniform one 57.7%)")
    return Verdict("he_normal", PASSED, f"{n} cases")
