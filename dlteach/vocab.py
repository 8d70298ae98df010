"""Words as token ids: a word vocabulary, padding, batches for sequence-to-sequence models.

Sentences have different lengths, but a batch is one rectangular array. So sequences
are padded at the end with a padding token to the longest one, and a mask says which
steps are real::

    vocab = WordVocab(texts)                       # "<pad>" 0, "<unk>" 1, "<s>" 2, "</s>" 3, words
    seqs = [vocab.encode(t) for t in texts]        # a list of (L_i,) int64 arrays
    ids, mask = pad_sequences(seqs)                # (N, T) int64, (N, T) bool: True = real

For an encoder-decoder model the decoder reads the target shifted right by one (it
starts from "<s>") and learns to predict the target followed by "</s>"
(:func:`teacher_forcing_targets`); :func:`seq2seq_batches` cuts a whole data set into
such padded batches.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from numbers import Integral
from typing import NamedTuple

import numpy as np

from dlteach.embedding import check_tokens
from dlteach.errors import DTypeError, InvalidValueError, ShapeError
from dlteach.validation import Seed, as_array, as_rng, check_positive_int

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)  # with these, pad_id = 0, unk_id = 1, bos_id = 2, eos_id = 3

# A word: letters, digits or underscores, possibly joined by apostrophes (don't, it's).
# Any other character that is not a space is a token of its own (punctuation).
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Split a text into words: ``"Don't stop, Bob!"`` -> ``["don't", "stop", ",", "bob", "!"]``.

    The rule: the text is lowercased (unless ``lower=False``); a word is a run of
    letters, digits and underscores, possibly joined by apostrophes; every other
    character that is not whitespace (punctuation, symbols) is a token on its own;
    whitespace only separates tokens.
    """
    if not isinstance(text, str):
        raise DTypeError(f"tokenize: expected a str, got {type(text).__name__}.")
    return _TOKEN.findall(text.lower() if lower else text)


def _as_tokens(item: object, owner: str, where: str, lower: bool) -> list[str]:
    if isinstance(item, str):
        return tokenize(item, lower)
    if isinstance(item, list | tuple) and all(isinstance(t, str) for t in item):
        return list(item)
    raise DTypeError(
        f"{owner}: expected {where} to be a text (str) or a list of tokens (str), "
        f"got {type(item).__name__}."
    )


