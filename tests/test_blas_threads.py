"""The solutions' stored outputs must not depend on how many threads BLAS uses.

A GEMM split over more threads may sum in another order and change the last bits
of a result; printed numbers must be rounded enough not to care. The normal
`python -m pytest` run checks the ambient thread count; this test re-runs strict
nbval on every solution in one subprocess with the other count (1 or 2).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))


def ambient_blas_threads() -> int:
    """The thread count OpenBLAS uses here (1 if it cannot be read)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return 1
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure NumPy's BLAS is loaded
    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return counts[0] if counts else 1


@pytest.mark.skipif(not SOLUTIONS, reason="no solution notebooks yet")
def test_solutions_pass_strict_nbval_with_the_other_blas_thread_count():
    threads = 2 if ambient_blas_threads() == 1 else 1
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
               "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "nbval_sanitize.cfg",
               "-q", "solutions"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=900)
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, (
        f"strict nbval on solutions/ failed with OPENBLAS_NUM_THREADS={threads}:\n{tail}")
    assert " passed" in result.stdout and " failed" not in result.stdout
