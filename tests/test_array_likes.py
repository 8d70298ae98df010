"""Every public function that takes an array turns ragged lists, object arrays and text
into a named dlteach error, never NumPy's "inhomogeneous shape" or a stray TypeError.

The table below names, for every public function and method whose signature takes an
ndarray, how to call it with one bad argument. A meta-test finds those signatures
itself, so a new public function without an entry here fails with a message to add one.
"""

from __future__ import annotations

import inspect

import matplotlib
import numpy as np
import pytest

import dlteach as dl
from dlteach.errors import DLTeachError

matplotlib.use("Agg")

RAGGED = [[1.0, 2.0], [3.0]]
RAGGED_DEEP = [[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0]]]
OBJECTS = np.array([1.0, None, {}], dtype=object)
TEXT = np.array(["1", "2", "3"])
BAD = {"ragged": RAGGED, "ragged_deep": RAGGED_DEEP, "objects": OBJECTS, "text": TEXT,
       "text_list": ["a", "b"]}

X = np.zeros((4, 2))
Y = np.array([0, 1, 0, 1])
IMG = np.zeros((1, 1, 4, 4))
W4 = np.zeros((1, 1, 3, 3))


def _model():
    return dl.Sequential(dl.Dense(2, 2, rng=0), dl.ReLU())


def _layer_forward(make):
    return lambda bad: make().forward(bad)


def _loss_call(make, position):
    good = {"pred": np.zeros((2, 2)), "target": np.zeros((2, 2))}
    if make is dl.SoftmaxCrossEntropy:
        good["target"] = np.array([0, 1])

    def call(bad):
        args = dict(good, **{position: bad})
        return make()(args["pred"], args["target"])
    return call


def _gen_step(fn, n_arrays, position, extra):
    def call(bad):
        arrays = [np.zeros(3) for _ in range(n_arrays)]
        arrays[position] = bad
        return fn(*arrays, *extra)
    return call


SEQ = np.zeros((2, 3, 2))  # (N, T, D)
TOKENS = np.zeros((2, 3), dtype=int)
RNN_STEP = {"x": np.zeros((2, 2)), "h_prev": np.zeros((2, 2)), "Wx": np.zeros((2, 2)),
            "Wh": np.zeros((2, 2)), "b": np.zeros(2)}
LSTM_STEP = {"x": np.zeros((2, 2)), "h_prev": np.zeros((2, 2)), "c_prev": np.zeros((2, 2)),
             "Wx": np.zeros((2, 8)), "Wh": np.zeros((2, 8)), "b": np.zeros(8)}


def _step(fn, args, name):
    return lambda bad: fn(**dict(args, **{name: bad}))


def _rnn_step_backward(bad):
    _, cache = dl.rnn_step_forward(*RNN_STEP.values())
    return dl.rnn_step_backward(bad, cache)


def _lstm_step_backward(position):
    def call(bad):
        _, _, cache = dl.lstm_step_forward(*LSTM_STEP.values())
        grads = [np.zeros((2, 2)), np.zeros((2, 2))]
        grads[position] = bad
        return dl.lstm_step_backward(*grads, cache)
    return call


def _sequence_loss(position):
    def call(bad):
        args = {"logits": np.zeros((2, 3, 4)), "target": TOKENS, "mask": np.ones((2, 3))}
        args[position] = bad
        return dl.SequenceCrossEntropy().forward(**args)
    return call


ATTN = {"query": np.zeros((2, 3, 2)), "keys": np.zeros((2, 3, 2)), "values": np.zeros((2, 3, 2)),
        "mask": np.ones((2, 3))}
ADDITIVE = {**{k: v for k, v in ATTN.items() if k != "mask"}, "Wq": np.zeros((2, 2)),
            "Wk": np.zeros((2, 2)), "w": np.zeros(2), "mask": np.ones((2, 3))}
ATTN_BACK = {"grad_context": np.zeros((2, 3, 2)), "query": ATTN["query"], "keys": ATTN["keys"],
             "values": ATTN["values"], "weights": np.full((2, 3, 3), 1 / 3)}
