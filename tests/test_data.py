"""dlteach.data: toy generators, bundled data sets, splitting, scaling, encoding, batching."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dlteach.data import (
    Dataset,
    Standardizer,
    load_breast_cancer,
    load_digits,
    logic_gate,
    make_blobs,
    make_checkerboard,
    make_circles,
    make_first_symbol,
    make_moons,
    make_spirals,
    make_xor,
    minibatches,
    one_hot,
    train_val_test_split,
)
from dlteach.errors import DTypeError, InvalidValueError, ShapeError

GENERATORS = {
    "blobs": lambda n, seed: make_blobs(n, centers=3, seed=seed),
    "xor": lambda n, seed: make_xor(n, seed=seed),
    "moons": lambda n, seed: make_moons(n, seed=seed),
    "circles": lambda n, seed: make_circles(n, seed=seed),
    "spirals2": lambda n, seed: make_spirals(n, n_classes=2, seed=seed),
    "spirals3": lambda n, seed: make_spirals(n, n_classes=3, seed=seed),
    "checkerboard": lambda n, seed: make_checkerboard(n, seed=seed),
}
N_CLASSES = {
    "blobs": 3, "xor": 2, "moons": 2, "circles": 2, "spirals2": 2, "spirals3": 3,
    "checkerboard": 2,
}


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_shape_dtype_and_balanced_labels(name):
    X, y = GENERATORS[name](101, 0)
    k = N_CLASSES[name]
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_deterministic_per_seed(name):
    X1, y1 = GENERATORS[name](60, 7)
    X2, y2 = GENERATORS[name](60, 7)
    X3, _ = GENERATORS[name](60, 8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", GENERATORS)
def test_generators_are_shuffled(name):
    # The first quarter must already contain every class (not sorted by class).
    _, y = GENERATORS[name](200, 0)
    assert len(np.unique(y[:50])) == N_CLASSES[name]


def test_generators_accept_a_generator_as_seed():
    rng = np.random.default_rng(3)
    X1, _ = make_moons(20, seed=rng)
    X2, _ = make_moons(20, seed=rng)  # the Generator advanced: new noise
    assert not np.array_equal(X1, X2)
    X3, _ = make_moons(20, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(X1, X3)


def test_make_blobs_with_explicit_centers():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, -10.0]])
    X, y = make_blobs(3000, centers=centers, std=0.5, seed=1)
    means = np.stack([X[y == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(means, centers, atol=0.1)
    np.testing.assert_allclose(X[y == 0].std(axis=0), 0.5, rtol=0.1)


def test_make_xor_labels_follow_the_signs():
    X, y = make_xor(400, noise=0.1, seed=0)
    np.testing.assert_array_equal(y, (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(int))


def test_make_circles_without_noise_lies_on_two_circles():
    X, y = make_circles(50, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)


def test_make_moons_without_noise_lies_on_two_half_circles():
    X, y = make_moons(40, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0)
    assert (X[y == 0, 1] >= -1e-12).all() and (X[y == 1, 1] <= 0.5 + 1e-12).all()


def test_make_spirals_radius_spans_zero_to_one():
    X, y = make_spirals(300, n_classes=3, noise=0.0, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    for k in range(3):
        assert r[y == k].min() == pytest.approx(0.0) and r[y == k].max() == pytest.approx(1.0)


@pytest.mark.parametrize("tiles", [2, 3, 4, 7])
def test_make_checkerboard_labels_alternate_by_square(tiles):
    X, y = make_checkerboard(2000, tiles=tiles, seed=1)
    assert ((X > -1) & (X < 1)).all()
    col, row = np.floor((X + 1) * tiles / 2).astype(int).T
    np.testing.assert_array_equal(y, (col + row) % 2)
    # Every square is used, and the points are spread evenly over the squares of a colour.
    counts = np.bincount(col * tiles + row, minlength=tiles * tiles)
    colour = (np.arange(tiles * tiles) // tiles + np.arange(tiles * tiles) % tiles) % 2
    for c in (0, 1):
        expected = np.sum(y == c) / np.sum(colour == c)
        np.testing.assert_allclose(counts[colour == c], expected, rtol=0.5)


def test_make_checkerboard_corner_square_is_class_0_and_noise_blurs_the_edges():
    X, y = make_checkerboard(400, tiles=4, seed=0)
    assert (y[(X[:, 0] < -0.5) & (X[:, 1] < -0.5)] == 0).all()
    Xn, yn = make_checkerboard(400, tiles=4, noise=0.2, seed=0)
    np.testing.assert_array_equal(yn, y)  # noise moves the points, not the labels
    shift = np.std(Xn - X)
    assert 0.15 < shift < 0.25
    col, row = np.floor((Xn + 1) * 2).astype(int).T
    assert np.mean(yn != (col + row) % 2) > 0.1  # some points crossed into the other colour


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: make_checkerboard(10, tiles=1), InvalidValueError,
         r"make_checkerboard: tiles must be at least 2 \(one square has only one class\), got 1"),
        (lambda: make_checkerboard(10, tiles=2.5), DTypeError,
         r"make_checkerboard: expected tiles to be an integer, got float"),
        (lambda: make_checkerboard(1), InvalidValueError,
         r"make_checkerboard: n must be at least 2 \(one example per class\), got 1"),
        (lambda: make_checkerboard(10, noise=-1), InvalidValueError,
         r"make_checkerboard: noise must be a number >= 0, got -1"),
        (lambda: make_moons(0), InvalidValueError, r"make_moons: n must be at least 1, got 0"),
        (lambda: make_moons(1), InvalidValueError, r"make_moons: n must be at least 2 \(one"),
        (lambda: make_moons(10, noise=-0.1), InvalidValueError, r"noise must be a number >= 0"),
        (lambda: make_xor(10, noise="big"), DTypeError, r"make_xor: expected noise to be a num"),
        (lambda: make_circles(10, factor=1.5), InvalidValueError, r"factor must lie in \(0, 1\)"),
        (lambda: make_spirals(10, n_classes=1), InvalidValueError, r"n_classes must be at least 2"),
        (lambda: make_blobs(10, std=0), InvalidValueError, r"make_blobs: std must be a positive"),
        (lambda: make_blobs(10, centers=[[1, 2, 3]]), ShapeError,
         r"make_blobs: expected centers of shape \(K, 2\), got \(1, 3\)"),
        (lambda: make_blobs(2, centers=3), InvalidValueError, r"n must be at least 3"),
        (lambda: make_blobs(10, seed=1.5), DTypeError, r"make_blobs: seed must be an int seed"),
        (lambda: make_moons(2.5), DTypeError, r"make_moons: expected n to be an integer"),
    ],
)
def test_generator_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    ("name", "targets"),
    [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("xor", [0, 1, 1, 0]), ("NAND", [1, 1, 1, 0])],
)
def test_logic_gate_truth_tables(name, targets):
    X, y = logic_gate(name)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(y, targets)


def test_logic_gate_unknown_name():
    with pytest.raises(InvalidValueError, match=r"logic_gate: unknown gate 'nor'; choose one of"):
        logic_gate("nor")


def test_load_digits():
    d = load_digits()
    assert isinstance(d, Dataset)
    assert d.X.shape == (1797, 64) and d.X.dtype == np.float64
    assert d.y.shape == (1797,) and d.y.dtype == np.int64
    assert d.images.shape == (1797, 8, 8)
    assert d.X.min() == 0.0 and d.X.max() == 1.0
    np.testing.assert_array_equal(d.images.reshape(-1, 64), d.X)
    assert d.class_names == tuple("0123456789") and d.n_classes == 10 and len(d) == 1797
    assert np.bincount(d.y).min() >= 170
    assert repr(d) == (
        "Dataset(name='digits', X: (1797, 64) float64, y: (1797,) int64, 10 classes, "
        "images: (1797, 8, 8))"
    )


def test_load_breast_cancer():
    d = load_breast_cancer()
    assert d.X.shape == (569, 30) and d.y.shape == (569,)
    assert len(d.feature_names) == 30 and d.feature_names[0] == "mean radius"
    assert d.class_names == ("malignant", "benign")
    assert np.bincount(d.y).tolist() == [212, 357]
    assert d.images is None


# --- train_val_test_split ------------------------------------------------------------------


def _ids_and_labels(n=200, k=4):
    X = np.arange(n, dtype=float).reshape(-1, 1)  # the row id, to check disjointness
    y = np.arange(n) % k
    return X, y


@pytest.mark.parametrize("stratify", [True, False])
def test_split_sizes_are_disjoint_and_cover_everything(stratify):
    X, y = _ids_and_labels(200)
    s = train_val_test_split(X, y, val=0.2, test=0.1, seed=0, stratify=stratify)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (140, 40, 20)
    ids = np.concatenate([s.X_train[:, 0], s.X_val[:, 0], s.X_test[:, 0]])
    assert sorted(ids.tolist()) == list(range(200))
    for Xp, yp in (s.train, s.val, s.test):
        np.testing.assert_array_equal(yp, y[Xp[:, 0].astype(int)])  # rows stay paired


def test_split_stratified_keeps_class_shares():
    X, y = _ids_and_labels(400, k=4)
    s = train_val_test_split(X, y, val=0.15, test=0.25, seed=3)
    assert np.bincount(s.y_test).tolist() == [25, 25, 25, 25]
    assert np.bincount(s.y_val).tolist() == [15, 15, 15, 15]


def test_split_stratified_with_unbalanced_classes():
    y = np.repeat([0, 1, 2], [300, 60, 40])
    X = np.arange(400.0)[:, None]
    s = train_val_test_split(X, y, val=0.1, test=0.2, seed=0)
    assert np.bincount(s.y_test).tolist() == [60, 12, 8]
    assert np.bincount(s.y_val).tolist() == [30, 6, 4]


def test_split_is_deterministic_and_shuffled():
    X, y = _ids_and_labels(100)
    a = train_val_test_split(X, y, seed=5)
    b = train_val_test_split(X, y, seed=5)
    c = train_val_test_split(X, y, seed=6)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.X_train, c.X_train)
    assert not np.all(np.diff(a.X_train[:, 0]) > 0)  # not in the original order
    _X_tr, y_tr, _X_va, _y_va, _X_te, _y_te = a  # unpacks like a tuple
    assert y_tr is a.y_train
    assert repr(a) == "Split(train=70, val=15, test=15)"


def test_split_returns_copies():
    X, y = _ids_and_labels(50)
    s = train_val_test_split(X, y)
    s.X_train[:] = -1
    assert X.min() == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"val": 0.0}, InvalidValueError, r"train_val_test_split: val must be a fraction in \(0,"),
        ({"test": 1.2}, InvalidValueError, r"test must be a fraction in \(0, 1\), got 1.2"),
        ({"val": 0.5, "test": 0.5}, InvalidValueError, r"val \+ test must be below 1"),
        ({"val": "a"}, DTypeError, r"expected val to be a number, got str"),
    ],
)
def test_split_bad_fractions(kwargs, error, message):
    X, y = _ids_and_labels(50)
    with pytest.raises(error, match=message):
        train_val_test_split(X, y, **kwargs)


def test_split_bad_data():
    X, y = _ids_and_labels(50)
    with pytest.raises(ShapeError, match=r"X and y must hold the same number of examples, got 50"):
        train_val_test_split(X, y[:-1])
    with pytest.raises(InvalidValueError, match=r"train_val_test_split: X is empty"):
        train_val_test_split(np.zeros((0, 2)), np.zeros(0, dtype=int))
    with pytest.raises(InvalidValueError, match=r"5 examples are too few for val=0.05"):
        train_val_test_split(X[:5], y[:5], val=0.05, test=0.2)
    with pytest.raises(DTypeError, match=r"expected y with an integer dtype \(class labels\)"):
        train_val_test_split(X, y.astype(float) + 0.5)
    s = train_val_test_split(X, y.astype(float) + 0.5, stratify=False)  # regression targets
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == 50


# --- Standardizer ---------------------------------------------------------------------------


def test_standardizer_centres_and_scales_without_modifying_input():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(100, 4))
    X[:, 2] = 7.0  # constant column
    before = X.copy()
    s = Standardizer()
    Z = s.fit_transform(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), [1, 1, 0, 1], atol=1e-12)
    assert np.isfinite(Z).all() and (Z[:, 2] == 0).all()
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-12)
    np.testing.assert_array_equal(X, before)


def test_standardizer_uses_the_training_statistics():
    s = Standardizer().fit(np.array([[0.0], [2.0]]))
    np.testing.assert_array_equal(s.transform(np.array([[1.0], [3.0]])), [[0.0], [2.0]])
    assert repr(s) == "Standardizer(1 features)"


def test_standardizer_keeps_float32_and_converts_ints():
    X32 = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert Standardizer().fit_transform(X32).dtype == np.float32
    Xi = np.arange(12).reshape(4, 3)
    assert Standardizer().fit_transform(Xi).dtype == np.float64


def test_standardizer_constant_column_with_rounding_noise():
    X = np.full((3, 1), 0.1) * 3  # 0.30000000000000004, whose mean is not exactly it
    Z = Standardizer().fit_transform(X)
    np.testing.assert_allclose(Z, 0.0, atol=1e-15)


@given(arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 5)),
              elements=st.floats(-1e6, 1e6)))
def test_standardizer_round_trip_property(X):
    s = Standardizer().fit(X)
    back = s.inverse_transform(s.transform(X))
    np.testing.assert_allclose(back, X, rtol=1e-9, atol=1e-6)


def test_standardizer_errors():
    with pytest.raises(InvalidValueError, match=r"transform: this Standardizer is not "):
        Standardizer().transform(np.zeros((2, 2)))
    s = Standardizer().fit(np.ones((3, 4)))
    with pytest.raises(ShapeError, match=r"transform: expected X of shape \(N, 4\), got \(3, 5\)"):
        s.transform(np.ones((3, 5)))
    with pytest.raises(ShapeError, match=r"Standardizer.fit: expected X of shape \(N, D\), got"):
        Standardizer().fit(np.ones(3))
    with pytest.raises(InvalidValueError, match=r"Standardizer.fit: X is empty"):
        Standardizer().fit(np.ones((0, 3)))


# --- one_hot and minibatches ----------------------------------------------------------------


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0, 1])), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    out = one_hot(np.array([1, 1]), n_classes=4)
    assert out.shape == (2, 4) and out.dtype == np.float64
    np.testing.assert_array_equal(out.argmax(axis=1), [1, 1])


def test_one_hot_errors():
    with pytest.raises(InvalidValueError, match=r"one_hot: labels must lie in 0..2 for 3 classes"):
        one_hot(np.array([0, 3]), n_classes=3)
    with pytest.raises(InvalidValueError, match=r"one_hot: labels must be >= 0, got a label -1"):
        one_hot(np.array([0, -1]))
    with pytest.raises(DTypeError, match=r"one_hot: expected labels with an integer.*astype\(int"):
        one_hot(np.array([0.0, 1.0]))
    with pytest.raises(ShapeError, match=r"one_hot: expected labels with 1 dimension, got shape"):
        one_hot(np.array([[0], [1]]))


def test_minibatches_sizes_and_coverage():
    X = np.arange(10.0)[:, None]
    y = np.arange(10)
    batches = list(minibatches(X, y, 4, seed=0))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)


def test_minibatches_without_shuffle_and_with_a_big_batch():
    X, y = np.arange(5.0)[:, None], np.arange(5)
    assert [b[1].tolist() for b in minibatches(X, y, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    assert len(list(minibatches(X, y, 100))) == 1


def test_minibatches_deterministic_and_new_order_per_epoch_with_one_generator():
    X, y = np.arange(20.0)[:, None], np.arange(20)
    first = [b[1].tolist() for b in minibatches(X, y, 5, seed=1)]
    assert first == [b[1].tolist() for b in minibatches(X, y, 5, seed=1)]
    rng = np.random.default_rng(1)
    e1 = np.concatenate([b[1] for b in minibatches(X, y, 5, seed=rng)])
    e2 = np.concatenate([b[1] for b in minibatches(X, y, 5, seed=rng)])
    assert not np.array_equal(e1, e2)


def test_minibatches_checks_arguments_before_iterating():
    X, y = np.zeros((4, 2)), np.zeros(3, dtype=int)
    with pytest.raises(ShapeError, match=r"minibatches: X and y must hold the same number of"):
        minibatches(X, y, 2)  # no next() needed
    with pytest.raises(InvalidValueError, match=r"minibatches: batch_size must be at least 1, got"):
        minibatches(X, np.zeros(4), 0)


def test_make_first_symbol_labels_each_sequence_by_its_first_symbol():
    X, y = make_first_symbol(300, steps=30, n_classes=3, n_symbols=5, seed=2)
    assert X.shape == (300, 30, 5) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X.sum(axis=2), 1)  # one-hot at every step
    symbols = X.argmax(axis=2)
    np.testing.assert_array_equal(symbols[:, 0], y)
    assert set(np.unique(y)) == {0, 1, 2}
    assert set(np.unique(symbols[:, 1:])) == set(range(5))  # later steps: every symbol
    X2, y2 = make_first_symbol(300, steps=30, n_classes=3, n_symbols=5, seed=2,
                               dtype=np.float64)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert X2.dtype == np.float64
    assert not np.array_equal(make_first_symbol(300, steps=30, seed=3)[1], y)


def test_make_first_symbol_refuses_more_classes_than_symbols():
    with pytest.raises(InvalidValueError, match=r"^make_first_symbol: n_classes \(9\) must "
                                                r"not exceed n_symbols \(8\)"):
        make_first_symbol(10, n_classes=9)
