"""Checks for lesson 1, the perceptron (``solutions/01_perceptron.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases,
including the edge cases that catch the usual mistakes (z exactly 0, a single
example, a correct prediction that must leave w alone), against the library's
reference in :mod:`dlteach.perceptron`, and returns a :class:`~dlteach.checking.Verdict`.

Hints guide without handing over the solution: they say what to look at and which
property the failing case shows, and point to the lesson's section for the equations.
A case may carry its own hint (see :func:`check_with_case_hints`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.checking import (
    PASSED,
    Case,
    Verdict,
    check_function,
    check_with_case_hints,
    failed_verdict,
    format_value,
    graded,
    not_attempted,
)
from dlteach.exercises import LESSON_EXERCISES
from dlteach.perceptron import count_mistakes, perceptron_update, step, weighted_sum

LESSON = "01_perceptron"
EXERCISES = LESSON_EXERCISES[LESSON]

# The four inputs of a two-input logic gate, in truth-table order.
_GATE_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


@graded
def check_weighted_sum(fn: Callable) -> Verdict:
    """weighted_sum(x, w, b) -> z = x @ w + b, for one example (D,) or a batch (N, D)."""
    rng = np.random.default_rng(1)
    cases = [
        (Case((np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.25), label="one example"), None),
        (Case((np.array([3.0, -1.0, 2.0]), np.array([1.0, 2.0, 0.5]), 0.0), label="zero bias"),
         None),
        (Case((_GATE_X, np.array([1.0, 1.0]), -1.5), label="a batch of 4 examples"), None),
        (Case((np.array([[2.0, -1.0, 0.5]]), np.array([0.5, 1.5, -2.0]), 1.0),
              label="a batch of a single example"), None),
        (Case((np.array([[1.0], [-2.0], [0.5]]), np.array([3.0]), -1.0), label="one feature"),
         None),
        (Case((rng.normal(size=(6, 3)), rng.normal(size=3), 0.7), label="random batch"), None),
        (Case((_GATE_X.astype(np.int64), np.array([0.5, 0.25]), -0.6),
              label="integer inputs (0/1) with fractional weights: z is not a whole number"),
         "z takes fractions from w and b even when x holds integers. A result that starts "
         "from an array made like x (zeros_like, a copy of x) keeps x's integer type and "
         "cuts the fractions off."),
    ]
    return check_with_case_hints(
        fn,
        weighted_sum,
        cases,
        exercise="weighted_sum",
        hint=(
            "z = w · x + b (section 2). One matrix-vector product computes it for one "
            "example of shape (D,) and for a batch of shape (N, D) alike, without a loop: "
            "look at which axis of x holds the D features."
        ),
    )


@graded
def check_step(fn: Callable) -> Verdict:
    """step(z) -> 1 where z >= 0, else 0, for a number or an array of any shape."""
    cases = [
        (Case((2.5,), label="a positive number"), None),
        (Case((-0.3,), label="a negative number"), None),
        (Case((0.0,), label="z exactly 0"),
         "step(0) is 1 by the lesson's convention: a point on the boundary fires. Check the "
         "comparison you use: z >= 0, not z > 0."),
        (Case((np.array([-2.0, -0.001, 0.0, 0.001, 3.0]),), label="an array"),
         "z can be an array: an if statement needs a single True/False, but comparing an "
         "array gives one per element. Compare all the elements at once, and turn the "
         "True/False results into the integers 1/0."),
        (Case((np.array([[1.0, -1.0], [0.0, -5.0]]),), label="a 2-D array"), None),
        (Case((np.array([-1e-9, -1e-300, -0.0, 1e-300, 1e-9]),),
              label="tiny z on both sides of 0, and -0.0: only the sign counts"),
         "Compare z with 0 exactly: -1e-9 is negative, so it gives 0, and -0.0 equals 0, so "
         "it gives 1. A tolerance (np.isclose, z > -eps) or a test of the sign bit "
         "misreads these."),
    ]
    return check_with_case_hints(
        fn,
        step,
        cases,
        exercise="step",
        hint=(
            "step(z) is 1 where z >= 0 and 0 where z < 0 (section 3), for a number or for "
            "every element of an array. A comparison gives True/False: the exercise asks for "
            "the integers 1/0, so convert the type (an array's astype method can)."
        ),
        booleans=False,
    )


@graded
def check_perceptron_update(fn: Callable) -> Verdict:
    """perceptron_update(w, b, x_i, y_i, lr) -> (new_w, new_b) by Rosenblatt's rule."""
    cases = [
        (Case((np.array([1.0, 1.0]), -1.5, np.array([1.0, 1.0]), 1, 1.0),
              label="a correct prediction must not change w or b"),
         "Here ŷ = y_i, so the rule's factor (y_i - ŷ) is 0 and neither w nor b may move: "
         "the rule only learns from mistakes (section 5)."),
        (Case((np.array([0.5, -0.5]), -1.0, np.array([1.0, 0.0]), 1, 1.0),
              label="missed positive (y=1, ŷ=0): add x"), None),
        (Case((np.array([1.0, 2.0]), 0.5, np.array([0.0, 1.0]), 0, 1.0),
              label="false alarm (y=0, ŷ=1): subtract x"), None),
        (Case((np.array([0.0, 0.0]), 0.0, np.array([0.0, 1.0]), 0, 1.0),
              label="z exactly 0 predicts 1"),
         "z = 0 here, and step(0) is 1: the prediction is ŷ = 1, a false alarm since y = 0."),
        (Case((np.array([0.2, -0.4, 0.1]), 0.3, np.array([1.0, 2.0, -1.0]), 1, 0.1),
              label="learning rate 0.1"),
         "The learning rate scales the change of w and the change of b alike."),
        (Case((np.array([0.2, -0.4, 0.1]), 0.3, np.array([-1.0, 0.5, 2.0]), 0, 0.5),
              label="false alarm (z = 0.1, so ŷ=1 but y=0) with learning rate 0.5"), None),
        (Case((np.array([-1.0, 0.0]), 0.0, np.array([1.0, 0.0]), 0, 1.0),
              label="a correct negative prediction (y=0, ŷ=0) must not change w or b"),
         "Here ŷ = y_i = 0, so (y_i - ŷ) is 0: a correct negative changes nothing, just like "
         "a correct positive."),
        (Case((np.array([0, 0]), 0, np.array([0.5, 1.0]), 0, 0.1),
              label="integer weights w = [0, 0], b = 0 with learning rate 0.1: the new "
                    "weights are fractional"),
         "The new weights are fractions even when w holds integers. A result made like w "
         "(a copy of w or zeros_like(w), then changed in place) keeps w's integer type: "
         "build the new w from the arithmetic, w + ..."),
    ]
    return check_with_case_hints(
        fn,
        perceptron_update,
        cases,
        exercise="perceptron_update",
        hint=(
            "Predict ŷ with step(w · x_i + b), then apply Rosenblatt's rule of section 5 to "
            "both w and b: the sign of (y_i - ŷ) says which way they move. Build new values "
            "rather than changing w in place: the caller owns it."
        ),
    )


