"""A lost figure fails the notebook tests: the nbval_figures plugin, on small notebooks.

The plugin runs in every notebook run from the repository (strict, lax, other BLAS
kernels, lower-bound packages); here it is shown to fail a cell that draws fewer or
more figures than it stored, and to pass one that draws the same.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from nbval_figures import png_count

REPO = Path(__file__).resolve().parents[1]
# A 1x1 PNG: what the stored output holds does not matter, only that it is a picture.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
DRAW = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"


def figure(text: str = "<Figure size 640x480 with 1 Axes>") -> dict:
    return v4.new_output("display_data", data={"image/png": PNG, "text/plain": text})


LOST = ("from IPython.display import display\n"
        "display({'text/plain': '<Figure size 640x480 with 1 Axes>'}, raw=True)")


def lesson(path: Path) -> Path:
    """Four cells: a figure lost (only its text is shown, as with matplotlib 3.7 and
    IPython 9.16), one figure too many, the stored figure, and a never-run cell."""
    cells = [
        v4.new_code_cell(LOST, outputs=[figure()], execution_count=1),
        v4.new_code_cell(DRAW, outputs=[], execution_count=2),
        v4.new_code_cell(DRAW, outputs=[figure()], execution_count=3),
        v4.new_code_cell(DRAW, outputs=[]),  # learner notebooks store no run
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def run_nbval(path: Path, mode: str) -> dict[str, str]:
    """Each cell's outcome ('PASSED' or 'FAILED'), and the failure text under 'output'."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")]))
    env.pop("MPLBACKEND", None)  # the kernel draws inline, as in a lesson
    command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
               "-p", "nbval_figures", mode, "--nbval-current-env", "-rA", "-q", path.name]
    result = subprocess.run(command, cwd=path.parent, env=env, capture_output=True, text=True,
                            timeout=300)
    outcomes = {"output": result.stdout + result.stderr}
    for line in result.stdout.splitlines():
        for outcome in ("PASSED", "FAILED"):
            if line.startswith(f"{outcome} {path.name}::Cell "):
                cell = line.split("::")[1].split(" - ")[0].strip()
                outcomes[cell] = outcome
    return outcomes


def test_png_count_counts_pictures_only():
    text = v4.new_output("stream", name="stdout", text="<Figure size 640x480 with 1 Axes>")
    assert png_count([figure(), text, figure(), v4.new_output("execute_result",
                                                                 data={"text/plain": "1"})]) == 2
    assert png_count([]) == 0


@pytest.mark.parametrize("mode", ["--nbval", "--nbval-lax"])
def test_a_cell_that_draws_another_number_of_figures_fails(tmp_path, mode):
    result = run_nbval(lesson(tmp_path / "lesson.ipynb"), mode)
    text = result["output"]
    # Cell 0 shows the same text as the stored figure, so strict nbval alone passes it.
    assert result.get("Cell 0") == "FAILED", text
    assert "Cell 0: the stored cell holds 1 figure(s) (image/png outputs), re-running it " \
           "drew 0. It printed '<Figure size 640x480 with 1 Axes>' instead." in text
    assert result.get("Cell 1") == "FAILED", text
    if mode == "--nbval-lax":  # strict nbval fails it first, for its extra output
        assert "holds 0 figure(s) (image/png outputs), re-running it drew 1" in text
    assert result.get("Cell 2") == "PASSED", text
    assert result.get("Cell 3") == "PASSED", text


def test_every_repository_run_loads_the_plugin():
    conftest = (REPO / "conftest.py").read_text(encoding="utf-8")
    assert 'pytest_plugins = ["nbval_figures"]' in conftest
