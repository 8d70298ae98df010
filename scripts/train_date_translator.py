"""Train lesson 7's date translators, with and without attention, and save their weights.

    python scripts/train_date_translator.py              # writes dlteach/pretrained/dates_*.npz
    python scripts/train_date_translator.py --out-dir D  # somewhere else (existing files kept)
    python scripts/train_date_translator.py --steps 300  # a quick try

Two models of the same size (``dl.date_translator``: characters -> Embedding 16 -> LSTM
64 encoder and decoder, float32), one with additive attention (``dates_attention.npz``,
about 240 KB) and one without (``dates_plain.npz``), each trained on the same 30,000
generated pairs (``make_date_pairs(30_000, split="train", seed=0)``) for the same number
of Adam steps (batches of 64, gradients clipped to norm 1, learning rate 3e-3, divided
by 3 after half the steps and again after four fifths: a constant rate left the model
without attention jumping between 100% and 85% on held-out dates at the end). Every
250 steps both are measured on 1,000 held-out dates (split "test": days never written
in training, seed 2); at the end on 2,000 others (seed 1). Lesson 7 measures the saved
models on its own held-out dates (200 per format). About five minutes on the course's
2-core VM (measured: 291 and 393 s, on a machine shared with other jobs).

Re-runnable and deterministic: fixed seeds, and NumPy's BLAS on one thread (a float32
matrix product rounds differently with two), so a re-run on the same kind of machine
writes the same weights, bit for bit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dlteach as dl  # noqa: E402
from dlteach import dates  # noqa: E402

N_TRAIN, BATCH, LR, SEED = 30_000, 64, 3e-3, 0
MODELS = {"dates_attention.npz": "additive", "dates_plain.npz": None}


def accuracy(model, texts, isos, source, target) -> float:
    return dates.exact_match(dates.translate(model, texts, source, target), isos)


def train(kind, steps, data, source, target, val) -> dl.Seq2Seq:
    model = dates.date_translator(kind, rng=SEED)
    optimizer = dl.Adam(model.parameters(), lr=LR)
    loss = dl.SequenceCrossEntropy()
    rng = np.random.default_rng(SEED)
    step, losses = 0, []
    while step < steps:
        for b in dl.seq2seq_batches(*data, BATCH, bos_id=target.bos_id, eos_id=target.eos_id,
                                    seed=rng):
            optimizer.lr = LR / 3 ** ((step >= steps // 2) + (step >= 4 * steps // 5))
            losses.append(dl.seq2seq_train_step(model, b, optimizer, loss, max_norm=1.0))
            step += 1
            if step % 250 == 0:
                print(f"  step {step:>5}: loss {np.mean(losses[-250:]):.4f}, held-out exact "
                      f"match {100 * accuracy(model, *val, source, target):.1f}%", flush=True)
            if step == steps:
                break
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_dir = REPO / "dlteach" / "pretrained"
    parser.add_argument("--out-dir", type=Path, default=default_dir,
                        help="the directory to write both .npz files to (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps per model")
    args = parser.parse_args(argv)
    for name in MODELS:
        if (args.out_dir / name).exists() and args.out_dir != default_dir:
            parser.error(f"{args.out_dir / name} exists; remove it or choose another --out-dir")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    source, target = dates.char_vocabularies()
    sources, isos = dates.make_date_pairs(N_TRAIN, split="train", seed=SEED)
    data = (dates.encode_chars(sources, source), dates.encode_chars(isos, target))
    val = dates.make_date_pairs(1000, split="test", seed=2)
    test = dates.make_date_pairs(2000, split="test", seed=1)
    for name, kind in MODELS.items():
        print(f"{name}: attention={kind!r}, {args.steps} steps")
        model = train(kind, args.steps, data, source, target, val)
        predicted = dates.translate(model, test[0], source, target)
        right = np.array([p == t for p, t in zip(predicted, test[1], strict=True)])
        print(f"  held-out test: {right.sum()} of {len(right)} exact "
              f"({100 * right.mean():.1f}%)")
        wrong = [(s, p, t) for s, p, t, r in zip(test[0], predicted, test[1], right,
                                                   strict=True) if not r]
        for s, p, t in wrong[:8]:
            print(f"    {s!r}: {p!r}, should be {t!r}")
        path = args.out_dir / name
        dl.save_parameters(model, path, overwrite=True)
        check = dates.date_translator(kind, rng=1)
        dl.load_parameters(check, path)  # the file loads into a fresh model
        print(f"  wrote {path} ({path.stat().st_size:,} bytes, {model.num_parameters():,} "
              "float32 parameters)")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    with threadpool_limits(1, user_api="blas"):  # one thread: the same weights on every run
        raise SystemExit(main())
