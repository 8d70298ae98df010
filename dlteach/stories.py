"""Short generated stories, questions about them, and attention over their sentences.

A story in the style of Facebook's bAbI tasks: people move between places and pick
up and drop objects; at the end a question::

    1 Mary went to the kitchen.      2 John took the apple.      3 Mary moved to the garden.
    4 John dropped the apple.        Q: Where is Mary?   A: garden   (supporting fact: 3)

Two kinds of question, each answered by ONE sentence, its supporting fact:
"where is PERSON" (the person's last move) and "who has the OBJECT" (the last time
someone took an object they still hold). :func:`make_stories` writes them from a seed;
everything is generated, so the answer and its supporting fact are known exactly. What
it shows: a model can learn to look up the one sentence that matters. What it cannot:
real language (twelve verbs, four names, a fixed grammar).

The model, :class:`MemoryQA`, is a one-hop end-to-end memory network (Sukhbaatar et
al., 2015). Every sentence i becomes two vectors (bag of words weighted by a position
encoding l, plus a vector for its age: how many sentences ago it was said), the
question one::

    m_i = sum_j l_j * A[x_ij] + T_A[age_i]      the sentence as a key          (N, M, D)
    c_i = sum_j l_j * C[x_ij] + T_C[age_i]      the sentence as a value        (N, M, D)
    u   = sum_j l_j * B[q_j]                    the question, the query        (N, D)
    p_i = masked softmax_i(m_i . u)             attention over the sentences  (N, M)
    o   = sum_i p_i c_i,   logits = (o + u) W   a score for every answer word  (N, K)

l_kj = (1 - j/J) - (k/D)(1 - 2j/J) for word j = 1..J of a J-word sentence and k = 1..D:
without it "John took the apple" and "the apple took John" would be the same bag.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlteach.core import Layer, Parameter
from dlteach.embedding import check_tokens
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.masking import masked_softmax
from dlteach.numerics import FloatRange, grad_as
from dlteach.validation import Seed, as_array, as_rng, check_array, check_positive_int
from dlteach.vocab import WordVocab, pad_sequences

PEOPLE = ("mary", "john", "sandra", "daniel")
PLACES = ("kitchen", "garden", "office", "bathroom", "hallway", "bedroom")
OBJECTS = ("apple", "football", "milk")
MOVES = ("went to the", "moved to the", "journeyed to the", "travelled to the")
TAKES = ("took the", "picked up the", "got the")
DROPS = ("dropped the", "put down the", "left the")
KINDS = ("where", "who")  # "where is mary", "who has the apple"
ANSWERS = PLACES + PEOPLE  # the answer words, in class order


class Stories(NamedTuple):
    """N stories with a question each. sentences[n]: the story's sentences, each a list
    of words (lowercase, no full stop); questions[n]: a list of words; answers[n]: the
    answer word; support: (N,) int64, the index of the supporting sentence; kinds[n]:
    "where" or "who"."""

    sentences: list[list[list[str]]]
    questions: list[list[str]]
    answers: list[str]
    support: np.ndarray
    kinds: list[str]


def _one_story(rng: np.random.Generator, length: int, kind: str) -> tuple | None:
    """(sentences, question, answer, support) of one story, or None if the story has no
    question of that kind (nobody moved, nothing held at the end)."""
    where: dict[str, tuple[str, int]] = {}  # person -> (place, sentence index)
    holder: dict[str, tuple[str, int]] = {}  # object -> (person, sentence index)
    sentences = []
    for i in range(length):
        person = PEOPLE[rng.integers(len(PEOPLE))]
        held = [o for o, (p, _) in holder.items() if p == person]
        free = [o for o in OBJECTS if o not in holder]
        action = rng.random()
        if held and action < 0.2:
            obj = held[rng.integers(len(held))]
            del holder[obj]
            verb = DROPS[rng.integers(len(DROPS))]
        elif free and action < 0.45:
            obj = free[rng.integers(len(free))]
            holder[obj] = (person, i)
            verb = TAKES[rng.integers(len(TAKES))]
        else:
            obj = PLACES[rng.integers(len(PLACES))]
            where[person] = (obj, i)
            verb = MOVES[rng.integers(len(MOVES))]
        sentences.append([person, *verb.split(), obj])
    if kind == "where" and where:
        person = sorted(where)[rng.integers(len(where))]
        place, i = where[person]
        return sentences, ["where", "is", person], place, i
    if kind == "who" and holder:
        obj = sorted(holder)[rng.integers(len(holder))]
        person, i = holder[obj]
        return sentences, ["who", "has", "the", obj], person, i
    return None


def make_stories(n: int, *, min_sentences: int = 4, max_sentences: int = 10,
                 seed: Seed = 0) -> Stories:
    """n stories of min_sentences..max_sentences sentences (uniform), each with one
    question, "where" and "who" in turn (the kind of story n is KINDS[n % 2]). The same
    seed gives the same stories (see the module docstring)."""
    owner = "make_stories"
    n = check_positive_int(n, owner=owner, name="n")
    lo = check_positive_int(min_sentences, owner=owner, name="min_sentences")
    hi = check_positive_int(max_sentences, owner=owner, name="max_sentences", minimum=lo)
    rng = as_rng(seed, owner=owner)
    out: list[tuple] = []
    while len(out) < n:
        kind = KINDS[len(out) % 2]
        story = _one_story(rng, int(rng.integers(lo, hi + 1)), kind)
        if story is not None:
            out.append((*story, kind))
    sentences, questions, answers, support, kinds = map(list, zip(*out, strict=True))
    return Stories(sentences, questions, answers, np.array(support, dtype=np.int64), kinds)


def story_text(stories: Stories, n: int) -> str:
    """Story n as numbered sentences, then the question and its answer."""
    lines = [f"{i:>2} {' '.join(s).capitalize()}." for i, s in enumerate(stories.sentences[n])]
    q = " ".join(stories.questions[n]).capitalize()
    return "\n".join([*lines, f"   {q}?  {stories.answers[n]}"])


def story_vocabulary() -> WordVocab:
    """Every word a story or question can hold, after WordVocab's specials ("<pad>" = 0)."""
    words = [*PEOPLE, *PLACES, *OBJECTS, *" ".join(MOVES + TAKES + DROPS).split(),
             "where", "is", "who", "has"]
    return WordVocab([words])


