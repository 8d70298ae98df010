"""dlteach.serialization: exact round trips, no pickle, no clobbering, clear mismatches."""

import os
import zipfile

import numpy as np
import pytest

from dlteach.activations import ReLU
from dlteach.core import Sequential
from dlteach.dense import Dense
from dlteach.errors import DTypeError, ParameterMismatchError
from dlteach.serialization import load_parameters, save_parameters


def mlp(hidden=4, seed=0, dtype=np.float64):
    return Sequential(Dense(3, hidden, rng=seed, dtype=dtype), ReLU(),
                      Dense(hidden, 2, rng=seed + 1, dtype=dtype))


def values(model):
    return {k: p.value.copy() for k, p in model.named_parameters().items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_is_exact_and_keeps_the_dtype(tmp_path, dtype):
    src, dst = mlp(seed=0, dtype=dtype), mlp(seed=10, dtype=dtype)
    src[0].W.value[0, 0] = np.nextafter(dtype(1), dtype(2))  # a value that must survive bit-exact
    path = tmp_path / "model.npz"
    save_parameters(src, path)
    load_parameters(dst, path)
    for k, v in values(src).items():
        got = dst.named_parameters()[k].value
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, v)


def test_file_holds_named_arrays_without_pickle(tmp_path):
    model = mlp()
    path = tmp_path / "m.npz"
    save_parameters(model, path)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["0.W", "0.b", "2.W", "2.b"]
        np.testing.assert_array_equal(data["2.W"], model[2].W.value)
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_loaded_values_are_copies_into_the_same_arrays(tmp_path):
    src, dst = mlp(seed=0), mlp(seed=5)
    path = tmp_path / "m.npz"
    save_parameters(src, path)
    w_before = dst[0].W.value
    load_parameters(dst, path)
    assert dst[0].W.value is w_before  # updated in place: optimizers keep working
    assert not np.shares_memory(dst[0].W.value, src[0].W.value)
    src[0].W.value += 1  # changing the source afterwards does not leak
    assert not np.array_equal(dst[0].W.value, src[0].W.value)


def test_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "m.npz"
    save_parameters(mlp(seed=0), path)
    first = path.read_bytes()
    with pytest.raises(FileExistsError, match=(
        r"save_parameters: '.*m\.npz' already exists\. Pass overwrite=True to replace it\."
    )):
        save_parameters(mlp(seed=7), path)
    assert path.read_bytes() == first
    save_parameters(mlp(seed=7), path, overwrite=True)
    restored = mlp(seed=0)
    load_parameters(restored, path)
    np.testing.assert_array_equal(restored[0].W.value, mlp(seed=7)[0].W.value)
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # no temporary files left


def test_a_failed_write_leaves_no_file(tmp_path):
    class Broken(Dense):
        def named_parameters(self, prefix=""):
            bad = type(self.W)(np.zeros(1))
            bad.value = np.array([object()], dtype=object)  # Parameter() itself refuses it
            return {"W": self.W, "bad": bad}

    path = tmp_path / "m.npz"
    with pytest.raises(ValueError, match="pickle"):
        save_parameters(Broken(2, 2, rng=0), path)
    assert os.listdir(tmp_path) == []  # neither the target nor a temporary file


def test_mismatch_names_every_problem_and_leaves_the_model_untouched(tmp_path):
    path = tmp_path / "m.npz"
    save_parameters(Sequential(Dense(3, 64, rng=0), ReLU(), Dense(64, 10, rng=1)), path)
    other = Sequential(Dense(3, 32, rng=2), ReLU(), Dense(32, 10, rng=3), ReLU(), Dense(10, 2))
    before = values(other)
    with pytest.raises(ParameterMismatchError) as info:
        load_parameters(other, path)
    msg = str(info.value)
    assert "load_parameters: the parameters in" in msg and "do not fit this model" in msg
    assert '"2.W": saved shape (64, 10), model expects (32, 10)' in msg
    assert '"0.W": saved shape (3, 64), model expects (3, 32)' in msg
    assert 'missing from the file: "4.W", "4.b"' in msg
    for k, v in values(other).items():
        np.testing.assert_array_equal(v, before[k])


def test_unexpected_parameters_are_reported(tmp_path):
    path = tmp_path / "m.npz"
    save_parameters(mlp(), path)
    small = Sequential(Dense(3, 4, rng=0))
    with pytest.raises(ParameterMismatchError, match=r'not in the model: "2.W", "2.b"'):
        load_parameters(small, path)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_parameters: no file '.*missing\.npz'"):
        load_parameters(mlp(), tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ParameterMismatchError, match=r"is not a parameter file written by save_"):
        load_parameters(mlp(), junk)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"0.W": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ParameterMismatchError, match=r"holds data that needs pickle"):
        load_parameters(mlp(), pickled)
    with pytest.raises(DTypeError, match=r"load_parameters: expected a model"):
        load_parameters({"W": 1}, junk)


def test_save_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"save_parameters: the directory '.*nope' does"):
        save_parameters(mlp(), tmp_path / "nope" / "m.npz")
    with pytest.raises(IsADirectoryError, match=r"save_parameters: '.*' is a directory"):
        save_parameters(mlp(), tmp_path)
    with pytest.raises(DTypeError, match=r"save_parameters: expected a model .*got list"):
        save_parameters([1, 2], tmp_path / "m.npz")


def test_zip_members_are_plain_npy(tmp_path):
    path = tmp_path / "m.npz"
    save_parameters(mlp(), path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["0.W.npy", "0.b.npy", "2.W.npy", "2.b.npy"]
