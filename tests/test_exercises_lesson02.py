"""Lesson 2's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing

import dlteach as dl
from dlteach.exercises import lesson02 as ex


def sigmoid_grad(z):
    s = dl.sigmoid(z)
    return s * (1 - s)


def dense_forward(x, W, b):
    return x @ W + b


def softmax_cross_entropy(logits, y):
    n, k = logits.shape
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # log-softmax
    return float(-np.mean(log_p[np.arange(n), y])), (np.exp(log_p) - dl.one_hot(y, k)) / n


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
    assert_failed_showing(
        v,
        "case 1 of 7: z = 0, where the slope is largest",
        "input: z = [0.0]",
        "expected: [0.25]",
        "got: [0.5]",
        "hint: The slope at z = 0 is 0.25",
    )


def test_sigmoid_grad_applied_to_z_instead_of_sigma():
    v = ex.check_sigmoid_grad(lambda z: z * (1 - z))
    assert_failed_showing(v, "expected: [0.25]", "got: [0.0]")


def test_a_naive_but_correct_sigmoid_grad_passes():
    def naive(z):
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)

    with warnings.catch_warnings():  # exp(1000) overflows to inf: s = 0, and the slope 0
        warnings.simplefilter("ignore", RuntimeWarning)
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
    assert "W has shape (D_in, D_out)" in " ".join(v.message.split())


def test_softmax_cross_entropy_forgetting_the_mean_in_the_gradient():
    def no_mean(logits, y):
        loss, grad = softmax_cross_entropy(logits, y)
        return loss, grad * len(y)

    v = ex.check_softmax_cross_entropy(no_mean)
    assert "case 1 of 7: all logits equal: the loss is log K" in v.message
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
    assert_failed_showing(v, "case 5 of 7: large logits (exp(1000) overflows", "got: (nan")


def test_softmax_cross_entropy_taking_the_log_of_the_softmax_fails_on_a_confident_mistake():
    # Stable softmax, then np.log(P): fine while the right class is likely, but a
    # confident mistake has P = e^-1000 = 0.0 and costs inf instead of 1000.
    def log_of_softmax(logits, y):
        n, k = logits.shape
        p = dl.softmax(logits)
        return float(-np.mean(np.log(p[np.arange(n), y]))), (p - dl.one_hot(y, k)) / n

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = ex.check_softmax_cross_entropy(log_of_softmax)
    assert_failed_showing(
        v,
        "case 6 of 7: large logits, predicted WRONG",
        "input: logits = [[1000.0, 0.0]], y = [1]",
        "expected: (1000.0, [[1.0, -1.0]])",
        "got: (inf, [[1.0, -1.0]])",
    )
    assert "log-softmax" in v.message and "-inf for a confident mistake" in " ".join(
        v.message.split())


def test_the_library_loss_is_finite_for_a_confident_mistake():
    loss, grad = ex.softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert loss == 1000.0
    np.testing.assert_array_equal(grad, [[1.0, -1.0]])


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
    assert_failed_showing(v, "modified its input w in place")


# ---------------------------------------------------------------- the subtler mistakes
# Each added case rejects a concrete wrong answer, shows its label and its own hint, and
# accepts the reference and another correct way of writing the function.


def _words(verdict) -> str:
    return " ".join(verdict.message.split())


def test_sigmoid_grad_textbook_quotient_gives_nan_at_minus_1000():
    def quotient(z):
        e = np.exp(-z)
        return e / (1 + e) ** 2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = ex.check_sigmoid_grad(quotient)
    assert_failed_showing(v, "case 6 of 7: |z| = 1000: e^-z overflows", "nan")
    assert "inf / inf = nan" in _words(v)


def test_sigmoid_grad_integer_z_catches_an_integer_buffer():
    def int_buffer(z):
        out = np.zeros_like(z)
        out[...] = dl.sigmoid(z) * (1 - dl.sigmoid(z))
        return out

    v = ex.check_sigmoid_grad(int_buffer)
    assert_failed_showing(v, "case 7 of 7: integer z: the slope is still a fraction")
    assert "keeps z's integer type" in _words(v)


@pytest.mark.parametrize("correct", [
    sigmoid_grad,
    ex.sigmoid_derivative,
    lambda z: dl.sigmoid(z) * dl.sigmoid(-z),
    lambda z: dl.sigmoid(z) - dl.sigmoid(z) ** 2,
    lambda z: 1 / (2 + np.exp(z) + np.exp(-z)),  # overflows to 1 / inf = 0: still right
])
def test_sigmoid_grad_correct_ways_pass(correct):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert ex.check_sigmoid_grad(correct).status == "passed"


def test_sigmoid_grad_hint_points_to_the_lesson_not_the_code():
    v = ex.check_sigmoid_grad(dl.sigmoid)
    assert "section 1" in v.message
    assert "s * (1 - s)" not in v.message and "return" not in v.message


@pytest.mark.parametrize("eps_version", [
    lambda p: np.log(p + 1e-12),
    lambda p: np.log(np.maximum(p, 5e-324)),
    lambda p: np.log(np.clip(p, 1e-7, 1 - 1e-7)),
])
def test_softmax_cross_entropy_with_an_eps_inside_the_log_fails(eps_version):
    # -log of the smallest positive float is < 745, so no eps or clip reaches the loss 1000.
    def with_eps(logits, y):
        n, k = logits.shape
        p = dl.softmax(logits)
        return float(-np.mean(eps_version(p)[np.arange(n), y])), (p - dl.one_hot(y, k)) / n

    v = ex.check_softmax_cross_entropy(with_eps)
    assert_failed_showing(v, "large logits")  # the clip already fails on the right answers
    assert "maximum" in _words(v) or "log-softmax" in _words(v)


def test_softmax_cross_entropy_shifting_by_the_batch_maximum_fails():
    def global_max(logits, y):
        n, k = logits.shape
        z = logits - logits.max()  # one shift for the whole batch
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-np.mean(log_p[np.arange(n), y])), (np.exp(log_p) - dl.one_hot(y, k)) / n

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = ex.check_softmax_cross_entropy(global_max)
    assert_failed_showing(v, "case 7 of 7: one row near +1000, one near -1000")
    assert "each row's own maximum" in _words(v)


@pytest.mark.parametrize("correct", [
    softmax_cross_entropy,
    ex.softmax_cross_entropy,
    lambda logits, y: (float(dl.SoftmaxCrossEntropy()(logits, y)),
                       (dl.softmax(logits) - dl.one_hot(y, logits.shape[1])) / len(y)),
])
def test_softmax_cross_entropy_correct_ways_pass(correct):
    assert ex.check_softmax_cross_entropy(correct).status == "passed"


def test_softmax_cross_entropy_hints_guide_without_code():
    def no_mean(logits, y):
        loss, grad = softmax_cross_entropy(logits, y)
        return loss, grad * len(y)

    v = ex.check_softmax_cross_entropy(no_mean)
    assert "section 4" in v.message
    assert "keepdims" not in v.message and "np.arange" not in v.message


def test_dense_and_gd_hints_guide_without_code():
    v = ex.check_dense_backward(lambda x, W, g: (g @ W.T, x.T @ g, g.mean(axis=0)))
    assert "grad_y @ W.T" not in v.message and "x.T @ grad_y" not in v.message
    v = ex.check_dense_backward(lambda x, W, g: (g @ W, x.T @ g, g.sum(axis=0)))
    assert "has the shape of what it is the gradient of" in _words(v)
    v = ex.check_dense_forward(lambda x, W, b: x @ W)
    assert "x @ W + b" not in v.message
    v = ex.check_gd_step(lambda w, grad, lr: w + lr * grad)
    assert "w - lr * grad" not in v.message


# ---------------------------------------------------------------- the tests every lesson shares


class TestLesson02Exercises(
    LessonExerciseTests, lesson="02_backpropagation", exercises=ex, references=REFERENCES,
    exec_globals={"np": np, "dl": dl}, cells_stand_alone=True,
):
    """Lesson 2's checks and notebook, by the tests every lesson shares."""
