"""dlteach.metrics: accuracy and the confusion matrix on hand-computed cases."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.metrics import METRICS, accuracy, confusion_matrix, scores_to_labels


def test_accuracy_from_labels():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    assert isinstance(accuracy(np.array([1]), np.array([1])), float)


def test_accuracy_from_scores_takes_the_argmax():
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 0.1, 3.0], [5.0, 9.0, 1.0]])
    assert accuracy(np.array([0, 2, 0]), scores) == pytest.approx(2 / 3)


@pytest.mark.parametrize("shape", [(4,), (4, 1)])
def test_accuracy_from_binary_probabilities_thresholds_at_one_half(shape):
    p = np.array([0.1, 0.5, 0.49, 0.9]).reshape(shape)
    assert accuracy(np.array([0, 1, 0, 1]), p) == 1.0
    assert accuracy(np.array([0, 1, 1, 1]), p) == 0.75
    logits = np.array([-1.0, 0.2, -3.0, 4.0])
    assert accuracy(np.array([0, 1, 0, 1]), logits, threshold=0.0) == 1.0
    assert accuracy(np.array([0, 1, 0, 1]), logits) == 0.75  # 0.2 < 0.5 is class 0


def test_accuracy_accepts_one_hot_and_float_targets():
    y = np.array([[0, 1], [1, 0]])
    assert accuracy(y, np.array([1, 1])) == 0.5
    assert accuracy(np.array([[1.0], [0.0]]), np.array([[0.8], [0.3]])) == 1.0
    assert accuracy(np.array([True, False]), np.array([1, 0])) == 1.0


def test_scores_to_labels_rules():
    np.testing.assert_array_equal(scores_to_labels(np.array([3, 1])), [3, 1])
    np.testing.assert_array_equal(scores_to_labels(np.array([[0.2, 0.8], [0.9, 0.1]])), [1, 0])
    np.testing.assert_array_equal(scores_to_labels(np.array([[0.7], [0.2]])), [1, 0])
    assert scores_to_labels(np.array([0.7, 0.2])).dtype == np.int64


def test_accuracy_errors():
    with pytest.raises(ShapeError, match=r"accuracy: y_true and y_pred must hold the same number"):
        accuracy(np.array([0, 1]), np.array([0, 1, 1]))
    with pytest.raises(InvalidValueError, match=r"accuracy: y_true holds floats other than 0 an"):
        accuracy(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(ShapeError, match=r"accuracy: expected y_pred of shape \(N,\) labels"):
        accuracy(np.array([0, 1]), np.zeros((2, 2, 2)))
    with pytest.raises(DTypeError, match=r"accuracy: expected y_pred to be a NumPy array, got str"):
        accuracy(np.array([0, 1]), "01")
    with pytest.raises(InvalidValueError, match=r"accuracy: y_true is empty"):
        accuracy(np.array([], dtype=int), np.array([], dtype=int))


def test_confusion_matrix_by_hand():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    cm = confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 1], [1, 0, 0]])
    assert cm.dtype.kind == "i"


def test_confusion_matrix_from_scores_and_with_n_classes():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    cm = confusion_matrix(np.array([0, 1, 1]), scores, n_classes=3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [1, 1, 0], [0, 0, 0]])


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=60))
def test_confusion_matrix_agrees_with_counting(pairs):
    t = np.array([p[0] for p in pairs])
    p = np.array([q[1] for q in pairs])
    cm = confusion_matrix(t, p, n_classes=5)
    expected = np.zeros((5, 5), dtype=int)
    for a, b in pairs:
        expected[a, b] += 1
    np.testing.assert_array_equal(cm, expected)
    assert np.trace(cm) / len(t) == pytest.approx(accuracy(t, p))


def test_confusion_matrix_errors():
    with pytest.raises(InvalidValueError, match=r"confusion_matrix: labels must lie in 0..1 for"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), n_classes=2)
    with pytest.raises(InvalidValueError, match=r"confusion_matrix: labels must be >= 0, got a la"):
        confusion_matrix(np.array([0, -1]), np.array([0, 1]))
    with pytest.raises(ShapeError, match=r"confusion_matrix: y_true and y_pred must hold the same"):
        confusion_matrix(np.array([0, 1]), np.array([0]))
    with pytest.raises(InvalidValueError, match=r"confusion_matrix: n_classes must be at least 1"):
        confusion_matrix(np.array([0, 1]), np.array([0, 1]), n_classes=0)


def test_metrics_registry():
    assert METRICS["accuracy"] is accuracy


def test_nan_or_inf_predictions_are_an_error_not_a_score():
    with pytest.raises(InvalidValueError, match=r"accuracy: y_pred holds nan at index 0"):
        accuracy([0, 1], [np.nan, 0.7])
    with pytest.raises(InvalidValueError, match=r"y_pred holds inf at index \(1, 0\)"):
        accuracy([0, 1], [[0.2, 0.1], [np.inf, 0.3]])
    with pytest.raises(InvalidValueError, match="confusion_matrix: y_pred holds nan"):
        confusion_matrix([0, 1], [0.2, np.nan])


def test_class_labels_stored_as_floats_are_not_read_as_probabilities():
    with pytest.raises(InvalidValueError, match=r"whole numbers up to 2: class labels stored as "
                                                r"floats\? Convert them with \.astype\(int\)"):
        accuracy([0, 1, 2], [0.0, 1.0, 2.0])
    assert accuracy([0, 1, 2], np.array([0.0, 1.0, 2.0]).astype(int)) == 1.0
    assert accuracy([0, 1, 1], [0.0, 1.0, 1.0]) == 1.0  # 0/1 floats are fine either way


def test_a_huge_label_is_named_instead_of_allocating_a_huge_matrix():
    with pytest.raises(InvalidValueError, match=r"confusion_matrix: the largest label is "
                                                r"1000000000, which would make a"):
        confusion_matrix([0, 10**9], [0, 1])
