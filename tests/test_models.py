"""dlteach.models.mlp: structure, parameter count, determinism, gradients and bad input."""

import numpy as np
import pytest

from dlteach.activations import ReLU, Sigmoid, Tanh
from dlteach.core import Layer, Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.losses import SoftmaxCrossEntropy
from dlteach.models import mlp


def test_structure_dense_layers_with_an_activation_between_and_none_after_the_last():
    net = mlp([64, 128, 64, 10], rng=0)
    assert isinstance(net, Sequential)
    assert [type(layer) for layer in net] == [Dense, ReLU, Dense, ReLU, Dense]
    assert [(layer.d_in, layer.d_out) for layer in net if isinstance(layer, Dense)] == [
        (64, 128), (128, 64), (64, 10)
    ]
    assert net[1] is not net[3]  # every hidden layer gets its own activation (own cache)
    assert net(np.zeros((5, 64))).shape == (5, 10)


def test_two_sizes_give_a_single_dense_layer_and_the_output_is_unbounded_logits():
    net = mlp([3, 4], rng=0)
    assert len(net) == 1 and isinstance(net[0], Dense)
    out = net(np.random.default_rng(0).normal(size=(50, 3)) * 10)
    assert (out < 0).any() and (out > 1).any()  # no activation squashes the logits


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [([64, 128, 64, 10], 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10),
     ([2, 54, 2], 272), ([2, 10, 10, 10, 2], 272), ([5, 1], 6)],
)
def test_parameter_count(sizes, expected):
    assert mlp(sizes, rng=0).num_parameters() == expected


def test_activation_class_or_factory():
    assert [type(layer) for layer in mlp([2, 3, 3, 1], Tanh, rng=0)] == [
        Dense, Tanh, Dense, Tanh, Dense
    ]
    made = []

    def factory():
        made.append(Sigmoid())
        return made[-1]

    net = mlp([2, 3, 3, 1], factory, rng=0)
    assert len(made) == 2 and net[1] is made[0] and net[3] is made[1]


def test_same_seed_same_weights_and_different_seed_different_weights():
    a, b, c = mlp([4, 8, 3], rng=5), mlp([4, 8, 3], rng=5), mlp([4, 8, 3], rng=6)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(pa.value, pb.value)
    assert not np.array_equal(a[0].W.value, c[0].W.value)


def test_layers_draw_in_order_from_one_generator():
    # mlp(sizes, rng=seed) equals Dense layers built by hand from one Generator.
    rng = np.random.default_rng(3)
    by_hand = [Dense(4, 8, rng=rng), Dense(8, 3, rng=rng)]
    net = mlp([4, 8, 3], rng=3)
    np.testing.assert_array_equal(net[0].W.value, by_hand[0].W.value)
    np.testing.assert_array_equal(net[2].W.value, by_hand[1].W.value)
    gen = np.random.default_rng(3)
    np.testing.assert_array_equal(mlp([4, 8, 3], rng=gen)[2].W.value, by_hand[1].W.value)


def test_init_and_dtype_reach_every_layer():
    net = mlp([400, 300, 200], Tanh, init="xavier", rng=0, dtype=np.float32)
    for layer in (net[0], net[2]):
        assert layer.W.value.dtype == np.float32 and layer.b.value.dtype == np.float32
    # Xavier: Var(W) = 2 / (fan_in + fan_out); He would give 2 / fan_in.
    assert net[0].W.value.var() == pytest.approx(2 / 700, rel=0.05)
    assert mlp([400, 300], rng=0)[0].W.value.var() == pytest.approx(2 / 400, rel=0.05)


@pytest.mark.parametrize(("activation", "init"), [(Tanh, "xavier"), (ReLU, "he")])
def test_gradcheck_of_a_small_mlp(activation, init):
    rng = np.random.default_rng(1)
    net = mlp([3, 5, 4, 3], activation, init=init, rng=2)
    x = rng.normal(size=(6, 3))
    y = rng.integers(0, 3, size=6)
    report = gradcheck(net, x, target=y, loss=SoftmaxCrossEntropy())
    assert list(report.errors) == ["input", "0.W", "0.b", "2.W", "2.b", "4.W", "4.b"]
    assert report.max_error < 1e-7, str(report)


def test_the_input_size_is_checked_by_the_first_layer():
    with pytest.raises(ShapeError, match=r"Dense\(4 -> 8\): expected input of shape \(N, 4\)"):
        mlp([4, 8, 2], rng=0)(np.zeros((3, 5)))


class NotALayer:
    pass


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mlp([64]), InvalidValueError,
         r"mlp: expected at least 2 sizes \(the input size and the output size\), got \[64\]"),
        (lambda: mlp([]), InvalidValueError, r"mlp: expected at least 2 sizes .*got \[\]"),
        (lambda: mlp(64), DTypeError,
         r"mlp: expected sizes to be a list of layer sizes such as \[64, 128, 10\], got int"),
        (lambda: mlp("64, 10"), DTypeError, r"mlp: expected sizes to be a list .*got str"),
        (lambda: mlp([64, 0, 10]), InvalidValueError, r"mlp: sizes\[1\] must be at least 1, got 0"),
        (lambda: mlp([64, -3]), InvalidValueError, r"mlp: sizes\[1\] must be at least 1, got -3"),
        (lambda: mlp([64, 12.5, 10]), DTypeError,
         r"mlp: expected every size to be an integer, got sizes\[1\] = 12.5 \(float\)"),
        (lambda: mlp([64, True]), DTypeError, r"got sizes\[1\] = True \(bool\)"),
        (lambda: mlp([2, 3, 1], ReLU()), DTypeError,
         r"mlp: expected activation to be a layer class such as ReLU, got an instance ReLU\(\)\. "
         r"Pass ReLU \(not ReLU\(\)\)"),
        (lambda: mlp([2, 3, 1], NotALayer), DTypeError,
         r"mlp: expected activation to be a Layer class such as ReLU or Tanh, got the class "
         r"NotALayer"),
        (lambda: mlp([2, 3, 1], "relu"), DTypeError,
         r"mlp: expected activation to be a Layer class such as ReLU, or a function returning "
         r"a new Layer, got str"),
        (lambda: mlp([2, 3, 1], lambda: np.tanh), DTypeError,
         r"mlp: expected activation\(\) to return a Layer, got ufunc"),
        (lambda: mlp([2, 3], init="kaiming"), InvalidValueError,
         r"mlp: init must be one of \['glorot', 'he', 'xavier'\], got 'kaiming'"),
        (lambda: mlp([2, 3], rng=1.5), DTypeError, r"mlp: rng must be an int seed"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_numpy_array_of_sizes_is_accepted():
    net = mlp(np.array([3, 4, 2]), rng=0)
    assert [layer.d_out for layer in net if isinstance(layer, Dense)] == [4, 2]
    assert all(isinstance(layer, Layer) for layer in net)
