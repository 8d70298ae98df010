"""Settings for every pytest run from the repository root, mostly for nbval's kernels.

`python -m pytest` runs strict nbval on solutions/ (stored outputs must match) and on
notebooks/ (no stored outputs: only executed). nbval starts each notebook's kernel
with this process's environment, so the kernel environment is made hermetic here,
exactly as `dlteach refresh` and `dlteach grade` do (dlteach.tools.execute.kernel_env):

- IPYTHONDIR points to an empty folder: a developer's IPython profile or startup
  files (say, SVG figures, whose text embeds a timestamp) must not change outputs.
- MPLBACKEND is removed so kernels use the inline backend and show figures as the
  stored outputs do. This process itself draws with Agg (tests never open windows).
- The thread policy of dlteach.tools.threads, the one every kernel dlteach starts
  gets: OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, ... default to 1; DLTEACH_THREADS=N
  (or 'auto') or an explicitly set variable overrides it. pytest runs two xdist
  workers on a 2-core machine; two kernels with two spinning BLAS threads each were
  measured 3-15x slower than with one. tests/test_blas_threads.py re-runs the
  solutions with the other count (1 or 2), so both stay covered. xdist workers and
  kernels inherit this environment; this process has loaded NumPy already (importing
  dlteach does), so its own BLAS is limited with threadpoolctl to the same count.

Nothing is added to nbval's skip list: verdicts are compared through their
deterministic text/plain, and nbval already skips PNG data. nbval never notices a
figure that is no longer drawn, so the plugin nbval_figures (beside this file) fails a
cell whose re-run draws another number of PNG figures than it stored.
"""

import os

import matplotlib

from dlteach.tools.execute import kernel_env

pytest_plugins = ["nbval_figures"]

matplotlib.use("Agg")
os.environ.update(kernel_env())  # includes the thread policy
os.environ.pop("MPLBACKEND", None)

_blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "")
if _blas_threads.isdigit() and int(_blas_threads) > 0:
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(_blas_threads), user_api="blas")  # lasts for the whole run
