"""Train lesson 5's character-level language model and save its weights.

    python scripts/train_char_lm.py             # writes dlteach/pretrained/char_lm.npz
    python scripts/train_char_lm.py --out FILE  # somewhere else (an existing FILE is kept)
    python scripts/train_char_lm.py --epochs 2  # a quick try

The model is the one lesson 5 builds, Embedding(96, 32) -> LSTM(32, 128) -> TimeDense(128,
96), in float32 (a 390 KB file). It reads the standard library's docstrings
(``dl.stdlib_text``, the same text on CPython 3.10 to 3.13), split as in the lesson:
their first 300,000 characters in 100 blocks of 3,000, every tenth block held out
(30,000 characters the script measures once, at the end, as the lesson does). Of the
other blocks, every twentieth is validation text (15,000 characters): training stops
when its bits per character have not improved for 3 epochs, and keeps the best epoch.
The model trains on the remaining 255,000 characters with ``dl.fit``, Adam and gradient
clipping, for at most 40 epochs: about two minutes on the course's 2-core VM.

Re-runnable and deterministic: every random choice comes from a fixed seed, and NumPy's
BLAS runs on one thread (a float32 matrix product rounds differently with two), so a
re-run on the same kind of machine writes the same weights, bit for bit. Another CPU
rounds some products differently: its weights then differ in the last digits, its
samples too, its bits per character only in the third decimal.
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

TEXT_CHARS = 300_000  # the corpus: the first 300,000 characters of dl.stdlib_text
BLOCK = 3_000  # split into 100 blocks: held out k % 10 == 9, validation k % 20 == 4
EMBED, HIDDEN = 32, 128
WINDOW = 100  # characters per window (backpropagation through 100 steps)
SEED = 0


def build_model(vocab_size: int, dtype: type = np.float32) -> dl.Sequential:
    """The lesson's language model: characters -> vectors -> LSTM -> scores per character."""
    rng = np.random.default_rng(SEED)
    return dl.Sequential(
        dl.Embedding(vocab_size, EMBED, rng=rng, dtype=dtype),
        dl.LSTM(EMBED, HIDDEN, rng=rng, dtype=dtype),
        dl.TimeDense(HIDDEN, vocab_size, rng=rng, dtype=dtype),
    )


def bits_per_char(model: dl.Sequential, X: np.ndarray, Y: np.ndarray) -> float:
    """Mean -log2 p(next character) over every position of the windows X -> Y."""
    scores = dl.predict(model, X.astype(np.float32), batch_size=64)
    return dl.SequenceCrossEntropy()(scores, Y) / np.log(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dlteach" / "pretrained" / "char_lm.npz",
                        help="the .npz file to write (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=40, help="at most this many epochs")
    args = parser.parse_args(argv)
    if args.out.exists() and args.out != parser.get_default("out"):
        parser.error(f"{args.out} exists; remove it first or choose another --out")

    start = time.perf_counter()
    text = dl.stdlib_text(TEXT_CHARS)
    vocab = dl.CharVocab(text)
    ids = vocab.encode(text)
    blocks = ids.reshape(-1, BLOCK)  # (100, 3000)
    k = np.arange(len(blocks))
    held, val = k % 10 == 9, (k % 20 == 4) & (k % 10 != 9)
    X, Y = dl.text_windows(blocks[~held & ~val].ravel(), WINDOW)
    X_val, Y_val = dl.text_windows(blocks[val].ravel(), WINDOW)
    X_held, Y_held = dl.text_windows(blocks[held].ravel(), WINDOW)
    print(f"corpus: dl.stdlib_text({TEXT_CHARS:,}), {vocab}, in windows of {WINDOW} "
          f"characters: {len(X):,} for training, {len(X_val)} for validation, "
          f"{len(X_held)} held out")

    model = build_model(len(vocab))
    print(model.summary())
    print(f"before training: {bits_per_char(model, X_val, Y_val):.3f} bits per character "
          f"on the validation text (uniform guessing: {np.log2(len(vocab)):.3f})")
    history = dl.fit(
        model, X.astype(np.float32), Y, loss=dl.SequenceCrossEntropy(),
        optimizer=dl.Adam(model.parameters(), lr=3e-3), epochs=args.epochs, batch_size=32,
        seed=SEED, metrics=None, clip_norm=1.0,
        validation_data=(X_val.astype(np.float32), Y_val),
        early_stopping=dl.EarlyStopping(patience=3),
    )
    for epoch, loss, val in zip(history.epochs, history["loss"], history["val_loss"],
                                strict=True):
        print(f"epoch {epoch:>2}: training {loss / np.log(2):.3f} bits/char, "
              f"validation {val / np.log(2):.3f} bits/char")
    print(f"kept epoch {history.best_epoch}: {bits_per_char(model, X_held, Y_held):.3f} bits "
          "per character on the held-out text")
    print("sample (temperature 0.8, seed 0):")
    print(dl.sample(model, vocab, "Return the ", 300, temperature=0.8, seed=0))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    dl.save_parameters(model, args.out, overwrite=True)
    check = build_model(len(vocab))
    dl.load_parameters(check, args.out)  # the file loads into a fresh model
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, "
          f"{model.num_parameters():,} float32 parameters) in "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    with threadpool_limits(1, user_api="blas"):  # one thread: the same weights on every run
        raise SystemExit(main())
