"""Lesson 1's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from dlteach import perceptron
from dlteach.checking import VERDICT_MIMETYPE
from dlteach.exercises import LESSON_EXERCISES, expected_exercises
from dlteach.exercises import lesson01 as ex

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "01_perceptron.ipynb"
NAMES = LESSON_EXERCISES["01_perceptron"]


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def nand_reference():
    return np.array([-1.0, -1.0]), 1.5


REFERENCES = {
    "weighted_sum": perceptron.weighted_sum,
    "step": perceptron.step,
    "perceptron_update": perceptron.perceptron_update,
    "count_mistakes": perceptron.count_mistakes,
    "nand_weights": nand_reference,
}


def check(name, fn):
    return getattr(ex, f"check_{name}")(fn)


def test_every_registered_exercise_has_a_check():
    assert ex.LESSON == "01_perceptron"
    assert ex.EXERCISES == NAMES
    assert set(NAMES) == set(REFERENCES)
    for name in NAMES:
        assert callable(getattr(ex, f"check_{name}"))


def test_expected_exercises_looks_up_the_notebook_stem():
    assert expected_exercises("solutions/01_perceptron.ipynb") == NAMES
    assert expected_exercises(Path("/somewhere/notebooks/01_perceptron.ipynb")) == NAMES
    assert expected_exercises("notebooks/99_unknown.ipynb") is None


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_passes(name):
    verdict = check(name, REFERENCES[name])
    assert verdict.status == "passed", verdict.text()
    assert verdict.exercise == name
    assert re.fullmatch(rf"✅ {name}: passed \(\d+ cases?\)", verdict.text())


@pytest.mark.parametrize("name", NAMES)
def test_a_stub_is_not_attempted(name):
    verdict = check(name, stub)
    assert verdict.status == "not attempted"
    assert verdict.text().startswith(f"⏳ {name}: not attempted yet")


@pytest.mark.parametrize("name", NAMES)
def test_a_value_instead_of_a_function_fails_with_advice(name):
    verdict = check(name, 42)
    assert verdict.status == "failed"
    assert f"check_{name}({name})" in verdict.message


# ---------------------------------------------------------------- typical mistakes


def test_weighted_sum_forgetting_the_bias():
    v = ex.check_weighted_sum(lambda x, w, b: x @ w)
    assert v.status == "failed"
    assert "case 1 of 6: one example" in v.message
    assert "input: x = [1.0, 2.0], w = [0.5, -1.0], b = 0.25" in v.message
    assert "expected: -1.25" in v.message and "got: -1.5" in v.message
    assert "hint: z = w · x + b" in v.message


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
    assert v.status == "failed"
    assert "z exactly 0" in v.message
    assert "input: z = 0.0" in v.message
    assert "use >=, not >" in v.message


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
    assert v.status == "failed"
    assert "modified its input w in place" in v.message


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
    assert v.status == "failed"
    assert "points exactly on the boundary predict 1" in v.message
    assert "expected: 2" in v.message and "got: 0" in v.message


def test_count_mistakes_counting_correct_predictions_instead():
    v = ex.check_count_mistakes(lambda w, b, X, y: int(np.sum((X @ w + b >= 0) == y)))
    assert "AND gate, no mistakes" in v.message
    assert "expected: 0" in v.message and "got: 4" in v.message


def test_nand_with_and_weights_fails_and_shows_the_outputs():
    v = ex.check_nand_weights(lambda: (np.array([1.0, 1.0]), -1.5))
    assert v.status == "failed"
    assert "expected: [1, 1, 1, 0]" in v.message
    assert "got: [0, 0, 0, 1]" in v.message


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


# ---------------------------------------------------------------- the lesson notebook


def _notebook_exercises():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    pairs = []
    for i, src in enumerate(code):
        if re.search(r"^\s*### BEGIN SOLUTION\s*$", src, re.M):
            match = re.fullmatch(r"ex\.check_(\w+)\((\w+)\)", code[i + 1].strip())
            assert match, f"the cell after an exercise must be its check, got {code[i + 1]!r}"
            pairs.append((match.group(1), src))
    return pairs


def test_the_notebook_has_the_registered_exercises_in_order_each_followed_by_its_check():
    assert [name for name, _ in _notebook_exercises()] == list(NAMES)


def _strip(src: str) -> str:
    """The learner version of an exercise cell (nbgrader's convention)."""
    pattern = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n.*?^[ \t]*### END SOLUTION[ \t]*$",
                         re.M | re.S)
    return pattern.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()", src)


def test_the_notebook_solutions_pass_and_the_stripped_cells_are_not_attempted():
    solved: dict = {"np": np}
    stripped: dict = {"np": np}
    for name, src in _notebook_exercises():
        exec(src, solved)
        exec(_strip(src), stripped)
        assert check(name, solved[name]).status == "passed", check(name, solved[name]).text()
        assert check(name, stripped[name]).status == "not attempted"


def test_the_stored_notebook_outputs_record_every_exercise_as_passed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    verdicts = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if VERDICT_MIMETYPE in data:
                verdicts[data[VERDICT_MIMETYPE]["exercise"]] = data[VERDICT_MIMETYPE]["status"]
    assert verdicts == dict.fromkeys(NAMES, "passed")
