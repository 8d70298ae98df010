"""The layer protocol: parameters, Sequential, train/eval mode, initializers."""

import numpy as np
import pytest

from dlteach.activations import ReLU
from dlteach.core import Layer, Parameter, Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.init import he_normal, normal, xavier_uniform


def test_parameter_holds_value_and_zero_grad():
    p = Parameter(np.ones((2, 3)), "W")
    assert p.grad.shape == (2, 3) and not p.grad.any()
    p.grad += 5
    p.zero_grad()
    assert not p.grad.any()
    assert repr(p) == "Parameter(W, shape=(2, 3), dtype=float64)"


def test_parameter_copies_the_array_so_training_never_changes_the_callers():
    from dlteach.optim import SGD

    W = np.ones((2, 2))
    p = Parameter(W, "W")
    p.grad += 1.0
    SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(W, np.ones((2, 2)))  # the caller's array is untouched
    np.testing.assert_array_equal(p.value, np.full((2, 2), 0.5))


def test_sequential_names_parameters_by_position():
    model = Sequential(Dense(4, 3, rng=0), Dense(3, 2, rng=1))
    assert list(model.named_parameters()) == ["0.W", "0.b", "1.W", "1.b"]
    assert model.num_parameters() == 4 * 3 + 3 + 3 * 2 + 2
    assert "total" in model.summary() and "Dense(4 -> 3)" in model.summary()


def test_sequential_accepts_a_list_and_rejects_non_layers():
    assert len(Sequential([Dense(2, 2, rng=0)])) == 1
    with pytest.raises(TypeError, match="Sequential: item 1 must be a Layer, got int"):
        Sequential(Dense(2, 2, rng=0), 3)


def test_sequential_forward_backward_chain_in_opposite_orders():
    calls = []

    class Spy(Layer):
        def __init__(self, name):
            self.name = name

        def forward(self, x):
            calls.append(("f", self.name))
            return x * 2

        def backward(self, g):
            calls.append(("b", self.name))
            return g * 2

    model = Sequential(Spy("a"), Spy("b"))
    assert model.forward(np.ones(1))[0] == 4
    assert model.backward(np.ones(1))[0] == 4
    assert calls == [("f", "a"), ("f", "b"), ("b", "b"), ("b", "a")]


def test_train_eval_propagates():
    model = Sequential(Dense(2, 2, rng=0), Sequential(Dense(2, 2, rng=1)))
    model.eval()
    assert not model.training and not model[0].training and not model[1][0].training
    model.train()
    assert model[1][0].training


def test_zero_grad_clears_all_parameter_gradients():
    model = Sequential(Dense(3, 2, rng=0))
    model.forward(np.ones((4, 3)))
    model.backward(np.ones((4, 2)))
    assert any(p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())


def test_dense_same_seed_same_weights_and_different_seed_different():
    a, b, c = Dense(5, 4, rng=7), Dense(5, 4, rng=7), Dense(5, 4, rng=8)
    assert np.array_equal(a.W.value, b.W.value)
    assert not np.array_equal(a.W.value, c.W.value)


def test_dense_error_messages_name_layer_and_shapes():
    layer = Dense(64, 10, rng=0)
    with pytest.raises(
        ShapeError, match=r"Dense\(64 -> 10\): expected input of shape \(N, 64\), got \(32, 65\)"
    ):
        layer.forward(np.zeros((32, 65)))
    with pytest.raises(ShapeError, match=r"got \(64,\) \(1 dimension instead of 2\)"):
        layer.forward(np.zeros(64))
    with pytest.raises(DTypeError, match="floating dtype"):
        layer.forward(np.zeros((2, 64), dtype=np.int64))
    with pytest.raises(InvalidValueError, match="backward called before forward"):
        Dense(2, 2, rng=0).backward(np.zeros((1, 2)))
    layer.forward(np.zeros((3, 64)))
    with pytest.raises(ShapeError, match=r"expected a gradient of shape \(3, 10\).*got \(3, 9\)"):
        layer.backward(np.zeros((3, 9)))
    with pytest.raises(InvalidValueError, match="init must be one of"):
        Dense(2, 2, init="zeros")
    with pytest.raises(InvalidValueError, match="d_out must be at least 1, got 0"):
        Dense(2, 0)


