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
        "case 1 of 7: one example",
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
    assert_failed_showing(v, "z exactly 0", "input: z = 0.0", "z >= 0, not z > 0")


def test_step_written_for_numbers_only_reports_the_array_error():
    v = ex.check_step(lambda z: 1 if z >= 0 else 0)
    assert "an array" in v.message
    assert "your function raised ValueError: The truth value of an array" in v.message


def test_step_returning_booleans_fails_asking_for_integers():
    # The exercise asks for 0/1 integers; True/False compare equal to them, so only the
    # type gives booleans away.
    for booleans in (lambda z: np.asarray(z) >= 0, lambda z: z >= 0):
        v = ex.check_step(booleans)
        assert_failed_showing(
            v,
            "case 1 of 6: a positive number",
            "problem: expected 0/1 integers, got booleans (True/False)",
            "expected: 1",
            "got: True",
            "integers",
            "astype",
        )


def test_step_returning_integers_or_floats_passes():
    assert ex.check_step(lambda z: (np.asarray(z) >= 0).astype(int)).status == "passed"
    assert ex.check_step(lambda z: np.heaviside(z, 1)).status == "passed"


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


def test_update_that_pushes_the_line_down_on_every_negative_example_fails():
    # Right on every mistake and on correct positives, wrong on correct negatives.
    def always_down_on_negatives(w, b, x_i, y_i, lr):
        y_hat = 1 if w @ x_i + b >= 0 else 0
        error = 1 - y_hat if y_i == 1 else -1
        return w + lr * error * x_i, b + lr * error

    v = ex.check_perceptron_update(always_down_on_negatives)
    assert_failed_showing(
        v,
        "case 7 of 8: a correct negative prediction (y=0, ŷ=0) must not change w or b",
        "expected: ([-1.0, 0.0], 0.0)",
        "got: ([-2.0, 0.0], -1.0)",
    )


def test_update_cases_are_labelled_by_what_the_rule_does():
    # The false alarm of case 6 (z = 0.1 >= 0 but y = 0) moves w; case 7 does not.
    w, b = np.array([0.2, -0.4, 0.1]), 0.3
    x_i = np.array([-1.0, 0.5, 2.0])
    assert perceptron.weighted_sum(x_i, w, b) == pytest.approx(0.1)
    new_w, new_b = perceptron.perceptron_update(w, b, x_i, 0, 0.5)
    np.testing.assert_allclose(new_w, w - 0.5 * x_i)
    new_w, new_b = perceptron.perceptron_update(np.array([-1.0, 0.0]), 0.0,
                                                np.array([1.0, 0.0]), 0, 1.0)
    np.testing.assert_array_equal(new_w, [-1.0, 0.0])
    assert new_b == 0.0


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


def test_nand_with_and_weights_fails_and_shows_w_b_z_and_the_outputs():
    v = ex.check_nand_weights(lambda: (np.array([1.0, 1.0]), -1.5))
    assert_failed_showing(
        v,
        "problem: step(w · x + b) is wrong for 4 of the 4 inputs",
        "your (w, b) = ([1.0, 1.0], -1.5)",
        "inputs: x = (0, 0), (0, 1), (1, 0), (1, 1)",
        "z = w · x + b = [-1.5, -0.5, -0.5, 0.5]",
        "got: step(z) = [0, 0, 0, 1]",
        "expected: [1, 1, 1, 0]",
        "hint: The perceptron outputs 1 when z = w · x + b >= 0",
    )
    assert "X = " not in v.message  # nand_weights() takes no arguments


def test_nand_wrong_on_one_input_counts_it():
    v = ex.check_nand_weights(lambda: (np.array([-1.0, -1.0]), 2.5))
    assert_failed_showing(v, "wrong for 1 of the 4 inputs", "z = w · x + b = [2.5, 1.5, 1.5, 0.5]")


