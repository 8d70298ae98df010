"""Input checks shared by every public function and layer.

The messages follow one pattern, so a learner always learns the same three
facts: *who* complained, what it *expected*, and what it *got*::

    Dense(64 -> 10): expected input of shape (N, 64), got (32, 65).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

from dlteach.errors import DTypeError, InvalidValueError, NonFiniteError, ShapeError

ShapeSpec = Sequence[int | str | None]
Seed = int | np.random.Generator | None


def format_shape(spec: ShapeSpec) -> str:
    """Render a shape spec such as ``("N", 64)`` as ``(N, 64)``; None prints as ``*``."""
    parts = ["*" if s is None else str(s) for s in spec]
    if len(parts) == 1:
        return f"({parts[0]},)"
    return "(" + ", ".join(parts) + ")"


def _ragged_detail(x: object, path: tuple[int, ...] = ()) -> str | None:
    """Where a nested list stops being rectangular: 'row 2 has 3 items, row 0 has 2'."""
    if not isinstance(x, list | tuple):
        return None
    lengths = [len(item) if isinstance(item, list | tuple | np.ndarray) else None for item in x]
    if len(set(lengths)) > 1:
        first = lengths[0]
        j = next(i for i, n in enumerate(lengths) if n != first)
        where = "".join(f"[{i}]" for i in path)

        def describe(i: int, n: int | None) -> str:
            item = f"item {where}[{i}]" if where else f"row {i}"
            if n is None:
                return f"{item} is a single number"
            return f"{item} has {n} value{'s' if n != 1 else ''}"

        return f"{describe(0, first)} but {describe(j, lengths[j])}"
    for i, item in enumerate(x):
        detail = _ragged_detail(item, (*path, i))
        if detail:
            return detail
    return None


def as_array(x: object, *, owner: str, name: str = "input") -> np.ndarray:
    """``np.asarray(x)`` for numbers only: ragged lists, strings and objects get a named error.

    NumPy alone would say "setting an array element with a sequence" or "inhomogeneous
    shape"; a learner needs to hear which argument was ragged and where.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        detail = _ragged_detail(x)
        if detail is None:
            raise DTypeError(f"{owner}: {name} could not be read as an array of numbers "
                             f"({exc}).") from None
        raise ShapeError(
            f"{owner}: {name} is a ragged nested list ({detail}); every row must have "
            "the same length to form an array."
        ) from None
    if arr.dtype.kind in "USa":
        raise DTypeError(
            f"{owner}: expected {name} to hold numbers, got text (dtype {arr.dtype}), such as "
            f"{str(arr.flat[0])!r}" + (". Convert it with np.asarray(..., dtype=float) if the text "
                                  "holds numbers." if arr.size else ".")
        )
    if arr.dtype.kind == "O":
        detail = _ragged_detail(x) if isinstance(x, list | tuple) else None
        if detail is not None:
            raise ShapeError(
                f"{owner}: {name} is a ragged nested list ({detail}); every row must have "
                "the same length to form an array."
            )
        kinds = sorted({type(v).__name__ for v in arr.flat})[:3] if arr.size else []
        raise DTypeError(
            f"{owner}: expected {name} to hold numbers, got an array of Python objects "
            f"(dtype object{', holding ' + ', '.join(kinds) if kinds else ''}). "
            "Build it from numbers, e.g. np.array(values, dtype=float)."
        )
    return arr


