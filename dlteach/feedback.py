"""How a failing verdict shows values: printing them exactly, and saying where they differ.

Used by :mod:`dlteach.checking`. Numbers print without artifacts (no ``-0.0``), small
arrays in full with every digit (a learner can paste them back), big ones as a
summary from the first differing entry; :func:`compare` says how two results differ:
shape, dtype, how many entries, the first differing index and both values there.
"""

from __future__ import annotations

import re
import textwrap
import types
from collections.abc import Sequence
from numbers import Integral, Number

import numpy as np

_INDENT = "   "
# Arrays up to this many elements are printed in full; larger ones are summarised.
_MAX_FULL_SIZE = 24
_WRAP = 88
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def format_number(x: object) -> str:
    """A number as deterministic text: ints exactly, floats rounded to 4 decimals."""
    return _number(x, 4)


def _number(x: object, digits: int | None) -> str:
    """``x`` with at most ``digits`` decimals (None: every digit, enough to rebuild it).

    Floats in [1e-4, 1e6) (and 0, nan, inf) print positionally, others in scientific
    notation with ``digits - 1`` decimals; ``-0.0`` prints as ``0.0``.
    """
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, complex | np.complexfloating):
        sign = "+" if x.imag >= 0 else "-"
        return f"{_number(x.real, digits)}{sign}{_number(abs(x.imag), digits)}j"
    # A NumPy float keeps its own type, so that float32 prints its own shortest digits.
    value = x if isinstance(x, np.floating) else float(x)  # type: ignore[arg-type]
    if value == 0:
        value = abs(value)  # no "-0.0"
    if not np.isfinite(value) or value == 0 or 1e-4 <= abs(value) < 1e6:
        return np.format_float_positional(value, precision=digits, trim="0")
    return np.format_float_scientific(
        value, precision=None if digits is None else digits - 1, trim="0"
    )


def _digits_to_tell_apart(a: object, b: object) -> int:
    """The fewest decimals (4 at least) at which ``a`` and ``b`` print differently."""
    for digits in range(4, 18):
        if _number(a, digits) != _number(b, digits):
            return digits
    return 17


def format_value(x: object) -> str:
    """A compact, deterministic description of a value for a failure message.

    Small arrays print in full at 4 decimals; large ones as shape, dtype and first values.
    Continuation lines of a multi-line value are aligned under its first line, also
    inside a tuple or a list.
    """
    return _text(x, 4)


def _text(x: object, digits: int | None, anchor: dict | None = None, path: tuple = ()) -> str:
    """``x`` as text with ``digits`` decimals (None: exactly).

    anchor: where expected and got first differ (``path`` into nested tuples, array
    ``index``, ``digits``): the value there prints with enough digits to tell the two
    apart, and a large array is shown from that index rather than from its start.
    """
    here = anchor is not None and anchor["path"] == path
    if here:
        digits = anchor["digits"]  # type: ignore[index]
    if isinstance(x, tuple | list):
        parts = [_text(v, digits, anchor, (*path, i)) for i, v in enumerate(x)]
        if isinstance(x, tuple):
            return _aligned("(", parts, ",)" if len(x) == 1 else ")")
        return _aligned("[", parts, "]")
    if here and anchor["index"] is not None and not isinstance(x, np.ndarray):  # type: ignore[index]
        x = np.asarray(x)
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return _number(x.item(), digits) if x.dtype.kind in "biufc" else _scrub(repr(x.item()))
        if x.dtype.kind not in "biufc":
            return f"array of shape {x.shape}, dtype {x.dtype}"
        if x.size <= _MAX_FULL_SIZE:
            return _array_text(x, digits)
        index = anchor["index"] if here else None  # type: ignore[index]
        return _summary(x, index, 4 if digits is None else digits)  # a summary is never exact
    if isinstance(x, Number | np.number | np.bool_):
        return _number(x, digits)
    if x is None:
        return "None"
    if isinstance(x, types.ModuleType):
        return f"module {x.__name__}"
    if callable(x):
        return f"a function {getattr(x, '__name__', type(x).__name__)}"
    text = _scrub(repr(x))
    return text if len(text) <= 120 else text[:117] + "..."


