"""Text for language models: a character vocabulary, training windows, sampling, a corpus.

A character-level language model reads text one character at a time and predicts the
next one::

    text = stdlib_text()                         # ~200,000 characters of English, offline
    vocab = CharVocab(text)                      # 96 characters <-> token ids 0..95
    ids = vocab.encode(text)                     # (L,) int64
    X, Y = text_windows(ids, length=64)          # (M, 64) inputs, (M, 64) next characters
    ...train Sequential(Embedding, LSTM, TimeDense) with SequenceCrossEntropy...
    print(sample(model, vocab, "The ", length=200, temperature=0.8, seed=0))

Temperature: the model's probabilities p_k are sharpened or flattened before drawing,
p_k^(1/T) / sum_j p_j^(1/T): T = 1 draws from the model itself, T -> 0 always takes the
most likely character, a large T draws almost uniformly.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from dlteach.activations import _log_softmax, _softmax
from dlteach.core import Layer, check_model
from dlteach.embedding import check_tokens
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.sequence import _recurrent_layers
from dlteach.validation import Seed, as_rng, check_array, check_positive_int


class CharVocab:
    """The characters of a text, numbered 0..V-1 in sorted order (of their code points).

    CharVocab(text): every distinct character of ``text``.  ``encode(str) -> ids``,
    ``decode(ids) -> str``, ``len(vocab)`` = V, ``vocab.chars`` the characters in order.

    Unknown characters: by default ``encode`` refuses a character that was not in the
    text, with an error naming it and its position (silently mapping it elsewhere would
    hide that the text does not match the model). With ``unknown="?"`` (any single
    character) that character joins the vocabulary and stands for every unknown one.
    """

    def __init__(self, text: str, *, unknown: str | None = None) -> None:
        if not isinstance(text, str):
            raise DTypeError(f"CharVocab: expected the text as a str, got {type(text).__name__}.")
        if unknown is not None and (not isinstance(unknown, str) or len(unknown) != 1):
            raise InvalidValueError(
                f"CharVocab: unknown must be a single character or None, got {unknown!r}."
            )
        chars = set(text) | ({unknown} if unknown is not None else set())
        if not chars:
            raise InvalidValueError("CharVocab: the text is empty: no characters to number.")
        self.chars: tuple[str, ...] = tuple(sorted(chars))
        self.unknown = unknown
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # sorted
        self._index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index

    def encode(self, text: str) -> np.ndarray:
        """text: str of length L -> ids: (L,) int64, one token id per character."""
        if not isinstance(text, str):
            raise DTypeError(
                f"{self!r}.encode: expected a str, got {type(text).__name__}."
            )
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.searchsorted(self._codes, codes)  # vectorized lookup in the sorted codes
        ids_clipped = np.minimum(ids, len(self._codes) - 1)
        unknown = self._codes[ids_clipped] != codes
        if unknown.any():
            if self.unknown is None:
                where = int(np.argmax(unknown))
                count = len({text[i] for i in np.flatnonzero(unknown)})
                more = f" ({count} different unknown characters)" if count > 1 else ""
                raise InvalidValueError(
                    f"{self!r}.encode: the character {text[where]!r} at position {where} is "
                    f"not in the vocabulary{more}. Build the vocabulary from a text that "
                    "holds it, or pass unknown='?' to CharVocab to map unknown characters."
                )
            ids_clipped[unknown] = self._index[self.unknown]
        return ids_clipped.astype(np.int64)

    def decode(self, ids: np.ndarray) -> str:
        """ids: (L,) token ids (or one int) -> the text of length L."""
        if isinstance(ids, Integral) and not isinstance(ids, bool):
            ids = [ids]
        arr = check_tokens(ids, len(self), owner=f"{self!r}.decode", name="ids", ndims=(1,))
        codes = self._codes[arr.astype(np.intp)]
        return codes.astype("<u4").tobytes().decode("utf-32-le")

    def __repr__(self) -> str:
        extra = "" if self.unknown is None else f", unknown={self.unknown!r}"
        return f"CharVocab({len(self)} characters{extra})"


def _token_ids(ids: object, owner: str) -> np.ndarray:
    arr = check_array(ids, owner=owner, name="ids", kind="int", ndim=1)
    return arr.astype(np.int64, copy=False)


def text_windows(
    ids: np.ndarray, length: int, step: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a long sequence of token ids into training windows and their next tokens.

    ids: (L,) token ids;  length: T, the window length;  step: how far each window
    starts after the previous one (default T: windows side by side; smaller: overlap)
    ->  X: (M, T), Y: (M, T) int64 with Y[m, t] = X[m, t + 1] (the next token, shifted
    by one), M = (L - 1 - T) // step + 1. Copies: changing X leaves ids alone.
    """
    owner = "text_windows"
    arr = _token_ids(ids, owner)
    length = check_positive_int(length, owner=owner, name="length")
    step = length if step is None else check_positive_int(step, owner=owner, name="step")
    if len(arr) < length + 1:
        raise InvalidValueError(
            f"{owner}: a window of length {length} needs at least {length + 1} tokens "
            f"(inputs, and targets shifted by one), got {len(arr)}."
        )
    view = np.lib.stride_tricks.sliding_window_view
    X = view(arr[:-1], length)[::step].copy()
    Y = view(arr[1:], length)[::step].copy()
    return X, Y


