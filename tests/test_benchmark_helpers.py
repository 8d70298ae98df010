"""The benchmark script's bookkeeping: what it compares and how it merges runs.

The timings themselves are not tested (they are measurements, not behaviour), but which
PyTorch time a row is compared with, and how several runs become one table, are.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_layers.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_layers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pool_row(ours, nchw, via_cl, cl, threads=1):
    return {
        "kind": "pool", "name": "MaxPool2D", "threads": threads, "naive": 1.0,
        "dlteach": ours, "torch": nchw, "torch_via_cl": via_cl, "torch_cl": cl,
    }  # fmt: skip


def test_pooling_is_compared_with_pytorchs_faster_route_for_the_same_input(bench):
    assert bench.comparison_key(_pool_row(1.0, nchw=3.0, via_cl=4.0, cl=0.5)) == "torch"
    assert bench.comparison_key(_pool_row(1.0, nchw=5.0, via_cl=4.0, cl=0.5)) == "torch_via_cl"
    # An input already in channels_last is a different input: never the comparison.
    assert bench.comparison_key({"kind": "conv", "torch": 2.0, "dlteach": 1.0}) == "torch"


def test_runs_merge_into_medians_and_keep_each_runs_ratio(bench):
    runs = [
        [_pool_row(1.0, 2.0, 9.0, 0.5)],
        [_pool_row(3.0, 4.0, 9.0, 0.5)],
        [_pool_row(2.0, 8.0, 1.0, 0.5)],
    ]
    (merged,) = bench.merge_runs(runs)
    assert merged["dlteach"] == 2.0
    assert merged["torch"] == 4.0
    assert merged["torch_via_cl"] == 9.0
    # Each run compared with its own faster route: 1/2, 3/4, 2/1.
    assert merged["run_ratios"] == pytest.approx([0.5, 0.75, 2.0])
    assert merged["naive"] == 1.0  # extrapolated once per run; not a median


def test_best_of_alternates_blocks_and_reports_each_functions_minimum(bench):
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    best = bench.best_of(fns, reps=4, warmup=1, block=2, pause=0.0)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 2
    assert set(best) == {"a", "b", "a_cpu", "b_cpu"}
    assert all(0.0 <= t < 1.0 for t in best.values())
