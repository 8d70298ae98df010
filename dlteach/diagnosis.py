"""Measuring a diagnostic test: beyond accuracy, for rare and costly outcomes.

When 1 patient in 100 is ill, "everyone is healthy" is 99% accurate and useless. A
binary classifier's errors are counted in a confusion table at a threshold t (a score
>= t means "positive")::

                      predicted 0   predicted 1
        truly 0 (healthy)    tn           fp
        truly 1 (ill)        fn           tp

    sensitivity (recall, true positive rate) = tp / (tp + fn)   the ill we catch
    specificity (true negative rate)         = tn / (tn + fp)   the healthy we clear
    precision (positive predictive value)    = tp / (tp + fp)   the alarms that are right

Zero denominators: a rate with nothing to count (sensitivity without any ill patient)
is undefined; these functions return nan, without a warning, rather than guess 0 or 1.

Moving t traces the ROC curve (:func:`roc_curve`); the area under it (:func:`roc_auc`)
is the chance that a random ill patient scores higher than a random healthy one.
:func:`calibration_curve` asks whether a predicted 0.8 comes true 80% of the time.
Imbalanced training: :func:`class_weights` gives balanced weights for the
``class_weights=`` option of SoftmaxCrossEntropy, BinaryCrossEntropy and
PixelCrossEntropy.

A screening test fixes the sensitivity it needs first: :func:`threshold_for_sensitivity`
finds the highest threshold that reaches it. A rate measured on 100-odd patients is
uncertain: :func:`wilson_interval` gives a confidence interval for a proportion, and
:func:`bootstrap_metric` resamples a test set to show how much a rate could vary.
"""

from __future__ import annotations

from numbers import Real
from statistics import NormalDist

import numpy as np

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.losses import _PRED_HINT
from dlteach.validation import (
    as_rng,
    check_array,
    check_finite,
    check_labels,
    check_positive_int,
    check_same_length,
)

Counts = tuple[int, int, int, int]


def _binary(y: object, *, owner: str, name: str) -> np.ndarray:
    """0/1 labels (N,) int64 from ints, booleans or floats equal to 0 or 1."""
    if isinstance(y, np.ndarray) and y.dtype == np.bool_:
        y = y.astype(np.int64)
    arr = check_array(y, owner=owner, name=name, ndim=1, kind="number")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidValueError(
            f"{owner}: {name} must hold the binary labels 0 and 1, got {arr[i]} at row {i}."
        )
    return arr.astype(np.int64)


def _scores(scores: object, *, owner: str, name: str = "scores") -> np.ndarray:
    arr = check_array(scores, owner=owner, name=name, ndim=1, kind="number")
    check_finite(arr, owner=owner, name=name, hint=_PRED_HINT)
    return arr


def _rate(num: int, den: int) -> float:
    return num / den if den else float("nan")


def confusion_at_threshold(y_true: np.ndarray, scores: np.ndarray,
                           threshold: float = 0.5) -> Counts:
    """(tn, fp, fn, tp) when a score >= threshold is called positive.

    y_true: (N,) labels 0/1;  scores: (N,) probabilities or any scores (logits with
    threshold=0.0).
    """
    owner = "confusion_at_threshold"
    t = _binary(y_true, owner=owner, name="y_true")
    s = _scores(scores, owner=owner)
    check_same_length(t, s, owner=owner, names=("y_true", "scores"))
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or np.isnan(threshold):
        raise InvalidValueError(f"{owner}: threshold must be a number, got {threshold!r}.")
    return _count(t, (s >= threshold).astype(np.int64))


def _count(t: np.ndarray, p: np.ndarray) -> Counts:
    # One bincount of 2*true + predicted: bins tn, fp, fn, tp.
    tn, fp, fn, tp = np.bincount(2 * t + p, minlength=4)
    return int(tn), int(fp), int(fn), int(tp)


