"""Lesson 9's exercise checks: the references are right, typical mistakes fail usefully.

For every case a check runs, a concrete plausible wrong answer passes the cases before
it and fails on that case, with that case's hint; correct solutions written in other
ways pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from lesson_exercise_tests import LessonExerciseTests, flat
from sklearn.metrics import roc_curve as sk_roc_curve

import dlteach as dl
from dlteach.exercises import lesson09 as ex

# ---------------------------------------------------------------- learner-style solutions


def sensitivity_specificity(y_true, scores, threshold):
    pred = scores >= threshold
    pos, neg = y_true == 1, y_true == 0
    sens = np.sum(pred & pos) / np.sum(pos) if np.sum(pos) else np.nan
    spec = np.sum(~pred & neg) / np.sum(neg) if np.sum(neg) else np.nan
    return sens, spec


def roc_points(y_true, scores):
    thresholds = np.unique(scores)[::-1]  # distinct scores, highest first
    pos = y_true == 1
    n_pos, n_neg = np.sum(pos), np.sum(~pos)
    above = scores[None, :] >= thresholds[:, None]  # (thresholds, examples)
    tp = np.r_[0, (above & pos).sum(axis=1)]
    fp = np.r_[0, (above & ~pos).sum(axis=1)]
    tpr = tp / n_pos if n_pos else np.full(len(tp), np.nan)
    fpr = fp / n_neg if n_neg else np.full(len(fp), np.nan)
    return fpr, tpr


def threshold_for_sensitivity(y_true, scores, target):
    found = np.sort(scores[y_true == 1])[::-1]  # the positives' scores, highest first
    sens = np.arange(1, len(found) + 1) / len(found)
    return found[np.argmax(sens >= target)]


REFERENCES = {
    "sensitivity_specificity": sensitivity_specificity,
    "roc_points": roc_points,
    "threshold_for_sensitivity": threshold_for_sensitivity,
}


# Correct solutions written differently again: each must pass too.

def sensitivity_specificity_by_means(y_true, scores, threshold):
    y, pred = np.asarray(y_true, dtype=float), (scores >= threshold).astype(float)
    sens = float(pred[y == 1].mean()) if (y == 1).any() else float("nan")
    spec = float(1 - pred[y == 0].mean()) if (y == 0).any() else float("nan")
    return sens, spec


def sensitivity_specificity_by_library(y_true, scores, threshold):
    counts = dl.confusion_at_threshold(y_true, scores, threshold)
    return dl.sensitivity(counts=counts), dl.specificity(counts=counts)


def roc_points_by_loop(y_true, scores):
    y = np.asarray(y_true).astype(int)
    order = np.argsort(scores, kind="stable")[::-1]
    s, t = scores[order], y[order]
    fpr, tpr, tp, fp = [0.0], [0.0], 0, 0
    n_pos, n_neg = t.sum(), len(t) - t.sum()
    for i in range(len(s)):  # one example at a time, a point at the end of each tie
        tp, fp = tp + t[i], fp + 1 - t[i]
        if i == len(s) - 1 or s[i + 1] != s[i]:
            fpr.append(fp / n_neg if n_neg else math.nan)
            tpr.append(tp / n_pos if n_pos else math.nan)
    if not n_neg:
        fpr = [math.nan] * len(fpr)
    if not n_pos:
        tpr = [math.nan] * len(tpr)
    return np.array(fpr), np.array(tpr)


def threshold_by_search(y_true, scores, target):
    pos = scores[y_true == 1]
    for t in np.unique(pos)[::-1]:  # lower the threshold until the target is reached
        if np.mean(pos >= t) >= target:
            return float(t)
    raise AssertionError("unreachable: the lowest positive score finds every positive")


CORRECT = {
    "sensitivity_specificity": [sensitivity_specificity, sensitivity_specificity_by_means,
                                sensitivity_specificity_by_library],
    "roc_points": [roc_points, roc_points_by_loop],
    "threshold_for_sensitivity": [threshold_for_sensitivity, threshold_by_search,
                                  dl.threshold_for_sensitivity],
}


def failed_at(verdict, label: str, *fragments: str) -> None:
    """The verdict failed on the case labelled ``label``, showing the fragments."""
    assert verdict.status == "failed", verdict.text()
    assert label in verdict.message.splitlines()[0], verdict.message
    for fragment in fragments:
        assert fragment in flat(verdict.message), (fragment, verdict.message)


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_solutions_written_differently_pass(name):
    check = getattr(ex, f"check_{name}")
    with np.errstate(divide="ignore", invalid="ignore"):
        for fn in CORRECT[name]:
            verdict = check(fn)
            assert verdict.status == "passed", (fn.__name__, verdict.text())


# ---------------------------------------------------------------- the references agree


def test_the_roc_reference_is_the_library_and_scikit_learn_curve():
    rng = np.random.default_rng(0)
    for scores in (rng.random(40), rng.integers(0, 6, 40), rng.integers(0, 6, 40).astype(
            np.uint8), rng.random(40).astype(np.float32)):
        y = rng.integers(0, 2, 40)
        fpr, tpr = ex.roc_points(y, scores)
        lib_fpr, lib_tpr, _ = dl.roc_curve(y, scores)
        sk_fpr, sk_tpr, _ = sk_roc_curve(y, scores, drop_intermediate=False)
        for got, want in ((fpr, lib_fpr), (tpr, lib_tpr), (fpr, sk_fpr), (tpr, sk_tpr)):
            np.testing.assert_array_equal(got, want)
        assert fpr.dtype == tpr.dtype == np.float64
    fpr, tpr = ex.roc_points(np.ones(3, dtype=int), np.array([0.2, 0.5, 0.5]))
    assert np.isnan(fpr).all() and tpr.tolist() == [0, 2 / 3, 1]


def test_the_rates_reference_matches_the_definitions():
    y = np.array([1, 0, 1, 1, 0, 0, 0])
    s = np.array([0.9, 0.2, 0.65, 0.4, 0.3, 0.8, 0.1])
    assert ex.sensitivity_specificity(y, s, 0.5) == (2 / 3, 3 / 4)
    assert ex.sensitivity_specificity(y, s, 0.4) == (1.0, 3 / 4)  # 0.4 itself is positive
    sens, spec = ex.sensitivity_specificity(np.zeros(3, dtype=int), np.arange(3.0), 1.0)
    assert math.isnan(sens) and spec == 1 / 3  # only the score 0.0 is below 1.0
    assert ex.threshold_for_sensitivity(y, s, 0.5) == 0.65


# ---------------------------------------------------------------- sensitivity_specificity

LABEL_INT = "case 1 of 8: integer labels, 1 = positive"


def test_swapped_rates_or_the_wrong_positive_class_fail_on_the_first_case():
    swapped = lambda y, s, t: sensitivity_specificity(y, s, t)[::-1]  # noqa: E731
    malignant_zero = lambda y, s, t: sensitivity_specificity(1 - y, 1 - s, 1 - t)  # noqa: E731
    for fn in (swapped, malignant_zero):
        failed_at(ex.check_sensitivity_specificity(fn), LABEL_INT,
                  "Sensitivity is the fraction of the positives (label 1)",
                  "return them in that order")


def test_bitwise_not_on_integer_labels_fails_on_the_integer_case():
    def tilde(y_true, scores, threshold):
        pred = scores >= threshold
        sens = np.sum(pred[y_true == 1]) / np.sum(y_true == 1)
        spec = np.sum(~pred & ~y_true) / np.sum(~y_true)  # ~1 is -2 on integers
        return sens, spec

    with np.errstate(invalid="ignore"):  # ~y_true counts -1 and -2 as true: 0 / 0 later
        v = ex.check_sensitivity_specificity(tilde)
    failed_at(v, LABEL_INT, "~1 is -2 and ~0 is -1")
    # on booleans it is right: the integer case is the one that shows it
    with np.errstate(invalid="ignore"):  # the case without positives divides 0 by 0
        bool_only = ex.check_sensitivity_specificity(
            lambda y, s, t: tilde(np.asarray(y, dtype=bool), s, t))
    assert bool_only.status == "passed", bool_only.text()


def test_subtracting_labels_fails_on_the_boolean_case():
    def difference(y_true, scores, threshold):
        pred = scores >= threshold
        diff = y_true - pred  # 1: a missed positive, -1: a false alarm
        fn, fp = np.sum(diff == 1), np.sum(diff == -1)
        n_pos = np.sum(y_true == 1)
        return (n_pos - fn) / n_pos, (len(y_true) - n_pos - fp) / (len(y_true) - n_pos)

    failed_at(ex.check_sensitivity_specificity(difference),
              "case 2 of 8: the same labels as booleans",
              "your function raised TypeError", "NumPy refuses to subtract two boolean arrays")


def test_bitwise_and_fails_on_the_float_case():
    def bitwise(y_true, scores, threshold):
        pred = scores >= threshold
        tp, fn = np.sum(y_true & pred), np.sum(y_true & ~pred)
        tn, fp = np.sum(~y_true & ~pred), np.sum(~y_true & pred)
        return tp / (tp + fn), tn / (tn + fp)

    failed_at(ex.check_sensitivity_specificity(bitwise),
              "case 3 of 8: the same labels as floats 0.0 and 1.0",
              "your function raised TypeError", "& and ~ are not defined on floats")


def test_strictly_greater_fails_on_scores_at_the_threshold():
    v = ex.check_sensitivity_specificity(
        lambda y, s, t: sensitivity_specificity(y, np.where(s == t, -np.inf, s), t))
    failed_at(v, "case 4 of 8: scores exactly at the threshold", "score >= threshold")

    def strict(y_true, scores, threshold):
        pred = scores > threshold
        return np.mean(pred[y_true == 1]), np.mean(~pred[y_true == 0])

    failed_at(ex.check_sensitivity_specificity(strict), "case 4 of 8", "With > they are")


def test_dividing_by_zero_or_guarding_with_one_fails_on_the_undefined_rates():
    def python_ints(y_true, scores, threshold):
        pred = scores >= threshold
        tp, fn = int(np.sum(pred & (y_true == 1))), int(np.sum(~pred & (y_true == 1)))
        tn, fp = int(np.sum(~pred & (y_true == 0))), int(np.sum(pred & (y_true == 0)))
        return tp / (tp + fn), tn / (tn + fp)

    v = ex.check_sensitivity_specificity(python_ints)
    failed_at(v, "case 5 of 8: no positive at all", "ZeroDivisionError", "nan")

    def guarded(y_true, scores, threshold):
        pred = scores >= threshold
        pos, neg = y_true == 1, y_true == 0
        return (np.sum(pred & pos) / max(np.sum(pos), 1),
                np.sum(~pred & neg) / max(np.sum(neg), 1))

    v = ex.check_sensitivity_specificity(guarded)
    failed_at(v, "case 5 of 8: no positive at all", "max(..., 1) gives 0")
    assert "expected: (nan, 0.5)" in flat(v.message) and "got: (0.0, 0.5)" in flat(v.message)

    def guarded_sensitivity_only(y_true, scores, threshold):
        sens, _ = sensitivity_specificity(y_true, scores, threshold)
        pred, neg = scores >= threshold, y_true == 0
        return sens, np.sum(~pred & neg) / max(np.sum(neg), 1)

    failed_at(ex.check_sensitivity_specificity(guarded_sensitivity_only),
              "case 6 of 8: no negative at all", "the specificity is 0 / 0")


def test_a_fixed_threshold_fails_on_the_random_case_and_or_fails_on_zero():
    v = ex.check_sensitivity_specificity(lambda y, s, t: sensitivity_specificity(y, s, 0.5))
    failed_at(v, "case 7 of 8: 200 patients", "The threshold is 0.3 here")
    assert "rebuild: rng = np.random.default_rng(9)" in v.message

    def or_default(y_true, scores, threshold=None):
        threshold = threshold or 0.5
        return sensitivity_specificity(y_true, scores, threshold)

    failed_at(ex.check_sensitivity_specificity(or_default), "case 8 of 8: logits",
              "'threshold or 0.5'")


# ---------------------------------------------------------------- roc_points

ROC_FIRST = "case 1 of 9: 5 distinct scores"


def test_roc_points_without_the_origin_or_in_the_wrong_direction_fail_on_the_first_case():
    no_origin = lambda y, s: tuple(a[1:] for a in roc_points(y, s))  # noqa: E731
    v = ex.check_roc_points(no_origin)
    failed_at(v, ROC_FIRST, "expected an array of shape (6,), got shape (5,)", "(0, 0)")
    reversed_ = lambda y, s: tuple(a[::-1] for a in roc_points(y, s))  # noqa: E731
    failed_at(ex.check_roc_points(reversed_), ROC_FIRST, "from above the highest score")

    def strict(y, s):  # score > t: the last point is not (1, 1)
        t = np.unique(s)[::-1]
        above = s[None, :] > t[:, None]
        pos = y == 1
        return (np.r_[0, (above & ~pos).sum(1)] / np.sum(~pos),
                np.r_[0, (above & pos).sum(1)] / np.sum(pos))

    failed_at(ex.check_roc_points(strict), ROC_FIRST, "(everything positive: (1, 1))")


def test_roc_points_without_sorting_fail_on_unsorted_scores():
    def unsorted(y, s):
        t = np.asarray(y)
        tps, fps = np.cumsum(t), np.cumsum(1 - t)
        return np.r_[0, fps] / fps[-1], np.r_[0, tps] / tps[-1]

    failed_at(ex.check_roc_points(unsorted), "case 2 of 9: the same scores, not sorted",
              "sort them, and the labels with them")


def test_roc_points_one_per_example_fail_on_ties():
    def per_example(y, s):
        t = np.asarray(y)[np.argsort(s, kind="stable")[::-1]]
        tps, fps = np.cumsum(t), np.cumsum(1 - t)
        return np.r_[0, fps] / fps[-1], np.r_[0, tps] / tps[-1]

    v = ex.check_roc_points(per_example)
    failed_at(v, "case 3 of 9: tied scores move together", "in ONE step",
              "expected an array of shape (4,), got shape (7,)", "4 points")


def test_roc_points_merging_close_scores_fail_on_scores_1e_12_apart():
    rounded = lambda y, s: roc_points(y, np.round(s, 9))  # noqa: E731
    failed_at(ex.check_roc_points(rounded), "case 4 of 9: scores 1e-12 apart",
              "rounding the scores or np.isclose")

    def isclose_ties(y, s):
        order = np.argsort(s, kind="stable")[::-1]
        s, t = s[order], np.asarray(y)[order]
        last = np.r_[np.flatnonzero(~np.isclose(s[1:], s[:-1])), len(s) - 1]
        tps = np.r_[0, np.cumsum(t)[last]]
        fps = np.r_[0, last + 1] - tps
        return fps / fps[-1], tps / tps[-1]

    failed_at(ex.check_roc_points(isclose_ties), "case 4 of 9")


def test_roc_points_in_arrays_made_like_the_scores_fail_on_integer_scores():
    def like_scores(y, s):
        fpr_f, tpr_f = roc_points(y, s)
        fpr, tpr = np.zeros_like(s, shape=fpr_f.shape), np.zeros_like(s, shape=tpr_f.shape)
        fpr[:], tpr[:] = fpr_f, tpr_f  # an integer array truncates the rates
        return fpr, tpr

    failed_at(ex.check_roc_points(like_scores), "case 5 of 9: integer scores",
              "np.zeros_like(scores)")


def test_roc_points_sorting_negated_scores_fail_on_unsigned_scores():
    def negated(y, s):
        order = np.argsort(-s, kind="stable")
        s, t = s[order], np.asarray(y)[order]
        last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
        tps = np.r_[0, np.cumsum(t)[last]]
        fps = np.r_[0, last + 1] - tps
        return fps / fps[-1], tps / tps[-1]

    failed_at(ex.check_roc_points(negated), "case 6 of 9: scores stored as uint8",
              "-scores wraps around")


def test_roc_points_starting_at_max_plus_one_fail_on_large_float32_scores():
    def max_plus_one(y, s):
        t = np.r_[s.max() + 1, np.unique(s)[::-1]].astype(s.dtype)
        above = s[None, :] >= t[:, None]
        pos = y == 1
        return (above & ~pos).sum(1) / np.sum(~pos), (above & pos).sum(1) / np.sum(pos)

    failed_at(ex.check_roc_points(max_plus_one), "case 7 of 9: float32 scores near 3e7",
              "max() + 1 rounds back to the maximum")


def test_roc_points_guarding_the_division_fail_on_a_missing_class():
    def guarded(y, s):
        t = np.unique(s)[::-1]
        above = s[None, :] >= t[:, None]
        pos = y == 1
        return (np.r_[0, (above & ~pos).sum(1)] / max(np.sum(~pos), 1),
                np.r_[0, (above & pos).sum(1)] / max(np.sum(pos), 1))

    failed_at(ex.check_roc_points(guarded), "case 8 of 9: no negative",
              "max(n_negatives, 1) gives 0")

    with np.errstate(invalid="ignore"):
        v = ex.check_roc_points(lambda y, s: (roc_points(y, s)[0], guarded(y, s)[1]))
    failed_at(v, "case 9 of 9: no positive", "every true positive rate is 0 / 0")


# ---------------------------------------------------------------- threshold_for_sensitivity

THRESHOLD_FIRST = "case 1 of 7: 5 positives, target 0.5"


def test_not_the_highest_threshold_fails_on_the_first_case():
    def lowest(y, s, target):  # the lowest threshold reaching it: everyone positive
        return min(t for t in np.unique(s) if np.mean(s[y == 1] >= t) >= target)

    def off_by_one(y, s, target):
        found = np.sort(s[y == 1])[::-1]
        return found[math.ceil(target * len(found))]

    def midpoint(y, s, target):
        found = np.sort(s[y == 1])[::-1]
        k = math.ceil(target * len(found))
        return (found[k - 1] + found[k]) / 2

    for fn in (lowest, off_by_one, midpoint):
        failed_at(ex.check_threshold_for_sensitivity(fn), THRESHOLD_FIRST,
                  "the third-highest score among the positives")


def test_strictly_above_the_target_fails_on_target_one():
    def strict(y, s, target):
        found = np.sort(s[y == 1])[::-1]
        return found[np.argmax(np.arange(1, len(found) + 1) / len(found) > target)]

    failed_at(ex.check_threshold_for_sensitivity(strict), "case 2 of 7: target 1.0",
              "compare the sensitivity with the target by >=, not >")


def test_distinct_positive_scores_fail_on_tied_positives():
    def distinct(y, s, target):
        found = np.unique(s[y == 1])[::-1]  # merges tied positives
        return found[np.argmax(np.arange(1, len(found) + 1) / len(found) >= target)]

    failed_at(ex.check_threshold_for_sensitivity(distinct), "case 3 of 7: tied positives",
              "np.unique merges the tied positives into one")


def test_counts_from_target_times_p_fail_where_rounding_goes_the_wrong_way():
    def misses_allowed(y, s, target):
        found = np.sort(s[y == 1])  # lowest first
        return found[math.floor((1 - target) * len(found))]

    failed_at(ex.check_threshold_for_sensitivity(misses_allowed),
              "case 4 of 7: target 0.9 of 10 positives", "its floor is 0, not 1")

    def ceiling(y, s, target):
        found = np.sort(s[y == 1])[::-1]
        return found[math.ceil(target * len(found)) - 1]

    v = ex.check_threshold_for_sensitivity(ceiling)
    failed_at(v, "case 5 of 7: target 0.55 of 100 positives", "whose ceiling is 56")
    assert "rebuild: rng = np.random.default_rng(29)" in v.message


def test_margins_and_rounding_fail_on_tiny_scores():
    margin = lambda y, s, target: threshold_for_sensitivity(y, s, target) - 1e-9  # noqa: E731
    rounded = lambda y, s, target: threshold_for_sensitivity(y, np.round(s, 6),  # noqa: E731
                                                             target)
    for fn in (margin, rounded):
        failed_at(ex.check_threshold_for_sensitivity(fn), "case 6 of 7: tiny scores",
                  "A margin such as threshold - 1e-9")


def test_clipping_to_probabilities_fails_on_logits():
    clipped = lambda y, s, target: threshold_for_sensitivity(  # noqa: E731
        y, np.clip(s, 0, 1), target)
    failed_at(ex.check_threshold_for_sensitivity(clipped), "case 7 of 7: logits of about 1e12",
              "Do not clip them into [0, 1]")


class TestLesson09Exercises(
    LessonExerciseTests, lesson="09_healthcare", exercises=ex, references=REFERENCES,
    exec_globals={"np": np, "dl": dl}, min_cases=7,
):
    """Lesson 9's checks and notebook; REFERENCES are learner-style solutions."""
