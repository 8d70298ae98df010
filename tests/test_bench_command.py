"""``dlteach bench``: every benchmark's measurements become rows of one table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dlteach import cli

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_run", None)


def _layer(kind, name, threads, ours, theirs):
    return {"kind": kind, "name": name, "threads": threads, "naive": None, "dlteach": ours,
            "torch": theirs}


def test_layer_rows_split_the_name_and_compare_with_pytorch(bench):
    rows = bench.layer_rows([
        _layer("conv", "Conv2D 64x1x28x28 -> 8, 3x3 pad 1", 1, 0.003, 0.004),
        _layer("lstm", "LSTM 32x50x64 -> 128, all 50 steps", 2, 0.0146, 0.009),
        _layer("dense", "Dense 784 -> 256, batch 256", 1, 0.005, None),  # no PyTorch
        _layer("epoch-1", "lesson 4 CNN epoch (1,257 8x8 digits)", 1, 0.186, 0.172),
    ])
    conv, lstm, dense, epoch = rows
    assert (epoch.operation, epoch.shape) == ("training epoch", "lesson 4 CNN (1,257 8x8 digits)")
    assert epoch.target == "<= 1.3" and epoch.met == "yes"
    assert (conv.operation, conv.shape, conv.dtype, conv.threads) == (
        "Conv2D", "64x1x28x28 -> 8, 3x3 pad 1", "float32", 1)
    assert conv.dlteach_ms == pytest.approx(3.0) and conv.torch_ms == pytest.approx(4.0)
    assert conv.ratio == pytest.approx(0.75) and conv.target == "<= 2" and conv.met == "yes"
    assert lstm.ratio == pytest.approx(1.6222, rel=1e-3) and lstm.met == "NO"
    assert dense.ratio is None and dense.met == "-"


def test_busy_and_class_rows_state_what_their_ratio_means(bench):
    busy = bench.busy_rows({"notebook": "solutions/03_deep_networks.ipynb", "busy": 3, "rows": [
        {"load": "idle", "setting": "1", "seconds": 20.0},
        {"load": "idle", "setting": "1", "seconds": 18.0},
        {"load": "python", "setting": "1", "seconds": 39.6}]})
    assert len(busy) == 1 and busy[0].ratio == pytest.approx(2.2) and busy[0].met == "NO"
    assert busy[0].meaning == "loaded / idle" and busy[0].operation == "grade 03_deep_networks"
    klass = bench.class_rows({"lesson": "01_perceptron", "n": 30, "workers": [1, 2],
                              "seconds": [90.0, 50.0]})
    assert [r.ratio for r in klass] == [None, pytest.approx(1.8)]
    assert klass[1].target == ">= 1.6" and klass[1].met == "yes"


def test_the_table_has_every_column_and_one_line_per_row(bench):
    rows = bench.layer_rows([_layer("conv", "Conv2D 8x1x28x28 -> 8", 1, 0.003, 0.004)])
    rows += bench.class_rows({"lesson": "01_perceptron", "n": 30, "workers": [1, 2],
                              "seconds": [90.0, 50.0]})
    lines = bench.table(rows).splitlines()
    for column in ("operation", "shape", "dtype", "threads", "dlteach ms", "PyTorch ms",
                   "ratio", "target", "met"):
        assert column in lines[0]
    assert lines[2].split()[:3] == ["Conv2D", "8x1x28x28", "->"]
    assert "90,000" in lines[3] and "50,000" in lines[4] and lines[4].rstrip().endswith("yes")
    assert "speed-up over 1 worker" in lines[-1] and "dlteach / PyTorch" in lines[-1]


def test_dlteach_bench_runs_the_course_script_with_every_option(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command: calls.append(command) or 0)
    assert cli.main(["bench", "--only", "layers", "--help"]) == 0
    assert calls == [[sys.executable, str(SCRIPT), "--only", "layers", "--help"]]
    (tmp_path / "solutions").mkdir()
    assert cli.main(["--course-dir", str(tmp_path), "bench"]) == 2  # no benchmarks/ there
