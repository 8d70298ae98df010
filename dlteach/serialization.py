"""Saving and loading a model's parameters, as a plain ``.npz`` archive.

The file holds one array per parameter, keyed by its name from
``model.named_parameters()`` (``"0.W"``, ``"0.b"``, ``"2.W"``, ...). No pickle is
written or read, so loading a file can never run code. Only the numbers are saved:
to load them, build the same architecture first, then call :func:`load_parameters`.

Loading reads the archive with :mod:`zipfile` rather than ``np.load``, so that each way
a file can be bad (missing, a directory, not a zip, cut short, a damaged or non-array
entry, an entry that would need pickle) is reported with its real cause and the entry
concerned, always before any parameter of the model is changed.
"""

from __future__ import annotations

import math
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from dlteach.core import Layer, check_model
from dlteach.errors import ParameterMismatchError

PathLike = str | os.PathLike

_ZIP_SIGNATURE = b"PK\x03\x04"  # first bytes of every archive np.savez or save_parameters writes
_NPY_MAGIC = b"\x93NUMPY"
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
# What zipfile and zlib raise on damaged bytes: BadZipFile (bad CRC-32, bad headers), EOFError
# (data cut off), OSError (seek outside the file), zlib.error (broken compressed data),
# RuntimeError (encrypted entry, NotImplementedError for an unknown compression).
_DAMAGE = (zipfile.BadZipFile, EOFError, OSError, RuntimeError, zlib.error)


def _write_npz(file, arrays: dict[str, np.ndarray]) -> None:
    # What np.savez does, minus pickle: one .npy member per array.
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


def save_parameters(model: Layer, path: PathLike, *, overwrite: bool = False) -> None:
    """Write every parameter of ``model`` to the .npz file ``path`` (used exactly as given).

    overwrite: replace an existing file; by default an existing file is never touched
        (FileExistsError).
    The archive is written to a temporary file in the same directory, then moved into
    place in one step, so a crash never leaves a half-written file behind.
    """
    owner = "save_parameters"
    model = check_model(model, owner)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{owner}: {str(path)!r} is a directory; give a file name.")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{owner}: {str(path)!r} already exists. Pass overwrite=True to replace it."
        )
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{owner}: the directory {str(parent)!r} does not exist.")
    arrays = {name: p.value for name, p in model.named_parameters().items()}

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the file gets its name
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a saved model is an ordinary file
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                # A hard link fails if path appeared meanwhile: never clobber a file.
                os.link(tmp, path)
            except FileExistsError:
                raise FileExistsError(
                    f"{owner}: {str(path)!r} already exists. Pass overwrite=True to replace it."
                ) from None
            except OSError:  # file systems without hard links
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class _BadEntry(Exception):
    """Why one archive entry cannot be loaded (one line of the error message)."""


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """Return the array stored in entry ``info``, or raise _BadEntry with the reason."""
    if not info.filename.endswith(".npy"):
        raise _BadEntry("is not a .npy array (a parameter file holds only <name>.npy entries)")
    try:
        with zf.open(info) as f:
            magic = f.read(8)  # b"\x93NUMPY" + major + minor version bytes
            if magic[:6] != _NPY_MAGIC[: len(magic)]:
                raise _BadEntry("is not a .npy array (it does not start with the .npy signature)")
            if len(magic) < 8:
                raise _BadEntry("is truncated: it ends inside its .npy header")
            read_header = _HEADER_READERS.get((magic[6], magic[7]))
            if read_header is None:
                raise _BadEntry(f"uses .npy format version {magic[6]}.{magic[7]}, not supported")
            try:
                shape, fortran_order, dtype = read_header(f)
            except ValueError as exc:
                # The header reader ran into the end of the entry: cut short, not malformed.
                if f.tell() >= info.file_size:
                    raise _BadEntry("is truncated: it ends inside its .npy header") from exc
                raise _BadEntry(f"has a damaged .npy header ({exc})") from exc
            if dtype.hasobject:  # only pickle could rebuild Python objects: never unpickle
                raise _BadEntry(f"holds data that needs pickle (dtype {dtype}), which is "
                                "never loaded, for safety")
            expected = math.prod(shape) * dtype.itemsize
            available = info.file_size - f.tell()
            if available < expected:
                raise _BadEntry(
                    f"is truncated: its header announces {expected} bytes of data (shape "
                    f"{shape}, dtype {dtype}) but only {available} are there"
                )
            if available > expected:
                raise _BadEntry(f"is damaged: unexpected bytes follow its array data "
                                f"({available - expected} more than its header announces)")
            data = f.read()  # reading to the end makes zipfile verify the CRC-32
        array = np.frombuffer(data, dtype=dtype)
        return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)
    except _DAMAGE as exc:
        raise _BadEntry(f"is damaged: {exc or type(exc).__name__}") from exc
    except ValueError as exc:  # e.g. a zero-size dtype or a size the zip directory misstates
        raise _BadEntry(f"is not a valid .npy array ({exc})") from exc