def test_nand_returning_the_wrong_structure():
    v = ex.check_nand_weights(lambda: np.array([-1.0, -1.0, 1.5]))
    assert_failed_showing(v, "must return a pair (w, b)", "got: [-1.0, -1.0, 1.5]")
    v = ex.check_nand_weights(lambda: (np.array([-1.0, -1.0, 0.0]), 1.5))
    assert_failed_showing(v, "problem: w must be an array of 2 numbers (shape (2,)), got shape",
                          "your (w, b) = ([-1.0, -1.0, 0.0], 1.5)")


@pytest.mark.parametrize("b, what", [(np.array([1.5]), "an array of shape (1,)"),
                                     (np.array([[1.5]]), "an array of shape (1, 1)"),
                                     (None, "None")])
def test_nand_with_a_bias_that_is_not_one_number_says_so(b, what):
    # np.array([1.5]) used to be blamed on weighted_sum, which the learner never called.
    v = ex.check_nand_weights(lambda: (np.array([-1.0, -1.0]), b))
    assert_failed_showing(v, f"problem: b must be a single number, got {what}",
                          "your (w, b) = ([-1.0, -1.0], ", "not as an array")
    assert "weighted_sum" not in v.message


def test_nand_that_raises_is_reported_without_a_traceback():
    v = ex.check_nand_weights(lambda: 1 / 0)
    assert_failed_showing(v, "your function raised ZeroDivisionError: division by zero")


@pytest.mark.parametrize("w, b", [([-2.0, -2.0], 3.0), ([-1.0, -1.0], 1.5), ([-0.5, -0.7], 1.0),
                                  ([-1, -1], 1), (np.array([-1.0, -1.0]), np.float64(1.5)),
                                  (np.array([-1.0, -1.0]), np.array(1.5))])
def test_any_nand_solution_passes(w, b):
    assert ex.check_nand_weights(lambda: (np.array(w), b)).status == "passed"


# ---------------------------------------------------------------- the subtler mistakes
# Each added case rejects a concrete wrong answer, shows its label and its own hint, and
# accepts the reference and another correct way of writing the function.


def _words(verdict) -> str:
    return " ".join(verdict.message.split())


def test_weighted_sum_integer_inputs_catch_an_integer_buffer():
    def int_buffer(x, w, b):
        if x.ndim == 1:
            return x @ w + b
        z = np.zeros_like(x[:, 0])  # the dtype of x: int for integer inputs
        z[:] = x @ w + b
        return z

    v = ex.check_weighted_sum(int_buffer)
    assert_failed_showing(v, "case 7 of 7: integer inputs (0/1) with fractional weights")
    assert "keeps x's integer type" in _words(v)


@pytest.mark.parametrize("correct", [
    perceptron.weighted_sum,
    lambda x, w, b: np.dot(x, w) + b,
    lambda x, w, b: (x * w).sum(axis=-1) + b,
    lambda x, w, b: np.einsum("...d,d->...", x, w) + b,
])
def test_weighted_sum_correct_ways_pass(correct):
    assert ex.check_weighted_sum(correct).status == "passed"


@pytest.mark.parametrize("wrong", [
    lambda z: np.where((np.asarray(z) > 0) | np.isclose(z, 0), 1, 0),
    lambda z: np.where(np.asarray(z) > -1e-8, 1, 0),
    lambda z: 1 - np.signbit(z).astype(int),
])
def test_step_tiny_values_catch_a_tolerance_or_the_sign_bit(wrong):
    v = ex.check_step(wrong)
    assert_failed_showing(v, "case 6 of 6: tiny z on both sides of 0, and -0.0: only the sign")
    assert "Compare z with 0 exactly" in _words(v)


@pytest.mark.parametrize("correct", [
    perceptron.step,
    lambda z: (np.asarray(z) >= 0).astype(int),
    lambda z: np.where(np.asarray(z) >= 0, 1, 0),
    lambda z: np.heaviside(z, 1),
])
def test_step_correct_ways_pass(correct):
    assert ex.check_step(correct).status == "passed"


def test_step_hint_of_the_array_case_guides_without_code():
    v = ex.check_step(lambda z: 1 if z >= 0 else 0)
    assert "compare all the elements at once" in _words(v).lower()
    assert ".astype(int)" not in v.message and "np.where" not in v.message


