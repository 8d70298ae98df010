"""Exercise checks, one module per lesson (``lesson01``, ``lesson02``, ...).

In a lesson notebook::

    from dlteach.exercises import lesson01 as ex
    ex.check_weighted_sum(weighted_sum)   # displays ✅ / ❌ / ⏳ and the details

``LESSON_EXERCISES`` lists, for each lesson notebook (by file stem), the exercises it
contains in the order they appear. The grader uses it to report every expected
exercise, including those whose check never ran. Each lesson module defines a
``check_<name>`` function for every name listed here.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

LESSON_EXERCISES: dict[str, tuple[str, ...]] = {
    "01_perceptron": (
        "weighted_sum",
        "step",
        "perceptron_update",
        "count_mistakes",
        "nand_weights",
    ),
    "02_backpropagation": (
        "sigmoid_grad", "dense_forward", "softmax_cross_entropy", "dense_backward", "gd_step",
    ),
    "03_deep_networks": (
        "accuracy", "minibatches", "momentum_step", "adam_step", "he_normal",
    ),
    "04_cnn": (
        "conv_output_size", "conv2d_forward", "im2col", "maxpool_forward", "maxpool_backward",
    ),
    "05_rnn_lstm": (
        "rnn_step", "rnn_step_backward", "lstm_step", "lstm_cell_grad", "clip_grad_norm",
        "softmax_with_temperature",
    ),
    "06_language": ("pad_with_mask", "bag_of_words", "embedding_backward", "last_hidden_state"),
    "07_attention": (
        "masked_softmax", "scaled_dot_product_attention", "attention_decoder_step",
    ),
    "08_vision": ("box_iou", "upsample_nearest", "upsample_nearest_backward",
                  "pixel_cross_entropy"),
    "09_healthcare": ("sensitivity_specificity", "roc_points", "threshold_for_sensitivity"),
    "10_to_pytorch": ("linear_weights", "lstm_weights", "channels_last"),
}


def expected_exercises(notebook_path: str | PathLike[str]) -> tuple[str, ...] | None:
    """The exercises a lesson notebook should contain, in order; None for unknown notebooks.

    The lookup uses the file stem, so ``solutions/01_perceptron.ipynb`` and a learner's
    copy ``notebooks/01_perceptron.ipynb`` expect the same exercises.
    """
    return LESSON_EXERCISES.get(Path(notebook_path).stem)
