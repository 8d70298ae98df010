"""Every benchmark, one table: ``python -m dlteach bench`` runs this script.

    python benchmarks/run.py                     # layers, LSTM, epochs (1 and 2 threads, 3 runs),
                                                 # grading on a busy machine, a class in parallel
    python benchmarks/run.py --quick --runs 1    # a first look (a few minutes)
    python benchmarks/run.py --only layers       # some parts only: layers, busy, class

One row per measurement: operation, shape, dtype, threads, dlteach ms, PyTorch ms,
ratio, target, met. The parts are the scripts beside this one, each in its own
processes: ``bench_layers.py`` (forward+backward of Conv2D, MaxPool2D, Dense and the
LSTM, and training epochs of two CNNs, against PyTorch on the CPU when it is installed;
ratio = dlteach / PyTorch), ``bench_busy.py`` (grading lesson 3 with 1 BLAS thread while
3 busy processes share the 2 cores; ratio = loaded / idle) and
``bench_class_grading.py`` (30 copies of lesson 1 graded with 1 and with 2 workers;
ratio = the speed-up). Without PyTorch the layer rows have no ratio ("met" says "-").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_layers import TARGETS, comparison_key, merge_runs  # noqa: E402

PARTS = ("layers", "busy", "class")
BUSY_TARGET = 2.0  # grading on a loaded machine at most 2x the idle time
CLASS_TARGET = 1.6  # 2 workers at least 1.6x faster than 1


@dataclass
class Row:
    operation: str
    shape: str
    dtype: str
    threads: int
    dlteach_ms: float | None
    torch_ms: float | None
    ratio: float | None
    target: str  # e.g. "<= 2" (ratio at most 2) or ">= 1.6"
    meaning: str = "dlteach / PyTorch"

    @property
    def met(self) -> str:
        if self.ratio is None:
            return "-"
        op, value = self.target.split()
        ok = self.ratio <= float(value) if op == "<=" else self.ratio >= float(value)
        return "yes" if ok else "NO"


def layer_rows(merged: list[dict]) -> list[Row]:
    """bench_layers' merged rows as table rows (its names: "<operation> <shape>")."""
    rows = []
    for r in merged:
        if r["kind"].startswith("epoch"):  # "lesson 4 CNN epoch (...)": a whole model
            operation, shape = "training epoch", r["name"].removesuffix(" epoch")
            shape = shape.replace(" epoch (", " (")
        else:
            operation, _, shape = r["name"].partition(" ")
        theirs = r.get(comparison_key(r))
        target = TARGETS.get(r["kind"])
        rows.append(Row(operation, shape, "float32", r["threads"], r["dlteach"] * 1e3,
                        theirs * 1e3 if theirs else None,
                        r["dlteach"] / theirs if theirs else None,
                        f"<= {target:g}" if target else "-"))
    return rows


def busy_rows(data: dict) -> list[Row]:
    """bench_busy's rows (setting 1): the loaded run against the fastest idle one."""
    rows = data["rows"]
    idle = [r["seconds"] for r in rows if r["load"] == "idle" and r.get("seconds")]
    loaded = [r for r in rows if r["load"] != "idle" and r.get("seconds")]
    out = []
    for r in loaded:
        ratio = r["seconds"] / min(idle) if idle else None
        out.append(Row(f"grade {Path(data['notebook']).stem}",
                       f"{data['busy']} busy {r['load']} processes", "-", 1,
                       r["seconds"] * 1e3, None, ratio, f"<= {BUSY_TARGET:g}",
                       "loaded / idle"))
    return out


def class_rows(data: dict) -> list[Row]:
    """bench_class_grading's times: each worker count against one worker."""
    one = data["seconds"][0]
    return [Row(f"grade a class of {data['n']}",
                f"{data['lesson']}, {w} worker{'s' if w != 1 else ''}", "-",
                w, s * 1e3, None, one / s if w != data["workers"][0] else None,
                f">= {CLASS_TARGET:g}" if w == 2 else "-", "speed-up over 1 worker")
            for w, s in zip(data["workers"], data["seconds"], strict=True)]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def table(rows: list[Row]) -> str:
    head = ["operation", "shape", "dtype", "threads", "dlteach ms", "PyTorch ms", "ratio",
            "target", "met"]
    cells = [[r.operation, r.shape, r.dtype, str(r.threads), _ms(r.dlteach_ms),
              _ms(r.torch_ms), "-" if r.ratio is None else f"{r.ratio:.2f}", r.target, r.met]
             for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(head)]
    right = {3, 4, 5, 6}

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if i in right else v.ljust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(c) for c in cells]
    meanings = dict.fromkeys(r.meaning for r in rows)
    out.append("ratio: " + "; ".join(meanings) + " (per row: see the operation).")
    return "\n".join(out)


def _run(command: list[str], env: dict | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=HERE.parent)
    if done.returncode != 0:
        sys.exit(f"benchmark failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return done.stdout


def measure_layers(threads: list[int], runs: int, quick: bool) -> list[Row]:
    per_threads: dict[int, list[list[dict]]] = {t: [] for t in threads}
    for _ in range(max(1, runs)):  # thread counts alternate, so noise hits both
        for t in threads:
            env = dict(os.environ)
            env.update({v: str(t) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                            "MKL_NUM_THREADS")})
            command = [sys.executable, str(HERE / "bench_layers.py"), "--worker", str(t)]
            out = _run(command + (["--quick"] if quick else []), env)
            per_threads[t].append(json.loads(out.strip().splitlines()[-1]))
    return [row for t in threads for row in layer_rows(merge_runs(per_threads[t]))]


def measure_busy(quick: bool) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "busy.json"
        _run([sys.executable, str(HERE / "bench_busy.py"), "--settings", "1", "--busy", "3",
              "--idle-runs", "1" if quick else "2", "--json", str(saved)])
        return busy_rows(json.loads(saved.read_text()))


def measure_class(quick: bool) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "class.json"
        _run([sys.executable, str(HERE / "bench_class_grading.py"), "--n",
              "10" if quick else "30", "--json", str(saved)])
        return class_rows(json.loads(saved.read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlteach bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts among {', '.join(PARTS)} (default: all)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3, help="layer runs to take medians of")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and copies")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        parser.error(f"--only: unknown {unknown}; choose among {', '.join(PARTS)}")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    rows: list[Row] = []
    if "layers" in parts:
        rows += measure_layers(args.threads, args.runs, args.quick)
    if "busy" in parts:
        rows += measure_busy(args.quick)
    if "class" in parts:
        rows += measure_class(args.quick)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
