"""Lesson 3's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import numpy as np
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing, flat

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
    assert_failed_showing(v, "case 1 of 7: every prediction right", "not a count")


def test_accuracy_taking_the_argmax_over_the_wrong_axis():
    v = ex.check_accuracy(lambda y, s: float(np.mean(np.argmax(s, axis=0) == y)))
    assert_failed_showing(v, "case 3 of 7: probabilities, 3 of 4 right", "along that row")


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
    assert_failed_showing(v, "case 3 of 8: 7 examples in batches of 3: the last batch holds 1",
                          "neither dropped")


def test_minibatches_without_shuffling():
    def in_order(X, y, batch_size, rng):
        return [(X[s:s + batch_size], y[s:s + batch_size]) for s in range(0, len(X), batch_size)]

    v = ex.check_minibatches(in_order)
    assert_failed_showing(v, "case 1 of 8", "rng.permutation(N)")
    # The input shows the Generator the function received, ready to paste.
    assert "np.random.default_rng(0)" in v.message


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
    assert_failed_showing(v, "case 1 of 5", "w moves by that new velocity")


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
    assert_failed_showing(v, "case 1 of 6: first step (t=1): every weight moves by about lr")
    assert "bias correction" in flat(v.message)


def test_adam_returning_the_corrected_moments_fails():
    def corrected(w, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m_hat = (beta1 * m + (1 - beta1) * grad) / (1 - beta1**t)
        v_hat = (beta2 * v + (1 - beta2) * grad**2) / (1 - beta2**t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), m_hat, v_hat

    v = ex.check_adam_step(corrected)
    assert_failed_showing(v, "case 1 of 6")
    assert "running means before that correction" in flat(v.message)


def test_he_with_the_xavier_variance_fails_on_the_standard_deviation():
    v = ex.check_he_normal(lambda shape, rng: rng.standard_normal(shape)
                           * np.sqrt(2 / (shape[0] + shape[1])))
    assert v.status == "failed"
    assert "case 1 of 5: a hidden layer 256 -> 128" in v.message
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


# ---------------------------------------------------------------- the subtler mistakes
# Each test names a wrong answer that passes every case before the one added for it, and
# shows that the reference and another correct way of writing the function still pass.


def test_accuracy_through_a_naive_softmax_fails_on_huge_logits():
    def naive_softmax(y, s):
        p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)  # inf / inf = nan
        return float(np.mean(np.argmax(p, axis=1) == y))

    with np.errstate(over="ignore", invalid="ignore"):
        v = ex.check_accuracy(naive_softmax)
    assert_failed_showing(v, "case 7 of 7: raw logits up to 1e300", "overflows")

    def stable_softmax(y, s):  # subtracting the row maximum keeps exp finite: correct
        z = np.exp(s - s.max(axis=1, keepdims=True))
        return float(np.mean(np.argmax(z / z.sum(axis=1, keepdims=True), axis=1) == y))

    with np.errstate(over="ignore"):
        assert ex.check_accuracy(stable_softmax).status == "passed"
    assert ex.check_accuracy(metrics.accuracy).status == "passed"


def test_minibatches_with_a_seed_of_their_own_fail_on_another_seed():
    def fixed_seed(X, y, batch_size, rng):
        order = np.random.default_rng(0).permutation(len(X))  # ignores rng
        return [(X[order[s:s + batch_size]], y[order[s:s + batch_size]])
                for s in range(0, len(X), batch_size)]

    assert_failed_showing(ex.check_minibatches(fixed_seed),
                          "case 2 of 8: the same data with another seed: another order",
                          "Only the seed changed")


def test_minibatches_filling_an_integer_or_two_dimensional_buffer_fail_on_images():
    def int_buffer(X, y, batch_size, rng):
        order = rng.permutation(len(X))
        for s in range(0, len(X), batch_size):
            idx = order[s:s + batch_size]
            Xb = np.zeros((len(idx), *X.shape[1:]), dtype=int)
            for row, i in enumerate(idx):
                Xb[row] = X[i]  # 0.125 -> 0
            yield Xb, y[idx]

    def rows_of_two_axes(X, y, batch_size, rng):
        order = rng.permutation(len(X))
        for s in range(0, len(X), batch_size):
            idx = order[s:s + batch_size]
            yield X[idx].reshape(len(idx), -1), y[idx]  # flattens images

    for wrong in (int_buffer, rows_of_two_axes):
        assert_failed_showing(ex.check_minibatches(wrong),
                              "case 7 of 8: images (N, 1, 2, 2)", "more than two axes")


def test_minibatches_from_a_copy_of_rng_repeat_the_first_epoch():
    import copy

    def copied(X, y, batch_size, rng):
        order = copy.deepcopy(rng).permutation(len(X))  # rng never advances
        for s in range(0, len(X), batch_size):
            yield X[order[s:s + batch_size]], y[order[s:s + batch_size]]

    assert_failed_showing(ex.check_minibatches(copied),
                          "case 8 of 8: two epochs from one Generator", "repeats the first")


def test_minibatches_written_another_correct_way_pass():
    def shuffle_then_slice(X, y, batch_size, rng):
        order = rng.permutation(len(y))
        Xs, ys = X[order], y[order]
        return [(Xs[s:s + batch_size], ys[s:s + batch_size]) for s in range(0, len(y), batch_size)]

    assert ex.check_minibatches(shuffle_then_slice).status == "passed"
    assert ex.check_minibatches(minibatches_reference).status == "passed"


def _adam_with(denominator):
    """An Adam step whose update divides m_hat by denominator(v_new, v_hat, t, beta2, eps)."""

    def step(w, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m_new = beta1 * m + (1 - beta1) * grad
        v_new = beta2 * v + (1 - beta2) * grad**2
        m_hat, v_hat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
        return w - lr * m_hat / denominator(v_new, v_hat, t, beta2, eps), m_new, v_new

    return step


def test_adam_with_eps_in_the_wrong_place_fails_on_gradients_as_small_as_eps():
    wrong = {
        "inside the root": lambda v_new, v_hat, t, b2, eps: np.sqrt(v_hat + eps),
        "before the bias correction": lambda v_new, v_hat, t, b2, eps:
            (np.sqrt(v_new) + eps) / np.sqrt(1 - b2**t),
    }
    for name, denominator in wrong.items():
        v = ex.check_adam_step(_adam_with(denominator))
        assert v.status == "failed", name
        assert "case 5 of 6: gradients as small as eps (1e-8)" in v.message, name
        assert "not inside the root" in flat(v.message)


def test_adam_ignoring_the_eps_argument_fails_when_the_caller_passes_one():
    v = ex.check_adam_step(_adam_with(lambda v_new, v_hat, t, b2, eps: np.sqrt(v_hat) + 1e-8))
    assert_failed_showing(v, "case 6 of 6: eps = 1e-4 given by the caller", "eps argument")


def test_adam_written_as_pytorch_does_passes():
    def pytorch_style(w, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m_new = beta1 * m + (1 - beta1) * grad
        v_new = beta2 * v + (1 - beta2) * grad * grad
        denom = np.sqrt(v_new) / np.sqrt(1 - beta2**t) + eps
        return w - (lr / (1 - beta1**t)) * m_new / denom, m_new, v_new

    assert ex.check_adam_step(pytorch_style).status == "passed"
    assert ex.check_adam_step(optim.adam_step).status == "passed"


def test_he_normal_with_a_seed_of_its_own_fails_on_two_seeds():
    for own in (lambda shape, rng: np.random.default_rng(42).standard_normal(shape)
                * np.sqrt(2 / shape[0]),
                lambda shape, rng: np.random.default_rng(shape[0]).normal(
                    0.0, np.sqrt(2 / shape[0]), shape)):
        v = ex.check_he_normal(own)
        assert_failed_showing(v, "case 5 of 5: two different seeds (1 and 2)",
                              "from the Generator rng you are given")
    assert ex.check_he_normal(init.he_normal).status == "passed"


def test_he_normal_with_integer_division_fails_on_the_standard_deviation():
    v = ex.check_he_normal(lambda shape, rng: rng.standard_normal(shape) * np.sqrt(2 // shape[0]))
    assert_failed_showing(v, "case 1 of 5", "standard deviation", "not an integer division")


def test_no_hint_of_lesson_3_hands_over_a_line_of_solution_code():
    hints = [h for h in vars(ex).values() if isinstance(h, str)]
    wrong = [lambda *a, **k: 0.5, lambda *a, **k: (np.zeros(2), np.zeros(2))]
    for check in (ex.check_accuracy, ex.check_momentum_step, ex.check_adam_step):
        for fn in wrong:
            hints.append(check(fn).message)
    for text in hints:
        for code in ("np.argmax(", "np.mean(", "np.sqrt(", "yield X", "permutation(len",
                     "w + v_new", "- lr *", "standard_normal(shape)"):
            assert code not in text, (code, text)
