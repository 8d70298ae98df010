"""Checks for lesson 3, deep networks (``solutions/03_deep_networks.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases, edge
cases included (ties, a last batch that is smaller, the first Adam step, a zero
gradient), against the library's reference, and returns a
:class:`~dlteach.checking.Verdict`. Randomized answers are checked either with a
given Generator (``minibatches``: the order must be ``rng.permutation(N)``) or by
their statistics (``he_normal``: mean, standard deviation and shape of a large
sample).

Hints guide without handing over the solution: they say what the failing case shows and
which property is violated, and leave the equations to the lesson text. A case may carry
its own hint (:func:`check_with_case_hints`), so the hint fits the case that failed.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlteach.checking import (
    FAILED,
    PASSED,
    Case,
    Verdict,
    check_function,
    check_with_case_hints,
    graded,
    not_attempted,
)
from dlteach.data import minibatches as reference_minibatches
from dlteach.exercises import LESSON_EXERCISES
from dlteach.metrics import accuracy as reference_accuracy
from dlteach.optim import adam_step, momentum_step

LESSON = "03_deep_networks"
EXERCISES = LESSON_EXERCISES[LESSON]


@graded
def check_accuracy(fn: Callable) -> Verdict:
    """accuracy(y_true, y_pred) -> the fraction of rows of scores y_pred (N, K) whose largest
    score is at the true class."""
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(50, 10))
    labels = rng.integers(0, 10, size=50)
    cases = [
        (Case((np.array([0, 1, 2]),
               np.array([[2.0, 1.0, 0.1], [0.5, 3.0, 0.2], [0.1, 0.2, 4.0]])),
              label="every prediction right"),
         "Every row's largest score is at its label, so the accuracy is 1.0. Look along each "
         "row (one predicted class per example) and return the fraction of the N examples "
         "that are right: a number between 0 and 1, not a count."),
        (Case((np.array([1, 0]), np.array([[2.0, 1.0], [0.5, 3.0]])),
              label="every prediction wrong"), None),
        (Case((np.array([2, 0, 1, 1]),
               np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.5, 0.3]])),
              label="probabilities, 3 of 4 right"),
         "4 examples and 3 classes, 3 of them right: the accuracy is 0.75. Each row gives "
         "one prediction, the largest score along that row; divide the number right by the "
         "number of rows, in floating point (integer division or int() rounds it to 0)."),
        (Case((np.array([3]), np.array([[-1.0, -2.0, -0.5, 0.0]])),
              label="a single example with negative scores"), None),
        (Case((np.array([1, 0]), np.array([[1.0, 1.0], [2.0, 2.0]])),
              label="ties: argmax picks the first largest score"),
         "Both scores of each row are equal. A row predicts exactly one class, the first of "
         "its largest scores, so only one of the two examples is right. Comparing the "
         "label's score with the row's maximum counts both."),
        (Case((labels, scores), label="50 random examples, 10 classes",
              rebuild="rng = np.random.default_rng(3); y_pred = rng.normal(size=(50, 10)); "
                      "y_true = rng.integers(0, 10, size=50)"), None),
        (Case((np.array([1, 2, 0]), np.array([[998.0, 1000.0, 999.0], [-5.0, 700.0, 710.0],
                                              [1e300, -1e300, 0.0]])),
              label="raw logits up to 1e300: compare the scores, no softmax needed"),
         "These scores are huge logits. The predicted class is the one with the largest "
         "score, so compare the scores themselves: turning them into probabilities first "
         "(exp) overflows to inf, inf / inf is nan, and a row of nan no longer says which "
         "class is largest."),
    ]
    return check_with_case_hints(
        fn,
        reference_accuracy,
        cases,
        exercise="accuracy",
        hint=(
            "Each row predicts the class with its largest score; the accuracy is the fraction "
            "of rows whose prediction equals the label, between 0 and 1 (see section 2)."
        ),
    )


def _summary(batches: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(batch sizes, labels in the order visited, rows in that order) of a list of batches."""
    sizes = np.array([len(b[1]) for b in batches])
    return sizes, np.concatenate([b[1] for b in batches]), np.concatenate([b[0] for b in batches])


