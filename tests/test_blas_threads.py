"""The solutions' stored outputs must not depend on how many threads BLAS uses.

A GEMM split over more threads may sum in another order and change the last bits
of a result; printed numbers must be rounded enough not to care. The normal
`python -m pytest` run checks the kernels' ambient thread count (the thread policy of
dlteach.tools.threads: 1 by default); this test re-runs strict nbval on every solution
in one subprocess with the other count (1 or 2).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlteach.tools.execute import kernel_env
from dlteach.tools.threads import ENV_VARIABLE

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((REPO / "solutions").glob("*.ipynb"))

PROBE = """\
import numpy as np
from threadpoolctl import threadpool_info
np.ones((2, 2)) @ np.ones((2, 2))  # make sure NumPy's BLAS is loaded
print([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"])
"""


def ambient_blas_threads() -> int:
    """The BLAS thread count a notebook kernel gets here (the thread policy applied).

    Read from a fresh process with the kernels' environment, not from this process:
    conftest.py limits this process with threadpoolctl, and a kernel's count comes from
    its environment alone (dlteach.tools.threads: 1 unless DLTEACH_THREADS or an explicit
    OPENBLAS_NUM_THREADS says otherwise; 'auto' means one per core).
    """
    result = subprocess.run([sys.executable, "-c", PROBE], env=kernel_env(), cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    counts = ast.literal_eval(result.stdout.strip())
    return counts[0] if counts else 1


@pytest.mark.skipif(not SOLUTIONS, reason="no solution notebooks yet")
def test_solutions_pass_strict_nbval_with_the_other_blas_thread_count():
    threads = 2 if ambient_blas_threads() == 1 else 1
    # An explicit OPENBLAS_NUM_THREADS wins over the policy's default in the nbval kernels.
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), **{ENV_VARIABLE: str(threads)})
    command = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
               "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "nbval_sanitize.cfg",
               "-q", "solutions"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=900)
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, (
        f"strict nbval on solutions/ failed with OPENBLAS_NUM_THREADS={threads}:\n{tail}")
    assert " passed" in result.stdout and " failed" not in result.stdout
