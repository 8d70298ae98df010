"""Run a notebook in a fresh kernel of *this* Python environment, cell by cell.

Used by the grader (errors allowed, so later checks still report) and by refresh
(stop at the first error). The kernel is the ``python3`` ipykernel of the running
interpreter, as with nbval's ``--nbval-current-env``: a ``python3`` kernelspec a
user installed elsewhere cannot make ``import dlteach`` fail. Its environment is
hermetic (see :func:`kernel_env`) so that stored outputs do not depend on the
user's IPython profile.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import ipykernel.kernelspec
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from traitlets import default

from dlteach.tools.cell_names import CellNames, cell_names

KERNEL_NAME = "python3"
TIMEOUT_ENAME = "CellTimeoutError"
# After interrupting a cell that timed out, how long the kernel may take to answer again.
RESPONSIVE_WAIT = 10

_ipython_dir: str | None = None


def _empty_ipython_dir() -> str:
    global _ipython_dir
    if _ipython_dir is None:
        _ipython_dir = tempfile.mkdtemp(prefix="dlteach-ipython-")
        atexit.register(shutil.rmtree, _ipython_dir, ignore_errors=True)
    return _ipython_dir


def kernel_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a notebook kernel: ``base`` (default ``os.environ``) made hermetic.

    - ``IPYTHONDIR`` points to an empty folder: a user's startup files or profile
      (say, SVG figures or an extension that prints) would change the outputs.
    - ``MPLBACKEND`` is removed, so the kernel uses the inline backend: with
      ``MPLBACKEND=Agg`` inherited from a shell, figures would silently vanish.
    - ``PYDEVD_DISABLE_FILE_VALIDATION`` silences the debugger's frozen-modules warning.
    - The thread policy of :mod:`dlteach.tools.threads`: BLAS/OpenMP thread variables
      default to 1 (``DLTEACH_THREADS`` or an explicit ``OPENBLAS_NUM_THREADS`` etc.
      override it), so a kernel on a shared, busy machine does not spin idle threads.
      Raises :class:`~dlteach.tools.threads.ThreadSettingError` for an invalid
      ``DLTEACH_THREADS``.
    """
    from dlteach.tools.threads import apply_thread_policy

    env = apply_thread_policy(os.environ if base is None else base)
    env.pop("MPLBACKEND", None)
    env["IPYTHONDIR"] = _empty_ipython_dir()
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    return env


class _CurrentEnvKernelSpecManager(KernelSpecManager):
    """Every kernel name resolves to the ipykernel of the running interpreter."""

    def get_kernel_spec(self, kernel_name: str):
        return self.kernel_spec_class(
            resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict()
        )


class _CurrentEnvKernelManager(AsyncKernelManager):
    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return _CurrentEnvKernelSpecManager(data_dir=self.data_dir)


@dataclass(frozen=True)
class CellEvent:
    """Something that went wrong while running one cell.

    index: 0-based cell index in the notebook.
    kind: "error" (the cell raised), "timeout" (it ran longer than the limit and was
        interrupted), "dead kernel" (the kernel died), "unresponsive" (the kernel
        did not answer after the interrupt; the remaining cells were not run) or
        "not run" (the cell needs a name that a cell which hit the time limit would
        have defined: it was skipped, ename and evalue empty, or it ran and raised
        NameError for that name, ename "NameError").
    cause: for "not run", the 0-based index of the cell that hit the time limit. For a
        NameError after a timed-out cell whose names could not be worked out (say a
        ``from m import *``), that cell: the timeout may be why the name is missing.
    needs: for "not run", the missing name.
    provider: for "not run", the cell that would have defined it: ``cause`` itself,
        or a later cell that was not run either.
    """

    index: int
    kind: str
    ename: str
    evalue: str
    cause: int | None = None
    needs: str = ""
    provider: int | None = None


def cell_summary(cell: NotebookNode, width: int = 50) -> str:
    """The cell's first non-empty line, shortened: how a learner recognizes a cell."""
    line = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def execute_notebook(
    nb: NotebookNode,
    cwd: str | Path,
    *,
    timeout_per_cell: float,
    stop_on_error: bool,
    startup_timeout: float = 60,
) -> list[CellEvent]:
    """Run every code cell of ``nb`` in place (outputs and execution counts are replaced).

    A cell that runs longer than ``timeout_per_cell`` seconds is interrupted and
    reported; with ``stop_on_error`` the run stops at the first error or timeout.
    Without it, the run goes on, but a later cell that reads a name the interrupted
    cell would have defined is not run (a "not run" event; what it defines is missing
    in turn), and a NameError for such a name is reported as "not run" too, not as an
    error of that cell (see :class:`_TimeoutFallout`). Cells that do not depend on the
    interrupted cell run as usual.
    A kernel that dies, or stays busy after the interrupt, ends the run.
    Raises whatever starting the kernel raises (e.g. RuntimeError on a startup timeout).
    """
    events: list[CellEvent] = []
    timeout = max(1, round(timeout_per_cell))

    def on_cell_error(cell: NotebookNode, cell_index: int, execute_reply: dict) -> None:
        content = execute_reply["content"]
        kind = "timeout" if content.get("ename") == TIMEOUT_ENAME else "error"
        events.append(CellEvent(cell_index, kind, content.get("ename", "Error"),
                                content.get("evalue", "")))

    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=int(startup_timeout),
        kernel_name=KERNEL_NAME,
        kernel_manager_class=_CurrentEnvKernelManager,
        allow_errors=not stop_on_error,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME,
                          "evalue": f"the cell ran longer than {timeout} s",
                          "traceback": []},
        record_timing=False,
        on_cell_error=on_cell_error,
    )
    # The kernel's own log (e.g. ipykernel's TCP warning) would only clutter the report.
    with client.setup_kernel(cwd=str(cwd), env=kernel_env(), stderr=subprocess.DEVNULL):
        fallout = _TimeoutFallout(nb)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            skipped = fallout.skip(index)
            if skipped is not None:
                events.append(skipped)
                continue
            n_events = len(events)
            try:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except CellExecutionError:
                break  # stop_on_error: on_cell_error has recorded it
            except DeadKernelError:
                events.append(CellEvent(index, "dead kernel", "DeadKernelError",
                                        "the kernel died while running this cell"))
                break
            except CellTimeoutError as exc:  # IOPub stalled even after the interrupt
                events.append(CellEvent(index, "unresponsive", "CellTimeoutError", str(exc)))
                break
            timed_out = any(e.kind == "timeout" for e in events[n_events:])
            if timed_out and not _responsive(client):
                client.shutdown_kernel = "immediate"  # a graceful shutdown would wait for it
                events.append(CellEvent(index, "unresponsive", "CellTimeoutError",
                                        "the kernel did not stop after the interrupt"))
                break
            events[n_events:] = fallout.ran(index, events[n_events:])
    return events