ADDITIVE_BACK = {**{k: v for k, v in ADDITIVE.items() if k != "mask"},
                 "grad_context": np.zeros((2, 3, 2)), "weights": np.full((2, 3, 3), 1 / 3)}
SEQ2SEQ = {"src": np.ones((2, 3), dtype=int), "dec_in": np.ones((2, 2), dtype=int),
           "src_mask": np.ones((2, 3))}


STORY = {"story": np.ones((2, 3, 2), dtype=int), "question": np.ones((2, 2), dtype=int),
         "story_mask": np.ones((2, 3), dtype=bool)}


def _attention_layer(make, name):
    return lambda bad: make().forward(**dict(ATTN, **{name: bad}))


def _seq2seq_batches(name):
    def call(bad):
        args = {"sources": [[4]], "targets": [[4]], name: [bad]}
        return dl.seq2seq_batches(args["sources"], args["targets"], 1, bos_id=2, eos_id=3)
    return call


PIXELS = {"logits": np.zeros((1, 2, 2, 2)), "target": np.zeros((1, 2, 2), dtype=int)}
BOXES = np.array([[0.0, 0.0, 2.0, 2.0]])
BINARY = {"y_true": np.array([0, 1, 1, 0]), "scores": np.array([0.1, 0.8, 0.4, 0.3])}


def _on_axes(draw):
    import matplotlib.pyplot as plt

    def call(bad):
        _, ax = plt.subplots()
        return draw(ax, bad)
    return call


def _binary_call(fn, name, names=("y_true", "scores")):
    def call(bad):
        args = dict(zip(names, BINARY.values(), strict=True))
        args[name] = bad
        return fn(**args)
    return call