def _aligned(opening: str, parts: list[str], closing: str) -> str:
    """``opening + ", ".join(parts) + closing``, each part's continuation lines kept
    under the column where that part starts."""
    text = opening
    for i, part in enumerate(parts):
        if i:
            text += ", "
        column = len(text.rsplit("\n", 1)[-1])
        text += part.replace("\n", "\n" + " " * column)
    return text + closing


def _summary(x: np.ndarray, index: tuple[int, ...] | None, digits: int | None) -> str:
    """A large array as shape, dtype and 4 values: the first ones, or from ``index`` on."""
    head = f"array of shape {x.shape}, dtype {x.dtype}"
    start = 0 if index is None else int(np.ravel_multi_index(index, x.shape))
    values = x.ravel()[start:start + 4]
    shown = ", ".join(_number(v, digits) for v in values)
    more = ", ..." if start + 4 < x.size else ""
    where = "first values" if start == 0 else f"from {_where(index)}:"  # type: ignore[arg-type]
    text = f"{head}, {where} [{shown}{more}]"
    return text if len(text) <= 80 else f"{head},\n{where} [{shown}{more}]"


def _where(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]"


def _array_text(x: np.ndarray, digits: int | None = 4) -> str:
    if x.dtype.kind == "b" or x.dtype.kind in "iu":
        return np.array2string(x, separator=", ")
    return np.array2string(
        x,
        separator=", ",
        max_line_width=88,
        formatter={
            "float_kind": lambda v: _number(v, digits),
            "complex_kind": lambda v: _number(v, digits),
        },
        threshold=_MAX_FULL_SIZE + 1,
    )


def _scrub(text: str) -> str:
    """Remove memory addresses (``<object at 0x7f...>``): they change on every run."""
    return _ADDRESS.sub("", text)


def _describe_input(
    names: Sequence[str], values: Sequence[object], rebuild: str = ""
) -> list[str]:
    """``input: name = value, ...`` with every digit, then ``rebuild:`` when one is summarised."""
    parts = []
    for name, value in zip(names, values, strict=True):
        text = _text(value, None)
        if _shows_dtype(value):  # a pasted list is float64 or int64: say what it was
            text += f"  # dtype {value.dtype}"
        parts.append(f"{name} = " + text.replace("\n", "\n" + " " * (len(name) + 3)))
    if not parts:
        return ["input: (no arguments)"]
    one_line = ", ".join(parts)
    if "\n" not in one_line and len(one_line) <= 80:
        lines = [f"input: {one_line}"]
    else:
        lines = ["input:"]
        for part in parts:
            lines += [_INDENT + line for line in part.splitlines()]
    if rebuild:
        lines += _block("rebuild", rebuild)
    return lines


def _shows_dtype(value: object) -> bool:
    """A small array printed in full whose dtype a pasted copy would not have."""
    return (isinstance(value, np.ndarray) and value.ndim > 0 and not _too_big(value)
            and value.dtype.kind in "biuf" and value.dtype not in (np.float64, np.int64))


def _too_big(value: object) -> bool:
    """Whether the input block summarises ``value`` instead of printing it in full."""
    if isinstance(value, tuple | list):
        return any(_too_big(v) for v in value)
    return isinstance(value, np.ndarray) and value.dtype.kind in "biufc" and (
        value.size > _MAX_FULL_SIZE)


def _block(key: str, value: str) -> list[str]:
    """``key: value`` where value may span several lines (continuations indented).

    Prose (problem, hint) is wrapped at about 88 characters; values keep their layout.
    """
    pad = " " * (len(key) + 2)
    if key in ("problem", "hint"):
        wrapped = textwrap.wrap(value, width=_WRAP - len(pad), break_on_hyphens=False)
        return [f"{key}: " + "\n".join(wrapped).replace("\n", "\n" + pad)]
    first, *rest = value.splitlines() or [""]
    return [f"{key}: {first}"] + [pad + line for line in rest]


