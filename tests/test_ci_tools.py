"""The helpers .ci/run uses: the lower-bound constraints and the second BLAS kernel."""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / ".ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lower_bounds = load("lower_bounds")
blas_kernel = load("blas_kernel")


# --- the lower bounds ---------------------------------------------------------------------


def test_the_committed_constraints_are_what_pyproject_declares():
    assert (REPO / ".ci" / "lower-bounds.txt").read_text(encoding="utf-8") == (
        lower_bounds.constraints()), "run: python .ci/lower_bounds.py --write"
    check = subprocess.run([sys.executable, ".ci/lower_bounds.py", "--check"], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_every_core_dependency_is_pinned_to_its_lower_bound(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nrequires-python = ">=3.10"\n'
        'dependencies = ["numpy>=1.24", "Matplotlib >= 3.9.1, <4", "tqdm>=4.66"]\n'
    )
    pins = lower_bounds.constraints(pyproject).splitlines()[2:]
    assert pins == ["numpy==1.24", "matplotlib==3.9.1", "tqdm==4.66"]
    assert lower_bounds.lowest_python(pyproject) == "3.10"


@pytest.mark.parametrize("requirement", ["numpy", "numpy<3", "numpy>=1.24,>=1.25"])
def test_a_dependency_without_one_lower_bound_is_refused(requirement):
    with pytest.raises(SystemExit, match="must name exactly one lower bound"):
        lower_bounds.lowest_version(requirement)


def test_the_stale_check_fails_when_pyproject_moves(tmp_path, monkeypatch):
    stale = tmp_path / "lower-bounds.txt"
    stale.write_text(lower_bounds.constraints().replace("numpy==", "numpy==0."))
    monkeypatch.setattr(lower_bounds, "CONSTRAINTS", stale)
    monkeypatch.setattr(lower_bounds, "REPO", tmp_path)
    assert lower_bounds.main(["--check"]) == 1


def test_the_matplotlib_bound_keeps_first_figures():
    # matplotlib < 3.9 with IPython >= 9.16 loses a kernel's first figure (issue 11).
    pins = dict(line.split("==") for line in lower_bounds.constraints().splitlines()[2:])
    major, minor = (int(p) for p in pins["matplotlib"].split(".")[:2])
    assert (major, minor) >= (3, 9)


# --- the second BLAS kernel -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "flags", "current", "kernel"),
    [
        ("x86_64", {"sse4_2", "avx", "avx2"}, "Haswell", "Sandybridge"),
        ("x86_64", {"sse4_2", "avx", "avx2", "avx512f"}, "SkylakeX", "Sandybridge"),
        ("x86_64", {"sse4_2", "avx"}, "Sandybridge", "Nehalem"),
        ("x86_64", {"sse4_2"}, "Nehalem", ""),
        ("x86_64", {"sse2"}, "Prescott", ""),  # nothing known to be safe
        ("aarch64", {"fp", "asimd"}, "NeoverseN1", "ARMV8"),
        ("aarch64", {"fp", "asimd"}, "ARMV8", ""),
        ("x86_64", {"avx"}, "", ""),  # not OpenBLAS
        ("riscv64", set(), "RISCV64_GENERIC", ""),
    ],
)
def test_the_second_kernel_is_one_the_cpu_can_run_and_not_the_one_in_use(
    machine, flags, current, kernel
):
    chosen, reason = blas_kernel.second_kernel(machine, flags, current)
    assert chosen == kernel
    assert reason
    if kernel == "Sandybridge":
        assert "avx" in flags  # never a kernel needing instructions the CPU lacks


@pytest.mark.skipif(platform.machine() != "x86_64" or "avx" not in blas_kernel.cpu_flags(),
                    reason="the Sandybridge kernel needs an x86-64 CPU with AVX")
def test_the_chosen_kernel_really_runs():
    if not blas_kernel.kernel_in_use():
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    kernel = subprocess.run([sys.executable, ".ci/blas_kernel.py"], cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=True).stdout
    kernel = kernel.strip()
    assert kernel in ("Sandybridge", "Nehalem")
    env = dict(os.environ, OPENBLAS_CORETYPE=kernel)
    assert blas_kernel.kernel_in_use(env).lower() == kernel.lower()
    assert blas_kernel.main(["--verify", kernel]) == 0
