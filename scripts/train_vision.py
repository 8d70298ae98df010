"""Train lesson 8's detector and segmenter and save their weights.

    python scripts/train_vision.py detector    # writes dlteach/pretrained/detector.npz
    python scripts/train_vision.py segmenter   # writes dlteach/pretrained/segmenter.npz
    python scripts/train_vision.py detector --out FILE   # elsewhere (an existing FILE is kept)
    python scripts/train_vision.py segmenter --epochs 2  # a quick try

detector: ``dl.build_detector(10, (32, 32))`` (a conv trunk 8-16-32 with a 128-feature
layer, a class head and a box head; float32) on 20,000 generated canvases
(``dl.make_detection_canvases``) whose digits are the "train" part of scikit-learn's
8x8 digits, with ``dl.DetectionLoss(box_weight=2)``. Validation: 1,000 more canvases of
the same digits (seed 3); training stops when their loss has not improved for 5 epochs
and keeps the best epoch. The script then measures 1,000 canvases of the held-out "test"
digits (seed 2), the set lesson 8 measures.

segmenter: ``dl.fcn(1, 4, (16, 32, 32))`` on 3,000 generated shape scenes
(``dl.make_shape_scenes``, seed 1) with ``dl.PixelCrossEntropy()``, validation on 300
scenes (seed 3), held-out measurement on 300 scenes (seed 2), as in the lesson.

Deterministic: fixed seeds, and NumPy's BLAS on one thread (a float32 product rounds
differently with two), so a re-run on the same kind of machine writes the same weights.
Both use Adam; times on the course's 2-core VM are printed at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dlteach as dl  # noqa: E402

CANVAS = 32
SCENE = 32
SEED = 0


def build(which: str) -> dl.Layer:
    """The lesson's architectures, with the lesson's seeds."""
    if which == "detector":
        return dl.build_detector(10, (CANVAS, CANVAS), rng=SEED)
    return dl.fcn(1, len(dl.SHAPE_NAMES), (16, 32, 32), rng=SEED)


def train_detector(model: dl.Layer, epochs: int) -> None:
    size = (CANVAS, CANVAS)
    train = dl.make_detection_canvases(20_000, CANVAS, part="train", seed=1)
    val = dl.make_detection_canvases(1_000, CANVAS, part="train", seed=3)
    test = dl.make_detection_canvases(1_000, CANVAS, part="test", seed=2)
    y, y_val = (dl.detection_targets(s.labels, s.boxes, size) for s in (train, val))
    history = dl.fit(
        model, train.images, y, loss=dl.DetectionLoss(box_weight=2.0),
        optimizer=dl.Adam(model.parameters(), lr=1e-3), epochs=epochs, batch_size=32,
        seed=SEED, metrics=None, validation_data=(val.images, y_val),
        early_stopping=dl.EarlyStopping(patience=5),
    )
    for epoch, loss, v in zip(history.epochs, history["loss"], history["val_loss"], strict=True):
        print(f"epoch {epoch:>2}: training loss {loss:.4f}, validation loss {v:.4f}")
    for name, s in (("validation (train digits)", val), ("held out (test digits)", test)):
        scores = dl.detection_scores(dl.predict(model, s.images), s.labels, s.boxes, size)
        print(f"{name}: accuracy {scores['accuracy']:.1%}, mean IoU {scores['mean_iou']:.3f}, "
              f"found (right class, IoU >= 0.5) {scores['found']:.1%}")


def train_segmenter(model: dl.Layer, epochs: int) -> None:
    train = dl.make_shape_scenes(3_000, SCENE, seed=1)
    val = dl.make_shape_scenes(300, SCENE, seed=3)
    test = dl.make_shape_scenes(300, SCENE, seed=2)
    history = dl.fit(
        model, train.images, train.masks, loss=dl.PixelCrossEntropy(),
        optimizer=dl.Adam(model.parameters(), lr=3e-3), epochs=epochs, batch_size=32,
        seed=SEED, metrics=None, validation_data=(val.images, val.masks),
        early_stopping=dl.EarlyStopping(patience=5),
    )
    for epoch, loss, v in zip(history.epochs, history["loss"], history["val_loss"], strict=True):
        print(f"epoch {epoch:>2}: training loss {loss:.4f}, validation loss {v:.4f}")
    for name, s in (("validation", val), ("held out", test)):
        pred = dl.predict(model, s.images).argmax(axis=1)
        iou = dl.segmentation_iou(pred, s.masks, len(dl.SHAPE_NAMES))
        print(f"{name}: pixel accuracy {dl.pixel_accuracy(pred, s.masks):.1%}, IoU "
              + ", ".join(f"{n} {v:.3f}" for n, v in zip(dl.SHAPE_NAMES, iou, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=["detector", "segmenter"])
    parser.add_argument("--out", type=Path, default=None,
                        help="the .npz file to write (default: dlteach/pretrained/WHICH.npz)")
    parser.add_argument("--epochs", type=int, default=40, help="at most this many epochs")
    args = parser.parse_args(argv)
    default = REPO / "dlteach" / "pretrained" / f"{args.which}.npz"
    out = default if args.out is None else args.out
    if args.out is not None and out.exists():
        parser.error(f"{out} exists; remove it first or choose another --out")

    start = time.perf_counter()
    model = build(args.which)
    print(f"{args.which}: {model.num_parameters():,} parameters")
    (train_detector if args.which == "detector" else train_segmenter)(model, args.epochs)

    out.parent.mkdir(parents=True, exist_ok=True)
    dl.save_parameters(model, out, overwrite=True)
    check = build(args.which)
    dl.load_parameters(check, out)  # the file loads into a fresh model
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {model.num_parameters():,} float32 "
          f"parameters) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    with threadpool_limits(1, user_api="blas"):  # one thread: the same weights on every run
        raise SystemExit(main())
