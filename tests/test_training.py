"""dlteach.training: fit learns, is reproducible, stops early, reports divergence, prints
the same progress text every run, and checks its arguments."""

import numpy as np
import pytest

from dlteach.activations import ReLU, Tanh
from dlteach.core import Sequential
from dlteach.data import load_digits, logic_gate, make_moons, make_xor, train_val_test_split
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError, TrainingDivergedError
from dlteach.losses import BinaryCrossEntropy, MSELoss, SoftmaxCrossEntropy
from dlteach.optim import SGD, Adam
from dlteach.training import EarlyStopping, History, evaluate, fit, predict, predict_classes


def mlp(d_in=2, hidden=8, d_out=2, act=Tanh, seed=0):
    init = "xavier" if act is Tanh else "he"
    return Sequential(Dense(d_in, hidden, init=init, rng=seed), act(),
                      Dense(hidden, d_out, init=init, rng=seed + 1))


def weights(model):
    return {k: p.value.copy() for k, p in model.named_parameters().items()}


# --- learning ---------------------------------------------------------------------------------


def test_mlp_learns_xor_clusters_to_full_accuracy():
    X, y = make_xor(200, noise=0.2, seed=0)
    model = mlp()
    history = fit(model, X, y, loss=SoftmaxCrossEntropy(),
                  optimizer=Adam(model.parameters(), lr=0.05), epochs=30, batch_size=16,
                  progress=False)
    assert evaluate(model, X, y)["accuracy"] == 1.0
    assert history["accuracy"][-1] == 1.0
    assert history["loss"][-1] < 0.25 * history["loss"][0]


def test_mlp_learns_the_xor_gate_with_binary_cross_entropy_on_logits():
    X, y = logic_gate("xor")
    model = mlp(hidden=4, d_out=1)
    history = fit(model, X, y.reshape(-1, 1), loss=BinaryCrossEntropy(from_logits=True),
                  optimizer=Adam(model.parameters(), lr=0.1), epochs=300, batch_size=4,
                  progress=False)
    np.testing.assert_array_equal(predict_classes(model, X, threshold=0.0), y)
    # The metrics see sigmoid(logits), so the recorded accuracy is the real one.
    assert history["accuracy"][-1] == 1.0


def test_mlp_reaches_95_percent_on_the_digits():
    d = load_digits()
    s = train_val_test_split(d.X, d.y, val=0.15, test=0.15, seed=0)
    model = mlp(64, 128, 10, act=ReLU)
    history = fit(model, s.X_train, s.y_train, loss=SoftmaxCrossEntropy(),
                  optimizer=Adam(model.parameters(), lr=1e-3), epochs=30, batch_size=32,
                  validation_data=s.val, progress=False)
    test = evaluate(model, s.X_test, s.y_test, loss=SoftmaxCrossEntropy())
    assert test["accuracy"] >= 0.95
    assert history["val_accuracy"][-1] >= 0.95
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epochs == list(range(1, 31))


def _run(seed, model_seed=0):
    X, y = make_moons(120, noise=0.2, seed=1)
    model = mlp(2, 16, 2, act=ReLU, seed=model_seed)
    hist = fit(model, X[:90], y[:90], loss=SoftmaxCrossEntropy(),
               optimizer=SGD(model.parameters(), lr=0.1, momentum=0.9), epochs=5,
               batch_size=16, seed=seed, validation_data=(X[90:], y[90:]), progress=False)
    return hist, weights(model)


def test_same_seed_gives_bit_identical_history_and_weights():
    h1, w1 = _run(seed=3)
    h2, w2 = _run(seed=3)
    assert dict(h1) == dict(h2)  # exact float equality, not approx
    for k in w1:
        np.testing.assert_array_equal(w1[k], w2[k])
    h3, w3 = _run(seed=4)
    assert h3["loss"] != h1["loss"]
    assert not np.array_equal(w3["0.W"], w1["0.W"])


def test_fit_accepts_a_generator_as_seed():
    h1, _ = _run(seed=np.random.default_rng(9))
    h2, _ = _run(seed=9)
    assert h1["loss"] == h2["loss"]