def check_array(
    x: object,
    *,
    owner: str,
    name: str = "input",
    shape: ShapeSpec | None = None,
    ndim: int | None = None,
    kind: str = "float",
    allow_empty: bool = False,
) -> np.ndarray:
    """Return ``x`` as an ndarray after checking its type, shape and size.

    owner: who is checking, used as the message prefix (``"Dense(64 -> 10)"``).
    shape: expected shape; an int must match exactly, a str (``"N"``) or None matches
        any size. Symbols that repeat must match each other.
    kind: ``"float"`` (real floating dtype), ``"int"`` (integer dtype) or ``"number"``.

    The array is never copied or modified, so the caller keeps ownership.
    """
    if isinstance(x, np.ndarray):
        arr = x
        if arr.dtype.kind in "USaO":
            as_array(arr, owner=owner, name=name)  # raises the named error
    elif isinstance(x, list | tuple | Real | np.generic) and not isinstance(x, str | bytes):
        arr = as_array(x, owner=owner, name=name)
        if kind == "float" and arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
    else:
        raise DTypeError(f"{owner}: expected {name} to be a NumPy array, got {type(x).__name__}.")
    if kind == "float" and arr.dtype.kind != "f":
        raise DTypeError(
            f"{owner}: expected {name} with a floating dtype (float32 or float64), "
            f"got dtype {arr.dtype}. Convert it with "
            f"{name if name.isidentifier() else 'x'}.astype(np.float64)."
        )
    if kind == "int" and arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            hint = " Convert it with y.astype(int)."
        else:
            hint = ""
        raise DTypeError(
            f"{owner}: expected {name} with an integer dtype (class labels), "
            f"got dtype {arr.dtype}.{hint}"
        )
    if kind == "number" and arr.dtype.kind not in "iuf":
        raise DTypeError(f"{owner}: expected {name} to hold numbers, got dtype {arr.dtype}.")
    if shape is not None:
        _check_shape(arr, shape, owner=owner, name=name)
    elif ndim is not None and arr.ndim != ndim:
        raise ShapeError(
            f"{owner}: expected {name} with {ndim} dimension{'s' if ndim != 1 else ''}, "
            f"got shape {tuple(arr.shape)} ({arr.ndim} dimension{'s' if arr.ndim != 1 else ''})."
        )
    if not allow_empty and arr.size == 0:
        raise InvalidValueError(f"{owner}: {name} is empty (shape {tuple(arr.shape)}).")
    return arr


def _check_shape(arr: np.ndarray, spec: ShapeSpec, *, owner: str, name: str) -> None:
    expected = format_shape(spec)
    if arr.ndim != len(spec):
        raise ShapeError(
            f"{owner}: expected {name} of shape {expected}, got {tuple(arr.shape)} "
            f"({arr.ndim} dimension{'s' if arr.ndim != 1 else ''} instead of {len(spec)})."
        )
    bound: dict[str, int] = {}
    for want, got in zip(spec, arr.shape, strict=True):
        if isinstance(want, Integral) and want != got:
            raise ShapeError(
                f"{owner}: expected {name} of shape {expected}, got {tuple(arr.shape)}."
            )
        if isinstance(want, str):
            if want in bound and bound[want] != got:
                raise ShapeError(
                    f"{owner}: expected {name} of shape {expected}, got {tuple(arr.shape)} "
                    f"(both {want} must be equal)."
                )
            bound[want] = got


def compact_number(value: float) -> str:
    """A loss or metric in at most ~10 characters: 4 decimals in the usual range, else 4 digits.

    ``0.1234``, ``2.3026``, ``3.142e+08``, ``1.5e-07``, ``nan``: a loss of 1e190 must not
    print as 190 digits.
    """
    v = float(value)
    if v == 0 or (np.isfinite(v) and 1e-4 <= abs(v) < 1e6):
        return f"{v:.4f}"
    return f"{v:.4g}"


def index_text(index: tuple[int, ...]) -> str:
    """Where an element sits, the way a learner reads a data set: 'row 17, column 4'."""
    if len(index) == 1:
        return f"row {index[0]}"
    if len(index) == 2:
        return f"row {index[0]}, column {index[1]}"
    return f"row {index[0]}, index {tuple(int(i) for i in index[1:])} within the row"


def check_finite(arr: np.ndarray, *, owner: str, name: str, hint: str = "") -> np.ndarray:
    """Raise NonFiniteError when a float array holds NaN or +-inf: how many, and the first.

    ``fit: X_train holds 3 NaN values, the first at row 17, column 4.``
    """
    if arr.dtype.kind not in "fc":
        return arr
    finite = np.isfinite(arr)
    if finite.all():
        return arr
    bad = ~finite
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(bad.sum()) - n_nan
    parts = []
    if n_nan:
        parts.append(f"{n_nan} NaN value{'s' if n_nan != 1 else ''}")
    if n_inf:
        parts.append(f"{n_inf} infinite value{'s' if n_inf != 1 else ''}")
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
    where = index_text(first) if first else "the only value"
    if n_nan + n_inf == 1:
        located = f": {arr[first]} at {where}"
    else:
        value = f" ({arr[first]})" if n_nan and n_inf else ""
        located = f", the first{value} at {where}"
    raise NonFiniteError(
        f"{owner}: {name} holds {' and '.join(parts)}{located}." + (f" {hint}" if hint else "")
    )