class EncodedStories(NamedTuple):
    """Stories as arrays: story (N, M, J) int64 word ids, padded with 0 (M sentences of
    J words at most); story_mask (N, M) bool, True on real sentences; question (N, Jq)
    int64; answer (N,) int64, the index of the answer in ANSWERS."""

    story: np.ndarray
    story_mask: np.ndarray
    question: np.ndarray
    answer: np.ndarray


def encode_stories(stories: Stories, vocab: WordVocab, max_sentences: int | None = None
                   ) -> EncodedStories:
    """Word ids, padded: sentences to the longest sentence, stories to the longest story
    (or to max_sentences, which must be at least as long)."""
    lengths = [len(s) for s in stories.sentences]
    M = max(lengths) if max_sentences is None else check_positive_int(
        max_sentences, owner="encode_stories", name="max_sentences", minimum=max(lengths))
    flat = [vocab.encode(s) for story in stories.sentences for s in story]
    words, _ = pad_sequences(flat, pad_id=vocab.pad_id)
    story = np.full((len(lengths), M, words.shape[1]), vocab.pad_id, dtype=np.int64)
    mask = np.arange(M) < np.array(lengths)[:, None]
    story[mask] = words  # row-major order of the real sentences is the order of `flat`
    question, _ = pad_sequences([vocab.encode(q) for q in stories.questions],
                                pad_id=vocab.pad_id)
    answer = np.array([ANSWERS.index(a) for a in stories.answers], dtype=np.int64)
    return EncodedStories(story, mask, question, answer)


def position_encoding(words: np.ndarray, dim: int, pad_id: int = 0) -> np.ndarray:
    """The weights l of every word: words (..., J) token ids -> (..., J, dim) float64,
    l_kj = (1 - j/J) - (k/dim)(1 - 2j/J) with J the number of real (non-pad) words of
    the row, j = 1..J and k = 1..dim; 0 at padding."""
    words = check_tokens(words, np.iinfo(np.int64).max, owner="position_encoding",
                         name="words", ndims=(1, 2, 3))
    dim = check_positive_int(dim, owner="position_encoding", name="dim")
    real = words != pad_id
    J = np.maximum(real.sum(axis=-1, keepdims=True), 1)[..., None]  # (..., 1, 1)
    j = np.arange(1, words.shape[-1] + 1)[:, None] / J  # (..., J, 1): j / J
    k = np.arange(1, dim + 1) / dim  # (dim,)
    return ((1 - j) - k * (1 - 2 * j)) * real[..., None]