def _is_scalar(x: object) -> bool:
    return isinstance(x, Number | np.number | np.bool_) or (
        isinstance(x, np.ndarray) and x.ndim == 0
    )


def _is_int(x: object) -> bool:
    return isinstance(x, Integral | np.integer) and not isinstance(x, bool | np.bool_)


def _is_bool(x: object) -> bool:
    """A boolean, or an array of booleans."""
    return isinstance(x, bool | np.bool_) or (isinstance(x, np.ndarray) and x.dtype == np.bool_)


def _type_problem(expected: object, got: object, *, integers: bool, booleans: bool) -> str | None:
    """What is wrong with the type of a result whose values are right, or None."""
    if not booleans and _is_bool(got) and not _is_bool(expected):
        return "expected 0/1 integers, got booleans (True/False)"
    if integers and _is_int(expected) and not _is_int(got):
        return f"expected an int, got {_kind(got)}"
    return None


def compare(expected: object, got: object, *, rtol: float = 1e-6, atol: float = 1e-8) -> str | None:
    """None when ``got`` matches ``expected``, else one sentence saying how it differs.

    Arrays are compared by shape first, then by value (``np.allclose``); tuples and
    lists element by element; numbers with the same tolerances; anything else with ``==``.
    Differing numbers print with as many digits as it takes to tell them apart.
    """
    found = _difference(expected, got, rtol=rtol, atol=atol)
    return None if found is None else found["reason"]


def _difference(
    expected: object, got: object, *, rtol: float, atol: float, path: tuple[int, ...] = ()
) -> dict | None:
    """None when ``got`` matches ``expected``, else what :func:`compare` says and where.

    Keys: ``reason`` (the sentence), ``path`` (element indexes into nested tuples),
    ``index`` (the first differing entry of an array, else None), ``differ`` (for
    arrays: ``"3 of 64 entries; first at [2, 5]: expected ..., got ..."``) and
    ``digits`` (the decimals that tell the two values there apart).
    """
    found = _difference_here(expected, got, rtol=rtol, atol=atol, path=path)
    if found is None or "reason" in found:
        return found
    return {"reason": found["sentence"], "path": path, "index": None, "differ": None,
            "digits": found.get("digits", 4)}


def _difference_here(
    expected: object, got: object, *, rtol: float, atol: float, path: tuple[int, ...]
) -> dict | None:
    if got is None and expected is not None:
        return {"sentence": "your function returned None: did you forget the return statement?"}
    if isinstance(expected, tuple | list):
        if not isinstance(got, tuple | list):
            return {"sentence": f"expected a tuple of {len(expected)} values, got {_kind(got)}"}
        if len(got) != len(expected):
            return {"sentence": f"expected a tuple of {len(expected)} values, got {len(got)} "
                                f"values"}
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            inner = _difference(e, g, rtol=rtol, atol=atol, path=(*path, i))
            if inner is not None:  # one prefix for the whole path: "element [0][1] of ..."
                base = inner.get("base", inner["reason"])
                return {**inner, "base": base,
                        "reason": f"{_element(inner['path'])} of the result: {base}"}
        return None
    if isinstance(expected, np.ndarray) and expected.ndim > 0:
        return _compare_arrays(expected, got, rtol=rtol, atol=atol, path=path)
    if _is_scalar(expected):
        if isinstance(got, np.ndarray) and got.ndim > 0:
            return {"sentence": f"expected a single number, got an array of shape {got.shape}"}
        if not _is_scalar(got):
            return {"sentence": f"expected a number, got {_kind(got)}"}
        e, g = np.asarray(expected), np.asarray(got)
        if g.dtype.kind not in "biufc":
            return {"sentence": f"expected a number, got {_kind(got)}"}
        if not np.isclose(_num(g), _num(e), rtol=rtol, atol=atol, equal_nan=True):
            digits = _digits_to_tell_apart(e.item(), g.item())
            return {"sentence": f"expected {_number(e.item(), digits)}, "
                                f"got {_number(g.item(), digits)}", "digits": digits}
        return None
    if got != expected:
        return {"sentence": f"expected {format_value(expected)}, got {format_value(got)}"}
    return None