def test_history_and_evaluate_agree_on_validation():
    X, y = make_moons(80, seed=0)
    model = mlp()
    loss = SoftmaxCrossEntropy()
    h = fit(model, X[:60], y[:60], loss=loss, optimizer=Adam(model.parameters(), lr=0.01),
            epochs=3, validation_data=(X[60:], y[60:]), progress=False)
    res = evaluate(model, X[60:], y[60:], loss=loss)
    assert res == {"loss": h["val_loss"][-1], "accuracy": h["val_accuracy"][-1]}
    assert repr(h).startswith("History(epochs=3, loss=")
    assert isinstance(h, History) and h.best_epoch is None


def test_fit_without_metrics_records_only_the_loss():
    X, y = make_moons(40, seed=0)
    model = mlp(d_out=1)
    h = fit(model, X, y.reshape(-1, 1).astype(float), loss=MSELoss(),
            optimizer=SGD(model.parameters(), lr=0.05), epochs=2, metrics=(), progress=False)
    assert list(h) == ["loss"] and len(h["loss"]) == 2


def test_clip_norm_bounds_the_step():
    X, y = make_moons(64, seed=0)
    model = mlp()
    before = weights(model)
    fit(model, X, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model.parameters(), lr=1.0),
        epochs=1, batch_size=64, clip_norm=0.01, progress=False)  # one step
    after = weights(model)
    step = np.sqrt(sum(np.sum((after[k] - before[k]) ** 2) for k in before))
    assert 0.009 < step <= 0.01 + 1e-12


# --- divergence -------------------------------------------------------------------------------


def test_huge_learning_rate_raises_training_diverged():
    X, y = make_moons(100, seed=0)
    model = mlp(2, 16, 1, act=ReLU)
    with pytest.raises(TrainingDivergedError, match=(
        r"fit: the loss (became (inf|nan)|exploded from \S+ \(first batch\) to \S+) "
        r"at epoch \d+, batch \d+ of 4: training diverged\. "
        r"Try a smaller learning rate \(the optimizer's lr is 10\) or clip the gradients "
        r"with fit\(\.\.\., clip_norm=1\.0\)\."
    )):
        fit(model, X, y.reshape(-1, 1).astype(float), loss=MSELoss(),
            optimizer=SGD(model.parameters(), lr=10.0), epochs=50, metrics=(), progress=False)
    # The check comes before the step: the weights never hold NaN or inf.
    assert all(np.isfinite(p.value).all() for p in model.parameters())
    assert model.training  # the mode is restored even when fit raises


def test_divergence_error_is_a_floating_point_error():
    X, y = make_moons(100, seed=0)
    model = mlp(2, 16, 2, act=ReLU)
    with pytest.raises(FloatingPointError, match=r"lr is 1e\+06\) or clip"):
        fit(model, X, y, loss=SoftmaxCrossEntropy(),
            optimizer=SGD(model.parameters(), lr=1e6), epochs=50, progress=False)


# --- early stopping ---------------------------------------------------------------------------


def _noisy_problem():
    # Random labels: the training loss falls while the validation loss rises (overfitting).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 2, size=60)
    return X[:40], y[:40], X[40:], y[40:]


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y, Xv, yv = _noisy_problem()
    model = mlp(2, 64, 2, act=ReLU)
    stopper = EarlyStopping(patience=3)
    loss = SoftmaxCrossEntropy()
    h = fit(model, X, y, loss=loss, optimizer=Adam(model.parameters(), lr=0.03), epochs=200,
            batch_size=8, validation_data=(Xv, yv), early_stopping=stopper, progress=False)
    n = len(h["loss"])
    assert n < 200 and h.stopped_epoch == n == h.epochs[-1]
    best = int(np.argmin(h["val_loss"])) + 1
    assert h.best_epoch == best == stopper.best_epoch and n == best + 3
    # The restored weights are those of the best epoch: evaluating them gives its val_loss.
    assert evaluate(model, Xv, yv, loss=loss)["loss"] == h["val_loss"][best - 1]


def test_early_stopping_without_restore_keeps_the_last_weights():
    X, y, Xv, yv = _noisy_problem()
    model = mlp(2, 64, 2, act=ReLU)
    loss = SoftmaxCrossEntropy()
    h = fit(model, X, y, loss=loss, optimizer=Adam(model.parameters(), lr=0.03), epochs=200,
            batch_size=8, validation_data=(Xv, yv), progress=False,
            early_stopping=EarlyStopping(patience=3, restore_best=False))
    assert evaluate(model, Xv, yv, loss=loss)["loss"] == h["val_loss"][-1]
    assert h["val_loss"][-1] > min(h["val_loss"])


