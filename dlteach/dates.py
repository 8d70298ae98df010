"""Written dates to translate into ISO dates: a generated task for sequence to sequence.

A person writes a date in many ways; a computer wants one, ``YYYY-MM-DD``::

    "3rd of March 1999"   "03/03/99"   "Wednesday, March 3, 1999"   "3 mars 1999"
                                  ->   "1999-03-03"

:func:`make_date_pairs` writes dates between 1950-01-01 and 2049-12-31 in the
:data:`FORMATS` below (English, French, German and Spanish month names, numeric forms
read day first, two-digit years meaning 1950-2049), with weekday names computed by
Python's ``datetime`` so they always match the date. Every character is a token
(:func:`char_vocabularies`): the model reads characters and writes the 10 characters of
the ISO date.

Held-out dates: the days of the range are split once, by a fixed seed, into training
days and held-out days (one in ten). ``split="train"`` writes only training days,
``split="test"`` only held-out days, so a test date was never seen in training, in any
format. What a generated task shows: that attention learns which source characters
each output character comes from. What it cannot: real handwriting, typos, or dates
written in ways the generator does not know.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import numpy as np

from dlteach.embedding import check_tokens
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.seq2seq import Seq2Seq
from dlteach.validation import Seed, as_rng, check_positive_int
from dlteach.vocab import WordVocab, pad_sequences

FIRST_DAY = _dt.date(1950, 1, 1)
LAST_DAY = _dt.date(2049, 12, 31)
SPLIT_SEED = 7  # which days are held out: fixed, so every call agrees
HELD_OUT_FRACTION = 0.1
ISO_LENGTH = 10  # "YYYY-MM-DD"

MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ordinal(day: int) -> str:
    """1 -> "1st", 2 -> "2nd", 3 -> "3rd", 11 -> "11th", 22 -> "22nd"."""
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _en(d: _dt.date) -> str:
    return MONTHS["en"][d.month - 1]


# Each format writes a date as text; the numeric ones read day / month / year.
FORMATS = {
    "ordinal": lambda d: f"{_ordinal(d.day)} of {_en(d)} {d.year}",       # 3rd of March 1999
    "day month year": lambda d: f"{d.day} {_en(d)} {d.year}",             # 3 March 1999
    "us long": lambda d: f"{_en(d)} {d.day}, {d.year}",                   # March 3, 1999
    "us short": lambda d: f"{_en(d)[:3]} {d.day}, {d.year}",              # Mar 3, 1999
    "weekday": lambda d: f"{WEEKDAYS[d.weekday()]}, {_en(d)} {d.day}, {d.year}",
    "lowercase": lambda d: f"{d.day} {_en(d).lower()} {d.year}",          # 3 march 1999
    "dd/mm/yy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",    # 03/03/99
    "d.m.yyyy": lambda d: f"{d.day}.{d.month}.{d.year}",                  # 3.3.1999
    "french": lambda d: f"{d.day} {MONTHS['fr'][d.month - 1]} {d.year}",  # 3 mars 1999
    "german": lambda d: f"{d.day}. {MONTHS['de'][d.month - 1]} {d.year}",  # 3. März 1999
    "spanish": lambda d: f"{d.day} de {MONTHS['es'][d.month - 1]} de {d.year}",
}


def write_date(date: _dt.date, fmt: str) -> str:
    """One date written in one of :data:`FORMATS` (by name): ``write_date(date(1999, 3, 3),
    "weekday")`` -> ``"Wednesday, March 3, 1999"``."""
    if fmt not in FORMATS:
        raise InvalidValueError(f"write_date: unknown format {fmt!r}; the formats are "
                                f"{tuple(FORMATS)}.")
    return FORMATS[fmt](date)


def _days(split: str) -> np.ndarray:
    """The day numbers (days since FIRST_DAY) of one split, sorted."""
    n = (LAST_DAY - FIRST_DAY).days + 1
    held = np.random.default_rng(SPLIT_SEED).random(n) < HELD_OUT_FRACTION
    if split == "train":
        return np.flatnonzero(~held)
    if split == "test":
        return np.flatnonzero(held)
    raise InvalidValueError(f"make_date_pairs: split must be 'train' or 'test', got {split!r}.")


def split_dates(split: str) -> list[_dt.date]:
    """Every date of a split: "train" (about 90% of the days 1950-2049) or "test" (the
    other 10%, the held-out days). The two never share a date."""
    return [FIRST_DAY + _dt.timedelta(days=int(k)) for k in _days(split)]


def make_date_pairs(n: int, *, split: str = "train", seed: Seed = 0,
                    formats: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """n written dates and their ISO forms -> (sources, targets), two lists of n str.

    Each pair: a day drawn uniformly from the split's days ("train" or "test", see the
    module docstring), written in a format drawn uniformly from ``formats`` (all of
    :data:`FORMATS` by default). The same seed gives the same pairs.
    Example: ("Wednesday, March 3, 1999", "1999-03-03").
    """
    owner = "make_date_pairs"
    n = check_positive_int(n, owner=owner, name="n")
    names = tuple(FORMATS) if formats is None else tuple(formats)
    for f in names:
        if f not in FORMATS:
            raise InvalidValueError(f"{owner}: unknown format {f!r}; the formats are "
                                    f"{tuple(FORMATS)}.")
    if not names:
        raise InvalidValueError(f"{owner}: formats is empty.")
    rng = as_rng(seed, owner=owner)
    days = rng.choice(_days(split), size=n)
    which = rng.integers(0, len(names), size=n)
    sources, targets = [], []
    for k, f in zip(days, which, strict=True):
        d = FIRST_DAY + _dt.timedelta(days=int(k))
        sources.append(FORMATS[names[f]](d))
        targets.append(d.isoformat())
    return sources, targets


def char_vocabularies() -> tuple[WordVocab, WordVocab]:
    """(source vocabulary, target vocabulary), characters as tokens.

    Source: "<pad>" 0, "<unk>" 1, "<s>" 2, "</s>" 3, then every character any format can
    write (found by writing every month and weekday); target: the same specials, then
    the digits and "-". Encode a text as characters: ``vocab.encode(list(text))``.
    """
    samples = [write_date(_dt.date(2000 + k, m, 10 + k), f) for f in FORMATS
               for m in range(1, 13) for k in range(7)]
    samples += ["0123456789"]
    source = WordVocab([list(s) for s in samples], lower=False)
    target = WordVocab([list("0123456789-")], lower=False)
    return source, target


def encode_chars(texts: Sequence[str], vocab: WordVocab) -> list[np.ndarray]:
    """Texts -> a list of (L_i,) int64 arrays of character ids."""
    return [vocab.encode(list(t)) for t in texts]


def decode_chars(tokens: np.ndarray, vocab: WordVocab) -> list[str]:
    """Token ids (N, L), as greedy decoding returns them -> N texts, each stopping at its
    first "</s>" (padding and "<s>" left out)."""
    ids = check_tokens(tokens, len(vocab), owner="decode_chars", name="tokens", ndims=(2,))
    return ["".join(vocab.to_tokens(row)) for row in ids]


def exact_match(predicted: Sequence[str], targets: Sequence[str]) -> float:
    """The fraction of predictions equal to their target, character for character: a date
    with one wrong digit counts as wrong."""
    if len(predicted) != len(targets):
        raise ShapeError(f"exact_match: expected as many predictions as targets, got "
                         f"{len(predicted)} and {len(targets)}.")
    if len(targets) == 0:
        raise InvalidValueError("exact_match: no targets.")
    return float(np.mean([p == t for p, t in zip(predicted, targets, strict=True)]))


# --- the lesson's translator ----------------------------------------------------------------

EMBED_DIM, HIDDEN_SIZE = 16, 64  # the sizes lesson 7 and scripts/train_date_translator.py use


def date_translator(attention: str | None = "additive", *, rng: Seed = 0,
                    dtype: type = np.float32) -> Seq2Seq:
    """The lesson's model: a character Seq2Seq (embed 16, hidden 64) from the source
    characters of :func:`char_vocabularies` to the target ones, with ``attention``
    "additive", "dot" or None (no attention: the last encoder state is the context)."""
    source, target = char_vocabularies()
    return Seq2Seq(len(source), len(target), EMBED_DIM, HIDDEN_SIZE, attention=attention,
                   pad_id=source.pad_id, bos_id=target.bos_id, eos_id=target.eos_id,
                   rng=rng, dtype=dtype)


def translate(model: Seq2Seq, texts: Sequence[str], source: WordVocab, target: WordVocab,
              ) -> list[str]:
    """Written dates -> the model's ISO dates (greedy decoding, at most 11 steps: 10
    characters and "</s>"). Afterwards ``model.attention_weights`` is (N, L, S)."""
    ids, mask = pad_sequences(encode_chars(texts, source), pad_id=source.pad_id)
    tokens, _ = model.greedy_decode(ids, mask, max_len=ISO_LENGTH + 1)
    return decode_chars(tokens, target)
