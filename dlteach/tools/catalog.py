"""The lessons of the course, in order, and where a course directory lives.

Adding a lesson is one line in :data:`LESSONS`: its notebook stem (the file
``solutions/<stem>.ipynb``), its title and a one-line summary. The start page,
``dlteach lessons`` and ``dlteach refresh`` all read this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dlteach.errors import DLTeachError


class CourseError(DLTeachError):
    """The course directory, a lesson or a notebook cannot be found or used."""


@dataclass(frozen=True)
class Lesson:
    """One lesson: ``stem`` names ``solutions/<stem>.ipynb`` and ``notebooks/<stem>.ipynb``."""

    stem: str
    title: str
    summary: str

    @property
    def number(self) -> str:
        """The two-digit prefix of the stem, e.g. ``"01"``."""
        return self.stem.split("_", 1)[0]

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"


LESSONS: tuple[Lesson, ...] = (
    Lesson("01_perceptron", "The perceptron",
           "neurons, weights and bias, Rosenblatt's learning rule, "
           "and why XOR needs hidden layers"),
    Lesson("02_backpropagation", "Backpropagation",
           "a smooth activation and a loss, the chain rule layer by layer, gradient checking, "
           "and gradient descent that learns XOR"),
    Lesson("03_deep_networks", "Deep networks",
           "hierarchical features on real handwritten digits, depth vs width, SGD, momentum "
           "and Adam, initialization, vanishing gradients, overfitting and early stopping"),
    Lesson("04_cnn", "Convolutional networks",
           "convolution as a sliding dot product, padding and stride, pooling, im2col, "
           "and a CNN on handwritten digits"),
    Lesson("05_rnn_lstm", "Recurrent networks and the LSTM",
           "a network that reads a sequence, backpropagation through time, vanishing "
           "gradients measured, the LSTM's gates, and a character-level language model"),
    Lesson("06_language", "Language and sentiment",
           "words as vectors, padding and masks, and a bag of words against an LSTM on "
           "reviews with negation, intensifiers and contrast"),
    Lesson("07_attention", "Attention for translation and questions",
           "dot-product and additive attention with masks, an encoder-decoder that translates "
           "written dates, alignments drawn, and attention that finds the supporting fact"),
    Lesson("08_vision", "Detection and segmentation",
           "a CNN with a class head and a box head, intersection over union, upsampling, and "
           "a fully convolutional network that labels every pixel"),
    Lesson("09_healthcare", "Diagnosis, and what accuracy hides",
           "tumour measurements from cell nuclei, sensitivity and specificity, the ROC curve, "
           "a screening threshold, calibration, and what such a model must not be used for"),
    Lesson("10_to_pytorch", "From dlteach to PyTorch",
           "the same CNN and LSTM in both libraries, trained weights exported, autograd "
           "against the backward passes you wrote, and the speed of each"),
)

SOLUTIONS_DIR = "solutions"
NOTEBOOKS_DIR = "notebooks"
START_PAGE = "00_start_here.ipynb"


def find_lesson(name: str, lessons: tuple[Lesson, ...] = LESSONS) -> Lesson:
    """The lesson named by its stem (``"01_perceptron"``), its number (``"01"`` or ``"1"``)
    or its notebook's path (``"solutions/01_perceptron.ipynb"``, as tab completion types it).
    """
    if name.endswith(".ipynb"):
        name = Path(name).stem
    for lesson in lessons:
        if name in (lesson.stem, lesson.number) or (
            name.isdigit() and int(name) == int(lesson.number)
        ):
            return lesson
    known = ", ".join(lesson.stem for lesson in lessons)
    raise CourseError(f"unknown lesson {name!r}; the lessons are: {known}.")


def find_course_dir(start: str | Path | None = None) -> Path:
    """The nearest folder, from ``start`` (default: the current directory) upward,
    that holds a ``solutions/`` folder."""
    here = Path.cwd() if start is None else Path(start)
    here = here.resolve()
    for folder in (here, *here.parents):
        if (folder / SOLUTIONS_DIR).is_dir():
            return folder
    raise CourseError(
        f"no course directory found: neither {here} nor any folder above it holds a "
        f"'{SOLUTIONS_DIR}/' folder. Run this inside the course, or pass --course-dir."
    )


def check_course_dir(path: str | Path) -> Path:
    """``path`` resolved, after checking it holds a ``solutions/`` folder."""
    folder = Path(path).resolve()
    if not (folder / SOLUTIONS_DIR).is_dir():
        raise CourseError(
            f"{folder} is not a course directory: it has no '{SOLUTIONS_DIR}/' folder."
        )
    return folder