def _read_npz(path: Path, owner: str) -> dict[str, np.ndarray]:
    """Every array in the parameter file ``path`` by name; any problem raises, naming its cause."""
    where = repr(str(path))
    if path.is_dir():
        raise IsADirectoryError(f"{owner}: {where} is a directory, not a parameter file; "
                                "give the path of the .npz file.")
    if not path.exists():
        raise FileNotFoundError(f"{owner}: no file {where}.")
    if not path.is_file():
        raise ParameterMismatchError(f"{owner}: {where} is not a regular file.")
    with open(path, "rb") as f:  # an unreadable file raises PermissionError, a clear cause
        head = f.read(len(_ZIP_SIGNATURE))
        try:
            zf = zipfile.ZipFile(f)
        except _DAMAGE as exc:
            if not head:
                cause = "is empty (0 bytes), not a parameter file."
            elif _ZIP_SIGNATURE.startswith(head):
                # It starts like a zip, so it was one: the end (the directory) is gone.
                cause = ("is truncated or damaged: it starts like an .npz (zip) archive, but "
                         "the table of contents at its end (the zip central directory) is "
                         "missing or unreadable. Was it copied completely?")
            else:
                cause = ("is not a parameter file written by save_parameters "
                         "(it is not an .npz archive).")
            raise ParameterMismatchError(f"{owner}: {where} {cause}") from exc
        saved: dict[str, np.ndarray] = {}
        problems: list[str] = []
        seen: set[str] = set()
        with zf:
            for info in zf.infolist():
                try:
                    if info.filename in seen:
                        raise _BadEntry("appears more than once")
                    seen.add(info.filename)
                    saved[info.filename.removesuffix(".npy")] = _read_entry(zf, info)
                except _BadEntry as exc:
                    problems.append(f'entry "{info.filename}" {exc}')
    if problems:
        raise ParameterMismatchError(
            f"{owner}: {where} cannot be loaded (the model is unchanged):\n  "
            + "\n  ".join(problems)
        )
    return saved


def load_parameters(model: Layer, path: PathLike) -> None:
    """Copy the parameters saved in ``path`` into ``model``, in place.

    The whole file is read and checked before anything is assigned, so on any error the
    model is left untouched. A missing path raises FileNotFoundError, a directory
    IsADirectoryError; a file that is not an .npz archive, is cut short or damaged, or
    holds an entry that is not a plain .npy array (or would need pickle, never loaded)
    raises ParameterMismatchError naming the file and every bad entry. If a parameter is
    missing, unexpected or of another shape or dtype kind, ParameterMismatchError lists
    them all. Values are copied into the model's arrays, converted to the model's dtype
    (the same dtype in a save/load round trip, which is exact).
    """
    owner = "load_parameters"
    model = check_model(model, owner)
    path = Path(path)
    saved = _read_npz(path, owner)

    params = model.named_parameters()
    problems = []
    missing = [name for name in params if name not in saved]
    unexpected = [name for name in saved if name not in params]
    if missing:
        problems.append("missing from the file: " + ", ".join(f'"{n}"' for n in missing))
    if unexpected:
        problems.append("in the file but not in the model: "
                        + ", ".join(f'"{n}"' for n in unexpected))
    for name, p in params.items():
        if name in saved and saved[name].shape != p.value.shape:
            problems.append(
                f'"{name}": saved shape {saved[name].shape}, model expects {p.value.shape}'
            )
        elif name in saved and not np.can_cast(saved[name].dtype, p.value.dtype, "same_kind"):
            problems.append(
                f'"{name}": saved dtype {saved[name].dtype}, model expects {p.value.dtype}'
            )
    if problems:
        raise ParameterMismatchError(
            f"{owner}: the parameters in {str(path)!r} do not fit this model "
            f"(was it saved from another architecture?):\n  " + "\n  ".join(problems)
        )
    for name, p in params.items():
        # In place: an optimizer created for this model keeps updating the same arrays.
        np.copyto(p.value, saved[name], casting="same_kind")
