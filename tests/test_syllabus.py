"""The library follows the course: a module imports only modules taught before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dlteach"

# Syllabus order. Foundations first, then lesson by lesson.
MODULE_ORDER = [
    "errors",
    "validation",  # foundations
    "data",
    "metrics",
    "plots",
    "feedback",
    "checking",  # datasets, measuring, drawing, exercise checks
    "perceptron",  # lesson 1
    "core",
    "numerics",
    "init",
    "activations",
    "dense",  # lesson 2: layers and backpropagation
    "losses",
    "gradcheck",
    "optim",
    "history",
    "training",
    "serialization",  # lesson 3: training deep networks
    "models",
    "diagnostics",
    "im2col",
    "conv_reference",
    "conv",
    "pooling",
    "reshape",  # lesson 4: CNNs
    "embedding",
    "recurrent",
    "lstm",
    "sequence",
    "text",  # lesson 5: RNN and LSTM
    # lessons 6-7: language and attention
    "vocab",
    "masking",
    "attention",
    "seq2seq",
    "sentiment",  # lesson 6: generated reviews, bag of words, sequence classifier
    "dates",  # lesson 7: written dates to translate
    "stories",  # lesson 7: stories, questions, attention over sentences
    # lessons 8-9: vision beyond classification, diagnosis
    "upsampling",
    "segmentation",
    "boxes",
    "scenes",  # lesson 8: generated canvases and shape scenes
    "detection",  # lesson 8: class and box heads
    "diagnosis",
    "microscopy",  # lesson 9: generated cell nuclei, measured
    "torch_bridge",  # lesson 10: the same models in PyTorch (torch imported lazily)
]
# Course tooling and per-lesson exercise checks may use any library module.
EXEMPT_PREFIXES = ("exercises", "tools", "cli", "__main__", "__init__")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _dlteach_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dlteach"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dlteach" and len(parts) > 1:
                    found.add(parts[1])
    return found


LIBRARY_MODULES = sorted(
    _module_name(p)
    for p in PACKAGE.rglob("*.py")
    if not _module_name(p).startswith(EXEMPT_PREFIXES)
)


def test_every_library_module_has_a_place_in_the_syllabus():
    unplaced = [m for m in LIBRARY_MODULES if m not in MODULE_ORDER]
    assert not unplaced, f"add these modules to MODULE_ORDER in {__file__}: {unplaced}"


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_module_imports_only_earlier_modules(module):
    if module not in MODULE_ORDER:
        pytest.skip("not placed in the syllabus (reported by the test above)")
    rank = MODULE_ORDER.index(module)
    for imported in _dlteach_imports(PACKAGE / f"{module.replace('.', '/')}.py"):
        if imported.startswith(EXEMPT_PREFIXES):
            raise AssertionError(f"dlteach.{module} imports course tooling dlteach.{imported}")
        assert imported in MODULE_ORDER, f"dlteach.{module} imports unknown dlteach.{imported}"
        assert MODULE_ORDER.index(imported) < rank, (
            f"dlteach.{module} (lesson order {rank}) imports dlteach.{imported}, "
            f"which is taught later (order {MODULE_ORDER.index(imported)})"
        )
