"""dlteach: the fundamentals of deep learning, built by hand in NumPy.

The modules follow the course: a module imports only modules taught before it.
"""

__version__ = "0.1.0"

# Foundations: errors and input checks.
from dlteach.errors import (
    DLTeachError,
    DTypeError,
    InvalidValueError,
    ParameterMismatchError,
    ShapeError,
    TrainingDivergedError,
)

# Layers and the layer protocol.
from dlteach.core import Layer, Parameter, Sequential
from dlteach.init import he_normal, xavier_uniform
from dlteach.dense import Dense

# --- section: activations, losses, optimizers, gradcheck ---
# --- end section ---

# --- section: data, metrics, training, plots, serialization ---
# --- end section ---

# --- section: perceptron ---
# --- end section ---

# --- section: convolution and pooling ---
# --- end section ---
