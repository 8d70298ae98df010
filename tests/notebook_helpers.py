"""Small notebooks for the tests of the grader and the command line."""

from __future__ import annotations

from pathlib import Path

import nbformat

from dlteach.checking import VERDICT_MIMETYPE

# Defines verdict(name, status, message): displays a verdict through the protocol by hand,
# cheap enough for a 1-2 s cell limit.
VERDICT = (
    "from IPython.display import display\n"
    "def verdict(name, status, message=''):\n"
    "    display({'text/plain': f'{name}: {status}',\n"
    f"             {VERDICT_MIMETYPE!r}: dict(exercise=name, status=status, message=message)}},\n"
    "            raw=True)"
)


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    """Save nb at path (creating its folder) with a Python 3 kernelspec; returns path."""
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def wait_for_server(process, request, log_tail, wait: float, what: str) -> None:
    """Poll ``request("GET", "/api/status")`` until it answers 200; fail the test with the
    server's log if ``process`` exits first or ``wait`` seconds pass."""
    import time

    import pytest

    deadline = time.monotonic() + wait
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with code {process.returncode}:\n{log_tail()}")
        try:
            if request("GET", "/api/status")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"JupyterLab did not answer within {wait} s:\n{log_tail()}")
        time.sleep(0.3)
