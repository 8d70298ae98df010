"""Checks for lesson 1, the perceptron (``solutions/01_perceptron.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases,
including the edge cases that catch the usual mistakes (z exactly 0, a single
example, a correct prediction that must leave w alone), against the library's
reference in :mod:`dlteach.perceptron`, and returns a :class:`~dlteach.checking.Verdict`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.checking import (
    PASSED,
    Case,
    Verdict,
    check_function,
    failed_verdict,
    format_value,
    not_attempted,
)
from dlteach.exercises import LESSON_EXERCISES
from dlteach.perceptron import count_mistakes, perceptron_update, step, weighted_sum

LESSON = "01_perceptron"
EXERCISES = LESSON_EXERCISES[LESSON]

# The four inputs of a two-input logic gate, in truth-table order.
_GATE_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def check_weighted_sum(fn: Callable) -> Verdict:
    """weighted_sum(x, w, b) -> z = x @ w + b, for one example (D,) or a batch (N, D)."""
    rng = np.random.default_rng(1)
    cases = [
        Case((np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.25), label="one example"),
        Case((np.array([3.0, -1.0, 2.0]), np.array([1.0, 2.0, 0.5]), 0.0), label="zero bias"),
        Case((_GATE_X, np.array([1.0, 1.0]), -1.5), label="a batch of 4 examples"),
        Case((np.array([[2.0, -1.0, 0.5]]), np.array([0.5, 1.5, -2.0]), 1.0),
             label="a batch of a single example"),
        Case((np.array([[1.0], [-2.0], [0.5]]), np.array([3.0]), -1.0), label="one feature"),
        Case((rng.normal(size=(6, 3)), rng.normal(size=3), 0.7), label="random batch"),
    ]
    return check_function(
        fn,
        weighted_sum,
        cases,
        exercise="weighted_sum",
        hint=(
            "z = w · x + b. With NumPy, x @ w + b computes it for one example x of shape (D,) "
            "and for a batch of shape (N, D) alike, without a loop."
        ),
    )


def check_step(fn: Callable) -> Verdict:
    """step(z) -> 1 where z >= 0, else 0, for a number or an array of any shape."""
    cases = [
        Case((2.5,), label="a positive number"),
        Case((-0.3,), label="a negative number"),
        Case((0.0,), label="z exactly 0"),
        Case((np.array([-2.0, -0.001, 0.0, 0.001, 3.0]),), label="an array"),
        Case((np.array([[1.0, -1.0], [0.0, -5.0]]),), label="a 2-D array"),
    ]
    return check_function(
        fn,
        step,
        cases,
        exercise="step",
        hint=(
            "step(z) is 1 where z >= 0 and 0 elsewhere; z exactly 0 gives 1 (use >=, not >). "
            "For arrays compare all elements at once: a comparison such as z >= 0 gives "
            "True/False, so turn it into 1/0 with (np.asarray(z) >= 0).astype(int), or with "
            "np.where(np.asarray(z) >= 0, 1, 0)."
        ),
        booleans=False,
    )


def check_perceptron_update(fn: Callable) -> Verdict:
    """perceptron_update(w, b, x_i, y_i, lr) -> (new_w, new_b) by Rosenblatt's rule."""
    cases = [
        Case((np.array([1.0, 1.0]), -1.5, np.array([1.0, 1.0]), 1, 1.0),
             label="a correct prediction must not change w or b"),
        Case((np.array([0.5, -0.5]), -1.0, np.array([1.0, 0.0]), 1, 1.0),
             label="missed positive (y=1, ŷ=0): add x"),
        Case((np.array([1.0, 2.0]), 0.5, np.array([0.0, 1.0]), 0, 1.0),
             label="false alarm (y=0, ŷ=1): subtract x"),
        Case((np.array([0.0, 0.0]), 0.0, np.array([0.0, 1.0]), 0, 1.0),
             label="z exactly 0 predicts 1"),
        Case((np.array([0.2, -0.4, 0.1]), 0.3, np.array([1.0, 2.0, -1.0]), 1, 0.1),
             label="learning rate 0.1"),
        Case((np.array([0.2, -0.4, 0.1]), 0.3, np.array([-1.0, 0.5, 2.0]), 0, 0.5),
             label="false alarm (z = 0.1, so ŷ=1 but y=0) with learning rate 0.5"),
        Case((np.array([-1.0, 0.0]), 0.0, np.array([1.0, 0.0]), 0, 1.0),
             label="a correct negative prediction (y=0, ŷ=0) must not change w or b"),
    ]
    return check_function(
        fn,
        perceptron_update,
        cases,
        exercise="perceptron_update",
        hint=(
            "Predict ŷ = step(w · x_i + b), then return (w + lr * (y_i - ŷ) * x_i, "
            "b + lr * (y_i - ŷ)). Build new values: w + ... rather than w += ..., "
            "which would change the caller's array."
        ),
    )


