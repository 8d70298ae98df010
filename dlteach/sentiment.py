"""Reading sentiment: generated reviews, a bag of words, and an LSTM that reads in order.

The reviews come from a small grammar, so that every label is known exactly and every
review says which kind of sentence it is::

    plain         the acting was good                              positive
    intensified   the plot was really dull                         negative
    negated       the music was not very clever                    negative
    contrast      the cast was not bad but the ending was awful    negative: after "but"
    scope         the script was brilliant , not tedious           positive: "not" negates
                                                                   the word after it only

In a contrast the clause after "but" decides; both clauses take their words from the
same pools and have opposite values. A scope review corrects itself ("good, not bad").
For these two kinds the generator also writes each review's **twin**: the same words in
another order (the clauses, or the two adjectives, swapped), with the opposite label.
A bag of words counts the words and forgets their order, so it cannot tell a review
from its twin: whatever the model, it gets at most one of the two right.

    reviews = make_reviews(5000, seed=0)      # texts, labels (1 = positive), kinds, twins
    vocab = WordVocab(reviews.texts)
    ids, mask = pad_sequences([vocab.encode(t) for t in reviews.texts])
    X = bag_of_words(ids, len(vocab))          # (N, V) word counts, padding left out

:class:`LSTMClassifier` reads the token ids in order (Embedding, LSTM) and classifies
each review from the LSTM's state at its last real word (:func:`last_hidden_state`), so
the padding after it changes nothing. ``step_probabilities`` gives the model's P(positive)
after each word: what it would answer if the review ended there.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlteach.activations import sigmoid
from dlteach.core import Layer, Parameter
from dlteach.dense import Dense
from dlteach.embedding import Embedding, check_tokens
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.lstm import LSTM
from dlteach.validation import Seed, as_array, as_rng, check_array, check_positive_int

ASPECTS = ("acting", "plot", "story", "music", "ending", "dialogue", "cast", "pacing",
           "script", "soundtrack", "humour", "direction")
POSITIVE = ("good", "great", "brilliant", "clever", "moving", "charming", "superb", "funny",
            "lovely", "gripping")
NEGATIVE = ("bad", "dull", "awful", "boring", "weak", "clumsy", "poor", "flat", "terrible",
            "tedious")
INTENSIFIERS = ("very", "really", "truly", "extremely", "so")
KINDS = ("plain", "intensified", "negated", "contrast", "scope")
ORDER_DEPENDENT = ("contrast", "scope")  # the kinds whose twins share their bag of words
_KIND_SHARES = (0.15, 0.15, 0.2, 0.3, 0.2)


class Reviews(NamedTuple):
    """n generated reviews. texts: n str;  labels: (n,) int64, 1 = positive, 0 = negative;
    kinds: (n,) str, one of KINDS;  twins: n str, for the kinds in ORDER_DEPENDENT the
    same words in another order with the opposite label (1 - label), "" for the others."""

    texts: list[str]
    labels: np.ndarray
    kinds: np.ndarray
    twins: list[str]


def _adjective(value: int, index: int) -> str:
    return (POSITIVE if value > 0 else NEGATIVE)[index]


def _phrase(form: int, value: int, adj: int, intensifier: int) -> str:
    """An evaluation whose value is ``value`` (+1/-1): form 0 "good", 1 "very good",
    2 "not good", 3 "not very good" (negated: the adjective has the opposite value)."""
    word = _adjective(-value if form >= 2 else value, adj)
    if form % 2:
        word = f"{INTENSIFIERS[intensifier]} {word}"
    return f"not {word}" if form >= 2 else word


def make_reviews(n: int, seed: Seed = 0) -> Reviews:
    """n short reviews from the module's grammar (kinds in fixed shares, random words).

    Each review is drawn independently: its kind (plain 15%, intensified 15%, negated
    20%, contrast 30%, scope 20%), its value (positive or negative, equally likely),
    its aspects, adjectives and intensifiers uniformly from the pools. The same seed
    gives the same reviews. Returns :class:`Reviews`.
    """
    owner = "make_reviews"
    n = check_positive_int(n, owner=owner, name="n")
    rng = as_rng(seed, owner=owner)
    kind = rng.choice(len(KINDS), size=n, p=_KIND_SHARES)
    value = rng.choice([-1, 1], size=n)  # the label's value: +1 positive
    aspect = rng.integers(0, len(ASPECTS), size=(n, 2))
    aspect[:, 1] = (aspect[:, 0] + rng.integers(1, len(ASPECTS), size=n)) % len(ASPECTS)
    adj = rng.integers(0, len(POSITIVE), size=(n, 2))
    intensifier = rng.integers(0, len(INTENSIFIERS), size=(n, 2))
    form = rng.integers(0, 4, size=(n, 2))  # plain, intensified, negated, both (_phrase)
    texts, twins = [], []
    for k, v, (a1, a2), (j1, j2), (i1, i2), (f1, f2) in zip(
        kind, value, aspect, adj, intensifier, form, strict=True
    ):
        name, other = KINDS[k], ""
        start = f"the {ASPECTS[a1]} was "
        if name == "plain":
            text = start + _phrase(0, v, j1, i1)
        elif name == "intensified":
            text = start + _phrase(1, v, j1, i1)
        elif name == "negated":
            text = start + _phrase(2 + f1 % 2, v, j1, i1)
        elif name == "contrast":  # clause 1 has the opposite value; clause 2 decides
            first, second = _phrase(f1, -v, j1, i1), _phrase(f2, v, j2, i2)
            text = f"{start}{first} but the {ASPECTS[a2]} was {second}"
            other = f"{start}{second} but the {ASPECTS[a2]} was {first}"
        else:  # scope: "good , not bad": "not" negates the adjective after it
            lead = f"{INTENSIFIERS[i1]} " if f1 % 2 else ""
            kept, negated = _adjective(v, j1), _adjective(-v, j2)
            text = f"{start}{lead}{kept} , not {negated}"
            other = f"{start}{lead}{negated} , not {kept}"
        texts.append(text)
        twins.append(other)
    labels = (value > 0).astype(np.int64)
    return Reviews(texts, labels, np.array(KINDS)[kind], twins)


def bag_of_words(ids: np.ndarray, vocab_size: int, pad_id: int = 0) -> np.ndarray:
    """How often each word of the vocabulary occurs in each sequence: word counts.

    ids: (N, T) token ids in 0..V-1, padded with ``pad_id``  ->  counts: (N, V) float64,
    counts[n, v] = the number of steps t with ids[n, t] == v; the padding is not counted
    (column pad_id is 0). The order of the words is lost: that is the point.
    """
    owner = "bag_of_words"
    V = check_positive_int(vocab_size, owner=owner, name="vocab_size")
    arr = check_tokens(ids, V, owner=owner, name="ids", ndims=(2,))
    N = arr.shape[0]
    ids_ = arr.astype(np.int64)
    flat = ids_ + V * np.arange(N)[:, None]  # a separate range of bins for every row
    counts = np.bincount(flat[ids_ != pad_id], minlength=N * V).reshape(N, V)
    return counts.astype(np.float64)


def _prefix_mask(mask: object, shape: tuple[int, int], owner: str) -> np.ndarray:
    """mask (N, T) of 0/1 or bool with at least one real step per row, as bool."""
    arr = as_array(mask, owner=owner, name="mask")
    if arr.dtype != np.bool_:
        arr = check_array(arr, owner=owner, name="mask", kind="number")
        if ((arr != 0) & (arr != 1)).any():
            raise InvalidValueError(
                f"{owner}: mask must hold 1/True (a real step) or 0/False (padding), got "
                f"{arr[(arr != 0) & (arr != 1)].flat[0]}."
            )
    if arr.shape != shape:
        raise ShapeError(f"{owner}: expected mask of shape (N, T) = {shape}, got "
                         f"{tuple(arr.shape)}.")
    arr = arr.astype(bool, copy=False)
    lengths = arr.sum(axis=1)
    if (lengths == 0).any():
        raise InvalidValueError(
            f"{owner}: sequence {int(np.argmax(lengths == 0))} has no real step (its mask is "
            "all False): it has no last state. Leave empty sequences out."
        )
    bad = (arr != (np.arange(shape[1]) < lengths[:, None])).any(axis=1)
    if bad.any():
        n = int(np.argmax(bad))
        pad = int(np.argmin(arr[n]))  # the first padded step, with a real one after it
        raise InvalidValueError(
            f"{owner}: padding must come at the end of each sequence (as pad_sequences "
            f"makes it), but sequence {n} has a real step after padding at step {pad}."
        )
    return arr


def _last_index(mask: np.ndarray) -> np.ndarray:
    """(N,) the index of each row's last real step, for a checked mask (padding at the end)."""
    return mask.sum(axis=1) - 1