def _counts(y_true: object, y_pred: object, counts: object, owner: str) -> Counts:
    if counts is not None:
        if y_true is not None or y_pred is not None:
            raise InvalidValueError(f"{owner}: pass either y_true and y_pred, or counts=, "
                                    "not both.")
        if not isinstance(counts, tuple | list) or len(counts) != 4:
            raise ShapeError(f"{owner}: expected counts = (tn, fp, fn, tp), got {counts!r}.")
        return tuple(check_positive_int(c, owner=owner, name=f"counts[{i}]", minimum=0)
                     for i, c in enumerate(counts))  # type: ignore[return-value]
    if y_true is None or y_pred is None:
        raise InvalidValueError(f"{owner}: pass y_true and y_pred (0/1 labels), or "
                                "counts=(tn, fp, fn, tp).")
    t = _binary(y_true, owner=owner, name="y_true")
    p = _binary(y_pred, owner=owner, name="y_pred")
    check_same_length(t, p, owner=owner, names=("y_true", "y_pred"))
    return _count(t, p)


def sensitivity(y_true: np.ndarray | None = None, y_pred: np.ndarray | None = None, *,
                counts: Counts | None = None) -> float:
    """tp / (tp + fn): the fraction of true positives found (recall); nan without positives.

    y_true, y_pred: (N,) labels 0/1 (threshold scores first, e.g. with
    :func:`confusion_at_threshold`), or counts=(tn, fp, fn, tp).
    """
    _, _, fn, tp = _counts(y_true, y_pred, counts, "sensitivity")
    return _rate(tp, tp + fn)


def specificity(y_true: np.ndarray | None = None, y_pred: np.ndarray | None = None, *,
                counts: Counts | None = None) -> float:
    """tn / (tn + fp): the fraction of true negatives cleared; nan without negatives."""
    tn, fp, _, _ = _counts(y_true, y_pred, counts, "specificity")
    return _rate(tn, tn + fp)


def precision(y_true: np.ndarray | None = None, y_pred: np.ndarray | None = None, *,
              counts: Counts | None = None) -> float:
    """tp / (tp + fp): the fraction of positive calls that are right; nan without any."""
    _, fp, _, tp = _counts(y_true, y_pred, counts, "precision")
    return _rate(tp, tp + fp)


def _both_classes(t: np.ndarray, owner: str) -> tuple[int, int]:
    n_pos = int(t.sum())
    n_neg = len(t) - n_pos
    if n_pos == 0 or n_neg == 0:
        which = "positive (1)" if n_pos == 0 else "negative (0)"
        raise InvalidValueError(
            f"{owner}: y_true holds no {which} example, so the curve is undefined; it needs "
            "both classes (is the validation set too small, or not shuffled?)."
        )
    return n_pos, n_neg