def test_update_integer_weights_catch_a_copy_changed_in_place():
    def copy_then_add(w, b, x_i, y_i, lr):  # leaves the caller's w alone, but int stays int
        error = y_i - (1 if w @ x_i + b >= 0 else 0)
        new_w = w.copy()
        new_w += lr * error * x_i
        return new_w, b + lr * error

    def zeros_like_buffer(w, b, x_i, y_i, lr):
        error = y_i - (1 if w @ x_i + b >= 0 else 0)
        new_w = np.zeros_like(w)
        new_w[:] = w + lr * error * x_i
        return new_w, b + lr * error

    v = ex.check_perceptron_update(copy_then_add)
    assert_failed_showing(v, "case 8 of 8: integer weights w = [0, 0]", "raised UFuncTypeError")
    assert "keeps w's integer type" in _words(v)
    v = ex.check_perceptron_update(zeros_like_buffer)
    assert_failed_showing(v, "case 8 of 8: integer weights", "element [0] of the result")


@pytest.mark.parametrize("correct", [
    perceptron.perceptron_update,
    lambda w, b, x_i, y_i, lr: (
        w + lr * (y_i - perceptron.step(w @ x_i + b)) * x_i,
        b + lr * (y_i - perceptron.step(w @ x_i + b))),
    lambda w, b, x_i, y_i, lr: (np.add(w, lr * (y_i - int(x_i @ w + b >= 0)) * x_i),
                                float(b + lr * (y_i - int(x_i @ w + b >= 0)))),
])
def test_update_correct_ways_pass(correct):
    assert ex.check_perceptron_update(correct).status == "passed"


def test_update_hint_of_a_correct_prediction_names_the_property_not_the_code():
    def always(w, b, x_i, y_i, lr):
        return w + lr * y_i * x_i, b + lr * y_i

    v = ex.check_perceptron_update(always)
    assert "the rule only learns from mistakes" in _words(v)
    assert "w + lr * (y_i" not in v.message


def test_count_mistakes_as_a_float_fails_asking_for_an_int():
    v = ex.check_count_mistakes(lambda w, b, X, y: np.mean((X @ w + b >= 0) != y) * len(y))
    assert_failed_showing(v, "expected an int, got")
    assert "return an int" in _words(v)


@pytest.mark.parametrize("correct", [
    perceptron.count_mistakes,
    lambda w, b, X, y: np.count_nonzero(perceptron.step(X @ w + b) != y),
    lambda w, b, X, y: int(np.abs(perceptron.step(X @ w + b) - y).sum()),
    lambda w, b, X, y: len(y) - np.sum((X @ w + b >= 0) == y),
])
def test_count_mistakes_correct_ways_pass(correct):
    assert ex.check_count_mistakes(correct).status == "passed"


def test_nand_hints_guide_without_code():
    v = ex.check_nand_weights(lambda: np.array([-1.0, -1.0, 1.5]))
    assert_failed_showing(v, "the weights and the bias")
    v = ex.check_nand_weights(lambda: (np.array([-1.0, -1.0, 0.0]), 1.5))
    assert_failed_showing(v, "w holds exactly 2")
    v = ex.check_nand_weights(lambda: (np.array([1.0, 1.0]), -1.5))
    assert "negative for (1, 1) only" in _words(v)
    for message in (v.message,):
        assert "np.array([w1, w2])" not in message and "w1 + w2 + b for" not in message


def test_a_case_without_its_own_hint_gets_the_general_one():
    # Case 2 of weighted_sum has no hint of its own.
    v = ex.check_weighted_sum(lambda x, w, b: x @ w + b + (b == 0.0))
    assert_failed_showing(v, "case 2 of 7: zero bias", "hint: z = w · x + b (section 2)")


# ---------------------------------------------------------------- the tests every lesson shares


class TestLesson01Exercises(
    LessonExerciseTests, lesson="01_perceptron", exercises=ex, references=REFERENCES,
    exec_globals={"np": np},  # the cells run in order: later ones call step()
):
    """Lesson 1's checks and notebook, by the tests every lesson shares."""
