"""Training that cannot silently go wrong: bad data is named before the first step,
an exploding loss stops with advice, losses refuse NaN/inf predictions, numbers print
compactly."""

from __future__ import annotations

import numpy as np
import pytest

import dlteach as dl
from dlteach.errors import DTypeError, InvalidValueError, NonFiniteError, TrainingDivergedError
from dlteach.validation import compact_number


def weights(model):
    return {k: p.value.copy() for k, p in model.named_parameters().items()}


def same_weights(model, before):
    return all(np.array_equal(p.value, before[k]) for k, p in model.named_parameters().items())


def classifier(n_in=2, n_out=3):
    return dl.mlp([n_in, 8, n_out], rng=0)


def data(n=40, n_in=2, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.integers(0, k, size=n)


def run(model, X, y, loss=None, **kw):
    loss = dl.SoftmaxCrossEntropy() if loss is None else loss
    kw.setdefault("epochs", 2)
    return dl.fit(model, X, y, loss=loss, optimizer=dl.SGD(model.parameters(), lr=0.1),
                  batch_size=8, progress=False, **kw)


# --- the whole data set is checked before the first step ---------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_inputs_are_counted_and_located_and_the_model_is_untouched(bad):
    X, y = data()
    X[17, 1] = bad
    X[30, 0] = bad
    X[33, 1] = bad
    model = classifier()
    before = weights(model)
    kind = "NaN values" if np.isnan(bad) else "infinite values"
    with pytest.raises(NonFiniteError, match=(
            rf"^fit: X_train holds 3 {kind}, the first at row 17, column 1\. Remove or fill")):
        run(model, X, y)
    assert same_weights(model, before)


def test_a_bad_entry_in_the_last_batch_is_still_caught_before_any_step():
    X, y = data()
    y[-1] = 3  # out of range for 3 classes, in the very last batch of every epoch order
    model = classifier()
    before = weights(model)
    with pytest.raises(InvalidValueError, match=(
            r"^fit: SoftmaxCrossEntropy\(\): y_train must lie in 0\.\.2 for 3 classes, "
            r"got a label 3 at row 39\.")):
        run(model, X, y)
    assert same_weights(model, before)


def test_labels_out_of_range_are_counted():
    X, y = data()
    y[[4, 9]] = -1
    with pytest.raises(InvalidValueError, match=r"got a label -1 at row 4; 2 labels are out"):
        run(classifier(), X, y)


def test_mixed_nan_and_inf_are_both_counted():
    X, y = data()
    X[2, 0], X[5, 1] = np.inf, np.nan
    with pytest.raises(NonFiniteError, match=r"1 NaN value and 1 infinite value, the first "
                                             r"\(inf\) at row 2, column 0"):
        run(classifier(), X, y)


def test_images_are_located_by_row_and_index_within_the_row():
    X = np.zeros((6, 1, 4, 4))
    X[3, 0, 2, 1] = np.nan
    model = dl.Sequential(dl.Flatten(), dl.Dense(16, 2, rng=0))
    with pytest.raises(NonFiniteError, match=r"1 NaN value: nan at row 3, index \(0, 2, 1\) "):
        run(model, X, np.zeros(6, dtype=int))


def test_validation_data_is_checked_with_its_own_name():
    X, y = data()
    Xv, yv = data(10, seed=1)
    Xv[4, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"^fit: X_val holds 1 NaN value: nan at row 4"):
        run(classifier(), X, y, validation_data=(Xv, yv))
    Xv[4, 0] = 0.0
    yv[7] = 5
    model = classifier()
    before = weights(model)
    with pytest.raises(InvalidValueError, match=r"y_val must lie in 0\.\.2 .* label 5 at row 7"):
        run(model, X, y, validation_data=(Xv, yv))
    assert same_weights(model, before)


def test_regression_targets_with_nan_are_named():
    X, _ = data()
    y = np.ones((40, 1))
    y[12, 0] = np.nan
    model = dl.mlp([2, 4, 1], rng=0)
    before = weights(model)
    with pytest.raises(NonFiniteError, match=r"^fit: y_train holds 1 NaN value: nan at row 12, "
                                             r"column 0"):
        run(model, X, y, loss=dl.MSELoss(), metrics=())
    assert same_weights(model, before)


@pytest.mark.parametrize(
    ("y", "error", "message"),
    [
        (np.arange(40) % 3 * 1.0, DTypeError,
         r"y_train holds class labels as floats .*y_train\.astype\(int\)"),
        (np.arange(40) % 3 + 0.5, DTypeError, r"labels must be integers\. 0\.5 is not a class"),
        (np.array(["a", "b"] * 20), DTypeError, r"^fit: expected y_train to hold numbers, got "
                                                r"text"),
        (np.eye(3)[np.arange(40) % 3] * 0.5, InvalidValueError,
         r"each row of y_train must sum to 1 .*row 0 sums to 0\.5"),
        (np.zeros((40, 4)), Exception, r"labels of shape \(40,\) or probability rows of shape "
                                       r"\(40, 3\), got \(40, 4\)"),
    ],
)
def test_labels_of_the_wrong_kind_are_refused_before_training(y, error, message):
    X, _ = data()
    model = classifier()
    before = weights(model)
    with pytest.raises(error, match=message):
        run(model, X, y)
    assert same_weights(model, before)


def test_binary_targets_other_than_0_and_1_are_located():
    X, _ = data()
    y = (np.arange(40) % 2).reshape(-1, 1)
    y[21, 0] = 2
    model = dl.mlp([2, 4, 1], rng=0)
    with pytest.raises(InvalidValueError, match=r"y_train \(integer targets\) must be 0 or 1, "
                                                r"got a label 2 at row 21, column 0"):
        run(model, X, y, loss=dl.BinaryCrossEntropy(from_logits=True))
    y = y.astype(float)
    y[21, 0] = 1.5
    with pytest.raises(InvalidValueError, match=r"must lie in \[0, 1\], got 1\.5 at row 21"):
        run(model, X, y, loss=dl.BinaryCrossEntropy(from_logits=True))


def test_a_target_shape_the_model_cannot_produce_is_refused_before_training():
    X, _ = data()
    model = dl.mlp([2, 4, 2], rng=0)
    with pytest.raises(Exception, match=r"needs y_train of the model output's shape \(N, 2\), "
                                        r"got \(40, 1\)"):
        run(model, X, np.zeros((40, 1)), loss=dl.MSELoss(), metrics=())


def test_evaluate_checks_its_data_too():
    X, y = data()
    model = classifier()
    X[3, 1] = np.inf
    with pytest.raises(NonFiniteError, match=r"^evaluate: X holds 1 infinite value"):
        dl.evaluate(model, X, y)
    X[3, 1] = 0
    y[0] = 7
    with pytest.raises(InvalidValueError, match=r"^evaluate: SoftmaxCrossEntropy\(\): y must lie"):
        dl.evaluate(model, X, y, loss=dl.SoftmaxCrossEntropy())


def test_a_custom_loss_without_check_targets_is_still_accepted():
    class Plain:  # duck-typed: forward and backward only
        def __init__(self):
            self.inner = dl.SoftmaxCrossEntropy()

        def forward(self, pred, target):
            return self.inner.forward(pred, target)

        def backward(self):
            return self.inner.backward()

    X, y = data()
    history = run(classifier(), X, y, loss=Plain())
    assert len(history["loss"]) == 2


# --- an exploding loss ---------------------------------------------------------------------------


def test_a_learning_rate_typed_1e6_for_1e_6_stops_with_advice():
    data_ = dl.load_digits()
    X, y = data_.X[:256], data_.y[:256]
    model = dl.mlp([64, 32, 10], rng=0)
    with pytest.raises(TrainingDivergedError, match=(
            r"^fit: the loss (exploded from \d+\.\d{4} \(first batch\) to \S+|became (inf|nan)) "
            r"at epoch 1, batch \d+ of 8: training diverged\. Try a smaller learning rate "
            r"\(the optimizer's lr is 1e\+06\)")):
        dl.fit(model, X, y, loss=dl.SoftmaxCrossEntropy(),
               optimizer=dl.SGD(model.parameters(), lr=1e6), epochs=5, progress=False)
    assert all(np.isfinite(p.value).all() for p in model.parameters())


class Scripted(dl.MSELoss):
    """MSE whose reported value follows a script: the loss the training loop sees."""

    def __init__(self, values):
        super().__init__()
        self.values = iter(values)

    def forward(self, pred, target):
        super().forward(pred, target)
        return next(self.values)


def scripted_fit(values, **kw):
    X = np.random.default_rng(0).normal(size=(8 * len(values), 2))
    model = dl.mlp([2, 1], rng=0)
    return dl.fit(model, X, np.zeros((len(X), 1)), loss=Scripted(values),
                  optimizer=dl.SGD(model.parameters(), lr=1e-3), epochs=1, batch_size=8,
                  metrics=(), progress=False, **kw)


def test_a_slowly_rising_loss_is_not_divergence():
    values = [2.0 * 1.02**i for i in range(400)]  # x 2,750 over the run
    history = scripted_fit(values)
    assert history["loss"][-1] > 2.0


@pytest.mark.parametrize(("first", "limit"), [(2.0, 2e4), (1e-6, 1e4), (50.0, 5e5)])
def test_the_divergence_rule_is_10_000_times_the_first_loss_floored_at_1(first, limit):
    scripted_fit([first, 0.99 * limit, 0.5])  # just under: trains on
    with pytest.raises(TrainingDivergedError, match=(
            rf"the loss exploded from {compact_number(first)} \(first batch\) to "
            rf"{compact_number(1.01 * limit)} at epoch 1, batch 2 of 3")):
        scripted_fit([first, 1.01 * limit, 0.5])


def test_a_nonfinite_model_output_is_reported_as_divergence():
    X, y = data()
    model = classifier()
    model[0].W.value[0, 0] = 1e308  # the first forward overflows to inf
    with pytest.raises(TrainingDivergedError, match=r"the model's output became NaN or infinite"):
        with np.errstate(over="ignore"):
            run(model, X, y)


# --- losses refuse NaN and inf predictions -----------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    ("loss", "pred", "target"),
    [
        (dl.MSELoss(), np.zeros((3, 2)), np.zeros((3, 2))),
        (dl.BinaryCrossEntropy(from_logits=True), np.zeros((3, 1)), np.zeros((3, 1), dtype=int)),
        (dl.BinaryCrossEntropy(), np.full((3, 1), 0.5), np.zeros((3, 1), dtype=int)),
        (dl.SoftmaxCrossEntropy(), np.zeros((3, 4)), np.array([0, 1, 2])),
    ],
)
def test_losses_name_nonfinite_predictions(loss, pred, target, bad):
    pred = pred.copy()
    pred[1, 0] = bad
    with pytest.raises(NonFiniteError, match=r"(pred|logits) holds 1 .* at row 1, column 0\. "
                                             r"A loss needs finite predictions"):
        loss(pred, target)