def last_hidden_state(h: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each sequence's state at its last real step.

    h: (N, T, H) states of every step;  mask: (N, T), True/1 on real steps (padding at the
    end, as pad_sequences makes it)  ->  (N, H) in h's dtype: row n is h[n, t_n], t_n the
    last step whose mask is True. A row without a real step raises InvalidValueError.
    """
    owner = "last_hidden_state"
    arr = check_array(h, owner=owner, name="h", shape=("N", "T", "H"))
    m = _prefix_mask(mask, arr.shape[:2], owner)
    return arr[np.arange(len(arr)), _last_index(m)]


def last_hidden_state_backward(grad: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """dL/dh: (N, T, H) from dL/d(last states): (N, H) and the same mask (N, T): the
    gradient goes to each row's last real step, every other step gets 0."""
    owner = "last_hidden_state_backward"
    g = check_array(grad, owner=owner, name="grad", shape=("N", "H"))
    m = as_array(mask, owner=owner, name="mask")
    if m.ndim != 2 or m.shape[0] != g.shape[0]:
        raise ShapeError(f"{owner}: expected mask of shape (N, T) with N = {g.shape[0]}, got "
                         f"{tuple(m.shape)}.")
    m = _prefix_mask(m, m.shape, owner)
    out = np.zeros((g.shape[0], m.shape[1], g.shape[1]), dtype=g.dtype)
    out[np.arange(len(g)), _last_index(m)] = g
    return out


class LSTMClassifier(Layer):
    """Embedding -> LSTM -> the state at the last real word -> Dense(H, 1): one logit.

    tokens: (N, T) token ids, padded at the end with ``pad_id``  ->  logits: (N, 1),
    P(positive) = sigmoid(logit); train it with ``BinaryCrossEntropy(from_logits=True)``.
    vocab_size: V;  embed_dim: E;  hidden_size: H;  rng: seeds every part;  dtype: of the
    parameters. The mask is ``tokens != pad_id``: every row needs a real token.

    The dtype rule, as in Embedding: integer tokens give outputs in the parameters' dtype;
    tokens as floats holding whole numbers (``fit`` passes X as floats) set the dtype.
    backward(dL/dlogits) -> zeros like the tokens (no gradient for token ids); the gradient
    reaches only each row's last real step, so the padding after it learns nothing.

    ``step_probabilities(tokens)``: (N, T) the model's P(positive) after each step, as if
    the review ended there (NaN at padded steps).
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, *, pad_id: int = 0,
                 rng: int | np.random.Generator | None = None, dtype: type = np.float64) -> None:
        owner = "LSTMClassifier"
        V = check_positive_int(vocab_size, owner=owner, name="vocab_size")
        E = check_positive_int(embed_dim, owner=owner, name="embed_dim")
        H = check_positive_int(hidden_size, owner=owner, name="hidden_size")
        check_positive_int(pad_id, owner=owner, name="pad_id", minimum=0)
        if pad_id >= V:
            raise InvalidValueError(f"{owner}: pad_id {pad_id} is not a token of a vocabulary "
                                    f"of {V}.")
        self.pad_id = int(pad_id)
        gen = as_rng(rng, owner=owner, name="rng")
        self.embed = Embedding(V, E, rng=gen, dtype=dtype)
        self.lstm = LSTM(E, H, rng=gen, dtype=dtype)
        self.head = Dense(H, 1, init="xavier", rng=gen, dtype=dtype)
        self._cache: tuple[np.ndarray, int] | None = None

    def _parts(self) -> list[tuple[str, Layer]]:
        return [("embed", self.embed), ("lstm", self.lstm), ("head", self.head)]

    def named_parameters(self, prefix: str = "") -> dict[str, Parameter]:
        """Every parameter by its path: "embed.W", "lstm.Wx", "head.b", ..."""
        out: dict[str, Parameter] = {}
        for name, layer in self._parts():
            out.update(layer.named_parameters(prefix=f"{prefix}{name}."))
        return out

    def train(self, mode: bool = True) -> LSTMClassifier:
        self.training = mode
        for _, layer in self._parts():
            layer.train(mode)
        return self

    def _states(self, tokens: object) -> tuple[np.ndarray, np.ndarray]:
        """(every LSTM state (N, T, H), mask (N, T)) of checked tokens."""
        arr = check_tokens(tokens, self.embed.vocab_size, owner=repr(self), ndims=(2,))
        mask = _prefix_mask(arr != self.pad_id, arr.shape, repr(self))
        return self.lstm.forward(self.embed.forward(arr)), mask

    def forward(self, tokens: np.ndarray) -> np.ndarray:
        """tokens: (N, T) -> logits: (N, 1)."""
        states, mask = self._states(tokens)
        last = last_hidden_state(states, mask)  # a copy: the LSTM reuses its buffers
        self._cache = (mask, len(states))
        return self.head.forward(last)

    def backward(self, grad_logits: np.ndarray) -> np.ndarray:
        """dL/dlogits: (N, 1) -> zeros (N, T); accumulates every parameter's gradient."""
        if self._cache is None:
            raise self._missing_cache()
        mask, N = self._cache
        self._check_grad_shape(grad_logits, (N, 1))
        g_last = self.head.backward(grad_logits)
        g_states = last_hidden_state_backward(g_last, mask)
        return self.embed.backward(self.lstm.backward(g_states))

    def step_probabilities(self, tokens: np.ndarray) -> np.ndarray:
        """tokens: (N, T) -> P(positive) after each step: (N, T) float, NaN at padding."""
        states, mask = self._states(tokens)
        W = self.head.W.value.astype(states.dtype, copy=False)
        b = self.head.b.value.astype(states.dtype, copy=False)
        p = sigmoid(states @ W[:, 0] + b[0])
        return np.where(mask, p, np.nan)

    def __repr__(self) -> str:
        return (f"LSTMClassifier({self.embed.vocab_size} words -> {self.embed.dim} -> "
                f"LSTM {self.lstm.hidden_size} -> 1)")


__all__ = ["ASPECTS", "INTENSIFIERS", "KINDS", "NEGATIVE", "ORDER_DEPENDENT", "POSITIVE",
           "LSTMClassifier", "Reviews", "bag_of_words",
           "last_hidden_state", "last_hidden_state_backward", "make_reviews"]