# (public name, method or "", parameter) -> a call with ``bad`` in that parameter.
CALLS = {
    ("AvgPool2D", "forward", "x"): _layer_forward(lambda: dl.AvgPool2D(2)),
    ("MaxPool2D", "forward", "x"): _layer_forward(lambda: dl.MaxPool2D(2)),
    ("Conv2D", "forward", "x"): _layer_forward(lambda: dl.Conv2D(1, 1, 3, rng=0)),
    ("Dense", "forward", "x"): _layer_forward(lambda: dl.Dense(2, 2, rng=0)),
    ("Flatten", "forward", "x"): _layer_forward(dl.Flatten),
    ("ReLU", "forward", "x"): _layer_forward(dl.ReLU),
    ("Sigmoid", "forward", "x"): _layer_forward(dl.Sigmoid),
    ("Tanh", "forward", "x"): _layer_forward(dl.Tanh),
    ("Softmax", "forward", "x"): _layer_forward(dl.Softmax),
    ("Sequential", "forward", "x"): _layer_forward(_model),
    ("BinaryCrossEntropy", "forward", "pred"): _loss_call(dl.BinaryCrossEntropy, "pred"),
    ("BinaryCrossEntropy", "forward", "target"): _loss_call(dl.BinaryCrossEntropy, "target"),
    ("MSELoss", "forward", "pred"): _loss_call(dl.MSELoss, "pred"),
    ("MSELoss", "forward", "target"): _loss_call(dl.MSELoss, "target"),
    ("SoftmaxCrossEntropy", "forward", "logits"): _loss_call(dl.SoftmaxCrossEntropy, "pred"),
    ("SoftmaxCrossEntropy", "forward", "target"): _loss_call(dl.SoftmaxCrossEntropy, "target"),
    ("Dataset", "__init__", "X"): lambda bad: dl.Dataset("d", bad, Y, (), (), ""),
    ("Dataset", "__init__", "y"): lambda bad: dl.Dataset("d", X, bad, (), (), ""),
    ("Dataset", "__init__", "images"): lambda bad: dl.Dataset("d", X, Y, (), (), "", bad),
    ("Parameter", "__init__", "value"): lambda bad: dl.Parameter(bad),
    ("Perceptron", "fit", "X"): lambda bad: dl.Perceptron().fit(bad, Y),
    ("Perceptron", "fit", "y"): lambda bad: dl.Perceptron().fit(X, bad),
    ("Perceptron", "predict", "X"): lambda bad: dl.Perceptron().fit(X, Y).predict(bad),
    ("Standardizer", "fit", "X"): lambda bad: dl.Standardizer().fit(bad),
    ("Standardizer", "transform", "X"): lambda bad: dl.Standardizer().fit(X).transform(bad),
    ("accuracy", "", "y_true"): lambda bad: dl.accuracy(bad, Y),
    ("accuracy", "", "y_pred"): lambda bad: dl.accuracy(Y, bad),
    ("confusion_matrix", "", "y_true"): lambda bad: dl.confusion_matrix(bad, Y),
    ("confusion_matrix", "", "y_pred"): lambda bad: dl.confusion_matrix(Y, bad),
    ("scores_to_labels", "", "scores"): lambda bad: dl.scores_to_labels(bad),
    ("activation_stats", "", "X"): lambda bad: dl.activation_stats(_model(), bad),
    ("layer_outputs", "", "X"): lambda bad: dl.layer_outputs(_model(), bad),
    ("gradient_norms", "", "X"): lambda bad: dl.gradient_norms(
        _model(), bad, Y, dl.SoftmaxCrossEntropy()),
    ("gradient_norms", "", "y"): lambda bad: dl.gradient_norms(
        _model(), X, bad, dl.SoftmaxCrossEntropy()),
    ("class_separation", "", "H"): lambda bad: dl.class_separation(bad, Y),
    ("class_separation", "", "y"): lambda bad: dl.class_separation(X, bad),
    ("pca_project", "", "X"): lambda bad: dl.pca_project(bad),
    ("adam_step", "", "w"): _gen_step(dl.adam_step, 4, 0, (1,)),
    ("adam_step", "", "grad"): _gen_step(dl.adam_step, 4, 1, (1,)),
    ("adam_step", "", "m"): _gen_step(dl.adam_step, 4, 2, (1,)),
    ("adam_step", "", "v"): _gen_step(dl.adam_step, 4, 3, (1,)),
    ("momentum_step", "", "w"): _gen_step(dl.momentum_step, 3, 0, (0.1, 0.9)),
    ("momentum_step", "", "grad"): _gen_step(dl.momentum_step, 3, 1, (0.1, 0.9)),
    ("momentum_step", "", "velocity"): _gen_step(dl.momentum_step, 3, 2, (0.1, 0.9)),
    ("sgd_step", "", "w"): _gen_step(dl.sgd_step, 2, 0, (0.1,)),
    ("sgd_step", "", "grad"): _gen_step(dl.sgd_step, 2, 1, (0.1,)),
    ("avgpool2d_forward_naive", "", "x"): lambda bad: dl.avgpool2d_forward_naive(bad, 2),
    ("avgpool2d_backward_naive", "", "x"): lambda bad: dl.avgpool2d_backward_naive(
        np.zeros((1, 1, 2, 2)), bad, 2),
    ("avgpool2d_backward_naive", "", "grad_y"): lambda bad: dl.avgpool2d_backward_naive(
        bad, IMG, 2),
    ("maxpool2d_forward_naive", "", "x"): lambda bad: dl.maxpool2d_forward_naive(bad, 2),
    ("maxpool2d_backward_naive", "", "x"): lambda bad: dl.maxpool2d_backward_naive(
        np.zeros((1, 1, 2, 2)), bad, 2),
    ("maxpool2d_backward_naive", "", "grad_y"): lambda bad: dl.maxpool2d_backward_naive(
        bad, IMG, 2),
    ("conv2d_forward_naive", "", "x"): lambda bad: dl.conv2d_forward_naive(bad, W4, np.zeros(1)),
    ("conv2d_forward_naive", "", "W"): lambda bad: dl.conv2d_forward_naive(IMG, bad, np.zeros(1)),
    ("conv2d_forward_naive", "", "b"): lambda bad: dl.conv2d_forward_naive(IMG, W4, bad),
    ("conv2d_backward_naive", "", "grad_y"): lambda bad: dl.conv2d_backward_naive(bad, IMG, W4),
    ("conv2d_backward_naive", "", "x"): lambda bad: dl.conv2d_backward_naive(
        np.zeros((1, 1, 2, 2)), bad, W4),
    ("conv2d_backward_naive", "", "W"): lambda bad: dl.conv2d_backward_naive(
        np.zeros((1, 1, 2, 2)), IMG, bad),
    ("im2col", "", "x"): lambda bad: dl.im2col(bad, 3),
    ("col2im", "", "cols"): lambda bad: dl.col2im(bad, (1, 1, 4, 4), 3),
    ("count_mistakes", "", "w"): lambda bad: dl.count_mistakes(bad, 0.0, X, Y),
    ("count_mistakes", "", "X"): lambda bad: dl.count_mistakes(np.zeros(2), 0.0, bad, Y),
    ("count_mistakes", "", "y"): lambda bad: dl.count_mistakes(np.zeros(2), 0.0, X, bad),
    ("perceptron_update", "", "w"): lambda bad: dl.perceptron_update(bad, 0.0, X[0], 1, 0.1),
    ("perceptron_update", "", "x_i"): lambda bad: dl.perceptron_update(
        np.zeros(2), 0.0, bad, 1, 0.1),
    ("weighted_sum", "", "x"): lambda bad: dl.weighted_sum(bad, np.zeros(2), 0.0),
    ("weighted_sum", "", "w"): lambda bad: dl.weighted_sum(X, bad, 0.0),
    ("step", "", "z"): lambda bad: dl.step(bad),
    ("evaluate", "", "X"): lambda bad: dl.evaluate(_model(), bad, Y),
    ("evaluate", "", "y"): lambda bad: dl.evaluate(_model(), X, bad),
    ("fit", "", "X"): lambda bad: _fit(bad, Y),
    ("fit", "", "y"): lambda bad: _fit(X, bad),
    ("fit", "", "validation_data"): lambda bad: _fit(X, Y, validation_data=(bad, Y)),
    ("predict", "", "X"): lambda bad: dl.predict(_model(), bad),
    ("predict_classes", "", "X"): lambda bad: dl.predict_classes(_model(), bad),
    ("gradcheck", "", "x"): lambda bad: dl.gradcheck(_model(), bad),
    ("gradcheck", "", "target"): lambda bad: dl.gradcheck(
        _model(), X, target=bad, loss=dl.SoftmaxCrossEntropy()),
    ("make_blobs", "", "centers"): lambda bad: dl.make_blobs(10, centers=bad),
    ("minibatches", "", "X"): lambda bad: list(dl.minibatches(bad, Y, 2)),
    ("minibatches", "", "y"): lambda bad: list(dl.minibatches(X, bad, 2)),
    ("one_hot", "", "y"): lambda bad: dl.one_hot(bad),
    ("train_val_test_split", "", "X"): lambda bad: dl.train_val_test_split(bad, Y),
    ("train_val_test_split", "", "y"): lambda bad: dl.train_val_test_split(X, bad),
    ("relative_error", "", "analytic"): lambda bad: dl.relative_error(bad, np.zeros(2)),
    ("relative_error", "", "numerical"): lambda bad: dl.relative_error(np.zeros(2), bad),
    ("log_softmax", "", "x"): lambda bad: dl.log_softmax(bad),
    ("softmax", "", "x"): lambda bad: dl.softmax(bad),
    ("relu", "", "x"): lambda bad: dl.relu(bad),
    ("sigmoid", "", "x"): lambda bad: dl.sigmoid(bad),
    ("sigmoid_grad", "", "x"): lambda bad: dl.sigmoid_grad(bad),
    ("tanh", "", "x"): lambda bad: dl.tanh(bad),
    ("plot_confusion_matrix", "", "cm"): lambda bad: dl.plot_confusion_matrix(bad),
    ("plot_decision_boundary", "", "X"): lambda bad: dl.plot_decision_boundary(
        _model(), bad, Y),
    ("plot_decision_boundary", "", "y"): lambda bad: dl.plot_decision_boundary(
        _model(), X, bad),
    ("plot_image_grid", "", "images"): lambda bad: dl.plot_image_grid(bad),
    ("plot_image_grid", "", "labels"): lambda bad: dl.plot_image_grid(np.zeros((3, 2, 2)), bad),
    ("plot_image_grid", "", "predictions"): lambda bad: dl.plot_image_grid(
        np.zeros((3, 2, 2)), np.zeros(3, dtype=int), bad),
    ("Embedding", "forward", "tokens"): _layer_forward(lambda: dl.Embedding(4, 2, rng=0)),
    ("RNN", "forward", "x"): _layer_forward(lambda: dl.RNN(2, 2, rng=0)),
    ("RNN", "forward", "h0"): lambda bad: dl.RNN(2, 2, rng=0).forward(SEQ, bad),
    ("LSTM", "forward", "x"): _layer_forward(lambda: dl.LSTM(2, 2, rng=0)),
    ("LSTM", "forward", "h0"): lambda bad: dl.LSTM(2, 2, rng=0).forward(SEQ, bad),
    ("LSTM", "forward", "c0"): lambda bad: dl.LSTM(2, 2, rng=0).forward(SEQ, None, bad),
    ("TimeDense", "forward", "x"): _layer_forward(lambda: dl.TimeDense(2, 2, rng=0)),
    ("SequenceCrossEntropy", "forward", "logits"): _sequence_loss("logits"),
    ("SequenceCrossEntropy", "forward", "target"): _sequence_loss("target"),
    ("SequenceCrossEntropy", "forward", "mask"): _sequence_loss("mask"),
    ("sequence_accuracy", "", "scores"): lambda bad: dl.sequence_accuracy(bad, TOKENS),
    ("sequence_accuracy", "", "targets"): lambda bad: dl.sequence_accuracy(
        np.zeros((2, 3, 4)), bad),
    ("sequence_accuracy", "", "mask"): lambda bad: dl.sequence_accuracy(
        np.zeros((2, 3, 4)), TOKENS, bad),
    ("tbptt_windows", "", "x"): lambda bad: dl.tbptt_windows(bad, 2),
    ("tbptt_windows", "", "y"): lambda bad: dl.tbptt_windows(SEQ, 2, bad),
    ("gradient_through_time", "", "x"): lambda bad: dl.gradient_through_time(
        dl.RNN(2, 2, rng=0), bad),
    ("text_windows", "", "ids"): lambda bad: dl.text_windows(bad, 2),
    ("text_streams", "", "ids"): lambda bad: dl.text_streams(bad, 2),
    **{("rnn_step_forward", "", name): _step(dl.rnn_step_forward, RNN_STEP, name)
       for name in RNN_STEP},
    ("rnn_step_backward", "", "grad_h"): _rnn_step_backward,
    **{("lstm_step_forward", "", name): _step(dl.lstm_step_forward, LSTM_STEP, name)
       for name in LSTM_STEP},
    ("lstm_step_backward", "", "grad_h"): _lstm_step_backward(0),
    ("lstm_step_backward", "", "grad_c"): _lstm_step_backward(1),
    ("pad_sequences", "", "seqs"): lambda bad: dl.pad_sequences([bad]),  # one bad sequence
    ("teacher_forcing_targets", "", "seqs"): lambda bad: dl.teacher_forcing_targets(
        [[4], bad], 2, 3),
    ("seq2seq_batches", "", "sources"): _seq2seq_batches("sources"),
    ("seq2seq_batches", "", "targets"): _seq2seq_batches("targets"),
    ("masked_softmax", "", "scores"): lambda bad: dl.masked_softmax(bad),
    ("masked_softmax", "", "mask"): lambda bad: dl.masked_softmax(np.zeros((2, 3)), bad),
    ("masked_softmax_backward", "", "grad_weights"): lambda bad: dl.masked_softmax_backward(
        bad, np.full((2, 3), 1 / 3)),
    ("masked_softmax_backward", "", "weights"): lambda bad: dl.masked_softmax_backward(
        np.zeros((2, 3)), bad),
    **{("scaled_dot_product_attention", "", name): _step(dl.scaled_dot_product_attention, ATTN,
                                                          name) for name in ATTN},
    **{("scaled_dot_product_attention_backward", "", name): _step(
        dl.scaled_dot_product_attention_backward, ATTN_BACK, name) for name in ATTN_BACK},
    **{("additive_attention", "", name): _step(dl.additive_attention, ADDITIVE, name)
       for name in ADDITIVE},
    **{("additive_attention_backward", "", name): _step(dl.additive_attention_backward,
                                                         ADDITIVE_BACK, name)
       for name in ADDITIVE_BACK},
    **{("DotProductAttention", "forward", name): _attention_layer(dl.DotProductAttention, name)
       for name in ATTN},
    **{("AdditiveAttention", "forward", name): _attention_layer(
        lambda: dl.AdditiveAttention(2, 2, 2, rng=0), name) for name in ATTN},
    **{("Seq2Seq", "forward", name): (lambda bad, name=name: dl.Seq2Seq(5, 5, 2, 2, rng=0).forward(
        **dict(SEQ2SEQ, **{name: bad}))) for name in SEQ2SEQ},
    # lesson 6: sentiment
    ("bag_of_words", "", "ids"): lambda bad: dl.bag_of_words(bad, 5),
    ("last_hidden_state", "", "h"): lambda bad: dl.last_hidden_state(bad, np.ones((2, 3))),
    ("last_hidden_state", "", "mask"): lambda bad: dl.last_hidden_state(SEQ, bad),
    ("last_hidden_state_backward", "", "grad"): lambda bad: dl.last_hidden_state_backward(
        bad, np.ones((2, 3))),
    ("last_hidden_state_backward", "", "mask"): lambda bad: dl.last_hidden_state_backward(
        np.zeros((2, 2)), bad),
    ("LSTMClassifier", "forward", "tokens"): _layer_forward(
        lambda: dl.LSTMClassifier(5, 2, 2, rng=0)),
    # lesson 7: dates and stories
    ("decode_chars", "", "tokens"): lambda bad: dl.decode_chars(bad, dl.char_vocabularies()[1]),
    ("position_encoding", "", "words"): lambda bad: dl.position_encoding(bad, 3),
    ("accuracy_by_kind", "", "predicted"): lambda bad: dl.accuracy_by_kind(
        bad, dl.make_stories(2, seed=0)),
    **{("MemoryQA", "forward", name): (lambda bad, name=name: dl.MemoryQA(5, 2, 2, 3, rng=0)
                                        .forward(**dict(STORY, **{name: bad})))
       for name in STORY},
    # lessons 8-9: vision beyond classification, diagnosis
    ("Upsample2D", "forward", "x"): _layer_forward(dl.Upsample2D),
    ("ConvTranspose2D", "forward", "x"): _layer_forward(lambda: dl.ConvTranspose2D(1, 1, 2, rng=0)),
    ("PixelCrossEntropy", "__init__", "class_weights"): lambda bad: dl.PixelCrossEntropy(
        class_weights=bad),
    **{("PixelCrossEntropy", "forward", name): (
        lambda bad, name=name: dl.PixelCrossEntropy().forward(**dict(PIXELS, **{name: bad})))
       for name in PIXELS},
    ("SoftmaxCrossEntropy", "__init__", "class_weights"): lambda bad: dl.SoftmaxCrossEntropy(
        class_weights=bad),
    ("BinaryCrossEntropy", "__init__", "class_weights"): lambda bad: dl.BinaryCrossEntropy(
        class_weights=bad),
    ("pixel_accuracy", "", "pred"): lambda bad: dl.pixel_accuracy(bad, PIXELS["target"]),
    ("pixel_accuracy", "", "true"): lambda bad: dl.pixel_accuracy(PIXELS["target"], bad),
    ("segmentation_iou", "", "pred_labels"): lambda bad: dl.segmentation_iou(
        bad, PIXELS["target"], 2),
    ("segmentation_iou", "", "true_labels"): lambda bad: dl.segmentation_iou(
        PIXELS["target"], bad, 2),
    ("box_areas", "", "boxes"): lambda bad: dl.box_areas(bad),
    ("box_iou", "", "a"): lambda bad: dl.box_iou(bad, BOXES),
    ("box_iou", "", "b"): lambda bad: dl.box_iou(BOXES, bad),
    ("encode_boxes", "", "boxes"): lambda bad: dl.encode_boxes(bad, (4, 4)),
    ("decode_boxes", "", "encoded"): lambda bad: dl.decode_boxes(bad, (4, 4)),
    ("draw_boxes", "", "boxes"): _on_axes(dl.draw_boxes),
    ("draw_mask", "", "image"): _on_axes(lambda ax, bad: dl.draw_mask(ax, bad, np.zeros((2, 2)))),
    ("draw_mask", "", "mask"): _on_axes(lambda ax, bad: dl.draw_mask(ax, np.zeros((2, 2)), bad)),
    ("draw_labels", "", "image"): _on_axes(
        lambda ax, bad: dl.draw_labels(ax, bad, np.zeros((2, 2), dtype=int))),
    ("draw_labels", "", "labels"): _on_axes(
        lambda ax, bad: dl.draw_labels(ax, np.zeros((2, 2)), bad)),
    ("paired_box_iou", "", "a"): lambda bad: dl.paired_box_iou(bad, BOXES),
    ("paired_box_iou", "", "b"): lambda bad: dl.paired_box_iou(BOXES, bad),
    ("smooth_l1", "", "d"): lambda bad: dl.smooth_l1(bad, 1.0),
    ("detection_targets", "", "labels"): lambda bad: dl.detection_targets(bad, BOXES, (9, 9)),
    ("detection_targets", "", "boxes"): lambda bad: dl.detection_targets(
        np.zeros(len(BOXES), dtype=int), bad, (9, 9)),
    ("decode_predictions", "", "out"): lambda bad: dl.decode_predictions(bad, (4, 4)),
    **{("detection_scores", "", name): lambda bad, name=name: dl.detection_scores(
        **({"out": np.zeros((len(BOXES), 6)), "labels": np.zeros(len(BOXES), dtype=int),
            "boxes": BOXES} | {name: bad}), image_size=(9, 9))
       for name in ("out", "labels", "boxes")},
    ("Detector", "forward", "x"): _layer_forward(
        lambda: dl.Detector(dl.Flatten(), dl.Dense(4, 2, rng=0), dl.Dense(4, 4, rng=1))),
    ("DetectionLoss", "forward", "pred"): lambda bad: dl.DetectionLoss()(bad, np.zeros((2, 5))),
    ("DetectionLoss", "forward", "target"): lambda bad: dl.DetectionLoss()(np.zeros((2, 6)), bad),
    ("calibration_curve", "", "y_true"): _binary_call(dl.calibration_curve, "y_true",
                                                      ("y_true", "probs")),
    ("calibration_curve", "", "probs"): _binary_call(dl.calibration_curve, "probs",
                                                     ("y_true", "probs")),
    ("class_weights", "", "y"): lambda bad: dl.class_weights(bad, 2),
    **{(fn.__name__, "", name): _binary_call(fn, name)
       for fn in (dl.confusion_at_threshold, dl.roc_curve, dl.roc_auc)
       for name in ("y_true", "scores")},
    **{(fn.__name__, "", name): _binary_call(fn, name, ("y_true", "y_pred"))
       for fn in (dl.sensitivity, dl.specificity, dl.precision)
       for name in ("y_true", "y_pred")},
    **{("threshold_for_sensitivity", "", name): _binary_call(
        lambda **kw: dl.threshold_for_sensitivity(**kw, target=0.5), name)
       for name in ("y_true", "scores")},
    **{("bootstrap_metric", "", name): _binary_call(
        lambda **kw: dl.bootstrap_metric(**kw, n_boot=3), name, ("y_true", "y_pred"))
       for name in ("y_true", "y_pred")},
    ("label_regions", "", "foreground"): lambda bad: dl.label_regions(bad),
    ("otsu_threshold", "", "images"): lambda bad: dl.otsu_threshold(bad),
    ("segment_nuclei", "", "images"): lambda bad: dl.segment_nuclei(bad),
    ("segment_nuclei", "", "threshold"): lambda bad: dl.segment_nuclei(
        np.zeros((1, 4, 4)), threshold=bad),
    ("measure_nuclei", "", "images"): lambda bad: dl.measure_nuclei(
        bad, np.zeros((1, 4, 4), dtype=np.int64)),
    ("measure_nuclei", "", "labels"): lambda bad: dl.measure_nuclei(np.zeros((1, 4, 4)), bad),
}

