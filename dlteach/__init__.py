"""dlteach: the fundamentals of deep learning, built by hand in NumPy.

The modules follow the course: a module imports only modules taught before it.
"""

__version__ = "0.1.0"

# Foundations: errors and input checks.
from dlteach.errors import (
    DLTeachError,
    DTypeError,
    InvalidValueError,
    NonFiniteError,
    ParameterMismatchError,
    ShapeError,
    TrainingDivergedError,
)

# Layers and the layer protocol.
from dlteach.core import Layer, Parameter, Sequential
from dlteach.init import he_normal, xavier_uniform
from dlteach.dense import Dense

# --- section: activations, losses, optimizers, gradcheck ---
from dlteach.activations import (
    ReLU, Sigmoid, Softmax, Tanh, log_softmax, relu, sigmoid, sigmoid_grad, softmax, tanh,
)
from dlteach.losses import BinaryCrossEntropy, Loss, MSELoss, SoftmaxCrossEntropy
from dlteach.gradcheck import GradcheckReport, gradcheck, relative_error
from dlteach.optim import (
    SGD, Adam, Optimizer, adam_step, clip_grad_norm, global_grad_norm, momentum_step, sgd_step,
)
# --- end section ---

# --- section: data, metrics, training, plots, serialization ---
from dlteach.data import (
    Dataset, Split, Standardizer, load_breast_cancer, load_digits, logic_gate, make_blobs,
    make_checkerboard, make_circles, make_first_symbol, make_moons, make_spirals, make_xor,
    minibatches, one_hot, train_val_test_split,
)
from dlteach.metrics import accuracy, confusion_matrix, scores_to_labels
from dlteach.plots import (
    plot_confusion_matrix, plot_decision_boundary, plot_history, plot_image_grid,
)
from dlteach.training import EarlyStopping, History, evaluate, fit, predict, predict_classes
from dlteach.serialization import load_parameters, save_parameters
from dlteach.diagnostics import (
    ActivationStats, activation_stats, class_separation, gradient_norms, layer_outputs,
    pca_project,
)
from dlteach.models import mlp
# --- end section ---

# --- section: perceptron ---
from dlteach.checking import VERDICT_MIMETYPE, Case, Verdict, check_function, check_value
from dlteach.perceptron import Perceptron, count_mistakes, perceptron_update, step, weighted_sum
# --- end section ---

# --- section: convolution and pooling ---
from dlteach.im2col import col2im, conv_output_size, im2col
from dlteach.conv_reference import (
    avgpool2d_backward_naive, avgpool2d_forward_naive, conv2d_backward_naive,
    conv2d_forward_naive, maxpool2d_backward_naive, maxpool2d_forward_naive,
)
from dlteach.conv import Conv2D
from dlteach.pooling import AvgPool2D, MaxPool2D
from dlteach.reshape import Flatten
# --- end section ---

# --- section: recurrent networks ---
from dlteach.embedding import Embedding, check_tokens
from dlteach.recurrent import RNN, rnn_step_backward, rnn_step_forward
from dlteach.lstm import LSTM, lstm_step_backward, lstm_step_forward
from dlteach.sequence import (
    SequenceCrossEntropy, TimeDense, gradient_through_time, sequence_accuracy, tbptt_windows,
)
from dlteach.text import CharVocab, sample, stdlib_text, text_streams, text_windows
# --- end section ---

# --- section: language and attention ---
from dlteach.vocab import (
    SPECIALS, Seq2SeqBatch, WordVocab, make_reversal_pairs, pad_sequences, seq2seq_batches,
    teacher_forcing_targets, tokenize,
)
from dlteach.masking import masked_softmax, masked_softmax_backward
from dlteach.attention import (
    AdditiveAttention, DotProductAttention, additive_attention, additive_attention_backward,
    scaled_dot_product_attention, scaled_dot_product_attention_backward,
)
from dlteach.seq2seq import Seq2Seq, seq2seq_train_step
from dlteach.sentiment import (
    LSTMClassifier, Reviews, bag_of_words, last_hidden_state, last_hidden_state_backward,
    make_reviews,
)
from dlteach.dates import (
    char_vocabularies, date_translator, decode_chars, encode_chars, exact_match,
    make_date_pairs, translate, write_date,
)
from dlteach.stories import (
    MemoryQA, Stories, accuracy_by_kind, encode_stories, make_stories, position_encoding,
    story_text, story_vocabulary,
)
# --- end section ---

# --- section: vision and diagnosis ---
from dlteach.upsampling import ConvTranspose2D, Upsample2D
from dlteach.segmentation import PixelCrossEntropy, pixel_accuracy, segmentation_iou
from dlteach.boxes import box_areas, box_iou, decode_boxes, draw_boxes, draw_mask, encode_boxes
from dlteach.scenes import (
    SHAPE_NAMES, Canvases, Scenes, digit_ids, draw_labels, make_detection_canvases,
    make_shape_scenes,
)
from dlteach.detection import (
    DetectionLoss, Detector, build_detector, conv_trunk, decode_predictions, detection_scores,
    detection_targets, fcn, paired_box_iou, smooth_l1,
)
from dlteach.diagnosis import (
    bootstrap_metric, calibration_curve, class_weights, confusion_at_threshold, precision,
    roc_auc, roc_curve, sensitivity, specificity, threshold_for_sensitivity, wilson_interval,
)
from dlteach.microscopy import (
    Nuclei, Slides, label_regions, make_slides, measure_nuclei, otsu_threshold, segment_nuclei,
    slide_features,
)
# --- end section ---

# --- section: to PyTorch (torch is imported only when these are called) ---
from dlteach.torch_bridge import from_torch, to_torch
# --- end section ---
