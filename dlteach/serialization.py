"""Saving and loading a model's parameters, as a plain ``.npz`` archive.

The file holds one array per parameter, keyed by its name from
``model.named_parameters()`` (``"0.W"``, ``"0.b"``, ``"2.W"``, ...). No pickle is
written or read, so loading a file can never run code. Only the numbers are saved:
to load them, build the same architecture first, then call :func:`load_parameters`.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from dlteach.core import Layer, check_model
from dlteach.errors import ParameterMismatchError

PathLike = str | os.PathLike


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


def load_parameters(model: Layer, path: PathLike) -> None:
    """Copy the parameters saved in ``path`` into ``model``, in place.

    Every name and shape is checked before anything is assigned: if a parameter is
    missing, unexpected or of another shape, ParameterMismatchError lists them all and
    the model is left untouched. Values are copied into the model's arrays, converted
    to the model's dtype (the same dtype in a save/load round trip, which is exact).
    """
    owner = "load_parameters"
    model = check_model(model, owner)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{owner}: no file {str(path)!r}.")
    if not zipfile.is_zipfile(path):
        raise ParameterMismatchError(
            f"{owner}: {str(path)!r} is not a parameter file written by save_parameters "
            "(it is not an .npz archive)."
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {name: data[name] for name in data.files}
    except ValueError as exc:  # pickled (object) arrays, which are refused
        raise ParameterMismatchError(
            f"{owner}: {str(path)!r} holds data that needs pickle, which is not loaded "
            f"for safety ({exc})."
        ) from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise ParameterMismatchError(
            f"{owner}: {str(path)!r} is not a parameter file written by save_parameters "
            f"({exc})."
        ) from exc

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
