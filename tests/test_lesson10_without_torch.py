"""Lesson 10 passes strict nbval where PyTorch is not installed, even on a machine that has it.

The stored outputs come from a run with PyTorch. Without it, every PyTorch cell prints how
to install it and does nothing else; those cells are tagged ``nbval-ignore-output`` (they
assert what matters where PyTorch is there), so the rest of the lesson must still compare
equal. Here PyTorch is hidden from the kernel by a ``torch`` package, first on its path,
whose import fails as a missing PyTorch's does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
LESSON = REPO / "solutions" / "10_to_pytorch.ipynb"


def test_lesson10_passes_strict_nbval_without_pytorch(tmp_path):
    hidden = tmp_path / "no_torch" / "torch"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    path = os.pathsep.join(filter(None, [str(hidden.parent), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
               "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "nbval_sanitize.cfg",
               "-q", str(LESSON)]
    result = subprocess.run(command, cwd=REPO, env=dict(os.environ, PYTHONPATH=path),
                            capture_output=True, text=True, timeout=600)
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, f"strict nbval of lesson 10 without PyTorch failed:\n{tail}"
    assert " passed" in result.stdout


def test_only_cells_that_use_pytorch_or_time_ignore_their_output():
    nb = nbformat.read(LESSON, as_version=4)
    ignored = [(index, cell) for index, cell in enumerate(nb.cells)
               if "nbval-ignore-output" in cell.metadata.get("tags", [])]
    assert ignored, "the PyTorch cells must ignore their output (it differs without PyTorch)"
    for index, cell in ignored:
        assert "torch" in cell.source or "perf_counter" in cell.source, (
            f"cell {index + 1} ignores its output but neither uses PyTorch nor times")
