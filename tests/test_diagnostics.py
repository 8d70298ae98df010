"""Diagnostics: layer outputs, activation statistics, gradient norms, PCA projection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dlteach as dl
from dlteach.diagnostics import (
    ActivationStats,
    activation_stats,
    class_separation,
    gradient_norms,
    layer_outputs,
    pca_project,
)


def small_net(seed: int = 0) -> dl.Sequential:
    return dl.Sequential(dl.Dense(4, 6, rng=seed), dl.ReLU(), dl.Dense(6, 3, rng=seed + 1))


X = np.random.default_rng(0).normal(size=(20, 4))
Y = np.arange(20) % 3


def test_layer_outputs_match_a_manual_forward_pass_and_restore_the_mode():
    net = small_net()
    outs = layer_outputs(net, X)
    assert len(outs) == 3
    h = X @ net[0].W.value + net[0].b.value
    np.testing.assert_allclose(outs[0], h)
    np.testing.assert_allclose(outs[1], np.maximum(h, 0))
    np.testing.assert_allclose(outs[2], dl.predict(net, X))
    assert net.training  # evaluation mode only during the call
    net.eval()
    layer_outputs(net, X)
    assert not net.training


def test_layer_outputs_does_not_modify_its_input():
    before = X.copy()
    layer_outputs(small_net(), X)
    np.testing.assert_array_equal(X, before)


def test_activation_stats_per_layer_and_filtered_by_class():
    net = small_net()
    outs = layer_outputs(net, X)
    stats = activation_stats(net, X)
    assert isinstance(stats, ActivationStats)
    assert stats.layers == (0, 1, 2)
    assert stats.names == ("Dense(4 -> 6)", "ReLU()", "Dense(6 -> 3)")
    np.testing.assert_allclose(stats.mean, [o.mean() for o in outs])
    np.testing.assert_allclose(stats.std, [o.std() for o in outs])
    np.testing.assert_allclose(stats.zero_fraction[1], np.mean(outs[1] == 0))
    relu_only = activation_stats(net, X, only=dl.ReLU)
    assert relu_only.layers == (1,) and relu_only.names == ("ReLU()",)
    table = stats.table()
    assert table.splitlines()[0].split() == ["#", "layer", "mean", "std", "zeros"]
    assert "ReLU()" in table and len(table.splitlines()) == 4


def test_activation_std_shrinks_with_tiny_weights_and_holds_with_he():
    def deep(std):
        rng = np.random.default_rng(0)
        layers = []
        for _ in range(8):
            dense = dl.Dense(100, 100, rng=rng)
            if std is not None:
                dense.W.value = rng.normal(scale=std, size=(100, 100))
            layers += [dense, dl.ReLU()]
        return dl.Sequential(*layers)

    x = np.random.default_rng(1).normal(size=(200, 100))
    he = activation_stats(deep(None), x, only=dl.ReLU).std
    tiny = activation_stats(deep(0.01), x, only=dl.ReLU).std
    assert 0.3 < he[-1] / he[0] < 3
    assert tiny[-1] / tiny[0] < 1e-6


def test_gradient_norms_match_a_manual_backward_and_restore_the_gradients():
    net = small_net()
    loss = dl.SoftmaxCrossEntropy()
    for p in net.parameters():
        p.grad = np.full_like(p.value, 7.0)  # stale gradients a caller may be keeping
    norms = gradient_norms(net, X, Y, loss)
    assert list(norms) == ["0.W", "0.b", "2.W", "2.b"]
    for p in net.parameters():
        np.testing.assert_array_equal(p.grad, 7.0)
    net.zero_grad()
    loss(net.forward(X), Y)
    net.backward(loss.backward())
    for name, p in net.named_parameters().items():
        assert norms[name] == pytest.approx(np.linalg.norm(p.grad))


def test_gradients_vanish_in_a_deep_sigmoid_network_not_with_relu_and_he():
    def deep(act, init):
        rng = np.random.default_rng(0)
        layers = []
        for _ in range(8):
            layers += [dl.Dense(32, 32, init=init, rng=rng), act()]
        return dl.Sequential(*layers, dl.Dense(32, 3, init=init, rng=rng))

    x = np.random.default_rng(2).normal(size=(64, 32))
    y = np.arange(64) % 3
    loss = dl.SoftmaxCrossEntropy()
    sig = gradient_norms(deep(dl.Sigmoid, "xavier"), x, y, loss)
    relu = gradient_norms(deep(dl.ReLU, "he"), x, y, loss)
    assert sig["0.W"] / sig["16.W"] < 1e-3
    assert relu["0.W"] / relu["16.W"] > 1e-2


def test_pca_project_recovers_the_direction_of_largest_variance():
    rng = np.random.default_rng(3)
    t = rng.normal(size=500)
    data = np.column_stack([3 * t, -2 * t, 0.01 * rng.normal(size=500)])
    Z, explained = pca_project(data, n_components=2)
    assert Z.shape == (500, 2)
    # The first direction is (3, -2, 0)/sqrt(13), signed so that its largest entry is positive.
    np.testing.assert_allclose(Z[:, 0], np.sqrt(13) * (t - t.mean()), atol=0.01)
    assert explained[0] > 0.99 and explained.sum() <= 1 + 1e-12


@given(st.integers(2, 30), st.integers(2, 6), st.integers(0, 1000))
def test_pca_project_is_an_orthogonal_projection_of_the_centred_data(n, d, seed):
    data = np.random.default_rng(seed).normal(size=(n, d))
    k = min(2, n, d)
    Z, explained = pca_project(data, n_components=k)
    centred = data - data.mean(axis=0)
    # Coordinates along orthonormal directions: their Gram matrix is diagonal and sums of
    # squares match the explained variance.
    gram = Z.T @ Z
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-8)
    total = (centred**2).sum()
    np.testing.assert_allclose(np.diag(gram) / total, explained, rtol=1e-6, atol=1e-12)
    assert np.all(np.diff(explained) <= 1e-12)
    # The same data gives the same signs: the picture does not flip between runs.
    np.testing.assert_array_equal(pca_project(data.copy(), n_components=k)[0], Z)


def test_pca_project_flattens_images_and_leaves_the_input_alone():
    images = np.random.default_rng(4).normal(size=(10, 3, 3))
    before = images.copy()
    Z, _ = pca_project(images)
    np.testing.assert_allclose(Z, pca_project(images.reshape(10, 9))[0])
    np.testing.assert_array_equal(images, before)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: layer_outputs(dl.Dense(4, 2), X), dl.DTypeError,
         r"layer_outputs: expected a Sequential model .*got Dense\."),
        (lambda: layer_outputs(dl.Sequential(), X), dl.InvalidValueError,
         r"layer_outputs: the Sequential model has no layers\."),
        (lambda: layer_outputs(small_net(), X[:, :3]), dl.ShapeError,
         r"Dense\(4 -> 6\): expected input of shape \(N, 4\), got \(20, 3\)\."),
        (lambda: layer_outputs(small_net(), [[1, 2, 3, 4]] * 0), dl.InvalidValueError,
         r"layer_outputs: X is empty"),
        (lambda: activation_stats(small_net(), X, only=dl.Tanh), dl.InvalidValueError,
         r"activation_stats: the model has no layer of type .*Tanh.*; its layers are "
         r"Dense\(4 -> 6\), ReLU\(\), Dense\(6 -> 3\)\."),
        (lambda: activation_stats(small_net(), X, only="relu"), dl.DTypeError,
         r"activation_stats: expected only to be a Layer class such as ReLU"),
        (lambda: gradient_norms("net", X, Y, dl.SoftmaxCrossEntropy()), dl.DTypeError,
         r"gradient_norms: expected a model \(a dlteach Layer such as Sequential\(\.\.\.\)\), "
         r"got str\."),
        (lambda: gradient_norms(small_net(), X, Y, "cross-entropy"), dl.DTypeError,
         r"gradient_norms: expected a loss with forward\(\) and backward\(\) .*got str\."),
        (lambda: gradient_norms(dl.Sequential(dl.ReLU()), X, Y, dl.SoftmaxCrossEntropy()),
         dl.InvalidValueError, r"gradient_norms: the model has no parameters\."),
        (lambda: pca_project(np.ones(5)), dl.ShapeError,
         r"pca_project: expected X of shape \(N, D\), got \(5,\)\."),
        (lambda: pca_project(X, n_components=5), dl.InvalidValueError,
         r"pca_project: n_components must be at most min\(N, D\) = 4 for X of shape "
         r"\(20, 4\), got 5\."),
        (lambda: pca_project(X, n_components=0), dl.InvalidValueError,
         r"pca_project: n_components must be at least 1, got 0\."),
        (lambda: pca_project(np.arange(6).reshape(3, 2)), dl.DTypeError,
         r"pca_project: expected X with a floating dtype"),
    ],
)
def test_bad_input_is_refused_with_a_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_gradient_norms_restores_gradients_even_when_the_loss_refuses_the_targets():
    net = small_net()
    for p in net.parameters():
        p.grad = np.full_like(p.value, 2.0)
    with pytest.raises(dl.InvalidValueError, match=r"labels must lie in 0\.\.2"):
        gradient_norms(net, X, Y + 5, dl.SoftmaxCrossEntropy())
    for p in net.parameters():
        np.testing.assert_array_equal(p.grad, 2.0)


def test_class_separation_is_the_between_class_share_of_the_variance():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=300)
    same_mean = rng.normal(size=(300, 5))
    assert class_separation(same_mean, y) < 0.05
    collapsed = np.eye(3)[y] * 10.0  # each class sits on one point
    assert class_separation(collapsed, y) == pytest.approx(1.0)
    # Against the definition, written as a loop over classes.
    H = rng.normal(size=(300, 4)) + np.array([[0, 0, 0, 0], [2, 0, 1, 0], [0, 3, 0, 1]])[y]
    c = H - H.mean(axis=0)
    between = sum((y == k).sum() * np.sum(c[y == k].mean(axis=0) ** 2) for k in range(3))
    assert class_separation(H, y) == pytest.approx(between / np.sum(c**2), rel=1e-12)
    with pytest.raises(dl.ShapeError, match="H and y must hold the same number of examples"):
        class_separation(H, y[:-1])
    with pytest.raises(dl.InvalidValueError, match="labels must be >= 0, got -1"):
        class_separation(H[:2], np.array([0, -1]))
