"""The training loop, written once: minibatches, forward, loss, backward, step.

::

    history = fit(model, X_train, y_train, loss=SoftmaxCrossEntropy(),
                  optimizer=Adam(model.parameters(), lr=1e-3), epochs=20,
                  validation_data=(X_val, y_val))

Every epoch visits the training set once in a new random order, drawn from one
Generator seeded by ``seed``: the same seed (and the same initial weights) gives a
bit-identical history and bit-identical weights. For every minibatch::

    optimizer.zero_grad()                 # gradients accumulate, so clear them first
    out = model.forward(x_batch)
    value = loss.forward(out, y_batch)    # a NaN/inf or exploding loss stops here
    model.backward(loss.backward())
    clip_grad_norm(params, clip_norm)     # optional
    optimizer.step()

Before the first step, ``fit`` checks the whole data set (NaN or inf in X or y, labels
out of range or of the wrong kind, mismatched lengths), so a bad example is reported with
its row and the model is never touched. Training stops with TrainingDivergedError when
the loss becomes NaN or infinite, or when it explodes: a batch loss more than
DIVERGENCE_FACTOR (10,000) times the first batch's loss (or than 10,000 when the first
loss is below 1). A loss that rises slowly is not divergence; it is left to the learner
and to early stopping.

The progress bar prints the same text on every run (no timings), so notebooks that
store their output can be checked by re-running them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from numbers import Real

import numpy as np
from tqdm import tqdm

from dlteach.activations import sigmoid
from dlteach.core import Layer, check_model
from dlteach.errors import (
    DTypeError,
    InvalidValueError,
    NonFiniteError,
    ShapeError,
    TrainingDivergedError,
)
from dlteach.history import EarlyStopping, History
from dlteach.metrics import METRICS, scores_to_labels
from dlteach.optim import clip_grad_norm
from dlteach.validation import (
    Seed,
    as_rng,
    check_array,
    check_finite,
    check_has_methods,
    check_positive,
    check_positive_int,
    compact_number,
)

# Fixed text layout for the progress bar: no rate, no elapsed time, fixed width.
_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt}{postfix}"
_BAR_NCOLS = 100
__all__ = ["DIVERGENCE_FACTOR", "EarlyStopping", "History", "evaluate", "fit", "predict",
           "predict_classes"]
# A batch loss this many times the first one (floored at 1) means training diverged.
DIVERGENCE_FACTOR = 1e4
_DATA_HINT = "Remove or fill in those entries first (~np.isfinite(X) marks them)."


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------


def _check_xy(
    X: object, y: object, owner: str, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    X = check_array(X, owner=owner, name=names[0], kind="float")
    y = check_array(y, owner=owner, name=names[1], kind="number")
    check_finite(X, owner=owner, name=names[0], hint=_DATA_HINT)
    check_finite(y, owner=owner, name=names[1], hint=_DATA_HINT)
    if X.ndim == 0 or y.ndim == 0:
        raise ShapeError(
            f"{owner}: expected {names[0]} and {names[1]} of shape (N, ...), got a scalar."
        )
    if len(X) != len(y):
        raise ShapeError(
            f"{owner}: {names[0]} and {names[1]} must hold the same number of examples, "
            f"got {len(X)} and {len(y)}."
        )
    return X, y


def _check_validation(data: object, X: np.ndarray, y: np.ndarray, owner: str):
    if data is None:
        return None
    if not isinstance(data, tuple | list) or len(data) != 2:
        length = f" of length {len(data)}" if isinstance(data, tuple | list) else ""
        raise InvalidValueError(
            f"{owner}: expected validation_data=(X_val, y_val), a pair of arrays, "
            f"got {type(data).__name__}{length}."
        )
    Xv, yv = _check_xy(data[0], data[1], owner, ("X_val", "y_val"))
    for name, a, b, ref in (("X_val", Xv, X, "X_train"), ("y_val", yv, y, "y_train")):
        if a.shape[1:] != b.shape[1:]:
            want = "(M" + "".join(f", {s}" for s in b.shape[1:]) + ("," * (b.ndim == 1)) + ")"
            raise ShapeError(
                f"{owner}: expected {name} of shape {want} like {ref} {tuple(b.shape)}, "
                f"got {tuple(a.shape)}."
            )
    return Xv, yv


def _check_targets(model: Layer, loss: object, X: np.ndarray, pairs, owner: str) -> None:
    """Check every target against the loss before training: labels in range, 0/1 targets.

    The model's output shape comes from one example run in evaluation mode (its
    parameters are not touched). A loss without ``check_targets`` is trusted.
    """
    check = getattr(loss, "check_targets", None)
    if not callable(check):
        return
    out_shape = predict(model, X[:1]).shape
    for y, name in pairs:
        check(y, out_shape, owner=owner, name=name)


def _resolve_metrics(metrics: Sequence[str] | str | None, owner: str) -> dict[str, Callable]:
    if metrics is None:
        return {}
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    for name in names:
        if name not in METRICS:
            known = ", ".join(map(repr, METRICS))
            raise InvalidValueError(f"{owner}: unknown metric {name!r}; known metrics: {known}.")
    return {name: METRICS[name] for name in names}


def _metric_view(loss: object, out: np.ndarray) -> np.ndarray:
    """What the metrics see: a binary model trained on logits is judged by its probabilities."""
    if getattr(loss, "from_logits", False) and (out.ndim == 1 or out.shape[1:] == (1,)):
        return sigmoid(out)
    return out


# ---------------------------------------------------------------------------
# Prediction and evaluation
# ---------------------------------------------------------------------------


def predict(model: Layer, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for X: (N, ...), computed in evaluation mode, batch by batch.

    The model's previous mode (training or evaluation) is restored afterwards.
    """
    owner = "predict"
    model = check_model(model, owner)
    X = check_array(X, owner=owner, name="X", kind="float")
    if X.ndim == 0:
        raise ShapeError(f"{owner}: expected X of shape (N, ...), got a scalar.")
    batch_size = check_positive_int(batch_size, owner=owner, name="batch_size")
    was_training = model.training
    model.eval()
    try:
        outs = [model.forward(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
    finally:
        model.train(was_training)
    return outs[0] if len(outs) == 1 else np.concatenate(outs)


def predict_classes(
    model: Layer, X: np.ndarray, batch_size: int = 256, threshold: float = 0.5
) -> np.ndarray:
    """Predicted class labels (N,) int64: argmax of scores (N, K), or for one output per
    example (N,)/(N, 1) class 1 when it is >= threshold (use threshold=0.0 for logits)."""
    out = predict(model, X, batch_size)
    return scores_to_labels(out, threshold, owner="predict_classes", name="model output")


def evaluate(
    model: Layer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: object | None = None,
    metrics: Sequence[str] | None = ("accuracy",),
    batch_size: int = 256,
) -> dict[str, float]:
    """Loss and metrics of the model on (X, y), in evaluation mode.

    Returns {"loss": ..., "accuracy": ...} (the loss only when one is given).
    """
    owner = "evaluate"
    model = check_model(model, owner)
    if loss is not None:
        check_has_methods(loss, ("forward", "backward"), owner=owner, role="a loss",
                      example="SoftmaxCrossEntropy()")
    X, y = _check_xy(X, y, owner, ("X", "y"))
    fns = _resolve_metrics(metrics, owner)
    if loss is not None:
        _check_targets(model, loss, X, [(y, "y")], owner)
    out = predict(model, X, batch_size)
    result: dict[str, float] = {}
    if loss is not None:
        result["loss"] = float(loss.forward(out, y))
    view = _metric_view(loss, out)
    for name, fn in fns.items():
        result[name] = float(fn(y, view))
    return result


# ---------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------


def _all_finite(params: list) -> bool:
    return all(np.isfinite(p.grad).all() for p in params)


def _diverged(what: str, epoch: int, batch: int, n_batches: int,
              optimizer: object, clip_norm: float | None) -> TrainingDivergedError:
    """what: "the loss became nan", "the loss exploded from 2.3026 (first batch) to ..."."""
    lr = getattr(optimizer, "lr", None)
    lr_text = f" (the optimizer's lr is {lr:g})" if isinstance(lr, Real) else ""
    clip_text = (
        "" if clip_norm is not None else " or clip the gradients with fit(..., clip_norm=1.0)"
    )
    where = f"at epoch {epoch}" + (f", batch {batch} of {n_batches}" if batch else "")
    return TrainingDivergedError(
        f"fit: {what} {where}: training diverged. "
        f"Try a smaller learning rate{lr_text}{clip_text}."
    )


def fit(
    model: Layer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: object,
    optimizer: object,
    epochs: int,
    batch_size: int = 32,
    seed: Seed = 0,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    metrics: Sequence[str] | None = ("accuracy",),
    early_stopping: EarlyStopping | None = None,
    clip_norm: float | None = None,
    progress: bool | str = True,
) -> History:
    """Train ``model`` on X: (N, ...), y: (N, ...) with minibatch gradient descent.

    loss: a dlteach loss (``forward(pred, target)``, ``backward()``).
    optimizer: a dlteach optimizer over the model's parameters (``zero_grad()``, ``step()``).
    epochs: passes over the training set;  batch_size: examples per step (the last batch
        of an epoch holds the rest).
    seed: shuffles every epoch from one Generator; the same seed repeats the run exactly.
    validation_data: (X_val, y_val), evaluated after every epoch in evaluation mode.
    metrics: names from ``dlteach.metrics.METRICS``, recorded besides the loss.
    early_stopping: an :class:`EarlyStopping`, or None to train all epochs.
    clip_norm: if set, rescale the gradients so that their global norm is at most this.
    progress: show one progress bar over the epochs (deterministic text) on stdout, with
        the latest losses and metrics; ``"epochs"`` counts the epochs only (for a run
        whose last digits differ between CPUs, in a notebook whose outputs are stored).

    Before the first step the whole data set is checked (NaN or inf in X or y, labels out
    of range or of the wrong kind for the loss, mismatched lengths): the error names the
    array, the count and the first row, and the model is left untouched.
    A NaN or infinite model output, loss or gradient, or an exploding loss (a batch loss
    above DIVERGENCE_FACTOR = 10,000 times the first batch's loss, or above 10,000 when
    that is below 1) raises TrainingDivergedError before the optimizer applies the step;
    NumPy's overflow warnings inside the step are silenced because this check reports the
    problem with the epoch and batch instead. A slowly rising loss is not divergence.
    The model is left in the mode (training/evaluation) it had before.
    Returns the :class:`History` of the run.
    """
    owner = "fit"
    model = check_model(model, owner)
    check_has_methods(loss, ("forward", "backward"), owner=owner, role="a loss",
                      example="SoftmaxCrossEntropy()")
    check_has_methods(optimizer, ("zero_grad", "step"), owner=owner, role="an optimizer",
                      example="SGD(model.parameters(), lr=0.1)")
    epochs = check_positive_int(epochs, owner=owner, name="epochs")
    batch_size = check_positive_int(batch_size, owner=owner, name="batch_size")
    rng = as_rng(seed, owner=owner)
    X, y = _check_xy(X, y, owner, ("X_train", "y_train"))
    val = _check_validation(validation_data, X, y, owner)
    fns = _resolve_metrics(metrics, owner)
    if clip_norm is not None:
        clip_norm = check_positive(clip_norm, owner=owner, name="clip_norm")
    if progress not in (True, False, "epochs"):
        raise InvalidValueError(
            f"{owner}: progress must be True, False or 'epochs', got {progress!r}."
        )
    params = model.parameters()
    if not params:
        raise InvalidValueError(f"{owner}: {model!r} has no parameters to train.")
    opt_params = getattr(optimizer, "params", None)
    if isinstance(opt_params, list | tuple) and opt_params:
        ids = {id(p) for p in params}
        if not any(id(p) in ids for p in opt_params):
            raise InvalidValueError(
                f"{owner}: the optimizer updates none of the model's parameters. "
                "Create it from this model: SGD(model.parameters(), lr=...)."
            )

    keys = ["loss", *fns]
    if val is not None:
        keys += ["val_" + k for k in keys]
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise DTypeError(
                f"{owner}: expected early_stopping to be an EarlyStopping(...), "
                f"got {type(early_stopping).__name__}."
            )
        if early_stopping.monitor not in keys:
            hint = (" Pass validation_data=(X_val, y_val), or monitor the training loss."
                    if early_stopping.monitor.startswith("val_") and val is None else "")
            raise InvalidValueError(
                f"{owner}: EarlyStopping monitors {early_stopping.monitor!r}, which this run "
                f"does not record; it records {', '.join(map(repr, keys))}.{hint}"
            )
        early_stopping._reset()
    _check_targets(model, loss, X, [(y, "y_train")] + ([(val[1], "y_val")] if val else []),
                   owner)

    n = len(X)
    n_batches = -(-n // batch_size)
    history = History(keys)
    first_loss: float | None = None
    bar = (tqdm(total=epochs, desc="epoch", file=sys.stdout, ncols=_BAR_NCOLS,
                bar_format=_BAR_FORMAT, mininterval=0, miniters=1, leave=True)
           if progress else None)
    was_training = model.training
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            order = rng.permutation(n)
            loss_sum = 0.0
            metric_sums = dict.fromkeys(fns, 0.0)
            for b in range(n_batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                xb, yb = X[idx], y[idx]
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    optimizer.zero_grad()
                    out = model.forward(xb)
                    if not np.isfinite(out).all():
                        raise _diverged("the model's output became NaN or infinite", epoch,
                                        b + 1, n_batches, optimizer, clip_norm)
                    value = float(loss.forward(out, yb))
                    if not np.isfinite(value):
                        raise _diverged(f"the loss became {value}", epoch, b + 1, n_batches,
                                        optimizer, clip_norm)
                    if first_loss is None:
                        first_loss = value
                    elif value > DIVERGENCE_FACTOR * max(first_loss, 1.0):
                        raise _diverged(
                            f"the loss exploded from {compact_number(first_loss)} (first batch) "
                            f"to {compact_number(value)}", epoch, b + 1, n_batches, optimizer,
                            clip_norm)
                    model.backward(loss.backward())
                    if not _all_finite(params):
                        raise _diverged("the gradient became NaN or infinite", epoch, b + 1,
                                        n_batches, optimizer, clip_norm)
                    if clip_norm is not None:
                        clip_grad_norm(params, clip_norm)
                try:
                    optimizer.step()
                except NonFiniteError as exc:  # e.g. Adam's squared gradients overflowed
                    raise _diverged(f"the optimizer's step failed ({exc})", epoch, b + 1,
                                    n_batches, optimizer, clip_norm) from None
                # Weight by batch size: the last batch may be smaller.
                loss_sum += value * len(idx)
                view = _metric_view(loss, out)
                for name, fn in fns.items():
                    metric_sums[name] += fn(yb, view) * len(idx)

            history.epochs.append(epoch)
            history["loss"].append(loss_sum / n)
            for name in fns:
                history[name].append(metric_sums[name] / n)
            if val is not None:
                try:
                    scores = evaluate(model, val[0], val[1], loss=loss, metrics=list(fns),
                                      batch_size=max(256, batch_size))
                except NonFiniteError:  # the last step made the weights overflow
                    raise _diverged("the model's output on the validation data became NaN "
                                    "or infinite", epoch, 0, n_batches, optimizer,
                                    clip_norm) from None
                for name, v in scores.items():
                    history["val_" + name].append(v)
            if bar is not None and progress != "epochs":
                bar.set_postfix_str(
                    ", ".join(f"{k}={compact_number(history[k][-1])}" for k in keys),
                    refresh=False
                )
            if bar is not None:
                bar.update(1)
            if early_stopping is not None and early_stopping._update(
                epoch, history[early_stopping.monitor][-1], model
            ):
                break
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)

    if early_stopping is not None:
        history.best_epoch = early_stopping.best_epoch
        history.stopped_epoch = early_stopping.stopped_epoch
        restored = early_stopping._restore(model)
        if progress and early_stopping.stopped_epoch is not None:
            print(f"Early stopping at epoch {early_stopping.stopped_epoch}: "
                  f"{early_stopping.monitor} did not improve for {early_stopping.patience} epochs.")
        if progress and restored and early_stopping.best_epoch != history.epochs[-1]:
            print(f"Restored the parameters of epoch {early_stopping.best_epoch} "
                  f"({early_stopping.monitor}={compact_number(early_stopping.best_value)}).")
    return history
