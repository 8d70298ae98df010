"""load_parameters on bad files: each way of being bad is named, the model never changes."""

import io
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.activations import ReLU
from dlteach.core import Sequential
from dlteach.dense import Dense
from dlteach.errors import ParameterMismatchError
from dlteach.serialization import load_parameters, save_parameters

UNPICKLED = []  # Tripwire appends here if anything is ever unpickled


def _tripwire():
    UNPICKLED.append(True)
    return "unpickled"


class Tripwire:
    def __reduce__(self):
        return (_tripwire, ())


def mlp(seed=0):
    return Sequential(Dense(3, 4, rng=seed), ReLU(), Dense(4, 2, rng=seed + 1))


def npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def good_entries():
    """The .npy entries save_parameters writes for mlp(seed=0), as bytes."""
    return {k + ".npy": npy(p.value) for k, p in mlp(seed=0).named_parameters().items()}


def changed(name, edit):
    """good_entries() with entry ``name`` replaced by ``edit(its bytes)``."""
    entries = good_entries()
    return {**entries, name: edit(entries[name])}


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def saved_file(tmp_path):
    path = tmp_path / "m.npz"
    save_parameters(mlp(seed=0), path)
    return path


def refused(path, error, *fragments, absent=("pickle",)):
    """Load ``path`` into a fresh model: return the message; check type, text, no change."""
    model = mlp(seed=5)
    arrays = {k: p.value for k, p in model.named_parameters().items()}
    before = {k: v.copy() for k, v in arrays.items()}
    with pytest.raises(Exception) as info:
        load_parameters(model, path)
    assert type(info.value) is error, repr(info.value)  # never AttributeError, ValueError, ...
    msg = str(info.value)
    assert msg.startswith("load_parameters: ") and repr(str(path)) in msg
    for fragment in fragments:
        assert fragment in msg
    for word in absent:
        assert word not in msg
    for k, p in model.named_parameters().items():
        assert p.value is arrays[k]
        np.testing.assert_array_equal(p.value, before[k])
    return msg


def test_a_directory_is_named_as_a_directory(tmp_path):
    refused(tmp_path, IsADirectoryError, "is a directory, not a parameter file",
            absent=("no file",))


def test_a_missing_file(tmp_path):
    refused(tmp_path / "missing.npz", FileNotFoundError, "no file")


def test_random_bytes_are_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(0).bytes(500))
    refused(path, ParameterMismatchError, "is not a parameter file written by save_parameters",
            "not an .npz archive", absent=("pickle", "truncated"))


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    refused(path, ParameterMismatchError, "is empty (0 bytes)", absent=("pickle", "zip"))


