"""Settings for every pytest run from the repository root, mostly for nbval's kernels.

`python -m pytest` runs strict nbval on solutions/ (stored outputs must match) and on
notebooks/ (no stored outputs: only executed). nbval starts each notebook's kernel
with this process's environment, so the kernel environment is made hermetic here,
exactly as `dlteach refresh` and `dlteach grade` do (dlteach.tools.execute.kernel_env):

- IPYTHONDIR points to an empty folder: a developer's IPython profile or startup
  files (say, SVG figures, whose text embeds a timestamp) must not change outputs.
- MPLBACKEND is removed so kernels use the inline backend and show figures as the
  stored outputs do. This process itself draws with Agg (tests never open windows).

- OPENBLAS_NUM_THREADS defaults to 1 (an explicit setting is kept). pytest runs two
  xdist workers on a 2-core machine; two kernels with two spinning BLAS threads each
  were measured 3-15x slower than with one. tests/test_blas_threads.py re-runs the
  solutions with 2 threads, so both counts stay covered. This must happen before
  NumPy loads (xdist workers and kernels inherit the environment).

Nothing is added to nbval's skip list: verdicts are compared through their
deterministic text/plain, and nbval already skips PNG data.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib

from dlteach.tools.execute import kernel_env

matplotlib.use("Agg")
os.environ.update(kernel_env())
os.environ.pop("MPLBACKEND", None)
