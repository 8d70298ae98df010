"""dlteach.plots: every plot returns its Axes, draws the expected artists, leaks nothing."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.text import Text

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.plots import (
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_history,
    plot_image_grid,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _three_blobs():
    X = np.array([[0.0, 0.0], [0.2, 0.1], [4.0, 0.0], [4.1, 0.3], [0.0, 4.0], [0.3, 4.2]])
    y = np.array([0, 0, 1, 1, 2, 2])
    return X, y


def _nearest_center(points):
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    return np.argmin(((points[:, None, :] - centers) ** 2).sum(-1), axis=1)


class _FakeModel:
    """Duck-typed layer: forward returns scores, and train() records the mode changes."""

    def __init__(self):
        self.training = True
        self.modes = []

    def train(self, mode=True):
        self.training = mode
        self.modes.append(mode)
        return self

    def forward(self, x):
        assert not self.training  # plots must predict in evaluation mode
        return np.stack([-x[:, 0], x[:, 0]], axis=1)  # class 1 where x1 > 0


def test_decision_boundary_from_a_label_function():
    X, y = _three_blobs()
    ax = plot_decision_boundary(_nearest_center, X, y, resolution=50)
    assert isinstance(ax, Axes)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 3  # one per class
    assert len(ax.collections) == 4  # plus the filled contour set
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]


def test_decision_boundary_draws_on_the_given_axes_and_uses_eval_mode():
    X = np.array([[-1.0, 0.0], [1.0, 1.0], [-2.0, 1.0], [2.0, -1.0]])
    y = np.array([0, 1, 0, 1])
    fig, ax = plt.subplots()
    model = _FakeModel()
    out = plot_decision_boundary(model, X, y, ax=ax, resolution=20, class_names=["neg", "pos"],
                                 title="boundary")
    assert out is ax and len(fig.axes) == 1
    assert model.modes == [False, True] and model.training  # mode restored
    assert ax.get_title() == "boundary"
    # The filled regions follow the model: the contour's levels split classes 0 and 1.
    contour = ax.collections[0]
    np.testing.assert_allclose(contour.levels, [-0.5, 0.5, 1.5])


def test_decision_boundary_binary_probabilities_threshold():
    X = np.array([[-1.0, 0.0], [1.0, 0.0]])
    y = np.array([0, 1])
    seen = {}

    def prob(points):
        p = 1 / (1 + np.exp(-points[:, 0]))
        seen["labels"] = (p >= 0.5).astype(int)
        return p[:, None]

    ax = plot_decision_boundary(prob, X, y, resolution=10)
    assert set(seen["labels"]) == {0, 1} and len(ax.collections) == 3


def test_decision_boundary_errors():
    X, y = _three_blobs()
    with pytest.raises(ShapeError, match=r"plot_decision_boundary: expected X of shape \(N, 2\)"):
        plot_decision_boundary(_nearest_center, np.zeros((6, 3)), y)
    with pytest.raises(ShapeError, match=r"plot_decision_boundary: the model returned 3 outputs"):
        plot_decision_boundary(lambda p: np.zeros(3, dtype=int), X, y, resolution=5)
    with pytest.raises(InvalidValueError, match=r"expected a model \(a layer with forward\) or"):
        plot_decision_boundary("model", X, y)
    with pytest.raises(InvalidValueError, match=r"resolution must be at least 2, got 1"):
        plot_decision_boundary(_nearest_center, X, y, resolution=1)
    with pytest.raises(ShapeError, match=r"X and y must hold the same number of examples"):
        plot_decision_boundary(_nearest_center, X, y[:4])


def test_decision_boundary_marker_size_and_no_legend():
    X, y = _three_blobs()
    ax = plot_decision_boundary(_nearest_center, X, y, resolution=10, marker_size=90,
                                legend=False)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [list(s.get_sizes()) for s in scatters] == [[90.0]] * 3
    assert ax.get_legend() is None
    default = plot_decision_boundary(_nearest_center, X, y, resolution=10)
    sizes = {float(s.get_sizes()[0]) for s in default.collections if isinstance(s, PathCollection)}
    assert sizes == {14.0} and default.get_legend() is not None


def test_decision_boundary_rejects_a_bad_marker_size():
    X, y = _three_blobs()
    with pytest.raises(InvalidValueError,
                       match=r"plot_decision_boundary: marker_size must be a positive number, "
                             r"got -5"):
        plot_decision_boundary(_nearest_center, X, y, resolution=10, marker_size=-5)


class _History(dict):
    best_epoch = 2


def test_plot_history_train_and_validation_curves():
    h = _History(loss=[1.0, 0.5, 0.4], val_loss=[1.1, 0.6, 0.7],
                 accuracy=[0.5, 0.8, 0.9], val_accuracy=[0.4, 0.7, 0.6])
    axes = plot_history(h)
    assert len(axes) == 2 and all(isinstance(a, Axes) for a in axes)
    assert [a.get_title() for a in axes] == ["loss", "accuracy"]
    for ax in axes:
        assert len(ax.lines) == 3  # training, validation, best-epoch marker
    np.testing.assert_array_equal(axes[0].lines[1].get_ydata(), [1.1, 0.6, 0.7])
    np.testing.assert_array_equal(axes[0].lines[0].get_xdata(), [1, 2, 3])


def test_plot_history_defaults_to_what_was_recorded_and_accepts_axes():
    h = {"loss": [3.0, 2.0]}
    fig, ax = plt.subplots()
    axes = plot_history(h, axes=ax)
    assert axes == [ax] and len(ax.lines) == 1 and len(fig.axes) == 1


def test_plot_history_errors():
    with pytest.raises(InvalidValueError, match=r"plot_history: no training values recorded for "
                                                r"'accuracy'; the history has 'loss'"):
        plot_history({"loss": [1.0]}, metrics=["accuracy"])
    with pytest.raises(InvalidValueError, match=r"plot_history: the history is empty"):
        plot_history({"loss": []})
    with pytest.raises(InvalidValueError, match=r"plot_history: got 1 axes for 2 metrics"):
        _, ax = plt.subplots()
        plot_history({"loss": [1.0], "accuracy": [0.5]}, axes=ax)
    with pytest.raises(InvalidValueError, match=r"expected the History returned by fit"):
        plot_history([1.0, 2.0])


def test_plot_confusion_matrix_counts_and_labels():
    cm = np.array([[5, 1, 0], [0, 3, 2], [1, 0, 4]])
    ax = plot_confusion_matrix(cm, class_names=["a", "b", "c"])
    assert isinstance(ax, Axes) and len(ax.images) == 1
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["5", "1", "0", "0", "3", "2", "1", "0", "4"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"


def test_plot_confusion_matrix_normalized_rows():
    cm = np.array([[3, 1], [0, 0]])
    ax = plot_confusion_matrix(cm, normalize=True)
    np.testing.assert_allclose(ax.images[0].get_array(), [[0.75, 0.25], [0.0, 0.0]])
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.00", "0.00"]


def test_plot_confusion_matrix_errors():
    with pytest.raises(ShapeError, match=r"plot_confusion_matrix: expected cm of shape \(K, K\)"):
        plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(InvalidValueError, match=r"expected 2 class_names for a 2x2 matrix, got 3"):
        plot_confusion_matrix(np.eye(2, dtype=int), class_names=["a", "b", "c"])
    with pytest.raises(InvalidValueError, match=r"plot_confusion_matrix: counts must be >= 0"):
        plot_confusion_matrix(-np.eye(2))


def test_plot_image_grid_marks_wrong_predictions_in_red():
    images = np.random.default_rng(0).random((10, 64))  # flat 8x8 images, as digits.X
    labels = np.arange(10) % 3
    preds = labels.copy()
    preds[[2, 7]] = 0  # two mistakes (labels 2 and 1)
    axes = plot_image_grid(images, labels=labels, predictions=preds, n_cols=4)
    assert axes.shape == (3, 4)
    drawn = [ax for ax in axes.flat if ax.images]
    assert len(drawn) == 10 and drawn[0].images[0].get_array().shape == (8, 8)
    red = [i for i, ax in enumerate(drawn)
           if matplotlib.colors.same_color(ax.title.get_color(), "red")]
    assert red == [2, 7]
    assert drawn[2].get_title() == "0 (2)" and drawn[0].get_title() == "0"


def test_plot_image_grid_labels_only_with_class_names():
    images = np.zeros((3, 5, 5))
    axes = plot_image_grid(images, labels=np.array([0, 1, 0]), class_names=["cat", "dog"])
    assert axes.shape == (1, 3)
    assert [ax.get_title() for ax in axes.flat] == ["cat", "dog", "cat"]
    assert all(isinstance(ax.title, Text) for ax in axes.flat)


def test_plot_image_grid_errors():
    with pytest.raises(ShapeError, match=r"plot_image_grid: flat images \(N, D\) need a square"):
        plot_image_grid(np.zeros((2, 10)))
    with pytest.raises(ShapeError, match=r"plot_image_grid: expected 2 labels \(one per image\)"):
        plot_image_grid(np.zeros((2, 4, 4)), labels=np.array([0, 1, 2]))
    with pytest.raises(InvalidValueError, match=r"got 300 images, more than max_images=256"):
        plot_image_grid(np.zeros((300, 2, 2)))


def test_no_pyplot_state_leaks():
    X, y = _three_blobs()
    _, ax = plt.subplots()
    n_figures = len(plt.get_fignums())
    plot_confusion_matrix(np.eye(3, dtype=int))  # creates its own figure
    assert len(plt.get_fignums()) == n_figures + 1
    assert len(ax.images) == 0 and len(ax.collections) == 0  # the user's Axes stays clean
    plot_decision_boundary(_nearest_center, X, y, resolution=10)
    assert len(ax.collections) == 0
    assert matplotlib.get_backend().lower() == "agg"


def test_plot_history_of_a_real_history():
    from dlteach.training import History

    h = History(["loss", "accuracy", "val_loss", "val_accuracy"])
    for e, v in enumerate([0.9, 0.5, 0.6], start=1):
        h.epochs.append(e)
        for key in h:
            h[key].append(v)
    axes = plot_history(h, metrics=["loss"])
    assert len(axes) == 1 and len(axes[0].lines) == 2  # no best_epoch: no marker


def test_image_grid_with_too_few_class_names_names_the_problem_and_opens_no_figure():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    with pytest.raises(InvalidValueError, match=r"got 2 class_names, but a label or prediction "
                                                r"is 2: give one name per class \(0\.\.2\)"):
        plot_image_grid(np.zeros((3, 4, 4)), np.array([0, 1, 2]), class_names=["a", "b"])
    assert plt.get_fignums() == before