def _responsive(client: NotebookClient) -> bool:
    """Whether the kernel answers a kernel_info request within RESPONSIVE_WAIT seconds."""
    saved = client.timeout, client.shell_timeout_interval
    client.timeout, client.shell_timeout_interval = RESPONSIVE_WAIT, min(5, RESPONSIVE_WAIT)
    try:
        return client.wait_for_reply(client.kc.kernel_info()) is not None
    except DeadKernelError:
        return False
    finally:
        client.timeout, client.shell_timeout_interval = saved


# ---------------------------------------------------------------- what a timeout leaves missing

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The frame of the running cell in an IPython traceback: "Cell In[3], line 12".
_CELL_FRAME = re.compile(r"(?:Cell|Input) In ?\[\d*\], line (\d+)")
_NAME_ERROR = re.compile(r"name '([^']+)' is not defined")


def _interrupted_line(cell: NotebookNode) -> int | None:
    """The line of the cell's own code that an interrupt stopped, from its traceback."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            match = _CELL_FRAME.search(_ANSI.sub("", "\n".join(output.get("traceback", []))))
            if match:
                return int(match.group(1))
    return None


class _TimeoutFallout:
    """Which names the cells that hit the time limit left missing, and who needs them.

    After a cell is interrupted, the names it binds (but for the imports, functions and
    classes it had finished defining before the interrupted line) are missing or half
    computed. A later cell that reads one is not run, and what it binds is missing in
    turn. A cell that runs to its end binds its names afresh.
    """

    def __init__(self, nb: NotebookNode) -> None:
        self.nb = nb
        self.missing: dict[str, tuple[int, int]] = {}  # name -> (provider, cause)
        self.unknown: int | None = None  # a timed-out cell whose names could not be worked out
        self._names: dict[int, CellNames | None] = {}

    def names(self, index: int) -> CellNames | None:
        if index not in self._names:
            self._names[index] = cell_names(self.nb.cells[index].source)
        return self._names[index]

    def _lose(self, names: frozenset[str], provider: int, cause: int, complete: bool) -> None:
        for name in names:
            self.missing[name] = (provider, cause)
        if not complete and self.unknown is None:
            self.unknown = cause

    def skip(self, index: int) -> CellEvent | None:
        """A "not run" event when cell ``index`` reads a missing name, else None: run it."""
        if not self.missing:
            return None
        names = self.names(index)
        needed = next((n for n in names.reads if n in self.missing), None) if names else None
        if needed is None:
            return None
        provider, cause = self.missing[needed]
        self._lose(names.binds, index, cause, names.complete)
        return CellEvent(index, "not run", "", "", cause=cause, needs=needed, provider=provider)

    def ran(self, index: int, events: list[CellEvent]) -> list[CellEvent]:
        """The events of cell ``index``, which just ran, a NameError for a missing name
        made "not run"; notes what the cell leaves missing, or binds afresh."""
        if any(e.kind == "timeout" for e in events):
            names = self.names(index)
            if names is None:
                self.unknown = index if self.unknown is None else self.unknown
            else:
                line = _interrupted_line(self.nb.cells[index])
                self._lose(names.unfinished(line), index, index, names.complete)
            return events
        if not events:
            names = self.names(index) if self.missing else None
            for name in names.binds if names else ():
                self.missing.pop(name, None)
            return events
        result = []
        for event in events:
            match = (_NAME_ERROR.search(event.evalue)
                     if event.kind == "error" and event.ename == "NameError" else None)
            if match and match.group(1) in self.missing:
                provider, cause = self.missing[match.group(1)]
                names = self.names(index)
                if names is not None:
                    self._lose(names.binds, index, cause, names.complete)
                event = replace(event, kind="not run", cause=cause, needs=match.group(1),
                                provider=provider)
            elif match and self.unknown is not None:
                event = replace(event, cause=self.unknown)
            result.append(event)
        return result
