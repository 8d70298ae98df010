"""Time dlteach's conv, pooling, dense and LSTM layers against plain loops and PyTorch (CPU).

    python benchmarks/bench_layers.py                 # 1 and 2 threads, 3 runs (~6 min)
    python benchmarks/bench_layers.py --threads 1     # one thread count only
    python benchmarks/bench_layers.py --runs 1 --quick  # a first look
    python benchmarks/bench_layers.py --only lstm     # some benchmarks only

Every benchmark is forward + backward in float32. Each thread setting runs in its own
subprocess with the BLAS/OpenMP thread pools limited (environment variables before NumPy
loads, threadpoolctl, torch.set_num_threads), so neither library gets more cores than
the other. Timings are best-of-k after warm-up, dlteach and PyTorch alternating in
blocks of calls (see best_of) so that a noisy neighbour slows both; the whole suite runs
--runs times in fresh processes and the table shows the median, with the range of the
runs' ratios. PyTorch is optional: without it the PyTorch columns are empty. The
plain-loop reference (dlteach.conv_reference) is timed on a small batch and scaled up
per example, because it is thousands of times slower.

Fairness notes: the PyTorch input requires grad, so PyTorch computes dL/dx as dlteach
does (except in the training epoch, where neither needs the images' gradient but
dlteach computes it anyway). PyTorch's NCHW max_pool2d is unusually slow on CPU, so for
pooling PyTorch gets the faster of two routes for the same NCHW input: its NCHW kernel,
or converting to channels_last (its fast path), pooling, and converting back. PyTorch
on an input that is already channels_last is shown too, for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from functools import partial

CONV_SHAPES = [  # (N, C, H=W, F): 3x3 kernels, stride 1, padding 1
    (64, 1, 28, 8),
    (64, 16, 14, 32),
    (32, 3, 32, 32),
]
LSTM_SHAPE = (32, 50, 64, 128)  # (N, T, D, H): batch 32, 50 steps, 64 -> 128
TARGETS = {"conv": 2.0, "pool": 1.0, "dense": 1.2, "lstm": 1.5, "epoch-1": 1.3, "epoch-2": 1.6}
KINDS = ("conv", "pool", "dense", "lstm", "epoch")  # what --only can choose


def best_of(fns: dict, reps: int, warmup: int = 3, block: int = 10, pause: float = 0.2) -> dict:
    """Minimum wall time (s) of each function, in alternating blocks of ``block`` calls.

    Alternating blocks spread a burst of load from another program over both libraries.
    Blocks with a pause before each, rather than single calls back to back, because
    after a parallel call each library's idle worker threads keep spinning for a while
    (OpenBLAS's for up to ~0.1 s): a call made right after the OTHER library's shares
    the cores with them. Interleaving single calls made dlteach's 14x14 convolution look
    1.7x slower at 2 threads, and PyTorch's slower too.

    Also the minimum CPU time of the process ("<name>_cpu"): on one thread it is the
    time the work took even when other programs kept taking the CPU away from it.
    """
    for _ in range(warmup):
        for f in fns.values():
            f()
    best = {name: float("inf") for name in fns}
    best.update({name + "_cpu": float("inf") for name in fns})
    for _ in range(-(-reps // block)):
        for name, f in fns.items():
            time.sleep(pause)
            for _ in range(block):
                c0, t0 = time.process_time(), time.perf_counter()
                f()
                t1, c1 = time.perf_counter(), time.process_time()
                best[name] = min(best[name], t1 - t0)
                best[name + "_cpu"] = min(best[name + "_cpu"], c1 - c0)
    return best


def fwd_bwd(layer, x, grad_y):
    """One forward and one backward pass of a dlteach layer."""
    layer.forward(x)
    return layer.backward(grad_y)


def torch_fwd_bwd(module, x, grad_y):
    """The same in PyTorch; x.grad is reset so that dL/dx is stored, not accumulated."""
    x.grad = None
    module(x).backward(grad_y)


def torch_lstm_fwd_bwd(module, x, grad_y):
    """nn.LSTM forward over the whole sequence (every hidden state), then backward."""
    x.grad = None
    out, _ = module(x)
    out.backward(grad_y)


def torch_fwd_bwd_converted(module, x, grad_y, memory_format):
    """The same, converting x to memory_format first (and its gradient back)."""
    x.grad = None
    module(x.contiguous(memory_format=memory_format)).backward(grad_y)


def run_benchmarks(threads: int, quick: bool, only: tuple[str, ...] = KINDS) -> list[dict]:
    """All benchmarks (of the kinds in ``only``) at one thread count (in the subprocess)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from dlteach.activations import ReLU
    from dlteach.conv import Conv2D
    from dlteach.conv_reference import (
        conv2d_backward_naive,
        conv2d_forward_naive,
        maxpool2d_backward_naive,
        maxpool2d_forward_naive,
    )
    from dlteach.core import Sequential
    from dlteach.dense import Dense
    from dlteach.losses import SoftmaxCrossEntropy
    from dlteach.lstm import LSTM
    from dlteach.optim import SGD
    from dlteach.pooling import MaxPool2D
    from dlteach.reshape import Flatten

    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        torch = None

    reps = 5 if quick else 40
    rng = np.random.default_rng(0)
    rows: list[dict] = []

    def row(kind, name, times, naive=None):
        rows.append({"kind": kind, "name": name, "threads": threads, "naive": naive, **times})

    with threadpool_limits(threads):
        for N, C, H, F in CONV_SHAPES if {"conv", "pool"} & set(only) else ():
            x = rng.standard_normal((N, C, H, H), dtype=np.float32)
            g = rng.standard_normal((N, F, H, H), dtype=np.float32)
            conv = Conv2D(C, F, 3, padding=1, rng=0, dtype=np.float32)
            fns = {"dlteach": partial(fwd_bwd, conv, x, g)}
            pool = MaxPool2D(2)
            y = conv.forward(x)
            gp = rng.standard_normal((N, F, H // 2, H // 2), dtype=np.float32)
            pool_fns = {"dlteach": partial(fwd_bwd, pool, y, gp)}
            if torch is not None:
                tconv = torch.nn.Conv2d(C, F, 3, padding=1)
                xt = torch.from_numpy(x).requires_grad_(True)
                gt = torch.from_numpy(g)
                fns["torch"] = partial(torch_fwd_bwd, tconv, xt, gt)
                yt = torch.from_numpy(y).requires_grad_(True)
                yt_cl = torch.from_numpy(y).contiguous(memory_format=torch.channels_last)
                yt_cl.requires_grad_(True)
                gpt = torch.from_numpy(gp)
                gpt_cl = gpt.contiguous(memory_format=torch.channels_last)
                tpool = torch.nn.MaxPool2d(2)
                # Given dlteach's input (an NCHW tensor), PyTorch can pool it directly or
                # convert it to channels_last, pool, and convert the gradient back; the
                # faster of the two is the comparison. A channels_last INPUT (a network
                # laid out that way throughout) is timed too, for reference.
                pool_fns["torch"] = partial(torch_fwd_bwd, tpool, yt, gpt)
                pool_fns["torch_via_cl"] = partial(
                    torch_fwd_bwd_converted, tpool, yt, gpt, torch.channels_last
                )
                pool_fns["torch_cl"] = partial(torch_fwd_bwd, tpool, yt_cl, gpt_cl)
            # Plain loops on 2 examples, scaled to N.
            n_small = 2
            W, b = conv.W.value, conv.b.value
            t0 = time.perf_counter()
            conv2d_forward_naive(x[:n_small], W, b, 1, 1)
            conv2d_backward_naive(g[:n_small], x[:n_small], W, 1, 1)
            naive_conv = (time.perf_counter() - t0) * N / n_small
            t0 = time.perf_counter()
            maxpool2d_forward_naive(y[:n_small], 2)
            maxpool2d_backward_naive(gp[:n_small], y[:n_small], 2)
            naive_pool = (time.perf_counter() - t0) * N / n_small
            if "conv" in only:
                row("conv", f"Conv2D {N}x{C}x{H}x{H} -> {F}, 3x3 pad 1", best_of(fns, reps),
                    naive_conv)
            if "pool" in only:
                row("pool", f"MaxPool2D 2x2 on {N}x{F}x{H}x{H}", best_of(pool_fns, reps),
                    naive_pool)

        if "dense" in only:
            x = rng.standard_normal((256, 784), dtype=np.float32)
            g = rng.standard_normal((256, 256), dtype=np.float32)
            dense = Dense(784, 256, rng=0, dtype=np.float32)
            fns = {"dlteach": lambda: fwd_bwd(dense, x, g)}
            if torch is not None:
                lin = torch.nn.Linear(784, 256)
                xt, gt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(g)
                fns["torch"] = lambda: torch_fwd_bwd(lin, xt, gt)
            row("dense", "Dense 784 -> 256, batch 256", best_of(fns, reps))

        if "lstm" in only:
            # Lesson 5's layer: every hidden state of a whole sequence, then BPTT.
            N, T, D, H = LSTM_SHAPE
            xs = rng.standard_normal((N, T, D), dtype=np.float32)
            gs = rng.standard_normal((N, T, H), dtype=np.float32)
            lstm = LSTM(D, H, rng=0, dtype=np.float32)
            fns = {"dlteach": partial(fwd_bwd, lstm, xs, gs)}
            if torch is not None:
                tlstm = torch.nn.LSTM(D, H, batch_first=True)
                xst = torch.from_numpy(xs).requires_grad_(True)
                fns["torch"] = partial(torch_lstm_fwd_bwd, tlstm, xst, torch.from_numpy(gs))
            row("lstm", f"LSTM {N}x{T}x{D} -> {H}, all {T} steps", best_of(fns, reps))

        def epoch_row(kind, name, images, labels, batch, dl_layers, torch_layers):
            """One shuffled SGD epoch of the same network in both libraries."""
            model = Sequential(*dl_layers)
            loss_fn, opt = SoftmaxCrossEntropy(), SGD(model.parameters(), lr=0.01)
            order_rng = np.random.default_rng(1)

            def epoch_dlteach():
                order = order_rng.permutation(len(images))
                for start in range(0, len(images), batch):
                    idx = order[start : start + batch]
                    opt.zero_grad()
                    loss_fn.forward(model.forward(images[idx]), labels[idx])
                    model.backward(loss_fn.backward())
                    opt.step()

            fns = {"dlteach": epoch_dlteach}
            if torch is not None:
                tmodel = torch.nn.Sequential(*torch_layers())
                tloss = torch.nn.CrossEntropyLoss()
                topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
                timages, tlabels = torch.from_numpy(images), torch.from_numpy(labels)

                def epoch_torch():
                    order = torch.from_numpy(order_rng.permutation(len(images)))
                    for start in range(0, len(images), batch):
                        idx = order[start : start + batch]
                        topt.zero_grad()
                        tloss(tmodel(timages[idx]), tlabels[idx]).backward()
                        topt.step()

                fns["torch"] = epoch_torch
            row(kind, name, best_of(fns, 2 if quick else 5, warmup=1, block=1))

        if "epoch" not in only:
            return rows
        f32 = {"dtype": np.float32}
        epoch_kind = f"epoch-{threads}" if threads <= 2 else "epoch"
        nn = torch.nn if torch is not None else None

        # Lesson 4's network on its data: the 8x8 digits' training split (1,257 images),
        # batch 32 (the lesson trains it with Adam; both libraries use SGD here).
        from dlteach.data import load_digits, train_val_test_split

        digits = load_digits()
        split = train_val_test_split(digits.X, digits.y, seed=0)
        images = split.X_train.reshape(-1, 1, 8, 8).astype(np.float32)
        epoch_row(
            epoch_kind, "lesson 4 CNN epoch (1,257 8x8 digits)", images, split.y_train, 32,
            [Conv2D(1, 16, 3, padding=1, rng=0, **f32), ReLU(),
             Conv2D(16, 32, 3, padding=1, rng=1, **f32), ReLU(), MaxPool2D(2),
             Flatten(), Dense(512, 10, rng=2, **f32)],
            lambda: [nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                     nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                     nn.Flatten(), nn.Linear(512, 10)],
        )  # fmt: skip
        # A 28x28 MNIST-sized CNN: 5,000 random images, batch 64.
        images = rng.random((5000, 1, 28, 28), dtype=np.float32)
        labels = rng.integers(0, 10, size=5000)
        epoch_row(
            epoch_kind, "28x28 CNN epoch (5,000 images)", images, labels, 64,
            [Conv2D(1, 8, 3, padding=1, rng=0, **f32), ReLU(), MaxPool2D(2),
             Conv2D(8, 16, 3, padding=1, rng=1, **f32), ReLU(), MaxPool2D(2),
             Flatten(), Dense(784, 10, rng=2, **f32)],
            lambda: [nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                     nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                     nn.Flatten(), nn.Linear(784, 10)],
        )  # fmt: skip
    return rows


def comparison_key(r: dict) -> str:
    """Which PyTorch time a row is compared with."""
    if r["kind"] == "pool" and r.get("torch") is not None:
        # PyTorch's faster route for the same NCHW input.
        return "torch_via_cl" if r["torch_via_cl"] < r["torch"] else "torch"
    return "torch"


def merge_runs(runs: list[list[dict]]) -> list[dict]:
    """One row per benchmark: the median over runs of every time; the runs' ratios kept."""
    merged = []
    for rows in zip(*runs, strict=True):
        r = dict(rows[0])
        for key, value in rows[0].items():
            if isinstance(value, float) and key != "naive":
                r[key] = statistics.median(row[key] for row in rows)
        r["run_ratios"] = [
            row["dlteach"] / row[comparison_key(row)] for row in rows if row.get("torch")
        ]
        merged.append(r)
    return merged


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'benchmark (float32, forward+backward)':<44} {'thr':>3} {'dlteach':>8} "
        f"{'loops*':>8} {'PyTorch':>8} {'ratio':>6} {'cpu**':>6} {'target':>7}  runs***"
    )
    print(header)
    print("-" * len(header))

    def line(name, r, theirs_key, naive=None, target=None, runs=()):
        ours, theirs = r["dlteach"], r.get(theirs_key)
        wall = f"{ours / theirs:6.2f}" if theirs else "     -"
        cpu_ours, cpu_theirs = r.get("dlteach_cpu"), r.get(f"{theirs_key}_cpu")
        cpu = "     -"
        if r["threads"] == 1 and cpu_theirs:
            cpu = f"{cpu_ours / cpu_theirs:6.2f}"
        spread = f"{min(runs):.2f}-{max(runs):.2f}" if len(runs) > 1 else ""
        print(
            f"{name:<44} {r['threads']:>3} {ours * 1e3:8.2f} "
            f"{naive * 1e3 if naive else float('nan'):8.0f} "
            f"{theirs * 1e3 if theirs else float('nan'):8.2f} {wall} {cpu} "
            f"{('<= ' + format(target, 'g') + 'x') if target else '':>7}".replace("nan", "  -")
            + f"  {spread}"
        )

    for r in rows:
        target = TARGETS.get(r["kind"])
        line(r["name"], r, comparison_key(r), r.get("naive"), target, r.get("run_ratios", ()))
        if r["kind"] == "pool" and r.get("torch_cl") is not None:
            line("  same, vs PyTorch on a channels_last input", r, "torch_cl")
    print(
        "Times in ms (the epoch too): the median over runs of each run's best of k;"
        " ratio = dlteach / PyTorch (< 1: dlteach faster)."
    )
    print("Pooling: PyTorch gets the same NCHW tensor and takes the faster of its two routes")
    print("(its NCHW kernel, or converting to channels_last and back). The line below it")
    print("times PyTorch on an input that is ALREADY channels_last, for reference.")
    print("*  loops: dlteach.conv_reference's plain Python loops, timed on 2 examples and")
    print("   scaled up to the batch (extrapolated per example, not measured on the full batch).")
    print("** cpu: the same ratio measured in process CPU time (1 thread only): unaffected by")
    print("   other programs taking the CPU away, so trust it over 'ratio' on a busy machine.")
    print("*** runs: the lowest and highest ratio among the runs (--runs), a measure of noise.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--unset-openblas-env",
        action="store_true",
        help="run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (to see if they matter)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="run everything this many times (fresh processes) and report medians (default 3)",
    )
    parser.add_argument(
        "--only",
        default=",".join(KINDS),
        help=f"comma-separated benchmarks to run, among {', '.join(KINDS)} (default: all)",
    )
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    only = tuple(kind.strip() for kind in args.only.split(",") if kind.strip())
    unknown = sorted(set(only) - set(KINDS))
    if unknown or not only:
        parser.error(f"--only: unknown {unknown}; choose among {', '.join(KINDS)}")

    if args.worker is not None:  # inside the subprocess: run and hand back JSON
        print(json.dumps(run_benchmarks(args.worker, args.quick, only)))
        return

    print(
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r} "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')!r}"
        + ("  (unset for the runs below)" if args.unset_openblas_env else "")
    )
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start "
        "(other processes on the machine slow both libraries and add noise)"
    )
    runs: dict[int, list[list[dict]]] = {threads: [] for threads in args.threads}
    for _ in range(max(1, args.runs)):  # thread counts alternate, so noise hits both
        for threads in args.threads:
            env = dict(os.environ)
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[var] = str(threads)
            if args.unset_openblas_env:
                env.pop("OPENBLAS_CORETYPE", None)
                env.pop("OPENBLAS_L2_SIZE", None)
            cmd = [sys.executable, __file__, "--worker", str(threads), "--only", ",".join(only)]
            cmd += ["--quick"] if args.quick else []
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                sys.exit(f"benchmark with {threads} thread(s) failed:\n{out.stderr}")
            runs[threads].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print_table([row for threads in args.threads for row in merge_runs(runs[threads])])


if __name__ == "__main__":
    main()
