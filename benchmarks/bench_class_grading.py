"""How much faster a class grades with more workers.

    python benchmarks/bench_class_grading.py        # 30 copies of lesson 1, 1 and 2 workers
    python benchmarks/bench_class_grading.py --lesson 02_backpropagation --n 30 --workers 1 2 4

Makes a class of ``--n`` submissions of one lesson (a mix of correct, wrong, empty,
hanging, crashing and broken copies, see class_submissions.py) in a temporary folder,
grades it with ``dlteach grade FOLDER --workers W`` for each W, and prints the wall time
of each and its speed-up over the first. Each run must give the same gradebook.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from class_submissions import make_class


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lesson", default="01_perceptron")
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=10, help="per cell, seconds")
    parser.add_argument("--json", type=Path, help="also write the times to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        made = make_class(folder, args.lesson, n=args.n)
        kinds = sorted({k for k, _ in made.values()})
        counts = ", ".join(f"{sum(k == kind for k, _ in made.values())} {kind}"
                           for kind in kinds)
        print(f"{args.n} copies of {args.lesson}: {counts}; {args.timeout:g} s per cell")
        times, books = [], []
        for workers in args.workers:
            out = Path(tmp) / f"book{workers}"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "dlteach", "grade", str(folder),
                            "--workers", str(workers), "--timeout", str(args.timeout),
                            "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
            books.append(out.with_suffix(".csv").read_text())
            print(f"  {workers} worker{'s' if workers > 1 else ' '}: {times[-1]:6.1f} s  "
                  f"speed-up {times[0] / times[-1]:.2f}x", flush=True)
        same = all(book == books[0] for book in books)
        if args.json:
            args.json.write_text(json.dumps({"lesson": args.lesson, "n": args.n,
                                             "workers": args.workers, "seconds": times,
                                             "same": same}))
        print("same gradebook from every run" if same else "GRADEBOOKS DIFFER")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
