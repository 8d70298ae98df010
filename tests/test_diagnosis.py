"""Diagnostic metrics, checked by hand and against scikit-learn; class weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import precision_score, recall_score, roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve
from sklearn.utils.class_weight import compute_class_weight

from dlteach.diagnosis import (
    bootstrap_metric,
    calibration_curve,
    class_weights,
    confusion_at_threshold,
    precision,
    roc_auc,
    roc_curve,
    sensitivity,
    specificity,
    threshold_for_sensitivity,
    wilson_interval,
)
from dlteach.errors import InvalidValueError, ShapeError

Y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
S = np.array([0.1, 0.6, 0.7, 0.4, 0.9, 0.2, 0.6, 0.6])


def test_confusion_and_rates_by_hand():
    tn, fp, fn, tp = confusion_at_threshold(Y, S, 0.5)
    # >= 0.5 is positive: 0.6 (neg), 0.7, 0.9, 0.6 (pos), 0.6 (neg); 0.4 is a missed one.
    assert (tn, fp, fn, tp) == (2, 2, 1, 3)
    assert confusion_at_threshold(Y, S, 0.6) == (2, 2, 1, 3)  # ties at the threshold count
    assert confusion_at_threshold(Y, S, 0.61) == (4, 0, 2, 2)
    pred = (S >= 0.5).astype(int)
    assert sensitivity(Y, pred) == 3 / 4
    assert specificity(Y, pred) == 2 / 4
    assert precision(Y, pred) == 3 / 5
    assert sensitivity(counts=(2, 2, 1, 3)) == 3 / 4
    assert precision(Y.astype(bool), pred.astype(float)) == 3 / 5


def test_zero_denominators_give_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(sensitivity(np.zeros(3, dtype=int), np.array([0, 1, 0])))
        assert np.isnan(specificity(np.ones(3, dtype=int), np.array([0, 1, 0])))
        assert np.isnan(precision(np.array([0, 1, 0]), np.zeros(3, dtype=int)))
        assert np.isnan(precision(counts=(5, 0, 0, 0)))


def test_rate_argument_errors():
    with pytest.raises(InvalidValueError, match=r"^sensitivity: pass either y_true and y_pred"):
        sensitivity(Y, Y, counts=(1, 1, 1, 1))
    with pytest.raises(InvalidValueError, match=r"^specificity: pass y_true and y_pred"):
        specificity(Y)
    with pytest.raises(ShapeError, match=r"^precision: expected counts = \(tn, fp, fn, tp\)"):
        precision(counts=(1, 2, 3))  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"^precision: counts\[1\] must be at least 0"):
        precision(counts=(1, -2, 3, 4))
    with pytest.raises(InvalidValueError, match=r"^sensitivity: y_pred must hold the binary "
                                                r"labels 0 and 1, got 0.7 at row 0"):
        sensitivity(np.array([1, 0]), np.array([0.7, 0.2]))
    with pytest.raises(ShapeError, match=r"must hold the same number of examples"):
        confusion_at_threshold(Y, S[:3])
    with pytest.raises(InvalidValueError, match=r"^confusion_at_threshold: threshold must be a "
                                                r"number, got nan"):
        confusion_at_threshold(Y, S, float("nan"))


def test_roc_curve_by_hand_with_ties():
    fpr, tpr, thr = roc_curve(Y, S)
    # Distinct scores, decreasing: 0.9, 0.7, 0.6 (1 pos, 2 neg), 0.4, 0.2, 0.1.
    np.testing.assert_array_equal(thr, [np.inf, 0.9, 0.7, 0.6, 0.4, 0.2, 0.1])
    np.testing.assert_allclose(tpr, [0, 1 / 4, 2 / 4, 3 / 4, 1, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 0, 2 / 4, 2 / 4, 3 / 4, 1])
    # Trapezoids: 0.5 * 3/4 (the tie's diagonal: 1/2 * (1/2 + 3/4) = 5/8) ...
    auc = roc_auc(Y, S)
    # The trapezoid rule written out (np.trapezoid is NumPy >= 2, np.trapz older).
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert auc == pytest.approx(area, rel=1e-12)
    assert auc == pytest.approx((2 * 0.5 * (0.5 + 0.75) + 1 + 1) / 4, rel=1e-12)


def test_roc_auc_is_the_mann_whitney_statistic():
    y = np.array([1, 0, 1, 0, 1])
    s = np.array([3.0, 1.0, 2.0, 2.0, 0.5])
    # Pairs (pos, neg): 3>1, 3>2, 2>1, 2=2 (half), 0.5<1, 0.5<2: (3 + 0.5) / 6.
    assert roc_auc(y, s) == pytest.approx(3.5 / 6, rel=1e-12)
    assert roc_auc(np.array([0, 1]), np.array([5.0, 5.0])) == 0.5


def test_curves_need_both_classes():
    with pytest.raises(InvalidValueError, match=r"^roc_auc: y_true holds no positive \(1\) "):
        roc_auc(np.zeros(4, dtype=int), np.arange(4.0))
    with pytest.raises(InvalidValueError, match=r"^roc_curve: y_true holds no negative \(0\) "):
        roc_curve(np.ones(4, dtype=int), np.arange(4.0))


@given(seed=st.integers(0, 2**16), n=st.integers(2, 60), levels=st.integers(2, 8))
def test_metrics_match_sklearn_on_random_data(seed, n, levels):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    y[:2] = [0, 1]
    scores = rng.integers(0, levels, size=n) / levels  # few levels: many ties
    fpr, tpr, thr = roc_curve(y, scores)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(y, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=1e-12)
    np.testing.assert_array_equal(thr[1:], sk_thr[1:])
    assert roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), rel=1e-12)

    counts = confusion_at_threshold(y, scores, 0.5)
    pred = (scores >= 0.5).astype(int)
    assert counts == tuple(sk_confusion_matrix(y, pred, labels=[0, 1]).ravel())
    assert sensitivity(y, pred) == pytest.approx(recall_score(y, pred))
    assert specificity(y, pred) == pytest.approx(recall_score(y, pred, pos_label=0))
    want = precision_score(y, pred, zero_division=np.nan)
    got = precision(y, pred)
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want)


@given(seed=st.integers(0, 2**16), n=st.integers(1, 80), n_bins=st.integers(1, 12))
def test_calibration_curve_matches_sklearn(seed, n, n_bins):
    rng = np.random.default_rng(seed)
    probs = rng.random(n)
    probs[: n // 4] = np.round(probs[: n // 4] * n_bins) / n_bins  # values on the bin edges
    y = (rng.random(n) < probs).astype(int)
    y[0] = 1 - y[-1] if n > 1 else y[0]
    mean_pred, frac_pos, counts = calibration_curve(y, probs, n_bins=n_bins)
    assert mean_pred.shape == frac_pos.shape == counts.shape == (n_bins,)
    assert counts.sum() == n
    if len(np.unique(y)) == 2:
        sk_true, sk_pred = sk_calibration_curve(y, probs, n_bins=n_bins)
        filled = counts > 0
        np.testing.assert_allclose(frac_pos[filled], sk_true, rtol=1e-12)
        np.testing.assert_allclose(mean_pred[filled], sk_pred, rtol=1e-12)
    assert np.isnan(mean_pred[counts == 0]).all() and np.isnan(frac_pos[counts == 0]).all()


def test_calibration_curve_by_hand():
    probs = np.array([0.0, 0.1, 0.3, 0.5, 0.55, 1.0])
    y = np.array([0, 0, 1, 0, 1, 1])
    mean_pred, frac_pos, counts = calibration_curve(y, probs, n_bins=4)
    # Bins [0, .25], (.25, .5], (.5, .75], (.75, 1]
    np.testing.assert_array_equal(counts, [2, 2, 1, 1])
    np.testing.assert_allclose(mean_pred, [0.05, 0.4, 0.55, 1.0])
    np.testing.assert_allclose(frac_pos, [0, 0.5, 1, 1])
    with pytest.raises(InvalidValueError, match=r"^calibration_curve: probs must lie in \[0, 1\]"):
        calibration_curve(y, probs + 0.5)


def test_class_weights_are_balanced():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    w = class_weights(y, 3)
    np.testing.assert_allclose(w, [12 / 18, 12 / 6, 12 / 12])
    np.testing.assert_allclose(w, compute_class_weight("balanced", classes=np.arange(3), y=y))
    assert np.bincount(y) @ w == pytest.approx(len(y))  # every class weighs N / K in total
    with pytest.raises(InvalidValueError, match=r"^class_weights: class \[3\] never occur"):
        class_weights(y, 4)
    with pytest.raises(InvalidValueError, match=r"^class_weights: y must lie in 0..1"):
        class_weights(y, 2)


def test_balanced_weights_make_the_loss_a_mean_over_classes():
    from dlteach.activations import log_softmax
    from dlteach.losses import SoftmaxCrossEntropy

    rng = np.random.default_rng(5)
    y = np.array([0] * 9 + [1] * 2 + [2] * 4)  # imbalanced
    logits = rng.standard_normal((len(y), 3))
    per_example = -log_softmax(logits)[np.arange(len(y)), y]
    # sum_n w[y_n] l_n / sum_n w[y_n] with w_k = N / (K c_k) is the mean of the class means.
    want = np.mean([per_example[y == k].mean() for k in range(3)])
    loss = SoftmaxCrossEntropy(class_weights=class_weights(y, 3))
    assert loss(logits, y) == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------- screening thresholds


def _highest_threshold_by_search(y, s, target):
    """The definition, by brute force: every score tried, the highest that reaches target."""
    ok = [t for t in np.unique(s) if sensitivity(y, (s >= t).astype(int)) >= target]
    return max(ok)


def test_threshold_for_sensitivity_by_hand():
    y = np.array([1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1])
    s = np.array([0.9, 0.95, 0.8, 0.8, 0.5, 0.7, 0.1, 0.6, 0.55, 0.4, 0.3, 0.35, 0.2, 0.65,
                  0.05])  # 11 positives; 0.8 twice
    assert threshold_for_sensitivity(y, s, 1 / 11) == 0.9
    assert threshold_for_sensitivity(y, s, 2 / 11) == 0.8  # ties: 0.8 finds 3 of 11
    assert threshold_for_sensitivity(y, s, 3 / 11) == 0.8
    assert threshold_for_sensitivity(y, s, 0.5) == 0.55  # 6 of 11 >= 0.5, 5 of 11 is not
    assert threshold_for_sensitivity(y, s, 1.0) == 0.05
    # Targets met exactly, where a formula on target * P rounds the wrong way:
    # ceil(0.55 * 100) is 56 and floor((1 - 0.9) * 10) is 0 in floating point.
    assert 0.55 * 100 > 55 and (1 - 0.9) * 10 < 1
    y100, s100 = np.ones(100, dtype=int), np.arange(100, 0, -1) / 100
    assert threshold_for_sensitivity(y100, s100, 0.55) == 0.46  # 55 of 100
    y10, s10 = np.ones(10, dtype=int), np.arange(10, 0, -1) / 10
    assert threshold_for_sensitivity(y10, s10, 0.9) == 0.2  # 9 of 10


@given(st.lists(st.tuples(st.booleans(), st.integers(-5, 5)), min_size=1, max_size=30),
       st.integers(1, 20), st.sampled_from([1e-12, 1.0, 1e12]))
def test_threshold_for_sensitivity_is_the_highest_that_reaches_the_target(rows, k, scale):
    y = np.array([int(a) for a, _ in rows] + [1])  # at least one positive
    s = np.array([b for _, b in rows] + [0], dtype=np.float64) * scale
    target = min(1.0, k / 20)
    t = threshold_for_sensitivity(y, s, target)
    assert t == _highest_threshold_by_search(y, s, target)
    assert t in s[y == 1]


def test_threshold_for_sensitivity_errors():
    with pytest.raises(InvalidValueError, match=r"^threshold_for_sensitivity: target must"):
        threshold_for_sensitivity(Y, S, 0.0)
    with pytest.raises(InvalidValueError, match=r"^threshold_for_sensitivity: target must"):
        threshold_for_sensitivity(Y, S, 1.5)
    with pytest.raises(InvalidValueError, match=r"no positive \(1\) example"):
        threshold_for_sensitivity(np.zeros(3, dtype=int), np.arange(3.0), 0.5)


# ---------------------------------------------------------------- uncertainty


def test_wilson_interval_against_scipy_and_by_hand():
    from scipy.stats import binomtest

    for k, n in [(30, 32), (40, 42), (0, 10), (10, 10), (57, 114), (1, 3)]:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        np.testing.assert_allclose(wilson_interval(k, n), (ci.low, ci.high), atol=1e-12)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    # z^2 / (n + z^2) is the upper bound at 0 successes.
    z = 1.959963984540054
    assert wilson_interval(0, 10)[1] == pytest.approx(z * z / (10 + z * z), rel=1e-12)
    low90, high90 = wilson_interval(30, 32, level=0.9)
    low95, high95 = wilson_interval(30, 32)
    assert low95 < low90 < 30 / 32 < high90 < high95
    with pytest.raises(InvalidValueError, match=r"^wilson_interval: successes \(5\) cannot"):
        wilson_interval(5, 4)
    with pytest.raises(InvalidValueError, match=r"^wilson_interval: level must be in"):
        wilson_interval(1, 4, level=95)


def test_bootstrap_metric_resamples_the_test_set():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    pred = np.where(rng.random(60) < 0.2, 1 - y, y)
    for metric, fn in [("sensitivity", sensitivity), ("specificity", specificity),
                       ("precision", precision),
                       ("accuracy", lambda a, b: float(np.mean(a == b)))]:
        got = bootstrap_metric(y, pred, metric, n_boot=50, seed=3)
        draw = np.random.default_rng(3).integers(0, 60, size=(50, 60))  # the same resamples
        want = [fn(y[i], pred[i]) for i in draw]
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert got.dtype == np.float64 and got.shape == (50,)
    # a test set of 2 positives among 40: some resamples hold none -> nan, no warning
    y = np.r_[np.ones(2, dtype=int), np.zeros(38, dtype=int)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = bootstrap_metric(y, y, "sensitivity", n_boot=200, seed=0)
    assert np.isnan(values).any() and np.nanmin(values) == 1.0
    np.testing.assert_array_equal(bootstrap_metric(y, y, n_boot=5, seed=1), 1.0)
    with pytest.raises(InvalidValueError, match=r"^bootstrap_metric: metric must be one of"):
        bootstrap_metric(y, y, "auc")


def test_roc_curve_of_unsigned_integer_scores():
    # -scores wraps around for unsigned integers (-0 stays 0, -1 is 255): sort otherwise.
    y = np.array([1, 0, 1, 0, 0, 1])
    s = np.array([0, 3, 255, 1, 0, 7], dtype=np.uint8)
    fpr, tpr, thresholds = roc_curve(y, s)
    want_fpr, want_tpr, want_t = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_array_equal(fpr, want_fpr)
    np.testing.assert_array_equal(tpr, want_tpr)
    np.testing.assert_array_equal(thresholds[1:], [255, 7, 3, 1, 0])
    np.testing.assert_array_equal(thresholds[1:], want_t[1:])
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
