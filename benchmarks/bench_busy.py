"""Grade a lesson on an idle and on a busy machine, for several BLAS thread settings.

    python benchmarks/bench_busy.py                        # lesson 3's solution, 3 busy
                                                           # Python processes, 1/2/unset
    python benchmarks/bench_busy.py --load python,numpy    # both kinds of load
    python benchmarks/bench_busy.py --busy 1 --settings 1,unset --notebook FILE

For every thread setting the lesson is graded in a fresh process each time with
``dlteach.tools.grader.grade`` (the code behind ``dlteach grade``): ``--idle-runs``
times (default 2; the fastest counts) on the machine as it is ("idle"), and once per
``--load`` while ``--busy`` processes keep the CPU busy ("loaded"). The settings:
``1`` and ``2`` set every thread variable of ``dlteach.tools.threads.THREAD_VARIABLES``
(and ``DLTEACH_THREADS``) to that count;
``unset`` removes them and sets ``DLTEACH_THREADS=auto``, i.e. OpenBLAS's default of
one thread per core. A probe run in the kernel before its first cell reads the BLAS
thread count the kernel really got (threadpoolctl), shown as ``blas``.

Loads (``--load``): ``python`` is a pure-Python spin loop; ``numpy`` multiplies two
256x256 float64 matrices over and over with one BLAS thread. Each busy process wants
one core, and by default runs in its own session (``--sessions own``), as another
user's kernel does: Linux's autogroup scheduling (on by default on desktops and
many servers) shares the CPU fairly between sessions, not processes, and dlteach's
kernels start in their own session too. With ``--sessions shared`` the busy
processes share this script's session and so, under autogroup, one fair share:
a much lighter load. Every busy process exits by itself after ``--max-seconds`` (+30 s), or as
soon as this script's process is gone, even if this script is killed; the script
stops them itself after each loaded run.

Per-cell times: nbclient's own timing is off in dlteach (``record_timing=False``),
so this script wraps ``NotebookClient.async_execute_cell`` in the grading process
and measures each cell's wall time from sending the code to the kernel's reply, the
same span the per-cell limit (``--timeout``, default 60 s as in ``dlteach grade``)
applies to. ``slowest`` is the slowest cell against that limit; ``timeouts`` counts
cells that hit it. ``grade`` wall time includes the kernel's start.

``CPU s`` is the CPU time of the grading process and its kernel: what spinning BLAS
threads waste shows here. ``other`` is the CPU the rest of the machine used during a
run, in cores (from /proc/stat, minus this benchmark's own processes): on a shared
machine it says how "idle" the idle run really was.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTEBOOK = REPO / "solutions" / "03_deep_networks.ipynb"
SETTINGS = ("1", "2", "unset")
LOADS = ("python", "numpy")
GRACE = 30  # seconds a busy process may outlive --max-seconds

try:
    from dlteach.tools.threads import ENV_VARIABLE, THREAD_VARIABLES
except ImportError:  # an older checkout: the usual variables
    ENV_VARIABLE = "DLTEACH_THREADS"
    THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                        "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

PROBE = """\
import json as _json, numpy as _np, threadpoolctl as _tpc
_np.ones((2, 2)) @ _np.ones((2, 2))
print(_json.dumps([i["num_threads"] for i in _tpc.threadpool_info() if i["user_api"] == "blas"]))
del _json, _np, _tpc
"""


# ---------------------------------------------------------------- busy processes
def _parent_alive(parent: int) -> bool:
    return os.getppid() == parent


def busy_main(kind: str, deadline: float, parent: int) -> None:
    """Keep one core busy until ``deadline`` (time.time()) or until ``parent`` is gone."""
    if kind == "python":
        while time.time() < deadline and _parent_alive(parent):
            x = 0
            for i in range(100_000):  # ~5 ms between checks
                x += i
    else:
        import numpy as np

        a = np.random.default_rng(0).standard_normal((256, 256))
        b = a / 256
        while time.time() < deadline and _parent_alive(parent):
            for _ in range(5):
                a @ b


def start_load(kind: str, count: int, max_seconds: float,
               own_sessions: bool = True) -> list[subprocess.Popen]:
    deadline = time.time() + max_seconds + GRACE
    env = dict(os.environ)
    for name in THREAD_VARIABLES:  # each busy process wants exactly one core
        env[name] = "1"
    command = [sys.executable, __file__, "--busy-worker", kind, "--deadline", str(deadline),
               "--parent", str(os.getpid())]
    procs = [subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                              start_new_session=own_sessions)
             for _ in range(count)]
    time.sleep(1.0)  # let them import NumPy and get going
    for p in procs:
        if p.poll() is not None:
            stop_load(procs)
            raise RuntimeError(f"a busy process exited early (code {p.returncode})")
    return procs


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---------------------------------------------------------------- the grading process
def grade_main(notebook: str, timeout: float, parent: int) -> None:
    """Grade ``notebook`` with per-cell timing; print one JSON line."""

    def watchdog() -> None:  # the kernel follows us (ipykernel watches its parent)
        while _parent_alive(parent):
            time.sleep(1)
        os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()

    import nbformat
    from nbclient import NotebookClient
    from nbclient.util import run_sync

    from dlteach.tools.grader import grade

    cells: list[tuple[int, float]] = []
    probe: dict = {}
    original = NotebookClient.async_execute_cell

    async def timed(self, cell, cell_index, execution_count=None, store_history=True):
        if not probe:
            probe["done"] = True
            saved, executed = self.nb.cells[cell_index], self.code_cells_executed
            probe_cell = nbformat.v4.new_code_cell(PROBE)
            await original(self, probe_cell, cell_index, store_history=False)
            self.nb.cells[cell_index], self.code_cells_executed = saved, executed
            text = "".join(o.get("text", "") for o in probe_cell.outputs
                           if o.get("output_type") == "stream" and o.get("name") == "stdout")
            try:
                probe["blas"] = json.loads(text.strip().splitlines()[-1])
            except (ValueError, IndexError):
                probe["blas"] = None
        start = time.perf_counter()
        try:
            return await original(self, cell, cell_index, execution_count=execution_count,
                                  store_history=store_history)
        finally:
            if cell.cell_type == "code":
                cells.append((cell_index, time.perf_counter() - start))

    NotebookClient.async_execute_cell = timed
    NotebookClient.execute_cell = run_sync(timed)  # the sync wrapper holds the original
    start = time.perf_counter()
    report = grade(notebook, timeout_per_cell=timeout)
    seconds = time.perf_counter() - start
    slowest = max(cells, key=lambda c: c[1], default=(None, 0.0))
    counts = report.counts()
    print(json.dumps({
        "seconds": seconds,
        "cells_seconds": sum(t for _, t in cells),
        "slowest_cell": slowest[0] + 1 if slowest[0] is not None else None,
        "slowest_seconds": slowest[1],
        "timeouts": sum(p.kind == "timeout" for p in report.problems),
        "problems": [p.message for p in report.problems],
        "passed": counts["passed"],
        "exercises": len(report.exercises),
        "all_passed": report.all_passed,
        "error": report.error if report.error_kind != "unknown lesson" else None,
        "blas": probe.get("blas"),
    }))


# ---------------------------------------------------------------- measuring
def _busy_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _own_cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def _autogroup() -> str:
    try:
        return {"0": "off", "1": "on"}[Path("/proc/sys/kernel/sched_autogroup_enabled")
                                       .read_text().strip()]
    except (OSError, KeyError):
        return "unknown"


def setting_env(setting: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env.pop(name, None)
    if setting == "unset":
        env[ENV_VARIABLE] = "auto"
    else:
        env[ENV_VARIABLE] = setting
        env.update({name: setting for name in THREAD_VARIABLES})
    return env


def measure(notebook: Path, setting: str, load: str | None, busy: int, timeout: float,
            max_seconds: float, own_sessions: bool = True) -> dict:
    """One graded run; load None means idle."""
    own0, (busy0, steal0), t0 = _own_cpu(), _busy_cpu_seconds(), time.perf_counter()
    procs = start_load(load, busy, max_seconds, own_sessions) if load else []
    load_cpu0 = _own_cpu()  # the busy processes are reaped (and counted) only at the end
    command = [sys.executable, __file__, "--grade-worker", str(notebook),
               "--timeout", str(timeout), "--parent", str(os.getpid())]
    try:
        result = subprocess.run(command, env=setting_env(setting), capture_output=True,
                                text=True, timeout=max_seconds, cwd=REPO)
        ours = _own_cpu() - load_cpu0
        alive = all(p.poll() is None for p in procs)
    except subprocess.TimeoutExpired:
        result, ours, alive = None, _own_cpu() - load_cpu0, True
    finally:
        stop_load(procs)
    wall = time.perf_counter() - t0
    busy1, steal1 = _busy_cpu_seconds()
    total_ours = _own_cpu() - own0
    row = {"setting": setting, "load": load or "idle"}
    if result is None:
        row.update(seconds=None, error=f"did not finish within --max-seconds {max_seconds:g}")
    elif result.returncode != 0 or not result.stdout.strip():
        row.update(seconds=None, error=f"grading process failed: {result.stderr[-500:]}")
    else:
        row.update(json.loads(result.stdout.strip().splitlines()[-1]))
    row["load_outlived_run"] = alive
    row["grade_cpu"] = ours
    row["other_cores"] = max(0.0, (busy1 - busy0) - total_ours) / wall
    row["steal_cores"] = (steal1 - steal0) / wall
    return row


# ---------------------------------------------------------------- the table
def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def fastest_idle(rows: list[dict]) -> dict[str, dict]:
    """Per setting, the fastest finished idle run (the one least disturbed by others)."""
    idle: dict[str, dict] = {}
    for r in rows:
        if r["load"] != "idle":
            continue
        best = idle.get(r["setting"])
        if best is None or (r.get("seconds") or float("inf")) < (best.get("seconds")
                                                                  or float("inf")):
            idle[r["setting"]] = r
    return idle


def table(rows: list[dict], timeout: float, busy: int) -> str:
    idle = fastest_idle(rows)
    best_idle = min((r["seconds"] for r in idle.values() if r.get("seconds")), default=None)
    head = (f"{'load':<8} {'setting':<7} {'blas':>4} {'idle s':>7} {'loaded s':>8} "
            f"{'ratio':>6} {'vs best idle':>12} {'slowest cell idle / loaded':>27} "
            f"{'timeouts':>8} {'passed':>7} {'CPU s idle/loaded':>17} "
            f"{'other cores idle/loaded':>23}")
    runs = {}
    for r in rows:
        if r["load"] == "idle":
            runs.setdefault(r["setting"], []).append(_fmt(r.get("seconds")))
    lines = [f"busy processes: {busy}, per-cell limit: {timeout:g} s; idle = the fastest of the "
             "idle runs: " + "; ".join(f"{k}: {', '.join(v)} s" for k, v in runs.items()),
             head, "-" * len(head)]
    loaded = {r["setting"] for r in rows if r["load"] != "idle"}
    shown = [r for r in rows if r["load"] != "idle"]
    shown += [{"setting": k, "load": "none"} for k in idle if k not in loaded]
    for r in shown:
        i = idle.get(r["setting"], {})
        secs, isecs = r.get("seconds"), i.get("seconds")
        ratio = secs / isecs if secs and isecs else None
        vs_best = secs / best_idle if secs and best_idle else None
        blas = r.get("blas") or i.get("blas")
        slow = (f"{_fmt(i.get('slowest_seconds'))} / {_fmt(r.get('slowest_seconds'))} s "
                f"of {timeout:g} s (cell {r.get('slowest_cell', '-')})")
        shown_run = r if r["load"] != "none" else i
        passed = f"{shown_run.get('passed', '-')}/{shown_run.get('exercises', '-')}"
        other = f"{_fmt(i.get('other_cores'), '.2f')} / {_fmt(r.get('other_cores'), '.2f')}"
        cpu = f"{_fmt(i.get('grade_cpu'))} / {_fmt(r.get('grade_cpu'))}"
        lines.append(
            f"{r['load']:<8} {r['setting']:<7} {(str(blas[0]) if blas else '?'):>4} "
            f"{_fmt(isecs):>7} {_fmt(secs):>8} {_fmt(ratio, '.2f'):>6} {_fmt(vs_best, '.2f'):>12} "
            f"{slow:>27} {r.get('timeouts', '-')!s:>8} {passed:>7} {cpu:>17} {other:>23}")
        for row in (i, r):
            if row.get("error"):
                lines.append(f"  {row['load']} {row['setting']}: {row['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=DEFAULT_NOTEBOOK,
                        help="the notebook to grade (default: lesson 3's solution)")
    parser.add_argument("--busy", type=int, default=3, help="busy processes (default 3)")
    parser.add_argument("--load", default="python",
                        help="python, numpy, or both comma-separated (default python); "
                             "none: idle runs only")
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help="thread settings to compare: numbers and/or 'unset' "
                             "(default 1,2,unset)")
    parser.add_argument("--timeout", type=float, default=60,
                        help="per-cell limit in seconds, as dlteach grade's (default 60)")
    parser.add_argument("--max-seconds", type=float, default=420,
                        help="give up on one graded run after this long; the busy processes "
                             f"exit by themselves {GRACE} s after it (default 420)")
    parser.add_argument("--sessions", choices=("own", "shared"), default="own",
                        help="own (default): each busy process in its own session, like "
                             "another user's kernel; shared: all in this script's session "
                             "(with Linux's autogroup scheduling they then share one "
                             "fair share of the CPU)")
    parser.add_argument("--idle-runs", type=int, default=2,
                        help="idle runs per setting; the fastest counts (default 2)")
    parser.add_argument("--json", type=Path, help="also write the raw rows to this file")
    parser.add_argument("--from-json", type=Path, metavar="FILE",
                        help="measure nothing: print the table of rows saved with --json")
    # internal: the grading process and the busy processes
    parser.add_argument("--grade-worker", help=argparse.SUPPRESS)
    parser.add_argument("--busy-worker", choices=LOADS, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.busy_worker:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C: the parent stops us
        busy_main(args.busy_worker, args.deadline, args.parent)
        return 0
    if args.grade_worker:
        grade_main(args.grade_worker, args.timeout, args.parent)
        return 0

    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(table(saved["rows"], saved["timeout"], saved["busy"]))
        return 0
    loads = [s.strip() for s in args.load.split(",") if s.strip() and s.strip() != "none"]
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    bad = [x for x in loads if x not in LOADS]
    bad += [s for s in settings if s != "unset" and not (s.isdigit() and int(s) > 0)]
    if bad or not settings or args.busy < 1 or args.idle_runs < 1:
        parser.error(f"invalid --load/--settings/--busy: {bad or 'empty'}")
    if not args.notebook.is_file():
        parser.error(f"{args.notebook} does not exist")

    # SIGTERM ends the script through its finally blocks, which stop the busy processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"grading {args.notebook} on {os.cpu_count()} cores; load average "
          f"{open('/proc/loadavg').read().split()[0]} at the start; busy processes: "
          f"{args.busy} x {'/'.join(loads)}, sessions: {args.sessions}, autogroup: "
          f"{_autogroup()}", flush=True)
    rows = []
    for setting in settings:
        for load in [None] * args.idle_runs + loads:
            row = measure(args.notebook, setting, load, args.busy, args.timeout,
                          args.max_seconds, args.sessions == "own")
            rows.append(row)
            print(f"  {row['load']:<6} {setting:<5} blas={row.get('blas')} "
                  f"{_fmt(row.get('seconds'))} s, slowest cell {_fmt(row.get('slowest_seconds'))} s"
                  f", timeouts {row.get('timeouts', '-')}, other cores {row['other_cores']:.2f}"
                  + (f"  ERROR {row['error']}" if row.get("error") else ""), flush=True)
    print()
    print(table(rows, args.timeout, args.busy))
    if args.json:
        args.json.write_text(json.dumps({"notebook": str(args.notebook), "busy": args.busy,
                                         "timeout": args.timeout, "sessions": args.sessions,
                                         "autogroup": _autogroup(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
