"""The second OpenBLAS kernel CI runs the solutions under, and a check that it took effect.

A learner's CPU makes OpenBLAS pick another GEMM kernel than this machine's, and another
kernel sums in another order: the last bits of a product change. No stored notebook
output may depend on them, so CI runs the solutions once more (strict nbval) with
``OPENBLAS_CORETYPE`` naming a second kernel, standing in for another CPU.

The kernel must be one this CPU can execute: a kernel that needs instructions the CPU
lacks (SkylakeX needs AVX-512) hangs or kills the process. So, on x86-64:
Sandybridge (needs AVX, which every x86-64 CPU of the last decade has) unless it is
already the kernel in use, then Nehalem (needs SSE4.2); on 64-bit ARM, the generic
ARMV8 kernel unless it is already in use. Anything else: no second kernel (say why).

    python .ci/blas_kernel.py                  # print the kernel to use, or nothing
    python .ci/blas_kernel.py --verify NAME    # exit 1 unless NumPy's OpenBLAS runs NAME
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import numpy as np\n"
    "from threadpoolctl import threadpool_info\n"
    "np.ones((2, 2)) @ np.ones((2, 2))\n"
    "print(next((i.get('architecture') or '' for i in threadpool_info()"
    " if i['internal_api'] == 'openblas'), ''))\n"
)


def kernel_in_use(env: dict[str, str] | None = None) -> str:
    """The OpenBLAS kernel NumPy runs in a fresh process ('' if NumPy's BLAS is not
    OpenBLAS)."""
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    return result.stdout.strip()


def cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def second_kernel(machine: str, flags: set[str], current: str) -> tuple[str, str]:
    """(kernel, reason): the kernel to run next, or ('', why there is none)."""
    if not current:
        return "", "NumPy's BLAS is not OpenBLAS (or is not loaded): no kernel to choose"
    current = current.lower()
    if machine in ("x86_64", "AMD64"):
        if "avx" in flags and current != "sandybridge":
            return "Sandybridge", "an AVX kernel, valid on every x86-64 CPU with AVX"
        if "sse4_2" in flags and current != "nehalem":
            return "Nehalem", "an SSE4.2 kernel, valid on every x86-64 CPU with SSE4.2"
        return "", f"no second kernel known to run on this x86-64 CPU (in use: {current})"
    if machine in ("aarch64", "arm64"):
        if current != "armv8":
            return "ARMV8", "the generic 64-bit ARM kernel, valid on every such CPU"
        return "", "the generic ARMV8 kernel is already in use"
    return "", f"no second kernel chosen for a {machine} CPU"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--verify":
        try:
            got = kernel_in_use(dict(os.environ, OPENBLAS_CORETYPE=argv[1]))
        except subprocess.CalledProcessError as exc:
            code = exc.returncode
            died = f"signal {-code}" if code < 0 else f"exit status {code}"
            print(f"blas_kernel.py: OpenBLAS kernel {argv[1]} cannot run on this CPU: a "
                  f"NumPy process using it died ({died}).", file=sys.stderr)
            return 1
        except subprocess.TimeoutExpired:
            print(f"blas_kernel.py: OpenBLAS kernel {argv[1]} cannot run on this CPU: a "
                  f"NumPy process using it hung.", file=sys.stderr)
            return 1
        if got.lower() != argv[1].lower():
            print(f"blas_kernel.py: asked OpenBLAS for kernel {argv[1]}, it runs "
                  f"{got or 'no OpenBLAS'}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    # Compared with the kernel of the main test run: this environment's, as it is.
    kernel, reason = second_kernel(platform.machine(), cpu_flags(), kernel_in_use())
    print(f"blas_kernel.py: {kernel or 'none'}: {reason}", file=sys.stderr)
    print(kernel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