@dataclass(frozen=True)
class _Rng:
    """A seed that a failure message shows as the call a learner can paste to reproduce it.

    epochs: how many times the check calls the function with this one Generator, one
    epoch after the other (the summary then covers every epoch, in order).
    """

    seed: int
    epochs: int = 1

    def generator(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def __repr__(self) -> str:
        call = f"np.random.default_rng({self.seed})"
        return call if self.epochs == 1 else f"{call}, passed to {self.epochs} calls (epochs)"


def _batches_of(make: Callable) -> Callable:
    """Run a batch iterator on a seeded Generator and summarise the batches it yields."""

    def run(X: np.ndarray, y: np.ndarray, batch_size: int, rng: _Rng):
        gen = rng.generator()
        batches: list = []
        for _ in range(rng.epochs):
            out = make(X, y, batch_size, gen)
            if out is None:
                return None  # compare() explains a missing return
            try:
                epoch = list(out)
            except TypeError:
                raise TypeError(
                    f"minibatches must return (or yield) (X_batch, y_batch) pairs, "
                    f"got {type(out).__name__}"
                ) from None
            if not epoch:
                raise ValueError("minibatches yielded no batch at all")
            for b in epoch:
                if not isinstance(b, tuple | list) or len(b) != 2:
                    raise TypeError("each batch must be a pair (X_batch, y_batch)")
            batches += epoch
        return _summary(batches)

    return run


_BATCH_ORDER_HINT = (
    "Your order must come from the Generator rng you are given, drawn once per call "
    "with rng.permutation(N) as the exercise says: not from np.random, not from a "
    "Generator you create (a fixed seed gives every call the same order)."
)


@graded
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
    images = (np.arange(24.0).reshape(6, 1, 2, 2) + 0.25) / 2  # 6 tiny images, not whole
    cases = [
        (Case((X10, y10, 5, _Rng(0)), label="10 examples in batches of 5"), None),
        (Case((X10, y10, 5, _Rng(1)), label="the same data with another seed: another order"),
         "Only the seed changed from the case before, so the order must change with it. "
         + _BATCH_ORDER_HINT),
        (Case((X7, y7, 3, _Rng(1)), label="7 examples in batches of 3: the last batch holds 1"),
         "7 examples in batches of 3 make batches of 3, 3 and 1: the last batch holds what "
         "is left, it is neither dropped nor padded, and no batch is empty."),
        (Case((X7, y7, 10, _Rng(2)), label="batch_size larger than N: one batch"),
         "With batch_size larger than N there is a single batch, holding all N examples."),
        (Case((X7, y7, 1, _Rng(3)), label="batch_size 1"), None),
        (Case((X10, y10 % 3, 4, _Rng(4)), label="another seed, repeated labels"), None),
        (Case((images, np.arange(6), 4, _Rng(5)),
              label="images (N, 1, 2, 2) with values that are not whole numbers"),
         "X may have more than two axes (a batch of images) and values with fractions: a "
         "batch holds whole examples X[i] of any shape, with their values unchanged. Check "
         "how you select rows and what dtype any array you fill has."),
        (Case((X7, y7, 3, _Rng(6, epochs=2)),
              label="two epochs from one Generator: the second visits a new order"),
         "The check calls your function twice with the same Generator, as training does "
         "once per epoch. Each call must draw a new order from rng itself, so that it "
         "advances: a copy of rng, or a Generator made from a fixed seed, repeats the "
         "first order."),
    ]

    def reference(X: np.ndarray, y: np.ndarray, batch_size: int, rng: _Rng):
        gen = rng.generator()
        batches = []
        for _ in range(rng.epochs):
            batches += list(reference_minibatches(X, y, batch_size, shuffle=True, seed=gen))
        return _summary(batches)

    return check_with_case_hints(
        _batches_of(fn),
        reference,
        cases,
        exercise="minibatches",
        hint=(
            "The check compares (element [0]) the batch sizes, (element [1]) the labels in the "
            "order your batches visit them and (element [2]) the rows of X in that order. "
            "Every example appears exactly once per call, X and y stay paired, and the order "
            "is the one the exercise names. " + _BATCH_ORDER_HINT
        ),
    )


@graded
def check_momentum_step(fn: Callable) -> Verdict:
    """momentum_step(w, grad, velocity, lr, momentum) -> (w_new, v_new)."""
    rng = np.random.default_rng(4)
    W, G, V = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    cases = [
        (Case((np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.zeros(2), 0.1, 0.9),
              label="first step, zero velocity: a plain SGD step"),
         "With zero velocity the first step is plain gradient descent: the new velocity is "
         "lr times the gradient, downhill, and w moves by that new velocity. Check the sign, "
         "where lr goes, and the order of the returned pair (w_new, v_new)."),
        (Case((np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-0.05, -0.05]), 0.1,
               0.9), label="second step: the old velocity keeps going"),
         "The velocity carries momentum times the old velocity plus the new gradient step, "
         "and w moves by the NEW velocity (section 6): check which velocity you add to w."),
        (Case((np.array([0.3, 0.7, -1.0]), np.zeros(3), np.array([0.2, -0.1, 0.0]), 0.5, 0.5),
              label="zero gradient: the ball still rolls"),
         "With a zero gradient only the remembered velocity, scaled by momentum, moves w."),
        (Case((np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.array([3.0, 3.0]), 0.01, 0.0),
              label="momentum 0 forgets the velocity"),
         "momentum = 0 must give plain SGD whatever the old velocity: the old velocity is "
         "multiplied by momentum, and the gradient step is not."),
        (Case((W, G, V, 0.05, 0.95), label="a (3, 4) weight matrix"), None),
    ]
    return check_with_case_hints(
        fn,
        momentum_step,
        cases,
        exercise="momentum_step",
        hint=(
            "Update the velocity first, then move w by it, as in section 6; return "
            "(w_new, v_new) as new arrays, leaving w and velocity unchanged."
        ),
    )


