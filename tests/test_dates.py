"""Written dates: every format reads back to its date, the split holds dates out, the
character vocabularies cover everything, and the shipped translators work."""

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlteach.dates import (
    FIRST_DAY,
    FORMATS,
    LAST_DAY,
    MONTHS,
    WEEKDAYS,
    char_vocabularies,
    date_translator,
    decode_chars,
    encode_chars,
    exact_match,
    make_date_pairs,
    split_dates,
    translate,
    write_date,
)
from dlteach.errors import InvalidValueError, ShapeError
from dlteach.serialization import load_parameters

PRETRAINED = Path(__file__).resolve().parents[1] / "dlteach" / "pretrained"


def read_back(text: str, fmt: str) -> dt.date:
    """The date a text in format fmt means, parsed independently of the writer."""
    month_of = {name.lower(): i + 1 for names in MONTHS.values() for i, name in enumerate(names)}
    month_of.update({name[:3].lower(): i + 1 for i, name in enumerate(MONTHS["en"])})
    if fmt == "dd/mm/yy":
        d, m, y = map(int, text.split("/"))
        return dt.date(1900 + y if y >= 50 else 2000 + y, m, d)
    if fmt == "d.m.yyyy":
        d, m, y = map(int, text.split("."))
        return dt.date(y, m, d)
    weekday = None
    if fmt == "weekday":
        weekday, text = text.split(", ", 1)
    tokens = re.findall(r"\w+", text.lower())
    numbers = [re.match(r"\d+", t) for t in tokens]
    values = [int(n.group()) for n in numbers if n]
    month = next(month_of[t] for t in tokens if t in month_of)
    day, year = (values[0], values[1]) if values[0] < 100 else (values[1], values[0])
    if values[0] > 31:
        year, day = values[0], values[1]
    if fmt in ("us long", "us short", "weekday"):
        day, year = values[0], values[1]
    date = dt.date(year, month, day)
    if weekday is not None:
        assert weekday == WEEKDAYS[date.weekday()], (weekday, date)
    return date


@given(st.dates(FIRST_DAY, LAST_DAY), st.sampled_from(sorted(FORMATS)))
def test_every_format_reads_back_to_its_date(date, fmt):
    assert read_back(write_date(date, fmt), fmt) == date


def test_examples_from_the_lesson():
    d = dt.date(1999, 3, 3)
    assert write_date(d, "ordinal") == "3rd of March 1999"
    assert write_date(d, "dd/mm/yy") == "03/03/99"
    assert write_date(d, "weekday") == "Wednesday, March 3, 1999"
    assert write_date(d, "french") == "3 mars 1999"
    assert write_date(dt.date(2031, 12, 17), "german") == "17. Dezember 2031"
    assert [write_date(dt.date(2000, 1, k), "ordinal")[:4] for k in (1, 2, 11, 12, 13, 22)] == [
        "1st ", "2nd ", "11th", "12th", "13th", "22nd"]
    with pytest.raises(InvalidValueError, match="unknown format"):
        write_date(d, "klingon")


def test_pairs_come_from_their_split_only_and_the_splits_never_share_a_date():
    train, test = set(split_dates("train")), set(split_dates("test"))
    assert not train & test
    assert len(train) + len(test) == (LAST_DAY - FIRST_DAY).days + 1
    assert 0.08 < len(test) / (len(train) + len(test)) < 0.12
    for split, days in (("train", train), ("test", test)):
        _, isos = make_date_pairs(500, split=split, seed=4)
        assert {dt.date.fromisoformat(t) for t in isos} <= days


def test_pairs_are_consistent_reproducible_and_use_every_format():
    sources, isos = make_date_pairs(600, seed=5)
    assert (sources, isos) == make_date_pairs(600, seed=5)
    assert sources != make_date_pairs(600, seed=6)[0]
    assert all(len(t) == 10 for t in isos)
    found = set()
    for s, t in zip(sources, isos, strict=True):
        fits = [f for f in FORMATS if write_date(dt.date.fromisoformat(t), f) == s]
        assert fits, s
        found.update(fits)
    assert found == set(FORMATS)
    only, _ = make_date_pairs(20, seed=0, formats=["d.m.yyyy"])
    assert all(re.fullmatch(r"\d+\.\d+\.\d{4}", s) for s in only)
    with pytest.raises(InvalidValueError, match="split must be"):
        make_date_pairs(3, split="validation")
    with pytest.raises(InvalidValueError, match="unknown format"):
        make_date_pairs(3, formats=["nope"])


def test_the_vocabularies_cover_every_character_and_round_trip():
    source, target = char_vocabularies()
    assert target.tokens[4:] == tuple("0123456789-") or set(target.tokens[4:]) == set(
        "0123456789-")
    sources, isos = make_date_pairs(2000, seed=7)
    for text in sources:
        ids = source.encode(list(text))
        assert source.unk_id not in ids
        assert "".join(source.to_tokens(ids)) == text
    ids = encode_chars(isos[:5], target)
    padded = np.full((5, 12), target.pad_id)
    for i, row in enumerate(ids):
        padded[i, :10] = row
        padded[i, 10] = target.eos_id
    assert decode_chars(padded, target) == isos[:5]


def test_exact_match_counts_whole_strings():
    assert exact_match(["1999-03-03", "1999-03-04"], ["1999-03-03", "1999-03-03"]) == 0.5
    with pytest.raises(ShapeError):
        exact_match(["a"], ["a", "b"])
    with pytest.raises(InvalidValueError):
        exact_match([], [])


@pytest.mark.parametrize(("kind", "name", "least"), [("additive", "dates_attention.npz", 0.99),
                                                    (None, "dates_plain.npz", 0.9)])
def test_the_shipped_translators_load_and_translate_held_out_dates(kind, name, least):
    path = PRETRAINED / name
    assert path.stat().st_size < 400_000
    with np.load(path) as saved:
        assert all(saved[k].dtype == np.float32 for k in saved.files)
    model = date_translator(kind)
    load_parameters(model, path)
    source, target = char_vocabularies()
    texts, isos = make_date_pairs(300, split="test", seed=11)
    assert exact_match(translate(model, texts, source, target), isos) >= least
    if kind is not None:
        w = model.attention_weights
        assert w.shape[:2] == (300, 11)
        np.testing.assert_allclose(w.sum(axis=2), 1, atol=1e-5)
