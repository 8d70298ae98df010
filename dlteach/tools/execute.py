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
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ipykernel.kernelspec
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from traitlets import default

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
    """
    env = dict(os.environ if base is None else base)
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
        interrupted), "dead kernel" (the kernel died) or "unresponsive" (the kernel
        did not answer after the interrupt; the remaining cells were not run).
    """

    index: int
    kind: str
    ename: str
    evalue: str


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
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
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