def test_early_stopping_on_accuracy_maximizes():
    stopper = EarlyStopping(monitor="val_accuracy")
    assert stopper.mode == "max"
    assert EarlyStopping().mode == "min"


def test_early_stopping_prints_what_it_did(capsys):
    X, y, Xv, yv = _noisy_problem()
    model = mlp(2, 64, 2, act=ReLU)
    h = fit(model, X, y, loss=SoftmaxCrossEntropy(), optimizer=Adam(model.parameters(), lr=0.03),
            epochs=200, batch_size=8, validation_data=(Xv, yv),
            early_stopping=EarlyStopping(patience=3))
    out = capsys.readouterr().out
    stop = f"Early stopping at epoch {h.stopped_epoch}: val_loss did not improve for 3 epochs."
    assert stop in out
    assert f"Restored the parameters of epoch {h.best_epoch} (val_loss=" in out


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"patience": 0}, InvalidValueError, r"EarlyStopping: patience must be at least 1, got 0"),
        ({"min_delta": -1}, InvalidValueError, r"EarlyStopping: min_delta must be a number >= 0"),
        ({"mode": "up"}, InvalidValueError, r"EarlyStopping: mode must be 'auto', 'min' or 'max'"),
        ({"monitor": 3}, DTypeError, r"EarlyStopping: expected monitor to be a str, got int"),
    ],
)
def test_early_stopping_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        EarlyStopping(**kwargs)


def test_early_stopping_needs_the_monitored_value():
    X, y = make_moons(20, seed=0)
    model = mlp()
    with pytest.raises(InvalidValueError, match=(
        r"fit: EarlyStopping monitors 'val_loss', which this run does not record; it records "
        r"'loss', 'accuracy'\. Pass validation_data=\(X_val, y_val\), or monitor the training"
    )):
        fit(model, X, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model.parameters(), lr=0.1),
            epochs=2, early_stopping=EarlyStopping(), progress=False)


# --- progress output --------------------------------------------------------------------------


def _train_with_progress():
    X, y = make_moons(60, seed=0)
    model = mlp()
    fit(model, X[:40], y[:40], loss=SoftmaxCrossEntropy(),
        optimizer=SGD(model.parameters(), lr=0.1), epochs=3, batch_size=8,
        validation_data=(X[40:], y[40:]))


def test_progress_output_is_identical_from_run_to_run(capsys):
    _train_with_progress()
    first = capsys.readouterr()
    _train_with_progress()
    second = capsys.readouterr()
    assert first.out == second.out and first.err == second.err == ""
    last = first.out.rstrip("\n").split("\r")[-1]
    assert last.startswith("epoch: 100%|") and "| 3/3, loss=" in last
    assert ", val_accuracy=" in last and len(last) == 100
    assert "it/s" not in first.out and "s/it" not in first.out


def test_progress_epochs_counts_epochs_without_numbers(capsys):
    X, y = make_moons(40, seed=0)
    model = mlp()
    fit(model, X[:30], y[:30], loss=SoftmaxCrossEntropy(),
        optimizer=SGD(model.parameters(), lr=0.1), epochs=3, batch_size=8,
        validation_data=(X[30:], y[30:]), progress="epochs")
    out = capsys.readouterr().out
    last = out.rstrip("\n").split("\r")[-1]
    assert last.startswith("epoch: 100%|") and last.endswith("| 3/3")
    assert "loss" not in out and "accuracy" not in out


@pytest.mark.parametrize("bad", ["yes", "loss", 2, None])
def test_progress_takes_true_false_or_epochs(bad):
    X, y = make_moons(20, seed=0)
    model = mlp()
    with pytest.raises(InvalidValueError, match=r"^fit: progress must be True, False or "
                                                r"'epochs', got "):
        fit(model, X, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model.parameters(), lr=0.1),
            epochs=1, progress=bad)


def test_no_output_with_progress_false(capsys):
    X, y = make_moons(20, seed=0)
    model = mlp()
    fit(model, X, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model.parameters(), lr=0.1),
        epochs=2, progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# --- predict / evaluate -----------------------------------------------------------------------


