"""How many threads the numerical libraries of the kernels dlteach starts may use.

The policy, in one place. Every kernel dlteach starts — ``dlteach grade``,
``dlteach refresh``, the nbval run of ``python -m pytest`` (``conftest.py``) and the
kernels of ``dlteach open``'s JupyterLab (they inherit the server's environment) —
gets these variables, highest priority first:

1. ``--threads N`` on ``dlteach grade``/``refresh``/``open``: every thread variable
   below is set to N, whatever the environment says. ``--threads auto`` removes them
   all, so each library picks its own count (OpenBLAS: one thread per core).
2. A thread variable set explicitly (non-empty), e.g. ``OPENBLAS_NUM_THREADS=2``:
   kept as it is for its library.
3. ``DLTEACH_THREADS=N`` (a positive whole number) sets the variables not set
   explicitly to N; ``DLTEACH_THREADS=auto`` sets none of them.
4. Otherwise: 1 (:data:`DEFAULT_THREADS`).

The variables (:data:`THREAD_VARIABLES`): ``OPENBLAS_NUM_THREADS`` (NumPy's BLAS),
``OMP_NUM_THREADS`` (OpenMP: scikit-learn, PyTorch, OpenBLAS builds that use it),
``MKL_NUM_THREADS``, ``BLIS_NUM_THREADS``, ``VECLIB_MAXIMUM_THREADS`` (macOS
Accelerate) and ``NUMEXPR_NUM_THREADS``. Nothing else is touched: in particular
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` pass through unchanged.

Why 1 by default (measured with ``benchmarks/bench_busy.py`` on a 2-core VM, grading
lesson 3's solution; numbers in ``benchmarks/README.md``): classrooms share machines,
and OpenBLAS's worker threads spin while they wait for work. With three busy
processes, 2 BLAS threads (OpenBLAS's default here) took 150-154 s instead of 19 s
idle, with two cells interrupted at the 60 s limit, and burnt ~78 s of CPU; 1 thread
took 34-43 s (45-56 s with other people's programs running as well; the fair share
of 2 cores among 4 takers alone makes it 2x), its slowest cell under 12 s, with the
same ~20-24 s of CPU as idle. Idle, 1 thread was as fast as 2 (17.3-17.8 s against
18.0-18.7 s) with a fifth less CPU: the course's matrices are too small for a second
thread to pay off.

The variables must be in a process's environment before NumPy loads, so they are
applied to the environment of the kernel (or server) about to start, never to a
running process (for that, see ``threadpoolctl``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dlteach.errors import DLTeachError

ENV_VARIABLE = "DLTEACH_THREADS"
DEFAULT_THREADS = 1
AUTO = "auto"
THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class ThreadSettingError(DLTeachError, ValueError):
    """A thread count that is neither a positive whole number nor 'auto'."""


def parse_threads(value: str | int, source: str = ENV_VARIABLE) -> int | None:
    """A thread count from text: a positive whole number, or None for 'auto'.

    ``source`` names where the value came from (a variable or an option) in the error.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ThreadSettingError(f"{source} must be a positive whole number or '{AUTO}', "
                                 f"got {value!r}.")
    if text.lower() == AUTO:
        return None
    if text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    raise ThreadSettingError(f"{source} must be a positive whole number of threads or "
                             f"'{AUTO}', got {value!r}.")


def requested_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """The count asked for by ``DLTEACH_THREADS`` (default 1); None means 'auto'."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VARIABLE, "")
    if not value.strip():
        return DEFAULT_THREADS
    return parse_threads(value, ENV_VARIABLE)


def thread_env(environ: Mapping[str, str] | None = None,
               threads: int | str | None = None) -> dict[str, str | None]:
    """The changes the policy makes to ``environ`` (default ``os.environ``).

    Returns ``{variable: value}``, where a value of None means "remove the variable".
    ``threads`` is a command-line override (a count or 'auto'); None means none was
    given, so explicit variables and ``DLTEACH_THREADS`` decide. Raises
    :class:`ThreadSettingError` for an invalid ``DLTEACH_THREADS`` or ``threads``.
    """
    environ = os.environ if environ is None else environ
    if threads is not None:  # the command line wins over everything
        count = parse_threads(threads, "--threads")
        value = None if count is None else str(count)
        changes: dict[str, str | None] = {name: value for name in THREAD_VARIABLES}
        changes[ENV_VARIABLE] = AUTO if count is None else str(count)
        return changes
    count = requested_threads(environ)
    if count is None:
        return {}
    return {name: str(count) for name in THREAD_VARIABLES
            if not environ.get(name, "").strip()}


def apply_thread_policy(environ: Mapping[str, str] | None = None,
                        threads: int | str | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default ``os.environ``) with the thread policy applied."""
    env = dict(os.environ if environ is None else environ)
    for name, value in thread_env(env, threads).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