# Signatures that mention arrays but take no user array-like there, with the reason.
NOT_ARRAY_LIKES = {
    ("Layer", "forward", "x"): "abstract: subclasses are covered",
    ("Loss", "forward", "pred"): "abstract: subclasses are covered",
    ("Loss", "forward", "target"): "abstract: subclasses are covered",
    ("GradcheckReport", "__init__", "analytic"): "built by gradcheck from its own arrays",
    ("GradcheckReport", "__init__", "numerical"): "built by gradcheck from its own arrays",
    ("gradcheck", "", "fn_or_layer"): "a layer, loss or function, not an array",
    ("plot_decision_boundary", "", "model"): "a model or function, not an array",
}


def _fit(X_, y_, **kw):
    model = _model()
    return dl.fit(model, X_, y_, loss=dl.SoftmaxCrossEntropy(),
                  optimizer=dl.SGD(model.parameters(), lr=0.1), epochs=1, progress=False, **kw)


def _array_parameters() -> set[tuple[str, str, str]]:
    found = set()
    for name in dir(dl):
        obj = getattr(dl, name)
        if name.startswith("_") or not callable(obj):
            continue
        if inspect.isclass(obj):
            methods = [m for m in ("__init__", "forward", "fit", "transform", "predict")
                       if m in vars(obj) or (m == "forward" and hasattr(obj, m))]
            targets = [(m, getattr(obj, m)) for m in methods]
        else:
            targets = [("", obj)]
        for method, fn in targets:
            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                continue
            for p in params:
                if "ndarray" in str(p.annotation):
                    found.add((name, method, p.name))
    return found