def check_count_mistakes(fn: Callable) -> Verdict:
    """count_mistakes(w, b, X, y) -> the number of examples the perceptron gets wrong."""
    rng = np.random.default_rng(2)
    X_rand = rng.normal(size=(20, 2))
    y_rand = (X_rand[:, 0] - X_rand[:, 1] > 0.3).astype(int)
    cases = [
        Case((np.array([1.0, 1.0]), -1.5, _GATE_X, np.array([0, 0, 0, 1])),
             label="AND gate, no mistakes"),
        Case((np.array([-1.0, -1.0]), 1.5, _GATE_X, np.array([0, 0, 0, 1])),
             label="every prediction wrong"),
        Case((np.array([1.0, 1.0]), -1.0, _GATE_X, np.array([0, 0, 0, 1])),
             label="points exactly on the boundary predict 1"),
        Case((np.array([2.0, -1.0]), 0.5, np.array([[1.0, 3.0]]), np.array([1])),
             label="a single example"),
        Case((np.array([1.0, -1.0]), 0.0, X_rand, y_rand), label="20 random points"),
    ]
    return check_function(
        fn,
        count_mistakes,
        cases,
        exercise="count_mistakes",
        hint=(
            "Predict all examples at once with step(X @ w + b) (1 where z >= 0), compare "
            "with y and count the differences, e.g. int(np.sum(y_hat != y))."
        ),
    )


def _nand_truth(X: np.ndarray) -> np.ndarray:
    """The NAND gate: 0 only when both inputs are 1."""
    return 1 - (X[:, 0] * X[:, 1]).astype(np.int64)


_NAND_HINT = (
    "The perceptron outputs 1 when z = w · x + b >= 0 and 0 when z < 0. Write z for each "
    "input: b for (0, 0), w2 + b for (0, 1), w1 + b for (1, 0), w1 + w2 + b for (1, 1). Then "
    "pick w1, w2, b that make the last one negative and the other three zero or more."
)


def check_nand_weights(fn: Callable) -> Verdict:
    """nand_weights() -> (w, b): a perceptron that computes NAND on the four inputs.

    w must have shape (2,) and b must be a single number; the verdict then shows the
    learner's (w, b), the four pre-activations z = w · x + b and the outputs step(z).
    """
    if not callable(fn):
        return check_function(fn, lambda: None, [Case(())], exercise="nand_weights")
    try:
        answer = fn()
    except NotImplementedError:
        return not_attempted("nand_weights")
    except Exception as exc:  # the learner's bug, reported without a traceback
        raised = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return failed_verdict("nand_weights", ("problem", f"your function raised {raised}"),
                        ("hint", _NAND_HINT))
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return failed_verdict(
            "nand_weights",
            ("problem", "nand_weights() must return a pair (w, b): weights w of shape (2,) "
                        "and a bias b, a single number"),
            ("got", format_value(answer)),
            ("hint", "end the function with return np.array([w1, w2]), b"),
        )
    w, b = answer
    try:
        w_arr, b_arr = np.asarray(w), np.asarray(b)
    except ValueError:  # a ragged list
        w_arr, b_arr = np.asarray(None), np.asarray(None)
    if w_arr.dtype.kind not in "biuf" or w_arr.shape != (2,):
        what = f"shape {w_arr.shape}" if w_arr.dtype.kind in "biuf" else format_value(w)
        return failed_verdict(
            "nand_weights",
            ("problem", f"w must be an array of 2 numbers (shape (2,)), got {what}"),
            ("", f"your (w, b) = {format_value(answer)}"),
            ("hint", "one weight per input: w = np.array([w1, w2])"),
        )
    if b_arr.dtype.kind not in "biuf" or b_arr.ndim != 0:
        what = f"an array of shape {b_arr.shape}" if b_arr.dtype.kind in "biuf" else (
            format_value(b))
        return failed_verdict(
            "nand_weights",
            ("problem", f"b must be a single number, got {what}"),
            ("", f"your (w, b) = {format_value(answer)}"),
            ("hint", "the bias is one number shared by all inputs: return it as a plain "
                     "number (a float), not as an array such as np.array([b])"),
        )
    z = _GATE_X @ w_arr.astype(np.float64) + float(b_arr)
    got, expected = step(z), _nand_truth(_GATE_X)
    wrong = int(np.sum(got != expected))
    if wrong == 0:
        return Verdict("nand_weights", PASSED, "1 case")
    return failed_verdict(
        "nand_weights",
        ("problem", f"step(w · x + b) is wrong for {wrong} of the 4 inputs"),
        ("", f"your (w, b) = {format_value(answer)}"),
        ("inputs", "x = (0, 0), (0, 1), (1, 0), (1, 1)"),
        ("", f"z = w · x + b = {format_value(z)}"),
        ("got", f"step(z) = {format_value(got)}"),
        ("expected", f"{format_value(expected)}  (NAND is 0 only for x = (1, 1))"),
        ("hint", _NAND_HINT),
    )