_ADAM_EPS_HINT = (
    "The gradients here are about as small as eps, so where eps goes decides the step. "
    "Compare your last line with the lesson's update (section 6): eps is added to the "
    "square root of the bias-corrected v_hat, not inside the root, and not before the "
    "bias correction."
)


@graded
def check_adam_step(fn: Callable) -> Verdict:
    """adam_step(w, grad, m, v, t, lr, beta1, beta2, eps) -> (w_new, m_new, v_new)."""
    rng = np.random.default_rng(5)
    W, G = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    M, V = 0.1 * rng.normal(size=(2, 3)), 0.1 * rng.random(size=(2, 3))
    z2, z3 = np.zeros(2), np.zeros(3)
    cases = [
        (Case((np.array([1.0, -1.0]), np.array([0.2, -3.0]), z2, z2, 1, 0.01, 0.9, 0.999,
               1e-8), label="first step (t=1): every weight moves by about lr"),
         "At t=1 every weight should move by about lr, whatever the size of its gradient. "
         "m and v start at 0, so they are far too small after one step: the bias "
         "correction (1 - beta**t, each moment with its own beta) undoes that in the update "
         "of w. The returned m_new and v_new are the running means before that correction."),
        (Case((np.array([1.0, -1.0]), np.array([0.2, -3.0]), np.array([0.02, -0.3]),
               np.array([4e-5, 9e-3]), 2, 0.01, 0.9, 0.999, 1e-8),
              label="second step (t=2): bias correction still matters"),
         "Check the returned m_new and v_new: they are the running means before the bias "
         "correction, which the next step builds on; only the update of w uses the "
         "corrected m_hat and v_hat, with the power t of the current step."),
        (Case((np.array([0.5, 0.5]), z2, np.array([0.1, -0.1]), np.array([0.01, 0.01]), 10,
               0.001, 0.9, 0.999, 1e-8), label="zero gradient at t=10"), None),
        (Case((W, G, M, V, 100, 0.003, 0.8, 0.99, 1e-6),
              label="a (2, 3) matrix, t=100, other betas and eps"),
         "This case passes other values of beta1, beta2 and eps: use the arguments, not "
         "the usual defaults."),
        (Case((np.array([0.5, -0.5, 0.0]), np.array([1e-8, -3e-8, 2e-9]), z3, z3, 1, 0.01,
               0.9, 0.999, 1e-8),
              label="gradients as small as eps (1e-8): where eps goes matters"),
         _ADAM_EPS_HINT),
        (Case((np.array([1.0, -2.0]), np.array([2e-4, -5e-5]), np.array([1e-4, -1e-4]),
               np.array([2e-8, 1e-8]), 3, 0.001, 0.9, 0.999, 1e-4),
              label="eps = 1e-4 given by the caller, gradients of 1e-4"),
         "The caller passes eps = 1e-4 and the gradients are about that size, so the eps "
         "you add must be the eps argument, added to the square root of the bias-corrected "
         "v_hat (section 6)."),
    ]
    return check_with_case_hints(
        fn,
        adam_step,
        cases,
        exercise="adam_step",
        hint=(
            "Follow the lesson's update line by line (section 6): the two running means, "
            "their bias correction at step t, then the step of w. Return (w_new, m_new, "
            "v_new) with the uncorrected running means, which the next step builds on."
        ),
        rtol=1e-6,
        atol=1e-10,
    )


