"""TimeDense, SequenceCrossEntropy with masks, sequence_accuracy, windows, gradient in time."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.core import Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.lstm import LSTM
from dlteach.optim import SGD
from dlteach.recurrent import RNN
from dlteach.sequence import (
    SequenceCrossEntropy,
    TimeDense,
    gradient_through_time,
    sequence_accuracy,
    tbptt_windows,
)
from dlteach.training import fit

shapes = st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4))  # N, T, K
seeds = st.integers(0, 2**16)


@given(shapes, st.integers(1, 4), seeds)
def test_time_dense_passes_gradcheck_and_equals_dense_per_step(shape, d_in, seed):
    n, t, d_out = shape
    rng = np.random.default_rng(seed)
    layer = TimeDense(d_in, d_out, rng=seed)
    layer.b.value = rng.normal(size=d_out)
    x = rng.normal(size=(n, t, d_in))
    report = gradcheck(layer, x, seed=0)
    assert list(report.errors) == ["input", "W", "b"]
    assert report.passed(1e-7), str(report)
    dense = Dense(d_in, d_out, rng=0)
    dense.W.value, dense.b.value = layer.W.value, layer.b.value
    y = layer.forward(x)
    for step in range(t):
        np.testing.assert_allclose(y[:, step], dense.forward(x[:, step]), rtol=0, atol=1e-14)


def _labels_and_mask(rng, n, t, k):
    y = rng.integers(0, k, size=(n, t))
    mask = (rng.random((n, t)) < 0.7).astype(int)
    mask[0, 0] = 1  # at least one real step
    return y, mask


@given(shapes, seeds, st.booleans())
def test_sequence_cross_entropy_passes_gradcheck_with_and_without_mask(shape, seed, masked):
    n, t, k = shape
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, t, k)) * 3
    y, mask = _labels_and_mask(rng, n, t, k)
    loss = SequenceCrossEntropy()
    if not masked:
        report = gradcheck(loss, logits, target=y)
    else:

        def f(z):
            value = loss.forward(z, y, mask)
            return value, loss.backward()

        report = gradcheck(f, logits)
    assert report.passed(1e-7), str(report)


@given(shapes, st.integers(1, 3), seeds, st.booleans(), st.booleans())
def test_a_whole_sequence_model_passes_gradcheck_with_padding(shape, d, seed, masked, rnn):
    # Recurrent layer -> TimeDense -> per-step loss, padded steps marked with ignore_index.
    n, t, k = shape
    rng = np.random.default_rng(seed)
    recurrent = (RNN if rnn else LSTM)(d, 3, rng=seed)
    recurrent.b.value = rng.normal(size=recurrent.b.value.shape)
    model = Sequential(recurrent, TimeDense(3, k, rng=seed + 1))
    y, mask = _labels_and_mask(rng, n, t, k)
    if masked:
        y = np.where(mask == 1, y, -1)
    report = gradcheck(model, rng.normal(size=(n, t, d)),
                       loss=SequenceCrossEntropy(ignore_index=-1), target=y)
    assert report.passed(1e-7), str(report)


def test_sequence_cross_entropy_value_is_the_mean_over_real_steps():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 4))
    y = np.array([[0, 3, 1], [2, 2, 0]])
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    logp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    terms = [-logp[0, 0, 0], -logp[0, 1, 3], -logp[1, 0, 2]]
    loss = SequenceCrossEntropy()
    assert loss(logits, y, mask) == pytest.approx(np.mean(terms), rel=1e-12)
    grad = loss.backward()
    assert not grad[0, 2].any() and not grad[1, 1:].any()  # padding gets no gradient
    p = np.exp(logp[0, 0])
    np.testing.assert_allclose(grad[0, 0], (p - np.eye(4)[0]) / 3, rtol=1e-12)
    # Without a mask: the mean over all 6 steps; boolean masks work as well.
    assert loss(logits, y) == pytest.approx(-np.mean(np.take_along_axis(
        logp, y[..., None], axis=2)), rel=1e-12)
    assert loss(logits, y, mask.astype(bool)) == pytest.approx(np.mean(terms), rel=1e-12)
    # ignore_index masks the same steps from the targets themselves.
    padded = np.where(mask == 1, y, -1)
    ignoring = SequenceCrossEntropy(ignore_index=-1)
    assert ignoring(logits, padded) == pytest.approx(np.mean(terms), rel=1e-12)
    np.testing.assert_allclose(ignoring.backward(), grad, rtol=1e-14)


def test_sequence_cross_entropy_is_stable_and_keeps_float32():
    logits = np.array([[[1e4, 0.0, -1e4]]], dtype=np.float32)
    loss = SequenceCrossEntropy()
    assert loss(logits, np.array([[0]])) == 0.0
    assert loss(logits, np.array([[2]])) == pytest.approx(2e4)
    assert loss.backward().dtype == np.float32


def test_sequence_cross_entropy_errors():
    loss = SequenceCrossEntropy()
    z = np.zeros((2, 3, 4))
    with pytest.raises(InvalidValueError, match=r"^SequenceCrossEntropy\(\): target must lie in "
                                                r"0\.\.3 for 4 classes, got a label 4 at "
                                                r"sequence 1, step 2\.$"):
        loss(z, np.array([[0, 1, 2], [3, 0, 4]]))
    with pytest.raises(ShapeError, match=r"expected target of shape \(2, 3\) \(one label per "
                                         r"step\), got \(2, 4\)"):
        loss(z, np.zeros((2, 4), dtype=int))
    with pytest.raises(DTypeError, match=r"labels as floats .* Convert them with target\.astype"):
        loss(z, np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"expected logits of shape \(N, T, K\), got \(2, 4\)"):
        loss(np.zeros((2, 4)), np.zeros(2, dtype=int))
    with pytest.raises(InvalidValueError, match=r"mask must hold 0 \(padding\) or 1 .* got 2 at "
                                                r"sequence 0, step 1"):
        loss(z, np.zeros((2, 3), dtype=int), np.array([[1, 2, 0], [0, 0, 0]]))
    with pytest.raises(ShapeError, match=r"expected mask of shape \(2, 3\) \(N, T\), got \(3, 2\)"):
        loss(z, np.zeros((2, 3), dtype=int), np.ones((3, 2)))
    with pytest.raises(InvalidValueError, match=r"the mask is all 0"):
        loss(z, np.zeros((2, 3), dtype=int), np.zeros((2, 3)))
    with pytest.raises(InvalidValueError, match=r"every step is masked or ignored"):
        SequenceCrossEntropy(ignore_index=-1)(z, np.full((2, 3), -1))
    with pytest.raises(InvalidValueError, match=r"logits holds 1 NaN value"):
        loss(np.where(np.arange(24).reshape(2, 3, 4) == 5, np.nan, 0.0), np.zeros((2, 3), int))
    with pytest.raises(DTypeError, match=r"ignore_index must be an integer label or None"):
        SequenceCrossEntropy(ignore_index=0.5)
    with pytest.raises(InvalidValueError, match=r"backward called before forward"):
        SequenceCrossEntropy().backward()


def test_check_targets_refuses_bad_labels_before_training():
    loss = SequenceCrossEntropy()
    with pytest.raises(InvalidValueError, match=r"^fit: SequenceCrossEntropy\(\): y must lie in "
                                                r"0\.\.4 .* got a label 7 at sequence 1, step 0"):
        loss.check_targets(np.array([[0, 1], [7, 2]]), (1, 2, 5), owner="fit", name="y")
    with pytest.raises(ShapeError, match=r"needs a model whose output is per-step logits"):
        loss.check_targets(np.array([[0, 1]]), (1, 5), owner="fit")
    with pytest.raises(ShapeError, match=r"expected y of shape \(2, 3\)"):
        loss.check_targets(np.zeros((2, 2), dtype=int), (1, 3, 5), owner="fit", name="y")
    np.testing.assert_array_equal(
        SequenceCrossEntropy(ignore_index=-1).check_targets(
            np.array([[0, -1]]), (1, 2, 5), owner="fit"), [[0, -1]])


def test_a_sequence_model_trains_with_fit_and_passes_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5, 3))
    y = (x[..., 0] > 0).astype(int)  # the class of each step: the sign of its first feature
    y[:, -1] = -1  # padding, ignored
    model = Sequential(LSTM(3, 6, rng=0), TimeDense(6, 2, rng=1))
    loss = SequenceCrossEntropy(ignore_index=-1)
    report = gradcheck(model, x[:3], loss=loss, target=y[:3])
    assert report.passed(1e-7), str(report)
    history = fit(model, x, y, loss=loss, optimizer=SGD(model.parameters(), lr=0.5),
                  epochs=30, batch_size=8, metrics=None, progress=False)
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    mask = (y != -1).astype(int)
    assert sequence_accuracy(model.forward(x), np.where(y < 0, 0, y), mask) > 0.9


def test_sequence_accuracy_with_and_without_mask():
    scores = np.zeros((2, 3, 4))
    scores[0, :, 1] = 1  # predicts 1, 1, 1
    scores[1, :, 2] = 1  # predicts 2, 2, 2
    targets = np.array([[1, 1, 0], [2, 3, 3]])
    assert sequence_accuracy(scores, targets) == pytest.approx(3 / 6)
    assert sequence_accuracy(scores, targets, np.array([[1, 1, 0], [1, 0, 0]])) == 1.0
    assert sequence_accuracy(np.argmax(scores, axis=2), targets) == pytest.approx(0.5)
    with pytest.raises(ShapeError, match=r"^sequence_accuracy: expected targets of shape "
                                         r"\(2, 3\) \(N, T\), got \(3, 2\)"):
        sequence_accuracy(scores, targets.T)
    with pytest.raises(ShapeError, match=r"expected scores of shape \(N, T, K\)"):
        sequence_accuracy(np.zeros(3), targets)
    with pytest.raises(InvalidValueError, match=r"the mask is all 0"):
        sequence_accuracy(scores, targets, np.zeros((2, 3)))


def test_tbptt_windows_cut_along_time_as_views():
    x = np.arange(2 * 7 * 3, dtype=float).reshape(2, 7, 3)
    y = np.arange(14).reshape(2, 7)
    windows = tbptt_windows(x, 3, y)
    assert [w[0].shape for w in windows] == [(2, 3, 3), (2, 3, 3), (2, 1, 3)]
    np.testing.assert_array_equal(np.concatenate([w[0] for w in windows], axis=1), x)
    np.testing.assert_array_equal(np.concatenate([w[1] for w in windows], axis=1), y)
    assert np.shares_memory(windows[1][0], x)
    assert all(w[1] is None for w in tbptt_windows(x, 4))
    with pytest.raises(ShapeError, match=r"^tbptt_windows: expected y with the first two axes"):
        tbptt_windows(x, 3, y[:, :5])
    with pytest.raises(ShapeError, match=r"expected x of shape \(N, T\) or \(N, T, D\)"):
        tbptt_windows(np.zeros(5), 3)
    with pytest.raises(InvalidValueError, match=r"length must be at least 1"):
        tbptt_windows(x, 0)


def test_truncated_bptt_training_over_windows():
    # A stateful LSTM trained window by window: each window's loss goes down, the state
    # is carried (the forward over windows equals one long pass), and every step runs.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 24, 2))
    y = (np.cumsum(x[..., 0], axis=1) > 0).astype(int)  # needs memory across windows
    lstm = LSTM(2, 8, stateful=True, rng=0)
    model = Sequential(lstm, TimeDense(8, 2, rng=1))
    loss, opt = SequenceCrossEntropy(), SGD(model.parameters(), lr=0.5)
    first = last = None
    for _ in range(40):
        lstm.reset_state()
        total = 0.0
        for xw, yw in tbptt_windows(x, 6, y):
            opt.zero_grad()
            total += loss(model.forward(xw), yw)
            model.backward(loss.backward())
            opt.step()
        first = total if first is None else first
        last = total
    assert last < 0.7 * first
    lstm.reset_state()
    windows = np.concatenate([model.forward(xw) for xw, _ in tbptt_windows(x, 6)], axis=1)
    lstm.stateful = False
    np.testing.assert_allclose(windows, model.forward(x), rtol=0, atol=1e-12)


def test_gradient_through_time_leaves_the_model_as_it_was():
    x = np.random.default_rng(2).normal(size=(4, 12, 3))
    layer = RNN(3, 5, rng=0)
    layer.Wx.grad[...] = 3.0
    norms = gradient_through_time(layer, x)
    assert norms.shape == (12,) and norms.dtype == np.float64
    assert (norms > 0).all() and norms[0] < norms[-1]
    np.testing.assert_array_equal(layer.Wx.grad, 3.0)
    # A stateful layer starts from its carried state, and keeps it.
    stateful = RNN(3, 5, stateful=True, rng=0)
    stateful.forward(x[:, :3])
    carried = stateful.last_state
    gradient_through_time(stateful, x)
    np.testing.assert_array_equal(stateful._carry[0], carried)
    # return_sequences=False gives the same curve; so does a model holding the layer.
    last = RNN(3, 5, return_sequences=False, rng=0)
    np.testing.assert_allclose(gradient_through_time(last, x), norms, rtol=1e-12)
    model = Sequential(RNN(3, 5, rng=0), RNN(5, 4, rng=1))
    assert gradient_through_time(model, x).shape == (12,)
    with pytest.raises(ShapeError, match=r"^gradient_through_time: expected x with 3 dim"):
        gradient_through_time(layer, x[0])