def test_initializer_variances_match_their_formulas():
    rng = np.random.default_rng(0)
    w = xavier_uniform((400, 600), rng)
    assert w.var() == pytest.approx(2 / (400 + 600), rel=0.05)
    w = he_normal((500, 300), rng)
    assert w.var() == pytest.approx(2 / 500, rel=0.05)
    w = he_normal((32, 16, 3, 3), rng)  # conv: fan_in = C * kh * kw
    assert w.var() == pytest.approx(2 / (16 * 9), rel=0.05)
    assert normal((100, 100), 0.01, rng).std() == pytest.approx(0.01, rel=0.05)
    assert xavier_uniform((3, 3), 0, np.float32).dtype == np.float32
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        he_normal((5,))


def test_check_model_accepts_layers_and_explains_the_rest():
    from dlteach.core import check_model

    model = Sequential(Dense(2, 2, rng=0))
    assert check_model(model, "f") is model
    with pytest.raises(DTypeError, match=r"f: expected a model \(a Layer instance\), got the "
                       r"class Dense\. Did you forget the parentheses, Dense\(\.\.\.\)\?"):
        check_model(Dense, "f")
    with pytest.raises(DTypeError, match=r"f: expected a model \(a dlteach Layer such as "
                       r"Sequential\(\.\.\.\)\), got list\."):
        check_model([Dense(2, 2, rng=0)], "f")


# --- one layer instance, one position ----------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d, r: Sequential(d, r, d),
         r"^Sequential: the same Dense\(2 -> 2\) instance is used twice, as layer 0 and as "
         r"layer 2\. A layer remembers its last input"),
        (lambda d, r: Sequential(d, r, Dense(2, 2, rng=1), r),
         r"the same ReLU\(\) instance is used twice, as layer 1 and as layer 3\."),
        (lambda d, r: Sequential(d, Sequential(r, d)),
         r"as layer 0 and as layer 1\.1 \(dotted positions as in named_parameters\(\)"),
        (lambda d, r: Sequential(Sequential(d, r), Sequential(Sequential(d))),
         r"as layer 0\.0 and as layer 1\.0\.0"),
        (lambda d, r: Sequential([d, d]), r"as layer 0 and as layer 1\."),
    ],
)
def test_a_layer_used_twice_is_refused_when_the_model_is_built(build, message):
    with pytest.raises(InvalidValueError, match=message):
        build(Dense(2, 2, rng=0), ReLU())


def test_the_same_sequential_twice_is_refused():
    block = Sequential(Dense(2, 2, rng=0), ReLU())
    with pytest.raises(InvalidValueError, match=r"the same Sequential \(2 layers\) instance is "
                                                r"used twice, as layer 0 and as layer 1\."):
        Sequential(block, block)


def test_a_layer_added_after_building_is_caught_by_fit_and_gradcheck():
    from dlteach import SGD, MSELoss, fit, gradcheck

    d = Dense(2, 2, rng=0)
    model = Sequential(d, ReLU())
    optimizer = SGD(model.parameters(), lr=0.1)
    model.layers.append(d)  # the list is public: check again where it matters
    X = np.ones((4, 2))
    before = d.W.value.copy()
    with pytest.raises(InvalidValueError, match=r"^fit: the same Dense\(2 -> 2\) instance .* "
                                                r"as layer 0 and as layer 2"):
        fit(model, X, X, loss=MSELoss(), optimizer=optimizer, epochs=1, progress=False)
    np.testing.assert_array_equal(d.W.value, before)
    with pytest.raises(InvalidValueError, match=r"^gradcheck: the same Dense"):
        gradcheck(model, X, target=X, loss=MSELoss())


def test_why_sharing_is_refused_the_cache_of_the_first_use_is_lost():
    # The bug the check prevents: y = d(relu(d(x))) through one instance gives wrong dW.
    shared = Sequential(Dense(3, 3, rng=0), ReLU())
    shared.layers.append(shared.layers[0])
    layers = shared.layers  # bypass the check, as old code could, to see the wrong gradient
    x = np.random.default_rng(0).normal(size=(2, 3))
    out = x
    for layer in layers:
        out = layer.forward(out)
    layers[0].zero_grad()
    grad = np.ones_like(out)
    for layer in reversed(layers):
        grad = layer.backward(grad)
    W = layers[0].W.value

    def total(Wv):  # sum(d(relu(d(x)))) with one shared W
        h = np.maximum(x @ Wv + layers[0].b.value, 0)
        return float(np.sum(h @ Wv + layers[0].b.value))
    num = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        e = np.zeros_like(W)
        e[i] = 1e-6
        num[i] = (total(W + e) - total(W - e)) / 2e-6
    assert not np.allclose(layers[0].W.grad, num, atol=1e-4)