# ---------------------------------------------------------------- he_normal (statistics)

_HE_RNG_HINT = (
    "Draw every number from the Generator rng you are given (its normal or "
    "standard_normal method), not from np.random or from a Generator you create: the "
    "caller's seed must decide the weights."
)
_HE_SCALE_HINT = (
    "Compare your standard deviation with the one the problem line names. The lesson "
    "(section 7) gives the variance; a normal sampler wants the standard deviation, its "
    "square root. fan_in is D_in, the first entry of shape (not D_out, not their sum), and "
    "2 / fan_in must be a fraction, not an integer division."
)


def _wrapped(key: str, text: str) -> str:
    """``key: text`` wrapped at 88 characters, continuation lines aligned (as checking does)."""
    pad = " " * (len(key) + 2)
    return f"{key}: " + textwrap.fill(text, width=88 - len(pad), break_on_hyphens=False,
                                      subsequent_indent="").replace("\n", "\n" + pad)


def _he_failure(index: int, n: int, label: str, shape: tuple, problem: str,
                hint: str) -> Verdict:
    lines = [f"case {index + 1} of {n}: {label}", _wrapped("problem", problem),
             f"input: shape = {shape}", _wrapped("hint", hint)]
    return Verdict("he_normal", FAILED, "\n".join(lines))


def _he_problem(fn: Callable, shape: tuple, seeds: tuple[int, ...]) -> tuple[list, str, str]:
    """The weights fn draws with each seed, or ([], problem, hint) when it fails to draw.

    NotImplementedError propagates (the exercise is not attempted).
    """
    draws = []
    for seed in seeds:
        try:
            draws.append(fn(copy.copy(shape), np.random.default_rng(seed)))
        except NotImplementedError:
            raise
        except Exception as exc:  # the learner's bug, reported without a traceback
            return [], f"your function raised {type(exc).__name__}: {exc}", (
                "Read the error: shape is a tuple (D_in, D_out) and rng a NumPy Generator.")
    for W in draws:
        if W is None:
            return [], ("your function returned None: did you forget the return "
                        "statement?"), "End the function by returning the array of weights."
        if not isinstance(W, np.ndarray) or W.dtype.kind != "f":
            kind = f"dtype {W.dtype}" if isinstance(W, np.ndarray) else type(W).__name__
            return [], f"expected a NumPy array of floats, got {kind}", (
                "Weights are real numbers drawn from a normal distribution: return the "
                "NumPy array of floats the Generator gives you.")
        if W.shape != shape:
            return [], f"expected an array of shape {shape}, got shape {W.shape}", (
                "Draw exactly the shape you are given, (D_in, D_out) in that order.")
    return draws, "", ""


