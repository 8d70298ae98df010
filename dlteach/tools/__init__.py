"""Course machinery: the lesson catalog, learner notebooks, grading and refreshing.

These tools run the course; they are not part of what it teaches, so they are
exempt from the syllabus order that the rest of :mod:`dlteach` follows.

- :mod:`dlteach.tools.catalog`: the lessons in order, and where the course lives.
- :mod:`dlteach.tools.learner`: turn ``solutions/`` into learner ``notebooks/``.
- :mod:`dlteach.tools.execute`: run a notebook in a fresh kernel of this environment.
- :mod:`dlteach.tools.grader`: grade a notebook from the verdicts its check cells show.
- :mod:`dlteach.tools.refresh`: re-run the solutions, store their outputs, regenerate.

Names are imported on first use: ``dlteach lessons`` should not pay for loading
the Jupyter machinery.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LESSONS": "catalog",
    "CourseError": "catalog",
    "Lesson": "catalog",
    "find_course_dir": "catalog",
    "ExerciseResult": "grader",
    "GradeReport": "grader",
    "Problem": "grader",
    "grade": "grader",
    "SolutionMarkerError": "learner",
    "generate_learner_notebooks": "learner",
    "make_learner_notebook": "learner",
    "make_start_page": "learner",
    "refresh": "refresh",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"dlteach.tools.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'dlteach.tools' has no attribute {name!r}")