def _scatter(index: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """(size, D): out[v] = the sum of the rows whose index is v (np.add.at's result; one
    bincount over (index, column) pairs is several times faster)."""
    D = rows.shape[1]
    flat = (index[:, None] * D + np.arange(D)).reshape(-1)
    out = np.bincount(flat, weights=rows.reshape(-1), minlength=size * D)
    return out.reshape(size, D).astype(rows.dtype, copy=False)


class MemoryQA(Layer):
    """A one-hop memory network: attention over a story's sentences answers a question.

    The equations are in the module docstring. vocab_size: V (word ids, 0 = padding);
    n_answers: K; dim: D; max_sentences: M_max, the longest story it reads (one age
    vector per position).  Parameters A, B, C: (V, D), T_A, T_C: (M_max, D), W: (D, K),
    drawn from N(0, 0.1^2) by ``rng``.

    forward(story (N, M, J) ids, question (N, Jq) ids, story_mask (N, M) or None: a
    sentence is real if it has a word) -> logits (N, K). backward(dL/dlogits (N, K)) ->
    (zeros like story, zeros like question): word ids have no gradient; the parameters'
    gradients are accumulated. ``attention_weights``: p (N, M) of the last forward.
    The dtype rule: word ids are integers, so it computes in its parameters' dtype; ids
    given as floats holding whole numbers set the dtype instead (as in Embedding).
    Several inputs: it cannot sit in a Sequential.
    """

    def __init__(self, vocab_size: int, n_answers: int, dim: int, max_sentences: int, *,
                 rng: Seed = None, dtype: type = np.float64) -> None:
        owner = "MemoryQA"
        V = check_positive_int(vocab_size, owner=owner, name="vocab_size")
        K = check_positive_int(n_answers, owner=owner, name="n_answers")
        D = check_positive_int(dim, owner=owner, name="dim")
        M = check_positive_int(max_sentences, owner=owner, name="max_sentences")
        gen = as_rng(rng, owner=owner)

        def draw(shape, name):
            return Parameter((0.1 * gen.normal(size=shape)).astype(dtype), name)

        self.A, self.B, self.C = draw((V, D), "A"), draw((V, D), "B"), draw((V, D), "C")
        self.TA, self.TC = draw((M, D), "TA"), draw((M, D), "TC")
        self.W = draw((D, K), "W")
        self._cache: tuple | None = None

    def forward(self, story: np.ndarray, question: np.ndarray | None = None,
                story_mask: np.ndarray | None = None) -> np.ndarray:
        """story (N, M, J), question (N, Jq), story_mask (N, M) -> logits (N, K)."""
        owner = repr(self)
        V, D = self.A.shape
        s = check_tokens(story, V, owner=owner, name="story", ndims=(3,)).astype(np.intp)
        if question is None:
            raise ShapeError(f"{owner}: forward(story, question, story_mask) needs the "
                             "question too.")
        q = check_tokens(question, V, owner=owner, name="question", ndims=(2,)).astype(np.intp)
        N, M, _ = s.shape
        if len(q) != N:
            raise ShapeError(f"{owner}: expected a question per story, (N, Jq) with N = {N}, "
                             f"got {tuple(q.shape)}.")
        if M > self.TA.shape[0]:
            raise ShapeError(f"{owner}: stories of at most {self.TA.shape[0]} sentences, got "
                             f"{M} (story shape {tuple(s.shape)}).")
        if story_mask is None:
            mask = (s != 0).any(axis=2)
        else:
            mask = as_array(story_mask, owner=owner, name="story_mask")
            if mask.dtype != np.bool_:
                mask = check_array(mask, owner=owner, name="story_mask", kind="number")
            if ((mask != 0) & (mask != 1)).any():
                raise InvalidValueError(f"{owner}: story_mask must hold 1/True (a sentence) or "
                                        "0/False (padding).")
            mask = mask.astype(bool)
        if mask.shape != (N, M):
            raise ShapeError(f"{owner}: expected story_mask of shape (N, M) = {(N, M)}, got "
                             f"{tuple(mask.shape)}.")
        if not mask.any(axis=1).all():
            raise InvalidValueError(f"{owner}: story {int(np.argmin(mask.any(axis=1)))} has "
                                    "no sentence: nothing to attend to.")
        raw = np.asarray(story)  # token ids held as floats set the dtype (as in Embedding)
        dt = raw.dtype if raw.dtype.kind == "f" else self.A.value.dtype
        A, B, C, TA, TC, W = (p.value.astype(dt, copy=False) for p in self.parameters())
        age = np.clip(mask.sum(axis=1, keepdims=True) - 1 - np.arange(M), 0, None)  # (N, M)
        ls, lq = position_encoding(s, D).astype(dt), position_encoding(q, D).astype(dt)
        with FloatRange(self, "forward") as fr:
            m = (A[s] * ls).sum(axis=2) + TA[age]
            c = (C[s] * ls).sum(axis=2) + TC[age]
            u = (B[q] * lq).sum(axis=1)
            p = masked_softmax(np.einsum("nmd,nd->nm", m, u), mask)
            z = np.einsum("nm,nmd->nd", p, c) + u
            logits = z @ W
        fr.check(logits, inputs=(A, B, C, TA, TC, W))
        self._cache = (s, q, mask, age, ls, lq, m, c, u, p, z)
        return logits

    @property
    def attention_weights(self) -> np.ndarray:
        """p: (N, M), the attention over the sentences in the last forward (0 on padding)."""
        if self._cache is None:
            raise InvalidValueError(f"{self!r}: no attention weights yet. Run forward first.")
        return self._cache[9].copy()

    def backward(self, grad_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dL/dlogits (N, K) -> (zeros like story, zeros like question); accumulates the
        gradients of A, B, C, T_A, T_C and W."""
        if self._cache is None:
            raise self._missing_cache()
        s, q, mask, age, ls, lq, m, c, u, p, z = self._cache
        self._check_grad_shape(grad_logits, (len(s), self.W.shape[1]))
        g = grad_as(grad_logits, z.dtype)  # computed in the forward's dtype
        D = z.shape[1]
        with FloatRange(self, "backward") as fr:
            self.W.grad += z.T @ g
            dz = g @ self.W.value.astype(z.dtype, copy=False).T  # (N, D): to o and to u
            dp = np.einsum("nmd,nd->nm", c, dz)
            dc = p[:, :, None] * dz[:, None, :]  # (N, M, D), 0 on padded sentences
            ds = p * (dp - (p * dp).sum(axis=1, keepdims=True))  # through the softmax
            dm = ds[:, :, None] * u[:, None, :]
            du = dz + np.einsum("nm,nmd->nd", ds, m)
            self.TA.grad += _scatter(age[mask], dm[mask], self.TA.shape[0])
            self.TC.grad += _scatter(age[mask], dc[mask], self.TC.shape[0])
            V = self.A.shape[0]
            self.A.grad += _scatter(s.reshape(-1), (dm[:, :, None, :] * ls).reshape(-1, D), V)
            self.C.grad += _scatter(s.reshape(-1), (dc[:, :, None, :] * ls).reshape(-1, D), V)
            self.B.grad += _scatter(q.reshape(-1), (du[:, None, :] * lq).reshape(-1, D), V)
        fr.check(*(prm.grad for prm in self.parameters()), inputs=(g,))
        return np.zeros(s.shape, dtype=z.dtype), np.zeros(q.shape, dtype=z.dtype)

    def __repr__(self) -> str:
        (V, D), K = self.A.shape, self.W.shape[1]
        return f"MemoryQA({V} words -> {K} answers, dim={D}, max_sentences={self.TA.shape[0]})"


def accuracy_by_kind(predicted: np.ndarray, stories: Stories) -> dict[str, float]:
    """The fraction of right answers for each kind of question: predicted (N,) answer
    indices (into ANSWERS) -> {"where": ..., "who": ...} (kinds that occur only)."""
    predicted = check_array(predicted, owner="accuracy_by_kind", name="predicted",
                            shape=(len(stories.answers),), kind="int")
    right = predicted == np.array([ANSWERS.index(a) for a in stories.answers])
    kinds = np.array(stories.kinds)
    return {k: float(right[kinds == k].mean()) for k in KINDS if (kinds == k).any()}
