"""Lesson 2's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

import dlteach as dl
from dlteach.checking import VERDICT_MIMETYPE
from dlteach.exercises import LESSON_EXERCISES, expected_exercises
from dlteach.exercises import lesson02 as ex

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "02_backpropagation.ipynb"
NAMES = LESSON_EXERCISES["02_backpropagation"]


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def sigmoid_grad(z):
    s = dl.sigmoid(z)
    return s * (1 - s)


def dense_forward(x, W, b):
    return x @ W + b


def softmax_cross_entropy(logits, y):
    n, k = logits.shape
    p = dl.softmax(logits)
    return float(-np.mean(np.log(p[np.arange(n), y]))), (p - dl.one_hot(y, k)) / n


def dense_backward(x, W, grad_y):
    return grad_y @ W.T, x.T @ grad_y, grad_y.sum(axis=0)


def gd_step(w, grad, lr):
    return w - lr * grad


REFERENCES = {
    "sigmoid_grad": sigmoid_grad,
    "dense_forward": dense_forward,
    "softmax_cross_entropy": softmax_cross_entropy,
    "dense_backward": dense_backward,
    "gd_step": gd_step,
}


def check(name, fn):
    return getattr(ex, f"check_{name}")(fn)


def test_every_registered_exercise_has_a_check():
    assert ex.LESSON == "02_backpropagation"
    assert ex.EXERCISES == NAMES
    assert set(NAMES) == set(REFERENCES)
    for name in NAMES:
        assert callable(getattr(ex, f"check_{name}"))


def test_expected_exercises_looks_up_the_notebook_stem():
    assert expected_exercises("solutions/02_backpropagation.ipynb") == NAMES
    assert expected_exercises(Path("/elsewhere/notebooks/02_backpropagation.ipynb")) == NAMES


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


# ---------------------------------------------------------------- the library agrees


def test_the_checks_references_are_the_library():
    rng = np.random.default_rng(0)
    x, W, b, g = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(
        size=(4, 2))
    np.testing.assert_allclose(ex.dense_forward(x, W, b), x @ W + b)
    for got, want in zip(ex.dense_backward(x, W, g), dense_backward(x, W, g), strict=True):
        np.testing.assert_allclose(got, want)
    logits, y = rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 0])
    loss, grad = ex.softmax_cross_entropy(logits, y)
    want_loss, want_grad = softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(want_loss)
    np.testing.assert_allclose(grad, want_grad, atol=1e-15)
    np.testing.assert_allclose(ex.sigmoid_derivative(np.array([0.0, 2.0])),
                               [0.25, sigmoid_grad(2.0)])


def test_the_reference_dense_does_not_modify_its_inputs():
    x, W, g = np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4))
    ex.dense_backward(x, W, g)
    assert (x == 1).all() and (W == 1).all() and (g == 1).all()


# ---------------------------------------------------------------- typical mistakes


def test_sigmoid_grad_returning_the_sigmoid_itself():
    v = ex.check_sigmoid_grad(dl.sigmoid)
    assert v.status == "failed"
    assert "case 1 of 5: z = 0, where the slope is largest" in v.message
    assert "input: z = [0.0]" in v.message
    assert "expected: [0.25]" in v.message and "got: [0.5]" in v.message
    assert "hint: sigma'(z) = sigma(z) * (1 - sigma(z))" in v.message


def test_sigmoid_grad_applied_to_z_instead_of_sigma():
    v = ex.check_sigmoid_grad(lambda z: z * (1 - z))
    assert v.status == "failed"
    assert "expected: [0.25]" in v.message and "got: [0.0]" in v.message


def test_a_naive_but_correct_sigmoid_grad_passes():
    def naive(z):
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)

    assert ex.check_sigmoid_grad(naive).status == "passed"


def test_dense_forward_forgetting_the_bias():
    v = ex.check_dense_forward(lambda x, W, b: x @ W)
    assert "case 1 of 4: one example, 2 inputs -> 3 outputs" in v.message
    assert "expected: [[2.6, -0.8, 1.3]]" in v.message
    assert "got: [[2.5, -1.0, 1.0]]" in v.message


def test_dense_forward_with_the_product_the_wrong_way_round():
    v = ex.check_dense_forward(lambda x, W, b: W @ x + b)
    assert v.status == "failed"
    assert "your function raised ValueError: matmul" in v.message
    assert "W of shape (D_in, D_out)" in " ".join(v.message.split())


def test_softmax_cross_entropy_forgetting_the_mean_in_the_gradient():
    def no_mean(logits, y):
        loss, grad = softmax_cross_entropy(logits, y)
        return loss, grad * len(y)

    v = ex.check_softmax_cross_entropy(no_mean)
    assert "case 1 of 5: all logits equal: the loss is log K" in v.message
    assert "element [1] of the result" in v.message
    assert "expected -0.3333, got -0.6667" in v.message
    assert "do not forget the 1/N" in v.message


def test_softmax_cross_entropy_without_the_max_shift_overflows():
    def unstable(logits, y):
        e = np.exp(logits)
        p = e / e.sum(axis=1, keepdims=True)
        n = len(y)
        return float(-np.mean(np.log(p[np.arange(n), y]))), (p - dl.one_hot(y, p.shape[1])) / n

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = ex.check_softmax_cross_entropy(unstable)
    assert v.status == "failed"
    assert "case 5 of 5: large logits (exp(1000) overflows" in v.message
    assert "got: (nan" in v.message


def test_softmax_cross_entropy_summing_instead_of_averaging_the_loss():
    def summed(logits, y):
        loss, grad = softmax_cross_entropy(logits, y)
        return loss * len(y), grad

    v = ex.check_softmax_cross_entropy(summed)
    assert "element [0] of the result: expected 1.0986, got 2.1972" in " ".join(v.message.split())


def test_dense_backward_averaging_the_bias_gradient():
    v = ex.check_dense_backward(lambda x, W, g: (g @ W.T, x.T @ g, g.mean(axis=0)))
    assert v.status == "failed"
    assert "case 2 of 4: a batch of 4: db sums over the batch" in v.message
    assert "element [2] of the result" in v.message
    assert "sum, not mean" in " ".join(v.message.split())


def test_dense_backward_with_a_transposed_weight_gradient():
    v = ex.check_dense_backward(lambda x, W, g: (g @ W.T, g.T @ x, g.sum(axis=0)))
    assert "element [1] of the result: expected an array of shape (2, 3), got shape (3, 2)" in (
        " ".join(v.message.split()))


def test_dense_backward_returning_only_the_input_gradient():
    v = ex.check_dense_backward(lambda x, W, g: g @ W.T)
    assert "expected a tuple of 3 values, got an array of shape (1, 2)" in v.message


def test_gd_step_climbing_uphill():
    v = ex.check_gd_step(lambda w, grad, lr: w + lr * grad)
    assert "case 1 of 4: two weights" in v.message
    assert "expected: [0.95, -2.05]" in v.message and "got: [1.05, -1.95]" in v.message
    assert "the gradient points uphill" in " ".join(v.message.split())


def test_gd_step_in_place_fails_even_though_the_values_are_right():
    def in_place(w, grad, lr):
        w -= lr * grad
        return w

    v = ex.check_gd_step(in_place)
    assert v.status == "failed"
    assert "modified its input w in place" in v.message


# ---------------------------------------------------------------- the lesson notebook


def _notebook_exercises():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    pairs = []
    for i, src in enumerate(code):
        if re.search(r"^\s*### BEGIN SOLUTION\s*$", src, re.M):
            match = re.fullmatch(r"ex\.check_(\w+)\((\w+)\)", code[i + 1].strip())
            assert match, f"the cell after an exercise must be its check, got {code[i + 1]!r}"
            assert match.group(1) == match.group(2)
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
    for name, src in _notebook_exercises():
        solved: dict = {"np": np, "dl": dl}
        stripped: dict = {"np": np, "dl": dl}
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