@graded
def check_he_normal(fn: Callable) -> Verdict:
    """he_normal(shape, rng) -> weights (D_in, D_out) ~ N(0, 2 / D_in), checked by statistics.

    A random answer cannot be compared value by value, so each case draws a large
    sample and checks its shape, its mean (0), its standard deviation (sqrt(2 / fan_in)),
    that it looks normal (68.3% of the weights within one standard deviation) and that
    the same seed gives the same weights. The statistics may miss by 5 standard errors
    of the sample, so a correct sampler fails about once in a million draws whatever
    random stream it uses, while the usual mistakes (fan_out or fan_in + fan_out instead
    of fan_in, the variance used as the standard deviation, a uniform distribution) are
    off by 10 standard errors or more in at least one case. A last case checks that two
    different seeds give different weights (a sampler with a seed of its own fails it).
    """
    if not callable(fn):
        return check_function(fn, len, [Case(((1, 1),))], exercise="he_normal")
    cases = [((256, 128), "a hidden layer 256 -> 128"),
             ((64, 512), "fan_in 64, fan_out 512: only fan_in counts"),
             ((1000, 20), "fan_in 1000, fan_out 20"),
             ((300, 300), "a square layer")]
    seeds_label = "two different seeds (1 and 2) must give different weights"
    n = len(cases) + 1
    try:
        for i, (shape, label) in enumerate(cases):
            draws, problem, hint = _he_problem(fn, shape, (100 + i, 100 + i))
            if problem:
                return _he_failure(i, n, label, shape, problem, hint)
            W = draws[0]
            if not np.array_equal(W, draws[1]):
                return _he_failure(i, n, label, shape,
                                   "two calls with the same seed gave different weights",
                                   _HE_RNG_HINT)
            want = np.sqrt(2.0 / shape[0])
            mean, std = float(W.mean()), float(W.std())
            if abs(mean) > 5 * max(std, want) / np.sqrt(W.size):  # 5 standard errors
                return _he_failure(
                    i, n, label, shape, f"the mean of your weights is {mean:.4f}, expected "
                    f"about 0", "He weights are centred on 0: draw from a distribution with "
                    "mean 0 and add or subtract nothing afterwards.")
            # The sample standard deviation has a relative standard error of 1/sqrt(2 n).
            if abs(std / want - 1) > 5 / np.sqrt(2 * W.size):
                return _he_failure(
                    i, n, label, shape,
                    f"the standard deviation of your weights is {std:.4f}, expected about "
                    f"{want:.4f} = sqrt(2 / fan_in) with fan_in = {shape[0]}", _HE_SCALE_HINT)
            within = float(np.mean(np.abs(W) <= want))
            if abs(within - 0.6827) > 5 * np.sqrt(0.6827 * 0.3173 / W.size):
                return _he_failure(
                    i, n, label, shape,
                    f"{within:.1%} of your weights lie within one standard deviation of 0; "
                    f"a normal distribution has 68.3% there (a uniform one 57.7%)",
                    "The spread is right but the shape of the distribution is not: He "
                    "initialization draws from a normal (Gaussian) distribution, not a "
                    "uniform one.")
        shape = (64, 32)
        draws, problem, hint = _he_problem(fn, shape, (1, 2))
    except NotImplementedError:
        return not_attempted("he_normal")
    if problem:
        return _he_failure(n - 1, n, seeds_label, shape, problem, hint)
    if np.array_equal(draws[0], draws[1]):
        return _he_failure(n - 1, n, seeds_label, shape,
                           "np.random.default_rng(1) and np.random.default_rng(2) gave the "
                           "same weights", _HE_RNG_HINT)
    return Verdict("he_normal", PASSED, f"{n} cases")