def _num(a: np.ndarray) -> np.ndarray:
    """Booleans and integers as float64, so that isclose can subtract them."""
    return a.astype(np.float64) if a.dtype.kind in "biu" else a


def _kind(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return f"a {type(x).__name__} ({format_value(x)})"


def _compare_arrays(
    expected: np.ndarray, got: object, *, rtol: float, atol: float, path: tuple[int, ...]
) -> dict | None:
    if _is_scalar(got) and expected.size == 1:
        return {"sentence": f"expected an array of shape {expected.shape}, got a single number"}
    if not isinstance(got, np.ndarray | list | tuple) and not _is_scalar(got):
        return {"sentence": f"expected an array of shape {expected.shape}, got {_kind(got)}"}
    try:
        g = np.asarray(got)
    except ValueError:  # ragged lists
        return {"sentence": f"expected an array of shape {expected.shape}, got a ragged list"}
    if g.shape != expected.shape:
        return {"sentence": f"expected an array of shape {expected.shape}, got shape {g.shape}"}
    if g.dtype.kind not in "biufc":
        return {"sentence": f"expected an array of numbers, got dtype {g.dtype}"}
    close = np.isclose(_num(g), _num(expected), rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~close)[0])
    e_at, g_at = expected[index], g[index]
    digits = _digits_to_tell_apart(e_at, g_at)
    values = f"expected {_number(e_at, digits)}, got {_number(g_at, digits)}"
    n_bad = int((~close).sum())
    # One entry: the expected and got lines, printed with these digits, say it all.
    differ = None if close.size == 1 else (
        f"{n_bad} of {close.size} entries; first at {_where(index)}: {values}")
    return {
        "reason": f"{n_bad} of {close.size} entries differ; the first at {_where(index)}: "
                  f"{values}",
        "path": path, "index": index, "differ": differ, "digits": digits,
    }


def _equal(a: object, b: object) -> bool:
    """Exact equality used to detect a mutated input (NaN equals NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.shape != b_arr.shape or a_arr.dtype != b_arr.dtype:
            return False
        if a_arr.dtype.kind in "fc":
            return bool(np.array_equal(a_arr, b_arr, equal_nan=True))
        return bool(np.array_equal(a_arr, b_arr))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:  # an object whose == does not return a bool
        return a is b


def _results(expected: object, got: object, found: dict | None, *, show_got: bool = True
             ) -> list[str]:
    """The ``expected:``, ``got:`` and (for arrays) ``differ:`` lines of a failure."""
    lines = _block("expected", _text(expected, 4, found))
    if show_got:
        lines += _block("got", _text(got, 4, found))
        if found is not None and found["differ"] is not None:
            element = f"{_element(found['path'])}: " if found["path"] else ""
            lines += _block("differ", element + found["differ"])
    return lines


def _problem(found: dict) -> str:
    """The problem line of a wrong result: the sentence, or "wrong values" for arrays,
    whose ``differ:`` line says the rest."""
    if found["index"] is None:
        return found["reason"]
    what = "wrong value" if found["differ"] is None else "wrong values"
    prefix = f"{_element(found['path'])} of the result: " if found["path"] else ""
    return prefix + what


def _element(path: tuple[int, ...]) -> str:
    """``element [0][1]``: where in nested result tuples a difference is."""
    return "element " + "".join(f"[{i}]" for i in path)


def _modified(names: list[str]) -> str:
    """The problem of a function that changed its inputs ``names`` in place."""
    which = " and ".join(names)
    first = names[0]
    return (
        f"your function modified its input{'s' if len(names) > 1 else ''} {which} in place; "
        f"the caller owns {'them' if len(names) > 1 else 'it'}. Compute a new value "
        f"({first} = {first} + ...) instead of changing it ({first} += ... or {first}[...] = ...)"
    )