def text_streams(ids: np.ndarray, n_streams: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a long sequence into n parallel streams, for stateful truncated BPTT.

    ids: (L,) token ids  ->  X: (n, S), Y: (n, S) with S = (L - 1) // n: row k is the
    k-th contiguous piece of the text and Y its next tokens. Cut both into windows with
    :func:`dlteach.sequence.tbptt_windows` and a stateful LSTM carries each row's state
    from one window to the next: the model sees n long texts, not M short ones.
    """
    owner = "text_streams"
    arr = _token_ids(ids, owner)
    n = check_positive_int(n_streams, owner=owner, name="n_streams")
    s = (len(arr) - 1) // n
    if s < 1:
        raise InvalidValueError(
            f"{owner}: {len(arr)} tokens cannot fill {n} streams of at least 1 step "
            f"(each needs a next token too)."
        )
    X = arr[: n * s].reshape(n, s).copy()
    Y = arr[1 : n * s + 1].reshape(n, s).copy()
    return X, Y


def sample(
    model: Layer,
    vocab: CharVocab,
    start: str,
    length: int,
    temperature: float = 1.0,
    seed: Seed = None,
) -> str:
    """Generate text: ``start`` followed by ``length`` characters drawn from the model.

    model: maps token ids (1, T) to scores (logits) (1, T, V) (or (1, V)), e.g.
    Sequential(Embedding, LSTM, TimeDense);  vocab: the model's CharVocab (V);
    temperature: > 0, see the module docstring (1e-3 is greedy in effect, 100 almost
    uniform);  seed: the same seed gives the same text.

    ``start`` is read once; then each drawn character is fed back alone, the recurrent
    layers carrying their state from one call to the next (they are made stateful for
    the duration), so generating L characters costs L steps, not L^2 / 2 (so the model
    must see the past only through its recurrent layers, as a stack of Embedding,
    RNN/LSTM, TimeDense and per-step layers does). The model runs
    in evaluation mode; its mode and its layers' stateful settings and carried states
    are put back afterwards (their caches for backward are not: like ``predict``).
    """
    owner = "sample"
    model = check_model(model, owner)
    if not isinstance(vocab, CharVocab):
        raise DTypeError(f"{owner}: expected vocab to be a CharVocab, got {type(vocab).__name__}.")
    if not isinstance(start, str) or not start:
        raise InvalidValueError(
            f"{owner}: start must be a non-empty str (the text to continue), got {start!r}."
        )
    length = check_positive_int(length, owner=owner, name="length", minimum=0)
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise DTypeError(
            f"{owner}: expected temperature to be a number, got {type(temperature).__name__}."
        )
    if not np.isfinite(temperature) or temperature <= 0:
        raise InvalidValueError(
            f"{owner}: temperature must be a positive number, got {temperature}. Use 1.0 "
            "for the model's own probabilities, smaller (0.5) for safer text, larger (2.0) "
            "for more surprising text; a tiny one (1e-3) always takes the most likely."
        )
    rng = as_rng(seed, owner=owner)
    ids = vocab.encode(start)
    recurrent = _recurrent_layers(model)
    saved = [(r, r.stateful, r._carry) for r in recurrent]
    was_training = model.training
    out: list[int] = []
    try:
        model.eval()
        for r in recurrent:
            r.stateful = True
            r.reset_state()
        tokens = ids[None, :]  # (1, T): the whole start, once
        for _ in range(length):
            scores = np.asarray(model.forward(tokens))
            k = _next_token(scores, len(vocab), temperature, rng, owner)
            out.append(k)
            tokens = np.array([[k]], dtype=np.int64)  # then one character at a time
    finally:
        model.train(was_training)
        for r, stateful, carry in saved:
            r.stateful, r._carry = stateful, carry
    return start + vocab.decode(np.array(out, dtype=np.int64)) if out else start


def _next_token(scores: np.ndarray, v: int, temperature: float, rng: np.random.Generator,
                owner: str) -> int:
    """Draw one token from the last step's scores, sharpened by the temperature."""
    if scores.ndim not in (2, 3) or scores.shape[0] != 1 or scores.shape[-1] != v:
        raise ShapeError(
            f"{owner}: expected the model to output scores of shape (1, T, {v}) or (1, {v}) "
            f"for a vocabulary of {v} characters, got {scores.shape}."
        )
    last = scores[0, -1] if scores.ndim == 3 else scores[0]
    logp = _log_softmax(last.astype(np.float64), axis=0, owner=owner)  # <= 0, never +inf
    with np.errstate(over="ignore"):  # logp / 1e-3 may pass -1.8e308: -inf, i.e. p = 0
        z = logp / temperature
    p = _softmax(z, axis=0, owner=owner)  # the largest z becomes 0: no overflow
    return int(rng.choice(v, p=p))


# --- a corpus every Python installation has ----------------------------------------------------

# Standard library modules with plenty of prose in their docstrings, present as .py source
# in CPython 3.10 to 3.14. The order is fixed: it is the order of the text.
STDLIB_MODULES = (
    "textwrap", "difflib", "statistics", "argparse", "functools", "shutil", "inspect",
    "logging", "threading", "subprocess", "configparser", "tarfile", "collections", "json",
    "enum", "pathlib", "random", "fractions", "contextlib", "queue", "calendar", "heapq",
    "typing", "_pydecimal", "smtplib", "ipaddress", "traceback",
)  # fmt: skip


# The docstrings that CPython 3.10 to 3.13 hold word for word, by module and hash, in
# order (written by scripts/make_corpus_index.py): the corpus is the same text on each.
INDEX_FILE = Path(__file__).with_name("stdlib_corpus.txt")


def _corpus_index() -> list[tuple[str, str]]:
    lines = INDEX_FILE.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]


