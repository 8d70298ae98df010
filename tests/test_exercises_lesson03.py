"""Lesson 3's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import numpy as np
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing

from dlteach import data, init, metrics, optim
from dlteach.exercises import lesson03 as ex


def minibatches_reference(X, y, batch_size, rng):
    return data.minibatches(X, y, batch_size, shuffle=True, seed=rng)


REFERENCES = {
    "accuracy": metrics.accuracy,
    "minibatches": minibatches_reference,
    "momentum_step": optim.momentum_step,
    "adam_step": optim.adam_step,
    "he_normal": init.he_normal,
}


# ---------------------------------------------------------------- typical mistakes


def test_accuracy_returning_a_count():
    v = ex.check_accuracy(lambda y, s: int(np.sum(np.argmax(s, axis=1) == y)))
    assert_failed_showing(
        v,
        "case 1 of 6: every prediction right",
        "expected: 1.0",
        "got: 3",
        "not a count",
    )


def test_accuracy_taking_the_argmax_over_the_wrong_axis():
    v = ex.check_accuracy(lambda y, s: float(np.mean(np.argmax(s, axis=0) == y)))
    assert_failed_showing(v, "axis=1")


def test_accuracy_written_with_a_loop_passes_if_correct():
    def loop(y, s):
        return sum(int(np.argmax(row) == label) for row, label in zip(s, y, strict=True)) / len(y)

    assert ex.check_accuracy(loop).status == "passed"


def test_minibatches_dropping_the_last_partial_batch():
    def drop_last(X, y, batch_size, rng):
        order = rng.permutation(len(X))
        for start in range(0, len(X) - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            yield X[idx], y[idx]

    v = ex.check_minibatches(drop_last)
    assert v.status == "failed"
    assert "case 2 of 5: 7 examples in batches of 3: the last batch holds 1" in v.message
    assert "element [0] of the result: expected an array of shape (3,), got shape (2,)" in (
        v.message)


def test_minibatches_without_shuffling():
    def in_order(X, y, batch_size, rng):
        return [(X[s:s + batch_size], y[s:s + batch_size]) for s in range(0, len(X), batch_size)]

    v = ex.check_minibatches(in_order)
    assert "element [1] of the result" in v.message
    assert "rng.permutation(len(X))" in v.message
    # The input shows the Generator the function received, ready to paste.
    assert "rng = np.random.default_rng(0)" in v.message


def test_minibatches_that_shuffle_x_and_y_separately():
    def unpaired(X, y, batch_size, rng):
        ox, oy = rng.permutation(len(X)), rng.permutation(len(X))
        return [(X[ox[s:s + batch_size]], y[oy[s:s + batch_size]])
                for s in range(0, len(X), batch_size)]

    assert ex.check_minibatches(unpaired).status == "failed"


def test_minibatches_returning_something_that_is_not_batches():
    v = ex.check_minibatches(lambda X, y, batch_size, rng: 3)
    text = " ".join(v.message.split())
    assert "minibatches must return (or yield) (X_batch, y_batch) pairs, got int" in text
    v = ex.check_minibatches(lambda X, y, batch_size, rng: [X])
    assert "each batch must be a pair (X_batch, y_batch)" in " ".join(v.message.split())


def test_momentum_with_the_wrong_sign_or_order():
    def plus(w, grad, velocity, lr, momentum):
        v_new = momentum * velocity + lr * grad
        return w + v_new, v_new

    def old_velocity(w, grad, velocity, lr, momentum):
        return w + velocity, momentum * velocity - lr * grad

    v = ex.check_momentum_step(plus)
    assert "first step, zero velocity: a plain SGD step" in v.message
    v = ex.check_momentum_step(old_velocity)
    assert v.status == "failed" and "element [0] of the result" in v.message


def test_momentum_that_updates_in_place_fails():
    def in_place(w, grad, velocity, lr, momentum):
        velocity *= momentum
        velocity -= lr * grad
        return w + velocity, velocity

    v = ex.check_momentum_step(in_place)
    assert "modified its input velocity in place" in v.message


def test_adam_without_bias_correction_fails_on_the_first_step():
    def no_correction(w, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return w - lr * m / (np.sqrt(v) + eps), m, v

    v = ex.check_adam_step(no_correction)
    assert "case 1 of 4: first step (t=1): every weight moves by about lr" in v.message
    assert "expected 0.99, got 0.9684" in v.message
    assert "bias" not in v.message or "1 - beta1**t" in v.message


def test_adam_returning_the_corrected_moments_fails():
    def corrected(w, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m_hat = (beta1 * m + (1 - beta1) * grad) / (1 - beta1**t)
        v_hat = (beta2 * v + (1 - beta2) * grad**2) / (1 - beta2**t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat

    v = ex.check_adam_step(corrected)
    assert "element [1] of the result" in v.message
    assert "the uncorrected m_new and v_new" in " ".join(v.message.split())


def test_he_with_the_xavier_variance_fails_on_the_standard_deviation():
    v = ex.check_he_normal(lambda shape, rng: rng.standard_normal(shape)
                           * np.sqrt(2 / (shape[0] + shape[1])))
    assert v.status == "failed"
    assert "case 1 of 4: a hidden layer 256 -> 128" in v.message
    assert "standard deviation of your weights is 0.0721, expected about 0.0884" in (
        " ".join(v.message.split()))


def test_he_using_fan_out_fails():
    v = ex.check_he_normal(lambda shape, rng: rng.standard_normal(shape) * np.sqrt(2 / shape[1]))
    assert "fan_in = 256" in " ".join(v.message.split())


def test_he_with_the_right_variance_but_uniform_fails_on_the_shape_of_the_distribution():
    v = ex.check_he_normal(lambda shape, rng: rng.uniform(-1, 1, shape) * np.sqrt(6 / shape[0]))
    assert "a normal distribution has 68.3% there" in " ".join(v.message.split())


def test_he_ignoring_the_rng_or_the_shape():
    unseeded = np.random.default_rng()  # not the Generator the check passes
    v = ex.check_he_normal(lambda shape, rng: unseeded.standard_normal(shape)
                           * np.sqrt(2 / shape[0]))
    assert "two calls with the same seed gave different weights" in v.message
    v = ex.check_he_normal(lambda shape, rng: rng.standard_normal(shape[::-1])
                           * np.sqrt(2 / shape[0]))
    assert "expected an array of shape (256, 128), got shape (128, 256)" in v.message
    v = ex.check_he_normal(lambda shape, rng: None)
    assert "returned None" in v.message
    v = ex.check_he_normal(lambda shape, rng: rng.integers(0, 2, shape))
    assert "expected a NumPy array of floats, got dtype int64" in v.message
    v = ex.check_he_normal(lambda shape, rng: rng.standard_normal(shape) + 1)
    assert "the mean of your weights is" in v.message


def test_any_correct_he_normal_passes():
    assert ex.check_he_normal(
        lambda shape, rng: rng.normal(0.0, np.sqrt(2 / shape[0]), size=shape)).status == "passed"


def test_correct_he_normal_passes_whatever_random_stream_it_draws_from():
    # A correct sampler that derives its own stream from rng draws other numbers than the
    # reference. With tolerances of 4% on a 30x30 case, about 1 in 8 such streams failed.
    for offset in range(200):
        def sampler(shape, rng, offset=offset):
            seed = int(rng.integers(2**32)) + offset
            return np.random.default_rng(seed).normal(0.0, np.sqrt(2 / shape[0]), shape)

        v = ex.check_he_normal(sampler)
        assert v.status == "passed", (offset, v.message)


def test_he_with_the_variance_as_standard_deviation_or_fan_in_without_2_fails():
    for scale in (lambda s: 2 / s[0], lambda s: np.sqrt(1 / s[0])):
        v = ex.check_he_normal(lambda shape, rng, scale=scale: rng.standard_normal(shape)
                               * scale(shape))
        assert "standard deviation of your weights" in v.message


# ---------------------------------------------------------------- the tests every lesson shares


class TestLesson03Exercises(
    LessonExerciseTests, lesson="03_deep_networks", exercises=ex, references=REFERENCES,
    exec_globals={"np": np},
):
    """Lesson 3's checks and notebook, by the tests every lesson shares."""
