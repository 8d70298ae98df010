"""The perceptron (lesson 1): the neuron's pieces, Rosenblatt's rule and the classifier."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.perceptron import (
    Perceptron,
    count_mistakes,
    perceptron_update,
    step,
    weighted_sum,
)

GATE_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
GATES = {
    "and": np.array([0, 0, 0, 1]),
    "or": np.array([0, 1, 1, 1]),
    "nand": np.array([1, 1, 1, 0]),
    "xor": np.array([0, 1, 1, 0]),
}


def separable_blobs(n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(scale=0.6, size=(n, 2)) + np.where(y[:, None] == 1, 2.5, -2.5)
    return X, y


# ---------------------------------------------------------------- weighted_sum and step


def test_weighted_sum_of_one_example_is_a_float():
    z = weighted_sum(np.array([1.0, 2.0]), np.array([0.5, -1.0]), 0.25)
    assert isinstance(z, float)
    assert z == pytest.approx(1.0 * 0.5 - 2.0 + 0.25)


def test_weighted_sum_of_a_batch_matches_the_per_example_sum():
    rng = np.random.default_rng(0)
    X, w = rng.normal(size=(7, 3)), rng.normal(size=3)
    z = weighted_sum(X, w, -0.5)
    assert z.shape == (7,)
    np.testing.assert_allclose(z, [sum(x * w) - 0.5 for x in X])


def test_weighted_sum_accepts_lists_and_integer_inputs():
    assert weighted_sum([1, 2], [3, 4], 1) == pytest.approx(12.0)
    np.testing.assert_allclose(weighted_sum(np.array([[1, 0], [0, 1]]), [2.0, 3.0], 0.0), [2, 3])


@pytest.mark.parametrize(
    ("x", "w", "b", "error", "match"),
    [
        (np.ones((2, 3)), np.ones(2), 0.0, ShapeError,
         r"weighted_sum: expected x of shape \(2,\) or \(N, 2\) .* got \(2, 3\)"),
        (np.ones((2, 2, 2)), np.ones(2), 0.0, ShapeError, r"got \(2, 2, 2\)"),
        (np.ones(2), np.ones((2, 1)), 0.0, ShapeError, r"weighted_sum: expected w with 1 dim"),
        (np.ones(2), np.ones(2), np.ones(2), ShapeError,
         r"weighted_sum: expected the bias b to be a single number, got an array of shape \(2,\)"),
        (np.ones(2), np.ones(2), "1", DTypeError, r"weighted_sum: expected b to be a NumPy array"),
        (np.array(["a", "b"]), np.ones(2), 0.0, DTypeError,
         r"weighted_sum: expected x to hold numbers"),
    ],
)
def test_weighted_sum_rejects_bad_input(x, w, b, error, match):
    with pytest.raises(error, match=match):
        weighted_sum(x, w, b)


def test_step_is_one_at_zero_and_keeps_the_shape():
    assert step(0.0) == 1 and step(-1e-12) == 0 and step(3) == 1
    assert isinstance(step(0.0), int)
    z = np.array([[-2.0, 0.0], [1e-9, -0.5]])
    out = step(z)
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out, [[0, 1], [1, 0]])


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
def test_step_matches_its_definition(z):
    np.testing.assert_array_equal(step(z), np.where(z >= 0, 1, 0))


def test_step_rejects_strings():
    with pytest.raises(DTypeError, match="step: expected z to hold numbers"):
        step(np.array(["x"]))


# ---------------------------------------------------------------- Rosenblatt's rule


def test_update_leaves_a_correct_prediction_alone():
    w, b = np.array([1.0, 1.0]), -1.5
    new_w, new_b = perceptron_update(w, b, np.array([1.0, 1.0]), 1, 1.0)
    np.testing.assert_array_equal(new_w, w)
    assert new_b == b


def test_update_adds_x_on_a_missed_positive_and_subtracts_it_on_a_false_alarm():
    new_w, new_b = perceptron_update(np.array([0.5, -0.5]), -1.0, np.array([1.0, 2.0]), 1, 0.5)
    np.testing.assert_allclose(new_w, [1.0, 0.5])
    assert new_b == pytest.approx(-0.5)
    # z exactly 0 predicts 1, so label 0 is a false alarm
    new_w, new_b = perceptron_update(np.zeros(2), 0.0, np.array([0.0, 1.0]), 0, 1.0)
    np.testing.assert_allclose(new_w, [0.0, -1.0])
    assert new_b == pytest.approx(-1.0)


@given(
    arrays(np.float64, 3, elements=st.floats(-5, 5)),
    st.floats(-5, 5),
    arrays(np.float64, 3, elements=st.floats(-5, 5)),
    st.sampled_from([0, 1]),
    st.floats(0.01, 2.0),
)
def test_update_never_modifies_its_inputs_and_returns_new_arrays(w, b, x, y, lr):
    w_before, x_before = w.copy(), x.copy()
    new_w, new_b = perceptron_update(w, b, x, y, lr)
    np.testing.assert_array_equal(w, w_before)
    np.testing.assert_array_equal(x, x_before)
    assert new_w is not w
    y_hat = 1 if w @ x + b >= 0 else 0
    np.testing.assert_allclose(new_w, w + lr * (y - y_hat) * x)
    assert new_b == pytest.approx(b + lr * (y - y_hat))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((np.zeros(2), 0.0, np.zeros(3), 1, 1.0), ShapeError,
         r"perceptron_update: expected x_i of shape \(2,\), got \(3,\)"),
        ((np.zeros(2), 0.0, np.zeros(2), 2, 1.0), InvalidValueError,
         "perceptron_update: the label y_i must be 0 or 1, got 2"),
        ((np.zeros(2), 0.0, np.zeros(2), -1, 1.0), InvalidValueError, "must be 0 or 1, got -1"),
        ((np.zeros(2), 0.0, np.zeros(2), 1, 0.0), InvalidValueError,
         "perceptron_update: lr must be a positive number, got 0.0"),
        ((np.zeros(2), 0.0, np.zeros(2), 1, -1.0), InvalidValueError, "lr must be a positive"),
    ],
)
def test_update_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        perceptron_update(*args)


# ---------------------------------------------------------------- count_mistakes


def test_count_mistakes_counts_boundary_points_as_positive():
    y = GATES["and"]
    assert count_mistakes(np.array([1.0, 1.0]), -1.5, GATE_X, y) == 0
    assert count_mistakes(np.array([1.0, 1.0]), -1.0, GATE_X, y) == 2  # (0,1), (1,0) on the line
    assert count_mistakes(np.array([-1.0, -1.0]), 1.5, GATE_X, y) == 4
    assert isinstance(count_mistakes(np.array([1.0, 1.0]), -1.5, GATE_X, y), int)


def test_count_mistakes_rejects_mismatched_lengths_and_bad_labels():
    with pytest.raises(ShapeError, match="count_mistakes: X and y must hold the same number"):
        count_mistakes(np.ones(2), 0.0, GATE_X, np.array([0, 1]))
    with pytest.raises(InvalidValueError, match=r"count_mistakes: y must lie in 0..1 .* label 2"):
        count_mistakes(np.ones(2), 0.0, GATE_X, np.array([0, 1, 2, 0]))


# ---------------------------------------------------------------- the Perceptron class


@pytest.mark.parametrize("gate", ["and", "or", "nand"])
def test_perceptron_learns_the_linearly_separable_gates(gate):
    model = Perceptron().fit(GATE_X, GATES[gate])
    assert model.converged_
    np.testing.assert_array_equal(model.predict(GATE_X), GATES[gate])
    assert model.mistakes_per_epoch_[-1] == 0
    assert model.n_epochs_ == len(model.mistakes_per_epoch_) == len(model.history_)
    assert model.report() == (
        f"converged after {model.n_epochs_} epoch{'s' if model.n_epochs_ > 1 else ''} "
        "(0 mistakes in the last epoch)"
    )


def test_perceptron_separates_blobs_perfectly():
    X, y = separable_blobs()
    model = Perceptron(lr=0.5, seed=3).fit(X, y)
    assert model.converged_
    assert np.mean(model.predict(X) == y) == 1.0
    assert count_mistakes(model.w_, model.b_, X, y) == 0
    np.testing.assert_allclose(model.decision_function(X), X @ model.w_ + model.b_)
    # history_ records the boundary after each epoch; its last entry is the final model
    w_last, b_last = model.history_[-1]
    np.testing.assert_array_equal(w_last, model.w_)
    assert b_last == model.b_


def test_perceptron_does_not_converge_on_xor_and_stops_at_max_epochs():
    model = Perceptron(max_epochs=30).fit(GATE_X, GATES["xor"])
    assert not model.converged_
    assert model.n_epochs_ == 30 == len(model.mistakes_per_epoch_)
    assert min(model.mistakes_per_epoch_) > 0
    assert np.mean(model.predict(GATE_X) == GATES["xor"]) < 1.0
    assert model.report().startswith("did not converge in 30 epochs: ")
    assert "may not be linearly separable" in model.report()


def test_xor_training_emits_no_warning(recwarn):
    Perceptron(max_epochs=5).fit(GATE_X, GATES["xor"])
    assert len(recwarn) == 0


def test_same_seed_gives_the_same_model_and_other_seeds_change_the_visiting_order():
    X, y = separable_blobs(60, seed=1)
    a = Perceptron(seed=7).fit(X, y)
    b = Perceptron(seed=7).fit(X, y)
    np.testing.assert_array_equal(a.w_, b.w_)
    assert a.mistakes_per_epoch_ == b.mistakes_per_epoch_
    others = [Perceptron(seed=s).fit(X, y) for s in range(5)]
    assert any(not np.array_equal(m.w_, a.w_) for m in others)


def test_without_shuffle_the_order_is_fixed_whatever_the_seed():
    X, y = separable_blobs(40, seed=2)
    a = Perceptron(shuffle=False, seed=1).fit(X, y)
    b = Perceptron(shuffle=False, seed=2).fit(X, y)
    np.testing.assert_array_equal(a.w_, b.w_)


def test_history_holds_one_independent_copy_per_epoch():
    model = Perceptron(max_epochs=10).fit(GATE_X, GATES["xor"])
    assert len(model.history_) == 10
    ws = [w for w, _ in model.history_]
    assert any(not np.array_equal(ws[0], w) for w in ws[1:])  # the boundary moved
    last = ws[-1].copy()
    model.w_ += 100.0  # changing the model must not rewrite the recorded history
    np.testing.assert_array_equal(model.history_[-1][0], last)


def test_fit_does_not_modify_the_data():
    X, y = separable_blobs(20)
    X0, y0 = X.copy(), y.copy()
    Perceptron().fit(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_repr_is_readable_and_deterministic():
    assert repr(Perceptron()) == "Perceptron(lr=1.0, max_epochs=100, seed=0, shuffle=True)"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": 0}, InvalidValueError, "Perceptron: lr must be a positive number, got 0"),
        ({"lr": "fast"}, DTypeError, "Perceptron: expected lr to be a number, got str"),
        ({"max_epochs": 0}, InvalidValueError, "Perceptron: max_epochs must be at least 1, got 0"),
        ({"max_epochs": 2.5}, DTypeError, "Perceptron: expected max_epochs to be an integer"),
        ({"seed": "abc"}, DTypeError, "Perceptron: seed must be an int seed >= 0"),
    ],
)
def test_constructor_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        Perceptron(**kwargs)


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (np.ones(4), np.array([0, 1, 0, 1]), ShapeError,
         r"Perceptron\(.*\): expected X of shape \(N, D\), got \(4,\)"),
        (GATE_X, np.array([0, 1, 0]), ShapeError,
         r"Perceptron\(.*\): X and y must hold the same number of examples, got 4 and 3"),
        (GATE_X, np.array([0, 1, 2, 1]), InvalidValueError,
         r"Perceptron\(.*\): y must lie in 0..1 for 2 classes, got a label 2"),
        (GATE_X, np.array([-1, 1, 1, -1]), InvalidValueError, "got a label -1"),
        (GATE_X, np.array([0.0, 1.0, 1.0, 0.0]), DTypeError,
         r"expected y with an integer dtype .* Convert it with y.astype\(int\)"),
    ],
)
def test_fit_rejects_bad_data(X, y, error, match):
    with pytest.raises(error, match=match):
        Perceptron().fit(X, y)


def test_predict_and_report_before_fit_and_with_the_wrong_width():
    model = Perceptron()
    with pytest.raises(InvalidValueError, match=r"Perceptron\(.*\): not fitted yet. Call fit"):
        model.predict(GATE_X)
    with pytest.raises(InvalidValueError, match="not fitted yet"):
        model.report()
    model.fit(GATE_X, GATES["or"])
    with pytest.raises(ShapeError, match=r"expected X of shape \(N, 2\), got \(4, 3\)"):
        model.predict(np.ones((4, 3)))


def test_perceptron_update_names_a_label_given_as_an_array_or_a_boolean():
    w, x = np.zeros(2), np.ones(2)
    with pytest.raises(ShapeError, match=r"single number 0 or 1, got an array of shape \(1,\)"):
        perceptron_update(w, 0.0, x, np.array([1]), 0.1)
    for flag in (True, np.True_):
        with pytest.raises(InvalidValueError, match="the label y_i must be 0 or 1"):
            perceptron_update(w, 0.0, x, flag, 0.1)
    new_w, _ = perceptron_update(w, -1.0, x, np.array(1), 0.1)  # a 0-d array is a number
    np.testing.assert_allclose(new_w, [0.1, 0.1])