@functools.cache
def _module_docstrings(name: str) -> dict[str, str]:
    """The printable-ASCII docstrings of one standard-library module, by their hash."""
    spec = importlib.util.find_spec(name)  # finds the file without importing it
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return {}
    try:
        with open(spec.origin, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return {}
    parts: list[str] = []
    _collect_docstrings(tree, parts)
    return {hashlib.sha256(doc.encode()).hexdigest()[:16]: doc for doc in parts}


@functools.lru_cache(maxsize=1)
def _stdlib_docstrings() -> str:
    """The indexed docstrings this Python holds, in the index's order."""
    parts = []
    for module, digest in _corpus_index():
        doc = _module_docstrings(module).get(digest)
        if doc is not None:  # a newer Python may have reworded it: left out
            parts.append(doc)
    return "\n\n".join(parts)


def stdlib_missing() -> list[str]:
    """Indexed docstrings this Python does not hold word for word (as ``module:hash``);
    empty on CPython 3.10 to 3.13, where :func:`stdlib_text` is the same text."""
    return [f"{m}:{d}" for m, d in _corpus_index() if d not in _module_docstrings(m)]


def _collect_docstrings(node: ast.AST, parts: list[str]) -> None:
    """Docstrings of the module, its classes and functions, in source order (ASCII only)."""
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        doc = ast.get_docstring(node, clean=True)
        if doc and all(" " <= c <= "~" or c == "\n" for c in doc):
            parts.append(doc)
    for child in ast.iter_child_nodes(node):
        _collect_docstrings(child, parts)


def stdlib_text(n_chars: int = 200_000) -> str:
    """English text every Python installation has, offline: standard library docstrings.

    Docstrings of the modules in ``STDLIB_MODULES`` (their module, classes and
    functions, read from the source files without importing them; plain printable ASCII
    only), separated by blank lines, cut to the first ``n_chars`` characters. Only the
    docstrings listed in ``stdlib_corpus.txt`` are used: those that CPython 3.10 to 3.13
    hold word for word, so the text, and every number a model trained on it gives, is
    the same on each of them (:func:`stdlib_missing` lists what another Python lacks).
    Raises an error when the installation holds less than ``n_chars`` characters.
    """
    owner = "stdlib_text"
    n = check_positive_int(n_chars, owner=owner, name="n_chars")
    text = _stdlib_docstrings()
    if len(text) < n:
        raise InvalidValueError(
            f"{owner}: this Python installation's docstrings hold {len(text):,} characters, "
            f"fewer than the {n:,} asked for. Ask for at most {len(text):,}."
        )
    return text[:n]