def test_every_public_array_parameter_has_a_case():
    missing = sorted(_array_parameters() - set(CALLS) - set(NOT_ARRAY_LIKES))
    assert not missing, (
        "add these (name, method, parameter) to CALLS in tests/test_array_likes.py: "
        f"{missing}")


@pytest.mark.parametrize("bad_name", sorted(BAD))
@pytest.mark.parametrize("key", sorted(CALLS), ids=lambda k: ".".join(filter(None, k)))
def test_ragged_object_and_text_inputs_get_a_named_error(key, bad_name):
    import matplotlib.pyplot as plt

    try:
        with pytest.raises(DLTeachError) as info:
            CALLS[key](BAD[bad_name])
    finally:
        plt.close("all")
    message = str(info.value)
    assert "inhomogeneous" not in message and "setting an array element" not in message
    owner = key[0] if key[1] in ("", "__init__") else ""
    assert owner in message or ":" in message.split(" ")[0] or message.split(":")[0], message
    if bad_name.startswith("ragged"):
        assert "ragged" in message or "shape" in message, message
    elif bad_name == "objects":
        assert "object" in message or "numbers" in message, message
    else:
        assert "text" in message or "numbers" in message or "dtype <U" in message, message


def test_the_ragged_message_says_where_the_rows_differ():
    with pytest.raises(DLTeachError, match=r"^softmax: input is a ragged nested list \(row 0 has "
                                           r"2 values but row 1 has 1 value\)"):
        dl.softmax(RAGGED)
    with pytest.raises(DLTeachError, match=r"item \[1\]\[0\] has 2 values but item \[1\]\[1\] "
                                           r"has 1 value"):
        dl.softmax(RAGGED_DEEP)
