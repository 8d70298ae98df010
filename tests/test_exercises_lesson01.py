"""Lesson 1's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import numpy as np
import pytest
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing

from dlteach import perceptron
from dlteach.exercises import lesson01 as ex


def nand_reference():
    return np.array([-1.0, -1.0]), 1.5


REFERENCES = {
    "weighted_sum": perceptron.weighted_sum,
    "step": perceptron.step,
    "perceptron_update": perceptron.perceptron_update,
    "count_mistakes": perceptron.count_mistakes,
    "nand_weights": nand_reference,
}


# ---------------------------------------------------------------- typical mistakes


def test_weighted_sum_forgetting_the_bias():
    v = ex.check_weighted_sum(lambda x, w, b: x @ w)
    assert_failed_showing(
        v,
        "case 1 of 6: one example",
        "input: x = [1.0, 2.0], w = [0.5, -1.0], b = 0.25",
        "expected: -1.25",
        "got: -1.5",
        "hint: z = w · x + b",
    )


def test_weighted_sum_that_only_handles_batches():
    v = ex.check_weighted_sum(lambda x, w, b: (x * w).sum(axis=1) + b)
    assert "your function raised AxisError" in v.message


def test_weighted_sum_with_a_python_loop_still_passes_if_correct():
    def loop(x, w, b):
        if x.ndim == 1:
            return sum(xj * wj for xj, wj in zip(x, w, strict=True)) + b
        return np.array([sum(xj * wj for xj, wj in zip(row, w, strict=True)) + b for row in x])

    assert ex.check_weighted_sum(loop).status == "passed"


def test_step_with_a_strict_inequality_fails_at_zero():
    v = ex.check_step(lambda z: np.where(np.asarray(z) > 0, 1, 0))
    assert_failed_showing(v, "z exactly 0", "input: z = 0.0", "use >=, not >")


def test_step_written_for_numbers_only_reports_the_array_error():
    v = ex.check_step(lambda z: 1 if z >= 0 else 0)
    assert "an array" in v.message
    assert "your function raised ValueError: The truth value of an array" in v.message


def test_step_returning_booleans_passes():
    assert ex.check_step(lambda z: np.asarray(z) >= 0).status == "passed"


def test_update_that_modifies_w_in_place_fails_even_though_the_values_are_right():
    def in_place(w, b, x_i, y_i, lr):
        error = y_i - (1 if w @ x_i + b >= 0 else 0)
        w += lr * error * x_i
        return w, b + lr * error

    v = ex.check_perceptron_update(in_place)
    assert_failed_showing(v, "modified its input w in place")


def test_update_that_updates_even_when_correct_fails_on_the_first_case():
    def always(w, b, x_i, y_i, lr):
        return w + lr * y_i * x_i, b + lr * y_i

    v = ex.check_perceptron_update(always)
    assert "a correct prediction must not change w or b" in v.message
    assert "element [0] of the result" in v.message


def test_update_with_the_wrong_sign_or_the_bias_left_out():
    def wrong_sign(w, b, x_i, y_i, lr):
        error = (1 if w @ x_i + b >= 0 else 0) - y_i
        return w + lr * error * x_i, b + lr * error

    def no_bias(w, b, x_i, y_i, lr):
        error = y_i - (1 if w @ x_i + b >= 0 else 0)
        return w + lr * error * x_i, b

    assert "missed positive" in ex.check_perceptron_update(wrong_sign).message
    v = ex.check_perceptron_update(no_bias)
    assert "element [1] of the result: expected 0.0, got -1.0" in v.message


def test_update_returning_only_w():
    v = ex.check_perceptron_update(lambda w, b, x_i, y_i, lr: w)
    assert "expected a tuple of 2 values, got an array of shape (2,)" in v.message


def test_count_mistakes_with_a_strict_inequality_fails_on_boundary_points():
    v = ex.check_count_mistakes(lambda w, b, X, y: int(np.sum((X @ w + b > 0) != y)))
    assert_failed_showing(v, "points exactly on the boundary predict 1", "expected: 2", "got: 0")


def test_count_mistakes_counting_correct_predictions_instead():
    v = ex.check_count_mistakes(lambda w, b, X, y: int(np.sum((X @ w + b >= 0) == y)))
    assert "AND gate, no mistakes" in v.message
    assert "expected: 0" in v.message and "got: 4" in v.message


def test_nand_with_and_weights_fails_and_shows_the_outputs():
    v = ex.check_nand_weights(lambda: (np.array([1.0, 1.0]), -1.5))
    assert_failed_showing(v, "expected: [1, 1, 1, 0]", "got: [0, 0, 0, 1]")


def test_nand_returning_the_wrong_structure():
    v = ex.check_nand_weights(lambda: np.array([-1.0, -1.0, 1.5]))
    assert "must return a pair (w, b)" in v.message
    v = ex.check_nand_weights(lambda: (np.array([-1.0, -1.0, 0.0]), 1.5))
    assert "raised ValueError: nand_weights() must return w of shape (2,), got shape (3,)" in (
        " ".join(v.message.split())
    )


@pytest.mark.parametrize("w, b", [([-2.0, -2.0], 3.0), ([-1.0, -1.0], 1.5), ([-0.5, -0.7], 1.0)])
def test_any_nand_solution_passes(w, b):
    assert ex.check_nand_weights(lambda: (np.array(w), b)).status == "passed"


# ---------------------------------------------------------------- the tests every lesson shares


class TestLesson01Exercises(
    LessonExerciseTests, lesson="01_perceptron", exercises=ex, references=REFERENCES,
    exec_globals={"np": np},  # the cells run in order: later ones call step()
):
    """Lesson 1's checks and notebook, by the tests every lesson shares."""
