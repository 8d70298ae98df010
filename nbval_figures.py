"""A pytest plugin: a notebook cell that nbval re-runs must draw every figure it stored.

nbval compares a cell's text outputs but never its pictures, so a figure that is no
longer drawn goes unnoticed: with matplotlib below 3.9 and IPython 9.16 or newer, a
kernel's first figure comes out as the text ``<Figure size 640x480 with 1 Axes>`` and
no image, and even strict nbval passes when the stored cell holds that text too. This
plugin counts the ``image/png`` outputs of every cell nbval runs and fails the cell
when the count differs from the stored one, in strict and in lax runs alike.

The root conftest.py loads it for every run from the repository; elsewhere
``python -m pytest -p nbval_figures --nbval ...`` (with the repository on sys.path).
Cells whose stored copy was never run (learner notebooks) are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest


def png_count(outputs: Iterable[Any]) -> int:
    """How many of a cell's outputs hold a PNG picture."""
    return sum(1 for out in outputs if "image/png" in (out.get("data") or {}))


def _texts(outputs: Iterable[Any]) -> list[str]:
    found = []
    for out in outputs:
        text = (out.get("data") or {}).get("text/plain") or out.get("text") or ""
        text = "".join(text) if isinstance(text, list) else text
        if "Figure" in text:
            found.append(text.strip()[:80])
    return found


@pytest.hookimpl(trylast=True)  # after nbval's own runtest, which fills test_outputs
def pytest_runtest_call(item: pytest.Item) -> None:
    cell = getattr(item, "cell", None)
    produced = getattr(item, "test_outputs", None)
    if cell is None or produced is None or cell.get("execution_count") is None:
        return
    stored = png_count(cell.get("outputs", []))
    drawn = png_count(produced)
    if drawn != stored:
        texts = _texts(produced)
        shown = f" It printed {', '.join(repr(t) for t in texts)} instead." if texts else ""
        pytest.fail(
            f"{item.name}: the stored cell holds {stored} figure(s) (image/png outputs), "
            f"re-running it drew {drawn}.{shown} A figure that is not drawn is lost to the "
            f"learner even when the text outputs match: check the matplotlib backend and "
            f"version (matplotlib < 3.9 with IPython >= 9.16 loses a kernel's first "
            f"figure), or refresh the notebook if the cell was changed on purpose.",
            pytrace=False,
        )