def test_a_truncated_copy_is_reported_as_truncated(tmp_path):
    full = saved_file(tmp_path).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(full[: len(full) // 2])
    refused(path, ParameterMismatchError, "is truncated or damaged", "central directory",
            absent=("pickle", "not an .npz", "not a parameter file"))


def test_a_text_entry_is_not_an_array(tmp_path):
    path = write_zip(tmp_path / "t.npz", {**good_entries(), "notes.txt": b"lr=0.1, 10 epochs"})
    refused(path, ParameterMismatchError, 'entry "notes.txt" is not a .npy array')


def test_an_npy_named_entry_without_the_npy_signature(tmp_path):
    path = write_zip(tmp_path / "t.npz", {**good_entries(), "0.W.npy": b"just some text, no array"})
    refused(path, ParameterMismatchError,
            'entry "0.W.npy" is not a .npy array (it does not start with the .npy signature)')


def test_an_object_array_needs_pickle_and_is_never_unpickled(tmp_path):
    path = tmp_path / "p.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in good_entries().items():
            zf.writestr(name, data)
        with zf.open("extra.npy", "w") as member:
            np.save(member, np.array([Tripwire()], dtype=object), allow_pickle=True)
    msg = refused(path, ParameterMismatchError, 'entry "extra.npy" holds data that needs pickle',
                  "dtype object", absent=("truncated",))
    assert "not in the model" not in msg  # the real cause only, not a follow-up complaint
    assert UNPICKLED == []


def test_array_data_cut_short_in_a_consistent_zip(tmp_path):
    path = write_zip(tmp_path / "t.npz", changed("0.W.npy", lambda b: b[:-8]))
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # the zip itself is sound: only the array is short
    refused(path, ParameterMismatchError, 'entry "0.W.npy" is truncated: its header announces '
            "96 bytes of data (shape (3, 4), dtype float64) but only 88 are there")


def test_an_entry_cut_inside_its_npy_header(tmp_path):
    path = write_zip(tmp_path / "t.npz", changed("0.b.npy", lambda b: b[:20]))
    refused(path, ParameterMismatchError, 'entry "0.b.npy" is truncated: it ends inside its .npy')


def test_extra_bytes_after_the_array_data(tmp_path):
    path = write_zip(tmp_path / "t.npz", changed("2.b.npy", lambda b: b + b"x"))
    refused(path, ParameterMismatchError,
            'entry "2.b.npy" is damaged: unexpected bytes follow its array data '
            "(1 more than its header announces)")


def test_a_flipped_data_byte_fails_the_crc(tmp_path):
    path = saved_file(tmp_path)
    data = bytearray(path.read_bytes())
    at = bytes(data).index(mlp(seed=0)[2].W.value.tobytes())
    data[at + 3] ^= 0xFF
    path.write_bytes(bytes(data))
    refused(path, ParameterMismatchError, 'entry "2.W.npy" is damaged: Bad CRC-32')


def test_an_entry_present_twice(tmp_path):
    path = tmp_path / "t.npz"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as zf:
        for name, data in [*good_entries().items(), ("0.b.npy", npy(np.ones(4)))]:
            zf.writestr(name, data)
    refused(path, ParameterMismatchError, 'entry "0.b.npy" appears more than once')


def test_every_bad_entry_is_listed_at_once(tmp_path):
    entries = good_entries()
    path = write_zip(tmp_path / "t.npz", {
        **entries, "0.W.npy": entries["0.W.npy"][:-1], "notes.txt": b"hi",
        "2.b.npy": npy(np.array([None, 1], dtype=object), allow_pickle=True),
    })
    msg = refused(path, ParameterMismatchError, "cannot be loaded (the model is unchanged)",
                  'entry "0.W.npy" is truncated', 'entry "notes.txt" is not a .npy array',
                  'entry "2.b.npy" holds data that needs pickle', absent=())
    assert msg.count("\n  entry ") == 3


def test_a_wrong_dtype_kind_is_a_mismatch(tmp_path):
    entries = good_entries()
    entries["0.W.npy"] = npy(mlp(seed=0)[0].W.value.astype(np.complex128))
    path = write_zip(tmp_path / "t.npz", entries)
    refused(path, ParameterMismatchError,
            '"0.W": saved dtype complex128, model expects float64')


def test_numpy_written_npz_files_still_load(tmp_path):
    # np.savez_compressed, Fortran order and big-endian data are all plain .npy entries.
    src = {k: p.value for k, p in mlp(seed=0).named_parameters().items()}
    path = tmp_path / "np.npz"
    np.savez_compressed(path, **{"0.W": np.asfortranarray(src["0.W"]), "0.b": src["0.b"],
                                 "2.W": src["2.W"].astype(">f8"), "2.b": src["2.b"]})
    model = mlp(seed=5)
    load_parameters(model, path)
    for k, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.value, src[k])


def test_every_truncation_is_a_mismatch_and_changes_nothing(tmp_path):
    full = saved_file(tmp_path).read_bytes()
    path = tmp_path / "cut.npz"
    for n in range(len(full)):  # every possible length, header to last byte
        path.write_bytes(full[:n])
        msg = refused(path, ParameterMismatchError)
        assert ("truncated" in msg) if n else ("is empty" in msg)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4))
def test_corrupted_bytes_never_escape_as_another_error(tmp_path_factory, edits):
    directory = tmp_path_factory.mktemp("corrupt")
    path = saved_file(directory)
    data = bytearray(path.read_bytes())
    for at, value in edits:
        data[at % len(data)] = value
    path.write_bytes(bytes(data))
    model, src = mlp(seed=5), mlp(seed=0)
    try:
        load_parameters(model, path)
    except ParameterMismatchError:
        # nothing assigned on failure
        for k, p in model.named_parameters().items():
            np.testing.assert_array_equal(p.value, mlp(seed=5).named_parameters()[k].value)
    else:  # a byte zipfile does not check (a timestamp...): the CRC-32 guards the values
        for k, p in model.named_parameters().items():
            np.testing.assert_array_equal(p.value, src.named_parameters()[k].value)
