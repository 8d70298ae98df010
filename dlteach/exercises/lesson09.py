"""Checks for lesson 9, diagnosis and what accuracy hides (``solutions/09_healthcare.ipynb``).

Each ``check_<name>(fn)`` runs the learner's function on a handful of cases against the
library's reference (:mod:`dlteach.diagnosis`) and returns a
:class:`~dlteach.checking.Verdict`. Positive means ill (malignant) and is the label 1
everywhere. The cases catch the usual mistakes: labels given as booleans, integers or
floats 0.0/1.0 (``~y`` on integers, ``1 - y`` on booleans and ``y & p`` on floats all go
wrong), the two rates swapped, a score exactly at the threshold (>= counts it as
positive), a rate with nothing to count (nan, not 0 and not ZeroDivisionError); for the
ROC curve, tied scores that must move together (one diagonal step), unsorted scores,
the end points (0, 0) and (1, 1), integer scores (also unsigned, where ``-scores`` wraps
around) and large float32 scores (where ``max + 1`` is no higher); for the screening
threshold, the highest one, tied positives, targets met exactly (0.9 of 10, 0.55 of 100,
where ``target * P`` rounds the wrong way), a target of 1.0, and scores of tiny and huge
scale (any margin or rounding shows). A case may carry its own hint, which names what to
look at without giving the code away.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlteach.checking import Case, Verdict, check_with_case_hints, graded, seeded_case
from dlteach.diagnosis import confusion_at_threshold
from dlteach.diagnosis import sensitivity as _sensitivity
from dlteach.diagnosis import specificity as _specificity
from dlteach.diagnosis import threshold_for_sensitivity as _threshold_for_sensitivity
from dlteach.exercises import LESSON_EXERCISES

LESSON = "09_healthcare"
EXERCISES = LESSON_EXERCISES[LESSON]
Array = np.ndarray


# ---------------------------------------------------------------- references


def sensitivity_specificity(y_true: Array, scores: Array,
                            threshold: float) -> tuple[float, float]:
    """Reference: (sensitivity, specificity) when score >= threshold is called positive (1);
    a rate with nothing to count (no positive, or no negative) is nan."""
    counts = confusion_at_threshold(y_true, scores, threshold)
    return _sensitivity(counts=counts), _specificity(counts=counts)


def roc_points(y_true: Array, scores: Array) -> tuple[Array, Array]:
    """Reference: the ROC curve's (fpr, tpr), each (P,) float64, P = distinct scores + 1.

    Thresholds from above the highest score (the point (0, 0)) down to the lowest score
    (the point (1, 1)); tied scores move together, one point per distinct score. A rate
    with nothing to count (y_true without a negative: fpr; without a positive: tpr) is nan
    all along, as 0 / 0.
    """
    t = np.asarray(y_true).astype(np.int64)
    s = np.asarray(scores)
    order = np.argsort(s, kind="stable")[::-1]  # highest first; no -s (unsigned scores)
    s, t = s[order], t[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # the end of each tie run
    tps = np.r_[0, np.cumsum(t)[last]]
    fps = np.r_[0, last + 1] - tps
    n_pos, n_neg = tps[-1], fps[-1]
    fpr, tpr = np.full(len(tps), np.nan), np.full(len(tps), np.nan)
    if n_neg:
        fpr = fps / n_neg
    if n_pos:
        tpr = tps / n_pos
    return fpr, tpr


def threshold_for_sensitivity(y_true: Array, scores: Array, target: float) -> float:
    """Reference: the highest threshold t with sensitivity(score >= t) >= target, by
    :func:`dlteach.diagnosis.threshold_for_sensitivity`."""
    return _threshold_for_sensitivity(y_true, scores, target)


# ---------------------------------------------------------------- checks

_NAN = ("A rate with nothing to count is undefined: the reference returns nan (not a "
        "number), as dl.sensitivity does")


@graded
def check_sensitivity_specificity(fn: Callable) -> Verdict:
    """sensitivity_specificity(y_true, scores, threshold) -> (sensitivity, specificity)."""
    scores7 = np.array([0.9, 0.2, 0.65, 0.4, 0.3, 0.8, 0.1])
    labels7 = [1, 0, 1, 1, 0, 0, 0]  # 3 positives, 4 negatives
    cases = [
        (Case((np.array(labels7), scores7, 0.5),
              label="integer labels, 1 = positive (ill): 2 of 3 positives found, 3 of 4 "
                    "negatives cleared"),
         "Positive means ill and is the label 1. A score >= threshold is called positive. "
         "Sensitivity is the fraction of the positives (label 1) called positive, here 2 "
         "of 3; specificity the fraction of the negatives (label 0) called negative, here "
         "3 of 4; return them in that order. With integer labels ~y_true is not 'not "
         "ill': ~1 is -2 and ~0 is -1, both true. Compare with == 1 and == 0."),
        (Case((np.array(labels7, dtype=bool), scores7, 0.5),
              label="the same labels as booleans (True = positive)"),
         "The labels are True/False here. NumPy refuses to subtract two boolean arrays "
         "(y_true - pred raises TypeError); comparing with == 1 and == 0 works for "
         "booleans, integers and floats alike."),
        (Case((np.array(labels7, dtype=np.float64), scores7, 0.5),
              label="the same labels as floats 0.0 and 1.0"),
         "The labels are the floats 0.0 and 1.0 here: & and ~ are not defined on floats. "
         "Comparing with == 1 and == 0 works for booleans, integers and floats alike."),
        (Case((np.array([1, 0, 1, 0, 1, 0]), np.array([0.5, 0.5, 0.75, 0.25, 0.25, 0.5]), 0.5),
              label="scores exactly at the threshold count as positive"),
         "Three scores equal the threshold 0.5 exactly. The convention (as in "
         "dl.confusion_at_threshold) is score >= threshold: positive. With > they are "
         "called negative and both rates change."),
        (Case((np.array([0, 0, 0, 0]), np.array([0.25, 0.75, 0.5, 0.125]), 0.5),
              label="no positive at all: the sensitivity is undefined"),
         f"There is no positive (label 1) here, so the sensitivity is 0 / 0. {_NAN}: "
         "float('nan') or np.nan. Dividing Python integers raises ZeroDivisionError, and "
         "guarding the division with max(..., 1) gives 0, a sensitivity the test never "
         "measured. The specificity (2 of 4) is defined."),
        (Case((np.array([1, 1, 1]), np.array([0.25, 0.75, 0.5]), 0.5),
              label="no negative at all: the specificity is undefined"),
         f"There is no negative (label 0) here, so the specificity is 0 / 0. {_NAN}."),
        (seeded_case(9, "200 patients, random scores, threshold 0.3",
                     y_true="rng.integers(0, 2, size=200)", scores="rng.random(200)",
                     threshold="0.3"),
         "The threshold is 0.3 here, not 0.5: use the threshold you are given."),
        (Case((np.array([1, 0, 0, 1, 0]), np.array([2.5, -1.0, 0.5, -0.25, 0.0]), 0.0),
              label="logits with threshold 0.0 (sigmoid(logit) >= 0.5)"),
         "The threshold is 0.0 here, a number like any other: 'threshold or 0.5' and 'if "
         "not threshold' treat 0.0 as missing. The logit 0.0 itself is >= 0.0: positive."),
    ]
    return check_with_case_hints(
        fn, sensitivity_specificity, cases, exercise="sensitivity_specificity",
        hint=("Call a score >= threshold positive. Sensitivity: the fraction of the "
              "positives (label 1) called positive; specificity: the fraction of the "
              "negatives (label 0) called negative. Return (sensitivity, specificity), "
              "nan for a rate with nothing to count."),
    )


@graded
def check_roc_points(fn: Callable) -> Verdict:
    """roc_points(y_true, scores) -> (fpr, tpr), one point per distinct score plus (0, 0)."""
    cases = [
        (Case((np.array([1, 1, 0, 1, 0]), np.array([0.9, 0.8, 0.6, 0.4, 0.2])),
              label="5 distinct scores, highest first: 6 points from (0, 0) to (1, 1)"),
         "Lower the threshold from above the highest score (nothing positive: the point "
         "(0, 0)) through every score down to the lowest (everything positive: (1, 1)): "
         "5 distinct scores give 6 points, in that order. At each point fpr is the "
         "fraction of negatives called positive, tpr the fraction of positives."),
        (Case((np.array([0, 1, 1, 0, 1]), np.array([0.6, 0.9, 0.4, 0.2, 0.8])),
              label="the same scores, not sorted"),
         "The scores come in any order: go through them from the highest to the lowest "
         "score (sort them, and the labels with them)."),
        (Case((np.array([1, 0, 1, 0, 1, 0]), np.array([0.9, 0.7, 0.7, 0.7, 0.3, 0.3])),
              label="tied scores move together: one diagonal step per tie"),
         "Three examples share the score 0.7 (one positive, two negatives): no threshold "
         "separates them, so the curve moves from one point to the next by 1/3 up and 2/3 "
         "to the right in ONE step. Making a point per example invents thresholds that do "
         "not exist. 3 distinct scores here: 4 points."),
        (Case((np.array([1, 0, 1, 0]), np.array([0.5, 0.5 + 1e-12, 0.5 + 2e-12, 0.5 + 3e-12])),
              label="scores 1e-12 apart are distinct, not tied"),
         "These four scores differ by 1e-12 only, but they differ: each is a threshold of "
         "its own. Ties are scores that are exactly equal; rounding the scores or "
         "np.isclose merges scores that a threshold can tell apart."),
        (Case((np.array([1, 1, 0, 1, 0, 0, 1, 0]), np.array([5, 4, 4, 3, 2, 1, 5, 3])),
              label="integer scores: ratings 1 to 5 by a radiologist"),
         "Ratings are integers with many ties, and the rates are still fractions: an "
         "array created like scores (np.zeros_like(scores), np.empty_like) is an integer "
         "array and truncates every rate to 0 or 1."),
        (Case((np.array([0, 1, 1, 0, 1]), np.array([3, 200, 7, 0, 250], dtype=np.uint8)),
              label="scores stored as uint8 (unsigned integers, 0 to 255)"),
         "The scores are unsigned 8-bit integers, as image pixels are: -scores wraps "
         "around (-200 is 56, and -0 stays 0, the smallest), so sorting -scores puts the "
         "score 0 first. Sort in increasing order and reverse it, or sort a float copy."),
        (Case((np.array([1, 0, 1, 0]),
               np.array([3e7, 2.5e7, 2e7, 1e7], dtype=np.float32)),
              label="float32 scores near 3e7: max + 1 is no higher than max"),
         "Near 3e7, float32 numbers are 2 apart, so scores.max() + 1 rounds back to the "
         "maximum: a 'threshold above every score' made that way calls the top example "
         "positive, and the curve does not start at (0, 0). Start from the point (0, 0) "
         "itself, or from np.inf."),
        (Case((np.array([1, 1, 1, 1]), np.array([0.875, 0.25, 0.5, 0.25])),
              label="no negative: fpr is 0 / 0 (nan) at every point"),
         f"There is no negative here, so every false positive rate is 0 / 0. {_NAN}, at "
         "every point (a guard such as max(n_negatives, 1) gives 0 instead). tpr is "
         "defined as usual."),
        (Case((np.array([0, 0, 0]), np.array([0.125, 0.75, 0.5])),
              label="no positive: tpr is 0 / 0 (nan) at every point"),
         f"There is no positive here, so every true positive rate is 0 / 0. {_NAN}."),
    ]
    return check_with_case_hints(
        fn, roc_points, cases, exercise="roc_points",
        hint=("Go through the distinct scores from the highest to the lowest, each a "
              "threshold (score >= it is positive), and record (fpr, tpr) at each, after "
              "the point (0, 0) where nothing is positive. Return two float arrays of "
              "equal length."),
    )


@graded
def check_threshold_for_sensitivity(fn: Callable) -> Verdict:
    """threshold_for_sensitivity(y_true, scores, target) -> the highest threshold reaching it."""
    y8 = np.array([1, 0, 1, 1, 0, 1, 1, 0])
    s8 = np.array([0.9, 0.85, 0.7, 0.6, 0.5, 0.4, 0.2, 0.1])  # positives 0.9 0.7 0.6 0.4 0.2
    cases = [
        (Case((y8, s8, 0.5), label="5 positives, target 0.5: 3 of 5 must be found"),
         "Sensitivity 0.5 of 5 positives needs 3 found (2 of 5 is only 0.4). The highest "
         "threshold that finds 3 is the third-highest score among the positives: lower "
         "thresholds also reach the target but call more healthy patients positive. The "
         "threshold is a score itself (score >= threshold is positive), not a value "
         "between two scores."),
        (Case((y8, s8, 1.0), label="target 1.0: every positive found"),
         "To find every positive the threshold must reach down to the lowest positive "
         "score, and no further. Sensitivity 1.0 is reached, not exceeded: compare the "
         "sensitivity with the target by >=, not >."),
        (Case((np.array([1, 0, 1, 1, 1, 0, 1]), np.array([0.9, 0.8, 0.7, 0.7, 0.7, 0.5, 0.3]),
               0.7), label="tied positives: three at 0.7"),
         "Three positives share the score 0.7: at threshold 0.7 all three count, and 4 of "
         "5 are found (0.8 >= 0.7). Count the positives, ties included, not the distinct "
         "scores: np.unique merges the tied positives into one."),
        (Case((np.array([1] * 10 + [0] * 3), np.r_[np.arange(10, 0, -1) / 10, [0.95, 0.55, 0.15]],
               0.9), label="target 0.9 of 10 positives, met exactly by 9 of 10"),
         "9 of 10 is exactly 0.9, so 9 positives are enough. In floating point (1 - 0.9) "
         "* 10 is 0.9999999999999998, and its floor is 0, not 1: compute the sensitivity "
         "of each candidate (found / P) and compare it with the target, rather than a "
         "count from target * P."),
        (seeded_case(29, "target 0.55 of 100 positives, met exactly by 55",
                     y_true="np.r_[np.ones(100, dtype=np.int64), np.zeros(20, dtype=np.int64)]",
                     scores="rng.permutation(120) / 120", target="0.55"),
         "55 of 100 is exactly 0.55, so 55 positives are enough. In floating point 0.55 * "
         "100 is 55.00000000000001, whose ceiling is 56: compute the sensitivity of each "
         "candidate (found / P) and compare it with the target."),
        (Case((np.array([1, 0, 1, 0, 1, 1]), np.array([4e-12, 3e-12, 2.5e-12, 2e-12, 1e-12,
                                                       5e-13]), 0.75),
              label="tiny scores, about 1e-12"),
         "The scores are all about 1e-12 here: the threshold must be one of them exactly. "
         "A margin such as threshold - 1e-9, or scores rounded to a few decimals, is "
         "larger than the gaps between these scores."),
        (Case((np.array([1, 0, 1, 0, 1]), np.array([3e12, 2e12, -1e12, 5e11, -4e12]), 0.6),
              label="logits of about 1e12, not probabilities"),
         "Scores need not be probabilities: these logits run from -4e12 to 3e12. Do not "
         "clip them into [0, 1] or assume a threshold in that range."),
    ]
    return check_with_case_hints(
        fn, threshold_for_sensitivity, cases, exercise="threshold_for_sensitivity",
        hint=("Among the positives' scores, find the highest threshold t whose sensitivity "
              "(the fraction of positives with score >= t) is >= target; t is one of those "
              "scores."),
        atol=0.0,
    )