def test_losses_name_nonfinite_targets():
    with pytest.raises(NonFiniteError, match=r"^MSELoss\(\): target holds 1 NaN value"):
        dl.MSELoss()(np.zeros(3), np.array([0.0, np.nan, 1.0]))
    with pytest.raises(NonFiniteError, match=r"SoftmaxCrossEntropy\(\): target holds 1 NaN"):
        dl.SoftmaxCrossEntropy()(np.zeros((2, 2)), np.array([[1.0, 0.0], [np.nan, 1.0]]))


def test_mse_of_a_huge_error_is_inf_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dl.MSELoss()(np.array([1e200]), np.array([0.0])) == np.inf


# --- compact numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0.0000"), (0.12345, "0.1235"), (2.302585, "2.3026"), (123456.7, "123456.7000"),
     (3.14159e8, "3.142e+08"), (1.5e-7, "1.5e-07"), (-2e190, "-2e+190"), (float("nan"), "nan"),
     (float("inf"), "inf")],
)
def test_format_number_is_compact(value, text):
    assert compact_number(value) == text


def test_history_repr_and_the_progress_bar_stay_short_for_huge_losses(capsys):
    history = dl.History(["loss", "accuracy"])
    history.epochs.append(1)
    history["loss"].append(1.234e190)
    history["accuracy"].append(0.5)
    assert repr(history) == "History(epochs=1, loss=1.234e+190, accuracy=0.5000)"
    scripted = [1e189, 1e190, 1e190]  # huge but within 10,000 times the first loss
    X = np.zeros((24, 2))
    model = dl.mlp([2, 1], rng=0)
    dl.fit(model, X, np.zeros((24, 1)), loss=Scripted(scripted),
           optimizer=dl.SGD(model.parameters(), lr=1e-3), epochs=1, batch_size=8, metrics=())
    out = capsys.readouterr().out
    assert "loss=7e+189" in out and max(len(line) for line in out.split("\r")) <= 120


def test_an_optimizer_that_refuses_its_step_is_reported_as_divergence():
    class Overflowing(dl.SGD):
        def step(self):
            raise NonFiniteError("Adam: at step 3 a gradient of params[0] overflowed")

    X, y = data()
    model = classifier()
    with pytest.raises(TrainingDivergedError, match=(
            r"^fit: the optimizer's step failed \(Adam: at step 3 .*\) at epoch 1, batch 1 of 5: "
            r"training diverged\. Try a smaller learning rate \(the optimizer's lr is 0\.1\)")):
        dl.fit(model, X, y, loss=dl.SoftmaxCrossEntropy(),
               optimizer=Overflowing(model.parameters(), lr=0.1), epochs=1, batch_size=8,
               progress=False)