@graded
def check_count_mistakes(fn: Callable) -> Verdict:
    """count_mistakes(w, b, X, y) -> the number of examples the perceptron gets wrong, an int."""
    rng = np.random.default_rng(2)
    X_rand = rng.normal(size=(20, 2))
    y_rand = (X_rand[:, 0] - X_rand[:, 1] > 0.3).astype(int)
    cases = [
        (Case((np.array([1.0, 1.0]), -1.5, _GATE_X, np.array([0, 0, 0, 1])),
              label="AND gate, no mistakes"), None),
        (Case((np.array([-1.0, -1.0]), 1.5, _GATE_X, np.array([0, 0, 0, 1])),
              label="every prediction wrong"), None),
        (Case((np.array([1.0, 1.0]), -1.0, _GATE_X, np.array([0, 0, 0, 1])),
              label="points exactly on the boundary predict 1"),
         "Two of the points have z = 0 exactly, and step(0) is 1: they predict 1."),
        (Case((np.array([2.0, -1.0]), 0.5, np.array([[1.0, 3.0]]), np.array([1])),
              label="a single example"), None),
        (Case((np.array([1.0, -1.0]), 0.0, X_rand, y_rand), label="20 random points",
              rebuild="w = np.array([1.0, -1.0]); b = 0.0; "
                      "X = np.random.default_rng(2).normal(size=(20, 2)); "
                      "y = (X[:, 0] - X[:, 1] > 0.3).astype(int)"), None),
    ]
    return check_with_case_hints(
        fn,
        count_mistakes,
        cases,
        exercise="count_mistakes",
        hint=(
            "Predict every example at once with the perceptron (section 4: 1 where z >= 0), "
            "compare the predictions with y and count the examples where they differ. A "
            "count is a whole number: return an int, not a float such as a mean times N."
        ),
        integers=True,
    )


def _nand_truth(X: np.ndarray) -> np.ndarray:
    """The NAND gate: 0 only when both inputs are 1."""
    return 1 - (X[:, 0] * X[:, 1]).astype(np.int64)


_NAND_HINT = (
    "The perceptron outputs 1 when z = w · x + b >= 0 and 0 when z < 0. Write z for each "
    "of the four inputs in terms of w1, w2 and b, as section 8 does for XOR, then pick "
    "values that make z negative for (1, 1) only."
)


@graded
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
            ("hint", "return two things, in this order: the weights and the bias"),
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
            ("hint", "one weight per input: the gate has 2 inputs, so w holds exactly 2 "
                     "numbers"),
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