class WordVocab:
    """The words of some texts, numbered: special tokens first, then the words by frequency.

    WordVocab(texts): ``texts`` is a list of texts (each split by :func:`tokenize`) or of
    token lists (used as they are); a single str is one text. Ids: the ``specials`` in
    their order (by default "<pad>" 0, "<unk>" 1, "<s>" 2, "</s>" 3), then every word
    seen at least ``min_count`` times, the most frequent first (ties alphabetically), at
    most ``max_size`` tokens in all. ``len(vocab)`` = V; ``vocab.tokens`` in id order;
    ``vocab.counts`` how often each word occurred.

    ``encode(text) -> ids`` (add_bos/add_eos to wrap it in "<s>" ... "</s>"),
    ``decode(ids) -> text``. Words not in the vocabulary (rare, or never seen) become
    "<unk>"; without "<unk>" among the specials, encode refuses them by name instead.
    ``pad_id``, ``unk_id``, ``bos_id``, ``eos_id``: the ids of the four special tokens.
    """

    def __init__(
        self,
        texts: str | Iterable[str | Sequence[str]],
        *,
        min_count: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIALS,
        lower: bool = True,
    ) -> None:
        owner = "WordVocab"
        self.min_count = check_positive_int(min_count, owner=owner, name="min_count")
        if isinstance(specials, str) or not all(isinstance(s, str) for s in specials):
            raise DTypeError(f"{owner}: specials must be a tuple of str, got {specials!r}.")
        specials = tuple(specials)
        if len(set(specials)) != len(specials):
            raise InvalidValueError(f"{owner}: specials must be distinct, got {specials!r}.")
        if max_size is not None:
            max_size = check_positive_int(max_size, owner=owner, name="max_size",
                                          minimum=len(specials))
        self.lower = bool(lower)
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, Iterable):
            raise DTypeError(
                f"{owner}: expected a list of texts or token lists, got {type(texts).__name__}."
            )
        counts: Counter[str] = Counter()
        for i, item in enumerate(texts):
            counts.update(_as_tokens(item, owner, f"texts[{i}]", self.lower))
        for s in specials:
            counts.pop(s, None)  # a special written in the text is still the special
        words = sorted((w for w, c in counts.items() if c >= self.min_count),
                       key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[: max_size - len(specials)]
        if not words and not specials:
            raise InvalidValueError(f"{owner}: no tokens: the texts are empty.")
        self.specials = specials
        self.tokens: tuple[str, ...] = (*specials, *words)
        self.counts: dict[str, int] = dict(counts)
        self._index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._index

    def _special_id(self, token: str) -> int:
        if token not in self._index or token not in self.specials:
            raise InvalidValueError(
                f"{self!r}: no {token!r} token; the specials are {self.specials!r}. "
                f"Add {token!r} to specials=... to use it."
            )
        return self._index[token]

    @property
    def pad_id(self) -> int:
        return self._special_id(PAD)

    @property
    def unk_id(self) -> int:
        return self._special_id(UNK)

    @property
    def bos_id(self) -> int:
        return self._special_id(BOS)

    @property
    def eos_id(self) -> int:
        return self._special_id(EOS)

    def encode(self, text: str | Sequence[str], *, add_bos: bool = False,
               add_eos: bool = False) -> np.ndarray:
        """A text (split by :func:`tokenize`) or a token list -> ids: (L,) int64.

        add_bos / add_eos: start with "<s>" / end with "</s>" (L grows by one each).
        """
        owner = f"{self!r}.encode"
        tokens = _as_tokens(text, owner, "the text", self.lower)
        unk = self._index.get(UNK) if UNK in self.specials else None
        ids = [self._index.get(t, unk) for t in tokens]
        if unk is None and None in ids:
            where = ids.index(None)
            raise InvalidValueError(
                f"{owner}: the word {tokens[where]!r} (token {where}) is not in the "
                f"vocabulary, and it has no {UNK!r} token to stand for unknown words."
            )
        # bos_id / eos_id raise for a vocabulary without "<s>" / "</s>": ask only if needed
        ids = ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])
        return np.array(ids, dtype=np.int64)

    def to_tokens(self, ids: np.ndarray, *, strip: bool = True) -> list[str]:
        """ids: (L,) token ids -> the L tokens. strip: stop at the first "</s>" and leave
        out "<pad>" and "<s>" (what a model generated, without the bookkeeping)."""
        if isinstance(ids, Integral) and not isinstance(ids, bool):
            ids = [ids]
        arr = check_tokens(ids, len(self), owner=f"{self!r}.decode", name="ids", ndims=(1,))
        tokens = [self.tokens[i] for i in arr.astype(np.intp)]
        if not strip:
            return tokens
        if EOS in self.specials and EOS in tokens:
            tokens = tokens[: tokens.index(EOS)]
        return [t for t in tokens if t not in (PAD, BOS) or t not in self.specials]

    def decode(self, ids: np.ndarray, *, strip: bool = True) -> str:
        """ids: (L,) token ids -> their tokens joined by spaces (see :meth:`to_tokens`)."""
        return " ".join(self.to_tokens(ids, strip=strip))

    def __repr__(self) -> str:
        words = len(self) - len(self.specials)
        return f"WordVocab({len(self)} tokens: {len(self.specials)} specials + {words} words)"


# --- padding and batches -------------------------------------------------------------------


def _sequence_list(seqs: object, owner: str, name: str) -> list[np.ndarray]:
    """A list of 1-D integer arrays from a list (or 2-D array) of token sequences."""
    if isinstance(seqs, np.ndarray) and seqs.ndim == 2 and seqs.dtype.kind in "iu":
        return list(seqs)
    if isinstance(seqs, str | bytes) or not isinstance(seqs, list | tuple | np.ndarray):
        raise DTypeError(
            f"{owner}: expected {name} as a list of token id sequences, got "
            f"{type(seqs).__name__}."
        )
    if len(seqs) == 0:
        raise InvalidValueError(f"{owner}: {name} is empty: no sequences.")
    return [_token_ids(s, owner, f"{name}[{i}]") for i, s in enumerate(seqs)]