def check_same_length(a: np.ndarray, b: np.ndarray, *, owner: str, names: tuple[str, str]) -> None:
    """Raise ShapeError when two arrays hold a different number of examples."""
    if len(a) != len(b):
        raise ShapeError(
            f"{owner}: {names[0]} and {names[1]} must hold the same number of examples, "
            f"got {len(a)} and {len(b)}."
        )


def check_labels(y: object, n_classes: int, *, owner: str, name: str = "labels") -> np.ndarray:
    """Check integer class labels of shape (N,) lie in ``0 .. n_classes - 1``."""
    arr = check_array(y, owner=owner, name=name, ndim=1, kind="int")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= n_classes:
        out = (arr < 0) | (arr >= n_classes)
        row = int(np.argmax(out))
        count = int(out.sum())
        others = f"; {count} labels are out of range" if count > 1 else ""
        raise InvalidValueError(
            f"{owner}: {name} must lie in 0..{n_classes - 1} for {n_classes} classes, "
            f"got a label {int(arr[row])} at {index_text((row,))}{others}."
        )
    return arr


def check_positive(value: object, *, owner: str, name: str) -> float:
    """Return ``value`` as a float after checking that it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise DTypeError(f"{owner}: expected {name} to be a number, got {type(value).__name__}.")
    if not np.isfinite(value) or value <= 0:
        raise InvalidValueError(f"{owner}: {name} must be a positive number, got {value}.")
    return float(value)


def check_positive_int(value: object, *, owner: str, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int after checking that it is an integer >= minimum (1)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise DTypeError(f"{owner}: expected {name} to be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise InvalidValueError(f"{owner}: {name} must be at least {minimum}, got {value}.")
    return int(value)


def check_has_methods(
    obj: object, methods: tuple[str, ...], *, owner: str, role: str, example: str
) -> None:
    """Check that ``obj`` is an instance offering ``methods`` (a loss, an optimizer...).

    role: what it should be, with its article ("a loss");  example: how to make one.
    """
    if isinstance(obj, type):
        raise DTypeError(
            f"{owner}: expected {role} object, got the class {obj.__name__}. "
            f"Create one first, e.g. {example}."
        )
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if missing:
        raise DTypeError(
            f"{owner}: expected {role} with {' and '.join(m + '()' for m in methods)} "
            f"(e.g. {example}), got {type(obj).__name__}."
        )


def as_rng(seed: Seed, *, owner: str = "", name: str = "seed") -> np.random.Generator:
    """A NumPy Generator from a seed (int >= 0), an existing Generator, or None (fresh entropy).

    owner, name: who asks and the argument as the caller wrote it (``Dense``, ``rng``), so
    a refused value is reported as ``Dense: rng must be ...``. A ``SeedSequence`` or a
    ``BitGenerator`` is accepted too. NumPy's legacy ``RandomState`` is refused: its stream
    cannot seed a Generator reproducibly, so the message says what to pass instead.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    prefix = f"{owner}: " if owner else ""
    accepted = "an int seed >= 0, a numpy Generator (np.random.default_rng(0)) or None"
    if isinstance(seed, np.random.RandomState):
        raise DTypeError(
            f"{prefix}{name} must be {accepted}; got a legacy numpy RandomState. "
            f"Pass np.random.default_rng(seed) instead (or just the int seed)."
        )
    if isinstance(seed, np.random.SeedSequence | np.random.BitGenerator):
        return np.random.default_rng(seed)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral)):
        hint = ""
        if isinstance(seed, Real) and float(seed).is_integer():
            hint = f" Write {name}={int(seed)}."
        raise DTypeError(
            f"{prefix}{name} must be {accepted}; got {type(seed).__name__} {seed!r}.{hint}"
        )
    if seed is not None and seed < 0:
        raise InvalidValueError(f"{prefix}{name} must be {accepted}; got {seed}.")
    return np.random.default_rng(seed)
