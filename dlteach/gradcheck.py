"""Gradient checking: compare backprop's gradients with finite differences.

Backpropagation is easy to get almost right. The check is simple: nudge one
number by +-eps, see how the loss moves, and compare with what ``backward``
claims (the central difference)::

    dL/dx_i  ~=  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

``gradcheck`` does this for every element of the input and of every parameter,
and prints a table that says which tensor is wrong::

    >>> report = gradcheck(Dense(4, 3, rng=0), np.random.default_rng(0).normal(size=(5, 4)))
    >>> report.passed()
    True

Relative error (the number in the table), per tensor a (analytic) and n (numerical)::

    error = max_i |a_i - n_i| / max(max_i |a_i|, max_i |n_i|, floor)    (0 when all are 0)

Dividing by the largest gradient of the *tensor*, not element by element, keeps
tiny elements (say 1e-12 against 3e-12, which are both rounding noise) from
looking like failures. In float64 a correct gradient gives between about 1e-10
and 1e-8, a wrong one ~1e-2 or more; the default tolerance is 1e-7.

The floor is the limit of finite differences themselves. L is computed in float64,
so it is only known to about u |L| (u = 2.2e-16, the float64 rounding unit), and
each central difference carries a rounding noise of up to about u |L| / eps,
whatever the size of the gradient. With a mean loss over N examples every gradient
shrinks like 1/N but that noise does not: at N = 300 a correct input gradient of
about 2e-4 would show a relative error of 5e-7 to 1e-6 and fail. So each tensor is
measured against at least::

    floor = 4 u |L| / (eps * 1e-7)        (about 0.009 |L| with eps = 1e-6)

the gradient size at which four times the rounding noise is a relative error of
1e-7. Below it, a difference within the noise passes, while a real bug (a factor 2,
a transpose, a dropped term: a difference comparable to the gradient itself) still
gives an error far above the tolerance, unless the gradient is itself as small as
the noise.
|L| is the largest |L| met while differencing; the report notes which tensors were
measured against the floor. A tensor whose true gradient is zero everywhere (a dead
ReLU layer) can only show rounding noise: check its "max |grad|" column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlteach.core import Layer, Parameter, check_unique_layers
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.losses import Loss
from dlteach.validation import as_array, as_rng, check_array, check_positive

DEFAULT_TOL = 1e-7
# Rounding noise of one central difference, in units of u |L| / eps, allowed at DEFAULT_TOL.
NOISE_FACTOR = 4.0


def rounding_floor(abs_loss: float, eps: float) -> float:
    """The smallest gradient finite differences resolve to DEFAULT_TOL: 4 u |L| / (eps 1e-7).

    abs_loss: |L| at the checked point;  eps: the finite-difference step.
    """
    return NOISE_FACTOR * np.finfo(np.float64).eps * abs_loss / (eps * DEFAULT_TOL)


def relative_error(analytic: np.ndarray, numerical: np.ndarray, *, floor: float = 0.0) -> float:
    """max|a - n| / max(max|a|, max|n|, floor) over a whole tensor; 0.0 when all are zero.

    analytic, numerical: arrays of the same shape. NaN or inf anywhere gives nan.
    floor: the smallest denominator, for gradients below the rounding noise of finite
    differences (see :func:`rounding_floor`); 0 compares every tensor with itself.
    """
    owner = "relative_error"
    a = check_array(analytic, owner=owner, name="analytic", kind="number", allow_empty=True)
    n = check_array(numerical, owner=owner, name="numerical", kind="number", allow_empty=True)
    a, n = a.astype(np.float64, copy=False), n.astype(np.float64, copy=False)
    if a.shape != n.shape:
        raise ShapeError(
            f"relative_error: analytic and numerical must have the same shape, "
            f"got {a.shape} and {n.shape}."
        )
    if a.size == 0:
        return 0.0
    if not (np.isfinite(a).all() and np.isfinite(n).all()):
        return float("nan")
    scale = max(np.abs(a).max(), np.abs(n).max(), floor)
    if scale == 0:
        return 0.0
    with np.errstate(over="ignore"):
        diff = np.abs(a - n).max()
    if np.isinf(diff):  # a - n passed float64's range (1e308 against -1e308): divide first
        return float(np.abs(a / scale - n / scale).max())
    return float(diff / scale)


@dataclass(eq=False)
class GradcheckReport:
    """The result of :func:`gradcheck`: one relative error per checked tensor.

    errors: {"input": 3e-11, "W": 2e-10, ...}; inside a Sequential the
        parameter names carry the layer's index: "0.W", "2.b".
    analytic, numerical: the two gradients of every tensor, to inspect by hand.
    abs_loss: the largest |L| met while differencing; it sets the rounding floor
        (0: no floor, every tensor is compared with its own largest gradient).
    """

    checked: str
    objective: str
    eps: float
    analytic: dict[str, np.ndarray]
    numerical: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)
    abs_loss: float = 0.0
    errors: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        self.errors = {
            name: relative_error(a, self.numerical[name], floor=self.floor)
            for name, a in self.analytic.items()
        }

    @property
    def floor(self) -> float:
        """The smallest gradient size errors are measured against (see the module doc)."""
        return rounding_floor(self.abs_loss, self.eps)

    def below_floor(self) -> list[str]:
        """Names of the tensors whose gradients are smaller than :attr:`floor`."""
        return [
            name
            for name, a in self.analytic.items()
            if a.size and max(np.abs(a).max(), np.abs(self.numerical[name]).max()) < self.floor
        ]

    @property
    def max_error(self) -> float:
        """The largest relative error over all tensors (nan if any gradient was nan/inf)."""
        values = list(self.errors.values())
        if any(np.isnan(v) for v in values):
            return float("nan")
        return max(values, default=0.0)

    def passed(self, tol: float = DEFAULT_TOL) -> bool:
        """True when every tensor's relative error is at most ``tol``."""
        tol = check_positive(tol, owner="GradcheckReport.passed", name="tol")
        return all(e <= tol for e in self.errors.values())  # nan <= tol is False

    def failed(self, tol: float = DEFAULT_TOL) -> list[str]:
        """Names of the tensors whose relative error exceeds ``tol``."""
        tol = check_positive(tol, owner="GradcheckReport.failed", name="tol")
        return [name for name, e in self.errors.items() if not e <= tol]

    def worst(self, name: str) -> tuple[tuple[int, ...], float, float]:
        """(index, analytic, numerical) where tensor ``name``'s gradients differ most."""
        if name not in self.analytic:
            raise InvalidValueError(
                f"GradcheckReport: no tensor named {name!r}; the tensors are {list(self.analytic)}."
            )
        a, n = self.analytic[name], self.numerical[name]
        with np.errstate(over="ignore"):  # a difference beyond float64's range is inf
            diff = np.abs(a.astype(np.float64) - n)
        diff = np.where(np.isnan(diff), np.inf, diff)  # point at a nan first
        idx = np.unravel_index(int(np.argmax(diff)), a.shape) if a.size else ()
        index = tuple(int(i) for i in idx)
        return index, float(a[index]), float(n[index])

    def summary(self, tol: float = DEFAULT_TOL, exact: bool = False) -> str:
        """The table that ``print(report)`` shows, judged against ``tol``.

        A passing error is shown as ``< tol``: its digits are rounding noise that changes
        with the CPU's BLAS kernel and thread count, so a stored notebook output must not
        hold them. ``exact=True`` prints them anyway (``errors`` holds them too). A failing
        error, and the two gradients where they differ most, are printed to the digits
        the finite differences guarantee.
        """
        tol = check_positive(tol, owner="GradcheckReport.summary", name="tol")
        lines = [f"gradcheck of {self.checked}", f"  L = {self.objective}, eps = {self.eps:g}"]
        names = list(self.analytic)
        shapes = {name: str(tuple(self.analytic[name].shape)) for name in names}
        w_name = max([len("tensor"), *(len(n) for n in names)])
        w_shape = max([len("shape"), *(len(s) for s in shapes.values())])
        lines.append(
            f"  {'tensor':<{w_name}}  {'shape':<{w_shape}}  {'max |grad|':>10}  {'rel. error':>10}"
        )
        for name in names:
            a = self.analytic[name]
            scale = float(np.abs(a).max()) if a.size else 0.0
            err = self.errors[name]
            shown = f"{err:.1e}" if exact or not err <= tol else f"< {tol:g}"
            row = f"  {name:<{w_name}}  {shapes[name]:<{w_shape}}  {scale:>10.1e}  {shown:>10}"
            if err <= tol:
                row += "  ok"
            else:
                index, av, nv = self.worst(name)
                where = "[" + ", ".join(map(str, index)) + "]"
                row += f"  FAIL  worst at {where}: analytic {av:.4g}, numerical {nv:.4g}"
            lines.append(row)
        lines.extend(f"  note: {note}" for note in self.notes)
        small = self.below_floor()
        if small:
            lines.append(
                f"  note: {', '.join(small)}: gradients below the rounding floor "
                f"{self.floor:.1e} = 4 u |L| / (eps * 1e-7); errors are relative to the floor"
            )
        bad = [n for n in names if not self.errors[n] <= tol]
        if bad:
            lines.append(
                f"FAILED (tol {tol:g}): the gradient of {', '.join(bad)} does not match "
                f"finite differences."
            )
        else:
            worst = f"max relative error {self.max_error:.1e}" if exact else (
                "every relative error below the tolerance")
            lines.append(f"passed (tol {tol:g}): {worst}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        errors = ", ".join(f"{name!r}: {e:.1e}" for name, e in self.errors.items())
        return f"GradcheckReport({self.checked}, passed={self.passed()}, errors={{{errors}}})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))


# --- saving and restoring everything the check touches ------------------------------------


def _layers_in(root: Layer) -> list[Layer]:
    """root and every layer reachable from it (attributes, lists, tuples, dicts)."""
    seen: set[int] = set()
    out: list[Layer] = []
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        out.append(obj)
        for value in vars(obj).values():
            items = value.values() if isinstance(value, dict) else value
            if isinstance(value, Layer):
                stack.append(value)
            elif isinstance(value, list | tuple | dict):
                stack.extend(v for v in items if isinstance(v, Layer))
    return out


class _Snapshot:
    """Attributes of some objects, and the contents of their arrays, to put back later."""

    def __init__(self, objects: list[Any]) -> None:
        self._saved = []
        for obj in objects:
            attrs = dict(vars(obj))
            contents = {
                k: v.copy()
                for k, v in attrs.items()
                if isinstance(v, np.ndarray) and v.dtype != object
            }
            self._saved.append((obj, attrs, contents))

    def restore(self) -> None:
        for obj, attrs, contents in self._saved:
            state = vars(obj)
            state.clear()
            state.update(attrs)
            for k, saved in contents.items():
                arr = attrs[k]
                # An array changed in place (a running average, say) gets its contents back.
                if arr.tobytes() != saved.tobytes():
                    np.copyto(arr, saved)


# --- the check ----------------------------------------------------------------------------


def _numerical_grad(
    f: Callable[[], float], arr: np.ndarray, eps: float
) -> tuple[np.ndarray, float]:
    """Central differences of f() with respect to every element of arr (perturbed in place).

    Returns (the gradient, shaped like arr;  the largest |f| met, for the rounding floor).
    """
    flat = arr.reshape(-1)
    if not np.shares_memory(flat, arr):  # cannot happen: arr is always our own contiguous copy
        raise RuntimeError("gradcheck: internal error, the perturbed array is not contiguous.")
    grad = np.empty(arr.size, dtype=np.float64)
    abs_f = 0.0
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = f()
        flat[i] = old - eps
        f_minus = f()
        flat[i] = old  # put it back exactly
        grad[i] = (f_plus - f_minus) / (2 * eps)
        abs_f = max(abs_f, abs(f_plus), abs(f_minus))
    return grad.reshape(arr.shape), abs_f


def _check_grad(grad: object, expected: tuple[int, ...], who: str, name: str) -> np.ndarray:
    if grad is None:
        raise DTypeError(f"gradcheck: {who} returned None for {name}. Did you forget `return`?")
    grad = np.asarray(grad)
    if grad.shape != expected:
        raise ShapeError(
            f"gradcheck: {who} gave a gradient for {name} of shape {grad.shape}, "
            f"expected {expected} (the shape of {name})."
        )
    return np.array(grad, dtype=np.float64)


def _float64_target(target: object) -> object:
    if target is None:
        return None
    arr = as_array(target, owner="gradcheck", name="target")
    return arr.astype(np.float64) if arr.dtype.kind == "f" else arr.copy()


def gradcheck(
    fn_or_layer: Layer | Loss | Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    *,
    target: np.ndarray | None = None,
    loss: Loss | None = None,
    eps: float = 1e-6,
    seed: int | np.random.Generator | None = 0,
) -> GradcheckReport:
    """Compare analytic gradients (backward) with central differences, tensor by tensor.

    What is checked depends on the first argument:

    - a Layer (Dense, ReLU, a Sequential model...), x: its input. Without a loss the
      scalar is L = sum(output * R), output = layer.forward(x), with a fixed random R
      (from ``seed``) of the output's shape, so every output element matters. With
      ``loss=`` and ``target=`` it is L = loss(output, target), the real training objective.
      Checked: dL/dx ("input") and every parameter ("W", "b", or "0.W" in a Sequential).
    - a Loss, x: its prediction, ``target=`` required. Checked: dL/dpred ("input").
    - a function f(x) -> (L, dL/dx). Checked: dL/dx ("input").

    Nothing the caller owns is left modified: x is copied, and the layer's
    parameters, gradients and caches are put back exactly as they were.

    Precision: the check runs in float64. A float32 x or float32 parameters are
    copied to float64 for the check (the report says so), because in float32 the
    rounding alone gives relative errors of about 1e-3, hiding real bugs. A layer
    that draws random numbers in forward (dropout) must be put in eval mode first.

    eps: the finite-difference step; 1e-6 balances truncation and rounding errors.
    Rounding still limits each numerical derivative to about 2.2e-16 |L| / eps, so
    gradients much smaller than |L| (a mean loss over many examples) are measured
    against a floor rather than against themselves: see the module docstring.
    """
    eps = check_positive(eps, owner="gradcheck", name="eps")
    x_in = check_array(x, owner="gradcheck", name="x")
    notes: list[str] = []
    widened = []
    if x_in.dtype != np.float64:
        widened.append(f"x was {x_in.dtype}")
    x64 = np.array(x_in, dtype=np.float64, copy=True, order="C")
    target64 = _float64_target(target)

    if isinstance(fn_or_layer, Loss):
        if loss is not None:
            raise InvalidValueError(
                f"gradcheck: {fn_or_layer!r} is already a loss; pass loss= only with a layer."
            )
        if target is None:
            raise InvalidValueError(
                f"gradcheck: checking {fn_or_layer!r} needs target=..., "
                f"e.g. gradcheck({fn_or_layer!r}, pred, target=y)."
            )
        return _check_loss(fn_or_layer, x64, target64, eps, notes + _widened_note(widened))
    if isinstance(fn_or_layer, Layer):
        check_unique_layers(fn_or_layer, "gradcheck")
        if loss is not None and not isinstance(loss, Loss):
            raise DTypeError(
                f"gradcheck: expected loss to be a Loss such as SoftmaxCrossEntropy(), "
                f"got {type(loss).__name__}."
            )
        if loss is not None and target is None:
            raise InvalidValueError(f"gradcheck: loss={loss!r} needs target=... too.")
        if loss is None and target is not None:
            raise InvalidValueError(
                "gradcheck: target= is only used with a loss; pass loss=... as well, "
                "e.g. loss=SoftmaxCrossEntropy()."
            )
        return _check_layer(fn_or_layer, x64, target64, loss, eps, seed, widened)
    if callable(fn_or_layer):
        if loss is not None or target is not None:
            raise InvalidValueError(
                "gradcheck: loss= and target= are only used with a layer or a loss, "
                "not with a function."
            )
        return _check_function(fn_or_layer, x64, eps, notes + _widened_note(widened))
    raise DTypeError(
        f"gradcheck: expected a Layer, a Loss or a function f(x) -> (L, dL/dx), "
        f"got {type(fn_or_layer).__name__}."
    )


def _widened_note(widened: list[str]) -> list[str]:
    if not widened:
        return []
    return [
        f"{' and '.join(widened)}; the check ran on float64 copies "
        f"(in float32, rounding alone gives relative errors near 1e-3)."
    ]


def _check_loss(
    loss: Loss, x64: np.ndarray, target: object, eps: float, notes: list[str]
) -> GradcheckReport:
    snapshot = _Snapshot([loss])
    try:
        loss.forward(x64, target)
        analytic = _check_grad(loss.backward(), x64.shape, f"{loss!r}.backward()", "the input")
        numerical, abs_loss = _numerical_grad(
            lambda: float(loss.forward(x64, target)), x64, eps
        )
    finally:
        snapshot.restore()
    return GradcheckReport(
        checked=repr(loss),
        objective=f"{loss!r}(input, target)",
        eps=eps,
        analytic={"input": analytic},
        numerical={"input": numerical},
        notes=notes,
        abs_loss=abs_loss,
    )


def _check_function(
    fn: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x64: np.ndarray,
    eps: float,
    notes: list[str],
) -> GradcheckReport:
    name = getattr(fn, "__name__", type(fn).__name__)
    out = fn(x64.copy())
    if not (isinstance(out, tuple) and len(out) == 2):
        raise DTypeError(
            f"gradcheck: expected {name}(x) to return a pair (loss, gradient), "
            f"got {type(out).__name__}."
        )
    analytic = _check_grad(out[1], x64.shape, f"{name}(x)", "x")
    numerical, abs_loss = _numerical_grad(lambda: float(fn(x64)[0]), x64, eps)
    return GradcheckReport(
        checked=f"{name}(x)",
        objective=f"{name}(x)[0]",
        eps=eps,
        analytic={"input": analytic},
        numerical={"input": numerical},
        notes=notes,
        abs_loss=abs_loss,
    )


def _check_layer(
    layer: Layer,
    x64: np.ndarray,
    target: object,
    loss: Loss | None,
    eps: float,
    seed: int | np.random.Generator | None,
    widened: list[str],
) -> GradcheckReport:
    rng = as_rng(seed, owner="gradcheck")
    params: dict[str, Parameter] = layer.named_parameters()
    if "input" in params:
        raise InvalidValueError(
            f"gradcheck: {layer!r} has a parameter named 'input', which clashes with the "
            f"report's name for the input gradient. Rename the parameter."
        )
    owned: list[Any] = _layers_in(layer) + ([loss] if loss is not None else [])
    snapshot = _Snapshot(owned)
    saved_params = [(p, p.value, p.grad) for p in params.values()]
    narrow = sorted({str(p.value.dtype) for p in params.values() if p.value.dtype != np.float64})
    if narrow:
        widened.append(f"parameters were {'/'.join(narrow)}")
    try:
        for p in params.values():
            # Work on float64 copies, with zeroed gradients: the caller's arrays stay untouched.
            p.value = np.array(p.value, dtype=np.float64, copy=True, order="C")
            p.grad = np.zeros_like(p.value)
        y = layer.forward(x64)
        if not isinstance(y, np.ndarray):
            raise DTypeError(
                f"gradcheck: {layer!r}.forward returned {type(y).__name__}, expected an array."
                + (" Did you forget `return`?" if y is None else "")
            )
        if loss is None:
            r = rng.standard_normal(np.shape(y))
            objective = "sum(output * R), R fixed random"

            def f() -> float:
                return float(np.sum(layer.forward(x64) * r))

            grad_x = layer.backward(r)
        else:
            objective = f"{loss!r}(output, target)"

            def f() -> float:
                return float(loss.forward(layer.forward(x64), target))

            loss.forward(y, target)
            grad_x = layer.backward(loss.backward())
        analytic = {"input": _check_grad(grad_x, x64.shape, f"{layer!r}.backward", "the input")}
        for name, p in params.items():
            analytic[name] = _check_grad(p.grad, p.value.shape, f"{layer!r}.backward", name)
        perturbed = {"input": x64} | {name: p.value for name, p in params.items()}
        numerical, abs_loss = {}, 0.0
        for name, arr in perturbed.items():
            numerical[name], largest = _numerical_grad(f, arr, eps)
            abs_loss = max(abs_loss, largest)
    finally:
        for p, value, grad in reversed(saved_params):
            p.value, p.grad = value, grad
        snapshot.restore()
    return GradcheckReport(
        checked=" ".join(repr(layer).split()),
        objective=objective,
        eps=eps,
        analytic=analytic,
        numerical=numerical,
        notes=_widened_note(widened),
        abs_loss=abs_loss,
    )