def _token_ids(seq: object, owner: str, name: str) -> np.ndarray:
    """One sequence as a 1-D integer array (an empty one too, whose dtype NumPy makes float)."""
    if isinstance(seq, str | bytes):
        raise DTypeError(f"{owner}: expected {name} to hold token ids, got text {seq!r}. "
                         "Encode it first, e.g. with WordVocab.encode.")
    arr = as_array(seq, owner=owner, name=name)  # named errors for ragged lists, objects
    if arr.ndim != 1:
        raise ShapeError(f"{owner}: expected {name} with 1 dimension (a sequence of token "
                         f"ids), got shape {tuple(arr.shape)}.")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        whole = arr.dtype.kind == "f" and bool(np.all(arr == np.round(arr)))
        raise DTypeError(
            f"{owner}: expected {name} to hold integer token ids, got dtype {arr.dtype}."
            + (" Convert it with np.asarray(..., dtype=int)." if whole else "")
        )
    return arr


def _check_id(value: object, owner: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise DTypeError(f"{owner}: expected {name} to be an integer token id, got "
                         f"{type(value).__name__}.")
    return int(value)


def _pad(arrays: list[np.ndarray], pad_id: int, max_len: int | None
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids (N, T), mask (N, T), lengths (N,)) of already checked 1-D arrays."""
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    T = int(lengths.max()) if max_len is None else max_len
    mask = np.arange(T) < lengths[:, None]  # True on the first length_i steps of row i
    ids = np.full((len(arrays), T), pad_id, dtype=np.int64)
    # Row-major order of the True entries is the order of the concatenated sequences.
    ids[mask] = np.concatenate([a[:n] for a, n in zip(arrays, lengths, strict=True)])
    return ids, mask, lengths


def pad_sequences(
    seqs: Sequence[Sequence[int] | np.ndarray], pad_id: int = 0, max_len: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pad token sequences of different lengths at the end into one array, with a mask.

    seqs: N sequences of token ids (lists or (L_i,) integer arrays)  ->
    (ids: (N, T) int64, mask: (N, T) bool), ids[i, :L_i] = seqs[i], the rest pad_id;
    mask[i, t] is True on real steps (t < L_i), False on padding. T is the longest
    length, or ``max_len``: then longer sequences keep only their first max_len tokens.
    """
    owner = "pad_sequences"
    arrays = _sequence_list(seqs, owner, "seqs")
    pad_id = _check_id(pad_id, owner, "pad_id")
    if max_len is not None:
        max_len = check_positive_int(max_len, owner=owner, name="max_len")
    ids, mask, _ = _pad(arrays, pad_id, max_len)
    return ids, mask


def teacher_forcing_targets(
    seqs: Sequence[Sequence[int] | np.ndarray], bos_id: int, eos_id: int, pad_id: int = 0,
    max_len: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The decoder's inputs and targets for teacher forcing, padded.

    seqs: N target sequences (without "<s>"/"</s>")  ->  (dec_in, dec_out, mask), each
    (N, T + 1), T the longest length (or max_len, cutting longer ones):
    dec_in[i] = <s> y_1 ... y_L, dec_out[i] = y_1 ... y_L </s>: at every step the decoder
    reads the true previous token and must predict the next one, the last being </s>.
    mask: True on those L + 1 real steps of each row. Example, y = (7, 8)::

        dec_in  = [<s>, 7, 8, <pad>]     dec_out = [7, 8, </s>, <pad>]     mask = [1, 1, 1, 0]
    """
    owner = "teacher_forcing_targets"
    arrays = _sequence_list(seqs, owner, "seqs")
    bos_id, eos_id = _check_id(bos_id, owner, "bos_id"), _check_id(eos_id, owner, "eos_id")
    pad_id = _check_id(pad_id, owner, "pad_id")
    if max_len is not None:
        max_len = check_positive_int(max_len, owner=owner, name="max_len")
    ids, _, lengths = _pad(arrays, pad_id, max_len)
    N, T = ids.shape
    dec_in = np.full((N, T + 1), pad_id, dtype=np.int64)
    dec_in[:, 0] = bos_id
    dec_in[:, 1:] = ids  # padded beyond each length already
    dec_out = np.full((N, T + 1), pad_id, dtype=np.int64)
    dec_out[:, :T] = ids
    dec_out[np.arange(N), lengths] = eos_id
    mask = np.arange(T + 1) <= lengths[:, None]
    return dec_in, dec_out, mask


class Seq2SeqBatch(NamedTuple):
    """One padded batch of (source, target) pairs, all (N, ...) with N the batch size.

    src: (N, S) source ids;  src_mask: (N, S) bool;  dec_in, dec_out, dec_mask: (N, T)
    from :func:`teacher_forcing_targets`.
    """

    src: np.ndarray
    src_mask: np.ndarray
    dec_in: np.ndarray
    dec_out: np.ndarray
    dec_mask: np.ndarray


def seq2seq_batches(
    sources: Sequence[Sequence[int] | np.ndarray],
    targets: Sequence[Sequence[int] | np.ndarray],
    batch_size: int,
    *,
    bos_id: int,
    eos_id: int,
    pad_id: int = 0,
    shuffle: bool = True,
    seed: Seed = None,
) -> Iterator[Seq2SeqBatch]:
    """Iterate over padded batches (:class:`Seq2SeqBatch`) covering the pairs once (an epoch).

    sources, targets: N token sequences each (pair i = sources[i], targets[i]);
    batch_size: pairs per batch (the last holds the rest). Each batch is padded only to
    its own longest sequence. shuffle: a random order drawn from ``seed`` (pass one
    Generator to get a new order every epoch). Everything is checked at once.
    """
    owner = "seq2seq_batches"
    src = _sequence_list(sources, owner, "sources")
    tgt = _sequence_list(targets, owner, "targets")
    if len(src) != len(tgt):
        raise ShapeError(
            f"{owner}: sources and targets must hold the same number of sequences, "
            f"got {len(src)} and {len(tgt)}."
        )
    batch_size = check_positive_int(batch_size, owner=owner, name="batch_size")
    ids = [_check_id(v, owner, name) for v, name in
           ((bos_id, "bos_id"), (eos_id, "eos_id"), (pad_id, "pad_id"))]
    empty = [i for i, s in enumerate(src) if len(s) == 0]
    if empty:
        raise InvalidValueError(
            f"{owner}: sources[{empty[0]}] is empty: a source needs at least one token "
            "(attention needs something to attend to)."
        )
    order = as_rng(seed, owner=owner).permutation(len(src)) if shuffle else np.arange(len(src))

    def batches() -> Iterator[Seq2SeqBatch]:
        for start in range(0, len(src), batch_size):
            idx = order[start : start + batch_size]
            s_ids, s_mask, _ = _pad([src[i] for i in idx], ids[2], None)
            dec = teacher_forcing_targets([tgt[i] for i in idx], *ids)
            yield Seq2SeqBatch(s_ids, s_mask, *dec)

    return batches()


def make_reversal_pairs(
    n: int, min_len: int = 3, max_len: int = 8, seed: Seed = 0
) -> tuple[list[str], list[str]]:
    """A toy translation task: reverse a sequence of digits, "3 1 4 1" -> "1 4 1 3".

    n pairs, each of min_len..max_len digits (uniform), written as texts of words
    separated by spaces -> (sources, targets), two lists of n str. The same seed gives
    the same pairs. Attention solves it well: output step t attends to input L - 1 - t.
    """
    owner = "make_reversal_pairs"
    n = check_positive_int(n, owner=owner, name="n")
    min_len = check_positive_int(min_len, owner=owner, name="min_len")
    max_len = check_positive_int(max_len, owner=owner, name="max_len", minimum=min_len)
    rng = as_rng(seed, owner=owner)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    digits = rng.integers(0, 10, size=(n, max_len)).astype(str)
    sources = [" ".join(row[:k]) for row, k in zip(digits, lengths, strict=True)]
    targets = [" ".join(row[:k][::-1]) for row, k in zip(digits, lengths, strict=True)]
    return sources, targets