def test_predict_is_batched_and_restores_the_mode():
    X, _ = make_moons(50, seed=0)
    model = mlp()
    full = model.forward(X)
    model.train()
    np.testing.assert_allclose(predict(model, X, batch_size=7), full, rtol=1e-12)
    assert model.training
    model.eval()
    predict(model, X)
    assert not model.training
    np.testing.assert_array_equal(predict_classes(model, X), full.argmax(axis=1))


def test_fit_restores_the_previous_mode():
    X, y = make_moons(20, seed=0)
    model = mlp().eval()
    fit(model, X, y, loss=SoftmaxCrossEntropy(), optimizer=SGD(model.parameters(), lr=0.1),
        epochs=1, progress=False)
    assert not model.training


def test_evaluate_without_a_loss():
    X, y = make_moons(20, seed=0)
    result = evaluate(mlp(), X, y)
    assert list(result) == ["accuracy"] and 0 <= result["accuracy"] <= 1


# --- argument checks --------------------------------------------------------------------------


def _fit_kwargs(model):
    return {"loss": SoftmaxCrossEntropy(), "optimizer": SGD(model.parameters(), lr=0.1),
            "epochs": 1, "progress": False}


X_OK, Y_OK = make_moons(20, seed=0)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"epochs": 0}, InvalidValueError, r"fit: epochs must be at least 1, got 0"),
        ({"batch_size": "32"}, DTypeError, r"fit: expected batch_size to be an integer, got str"),
        ({"y": Y_OK[:-1]}, ShapeError,
         r"fit: X_train and y_train must hold the same number of examples, got 20 and 19"),
        ({"X": X_OK.astype(int)}, DTypeError, r"fit: expected X_train with a floating dtype"),
        ({"metrics": ("accuracy", "f1")}, InvalidValueError,
         r"fit: unknown metric 'f1'; known metrics: 'accuracy'\."),
        ({"validation_data": (X_OK[:, :1], Y_OK)}, ShapeError,
         r"fit: expected X_val of shape \(M, 2\) like X_train \(20, 2\), got \(20, 1\)"),
        ({"validation_data": (X_OK, Y_OK[:5])}, ShapeError,
         r"fit: X_val and y_val must hold the same number of examples, got 20 and 5"),
        ({"validation_data": (X_OK, Y_OK[:, None])}, ShapeError,
         r"fit: expected y_val of shape \(M,\) like y_train \(20,\), got \(20, 1\)"),
        ({"validation_data": X_OK}, InvalidValueError,
         r"fit: expected validation_data=\(X_val, y_val\), a pair of arrays, got ndarray"),
        ({"loss": SoftmaxCrossEntropy}, DTypeError,
         r"fit: expected a loss object, got the class SoftmaxCrossEntropy\. Create one first"),
        ({"loss": "mse"}, DTypeError, r"fit: expected a loss with forward\(\) and backward\(\)"),
        ({"optimizer": SGD(mlp().parameters(), lr=0.1)}, InvalidValueError,
         r"fit: the optimizer updates none of the model's parameters"),
        ({"early_stopping": 5}, DTypeError,
         r"fit: expected early_stopping to be an EarlyStopping\(\.\.\.\), got int"),
        ({"clip_norm": -1.0}, InvalidValueError, r"fit: clip_norm must be a positive number"),
    ],
)
def test_fit_bad_arguments(change, error, message):
    model = mlp()
    kwargs = {"X": X_OK, "y": Y_OK, **_fit_kwargs(model), **change}
    X, y = kwargs.pop("X"), kwargs.pop("y")
    before = weights(model)
    with pytest.raises(error, match=message):
        fit(model, X, y, **kwargs)
    for k, w in weights(model).items():
        np.testing.assert_array_equal(w, before[k])  # nothing trained


def test_fit_and_predict_reject_what_is_not_a_model():
    with pytest.raises(DTypeError, match=r"fit: expected a model \(a Layer instance\), got the "
                                         r"class Sequential\. Did you forget the parentheses"):
        fit(Sequential, X_OK, Y_OK, loss=SoftmaxCrossEntropy(), optimizer=None, epochs=1)
    with pytest.raises(DTypeError, match=r"predict: expected a model \(a dlteach Layer such as"):
        predict(lambda x: x, X_OK)
    with pytest.raises(InvalidValueError, match=r"evaluate: unknown metric 'auc'"):
        evaluate(mlp(), X_OK, Y_OK, metrics=["auc"])