def _labels_and_scores(
    y_true: object, scores: object, owner: str
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(labels 0/1, scores, positives, negatives), checked: what the ROC functions share."""
    t = _binary(y_true, owner=owner, name="y_true")
    s = _scores(scores, owner=owner)
    check_same_length(t, s, owner=owner, names=("y_true", "scores"))
    n_pos, n_neg = _both_classes(t, owner)
    return t, s, n_pos, n_neg


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """The ROC curve: (fpr, tpr, thresholds), each (P,), P = distinct scores + 1.

    Point i is the threshold ``thresholds[i]`` (positive when score >= it), thresholds
    decreasing: first +inf (nothing positive: (0, 0)), then every distinct score, the last
    the smallest (everything positive: (1, 1)). Tied scores move together: one point per
    distinct score, as scikit-learn's roc_curve(..., drop_intermediate=False).
    y_true: (N,) labels 0/1, both present;  scores: (N,).
    """
    owner = "roc_curve"
    t, s, n_pos, n_neg = _labels_and_scores(y_true, scores, owner)
    order = np.argsort(s, kind="stable")[::-1]  # highest first; -s would wrap unsigned ints
    s, t = s[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the end of each run of ties
    tps = np.cumsum(t)[last]
    fps = last + 1 - tps
    fpr = np.r_[0, fps] / n_neg
    tpr = np.r_[0, tps] / n_pos
    return fpr, tpr, np.r_[np.inf, s[last].astype(np.float64)]


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve, in [0, 1]: P(score of a positive > score of a negative).

    Computed as the Mann-Whitney U statistic, ties counting half: with average ranks
    r (1 = lowest score), AUC = (sum of the positives' ranks - P(P+1)/2) / (P * Q)
    for P positives and Q negatives. Equal to the trapezoid area under :func:`roc_curve`.
    y_true: (N,) labels 0/1, both present;  scores: (N,).
    """
    owner = "roc_auc"
    t, s, n_pos, n_neg = _labels_and_scores(y_true, scores, owner)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    # Tied scores share the average of the ranks they occupy.
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2
    rank_sum = float(average_rank[inverse.ravel()][t == 1].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def calibration_curve(y_true: np.ndarray, probs: np.ndarray,
                      n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reliability diagram data: (mean_predicted, fraction_positive, counts), each (n_bins,).

    The probabilities are cut into n_bins equal bins: bin b holds (b/B, (b+1)/B], the first
    also 0 (scikit-learn's "uniform" bins). For each bin: the mean predicted probability,
    the fraction of true positives, and the number of examples. A calibrated model has
    mean_predicted ~ fraction_positive. Empty bins give nan for both (no warning) and a
    count of 0; scikit-learn's calibration_curve leaves them out instead.
    y_true: (N,) labels 0/1;  probs: (N,) probabilities in [0, 1].
    """
    owner = "calibration_curve"
    t = _binary(y_true, owner=owner, name="y_true")
    p = _scores(probs, owner=owner, name="probs")
    check_same_length(t, p, owner=owner, names=("y_true", "probs"))
    if (p < 0).any() or (p > 1).any():
        bad = p[(p < 0) | (p > 1)][0]
        raise InvalidValueError(
            f"{owner}: probs must lie in [0, 1], got {bad}. For logits, apply sigmoid first."
        )
    b = check_positive_int(n_bins, owner=owner, name="n_bins")
    edges = np.linspace(0.0, 1.0, b + 1)
    bins = np.searchsorted(edges[1:-1], p)  # side="left": an edge value closes its bin
    counts = np.bincount(bins, minlength=b)
    sums = np.bincount(bins, weights=p, minlength=b)
    hits = np.bincount(bins, weights=t, minlength=b)
    mean_predicted, fraction_positive = np.full(b, np.nan), np.full(b, np.nan)
    np.divide(sums, counts, out=mean_predicted, where=counts > 0)
    np.divide(hits, counts, out=fraction_positive, where=counts > 0)
    return mean_predicted, fraction_positive, counts


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Balanced class weights (K,) float64: w_k = N / (K * count_k).

    A class seen half as often weighs twice as much, so every class contributes the same
    total weight N / K (as scikit-learn's compute_class_weight("balanced")).
    y: (N,) integer labels in 0..K-1; every class must occur (an absent class would need
    an infinite weight).
    """
    owner = "class_weights"
    k = check_positive_int(n_classes, owner=owner, name="n_classes")
    labels = check_labels(y, k, owner=owner, name="y")
    counts = np.bincount(labels, minlength=k)
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0).tolist()
        raise InvalidValueError(
            f"{owner}: class{'es' if len(missing) > 1 else ''} {missing} never occur in y, "
            f"so no weight can balance them; pass the labels of the whole training set."
        )
    return len(labels) / (k * counts)


def threshold_for_sensitivity(y_true: np.ndarray, scores: np.ndarray, target: float) -> float:
    """The highest threshold t whose sensitivity (score >= t is positive) is >= target.

    t is always one of the positives' scores: with the positives' scores sorted from the
    highest, it is the k-th one for the smallest k with k / P >= target (P positives,
    the division done in floating point as :func:`sensitivity` does, so that 7/10 reaches
    a target of 0.7). Tied scores count together: the sensitivity at t may exceed target.
    y_true: (N,) labels 0/1 with at least one positive;  scores: (N,);  target in (0, 1].
    """
    owner = "threshold_for_sensitivity"
    t = _binary(y_true, owner=owner, name="y_true")
    s = _scores(scores, owner=owner)
    check_same_length(t, s, owner=owner, names=("y_true", "scores"))
    if (isinstance(target, bool) or not isinstance(target, Real) or np.isnan(target)
            or not 0 < target <= 1):
        raise InvalidValueError(
            f"{owner}: target must be a sensitivity in (0, 1], got {target!r}."
        )
    positives = -np.sort(-s[t == 1].astype(np.float64))  # the positives' scores, highest first
    n_pos = len(positives)
    if n_pos == 0:
        raise InvalidValueError(f"{owner}: y_true holds no positive (1) example, so no "
                                "threshold has a sensitivity.")
    reached = np.arange(1, n_pos + 1) / n_pos >= target  # the sensitivity at each k
    return float(positives[int(np.argmax(reached))])


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score confidence interval (low, high) for a proportion successes / n.

    With z the normal quantile of the level (1.96 for 0.95) and p = successes / n::

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

    Unlike p +- z sqrt(p (1 - p) / n), it stays inside [0, 1] and does not shrink to a
    single point when p is 0 or 1 (30 of 30 found is not proof of a perfect test).
    """
    owner = "wilson_interval"
    k = check_positive_int(successes, owner=owner, name="successes", minimum=0)
    m = check_positive_int(n, owner=owner, name="n")
    if k > m:
        raise InvalidValueError(f"{owner}: successes ({k}) cannot exceed n ({m}).")
    if isinstance(level, bool) or not isinstance(level, Real) or not 0 < level < 1:
        raise InvalidValueError(f"{owner}: level must be in (0, 1), got {level!r}.")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p, z2 = k / m, z * z
    denominator = 1 + z2 / m
    centre = (p + z2 / (2 * m)) / denominator
    half = z / denominator * np.sqrt(p * (1 - p) / m + z2 / (4 * m * m))
    # At p = 0 (or 1) the bound is exactly 0 (or 1); rounding would leave 1e-17.
    low = 0.0 if k == 0 else max(0.0, float(centre - half))
    return low, 1.0 if k == m else min(1.0, float(centre + half))


_BOOTSTRAP_METRICS = ("accuracy", "sensitivity", "specificity", "precision")


def bootstrap_metric(y_true: np.ndarray, y_pred: np.ndarray, metric: str = "accuracy", *,
                     n_boot: int = 2000, seed: int | np.random.Generator | None = 0
                     ) -> np.ndarray:
    """The metric on n_boot bootstrap resamples of a test set: (n_boot,) float64.

    Each resample draws N examples from the N with replacement, as if a new test set of
    the same size had been collected; the spread of the values shows how much the
    metric could change by the luck of which patients were tested. A resample without
    any example the metric needs (no positive for the sensitivity) gives nan.
    y_true, y_pred: (N,) labels 0/1;  metric: "accuracy", "sensitivity", "specificity"
    or "precision". All resamples at once: no Python loop.
    """
    owner = "bootstrap_metric"
    t = _binary(y_true, owner=owner, name="y_true")
    p = _binary(y_pred, owner=owner, name="y_pred")
    check_same_length(t, p, owner=owner, names=("y_true", "y_pred"))
    if metric not in _BOOTSTRAP_METRICS:
        raise InvalidValueError(
            f"{owner}: metric must be one of {list(_BOOTSTRAP_METRICS)}, got {metric!r}."
        )
    b = check_positive_int(n_boot, owner=owner, name="n_boot")
    rng = as_rng(seed, owner=owner)
    idx = rng.integers(0, len(t), size=(b, len(t)))
    code = 2 * t + p  # 0 tn, 1 fp, 2 fn, 3 tp
    counts = np.bincount((code[idx] + 4 * np.arange(b)[:, None]).ravel(),
                         minlength=4 * b).reshape(b, 4).astype(np.float64)
    tn, fp, fn, tp = counts.T
    num, den = {"accuracy": (tn + tp, counts.sum(axis=1)), "sensitivity": (tp, tp + fn),
                "specificity": (tn, tn + fp), "precision": (tp, tp + fp)}[metric]
    out = np.full(b, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out
