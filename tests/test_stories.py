"""Stories and questions: the generator tells the truth, MemoryQA's gradients are right,
and it learns to attend to the supporting fact."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlteach.errors import InvalidValueError, ShapeError
from dlteach.gradcheck import gradcheck
from dlteach.losses import SoftmaxCrossEntropy
from dlteach.optim import Adam
from dlteach.stories import (
    ANSWERS,
    DROPS,
    MOVES,
    PEOPLE,
    TAKES,
    MemoryQA,
    _scatter,
    accuracy_by_kind,
    encode_stories,
    make_stories,
    position_encoding,
    story_text,
    story_vocabulary,
)


def replay(sentences):
    """Where every person is and who holds every object after the story, told plainly,
    with the index of the sentence that made it so."""
    where, holder = {}, {}
    for i, words in enumerate(sentences):
        person, verb, obj = words[0], " ".join(words[1:-1]), words[-1]
        if verb in MOVES:
            where[person] = (obj, i)
        elif verb in TAKES:
            assert obj not in holder, f"{obj} taken while {holder.get(obj)} holds it"
            holder[obj] = (person, i)
        else:
            assert verb in DROPS and holder.pop(obj)[0] == person, words
    return where, holder


@settings(max_examples=20)
@given(st.integers(0, 2**16), st.integers(1, 6), st.integers(0, 6))
def test_answers_and_supporting_facts_are_those_of_the_story(seed, lo, extra):
    stories = make_stories(12, min_sentences=lo, max_sentences=lo + extra, seed=seed)
    assert stories.kinds == ["where", "who"] * 6
    for sentences, q, answer, support, kind in zip(*stories, strict=True):
        assert lo <= len(sentences) <= lo + extra
        where, holder = replay(sentences)
        if kind == "where":
            assert q[:2] == ["where", "is"] and q[2] in PEOPLE
            assert where[q[2]] == (answer, support)
        else:
            assert q[:3] == ["who", "has", "the"]
            assert holder[q[3]] == (answer, support)
        # The supporting fact mentions the question's subject and, for "where", the answer.
        assert q[-1] in sentences[support]
        assert answer in sentences[support]


def test_the_same_seed_gives_the_same_stories_and_another_seed_others():
    a, b, c = (make_stories(20, seed=s) for s in (3, 3, 4))
    assert a.sentences == b.sentences and a.answers == b.answers
    assert (a.support == b.support).all()
    assert a.sentences != c.sentences


def test_story_text_numbers_the_sentences_and_ends_with_the_question():
    stories = make_stories(1, seed=0)
    lines = story_text(stories, 0).splitlines()
    assert len(lines) == len(stories.sentences[0]) + 1
    assert lines[0].startswith(" 0 ") and lines[0].endswith(".")
    assert lines[-1].strip().endswith(stories.answers[0])


def test_encoding_pads_sentences_and_stories_and_numbers_the_answers():
    stories = make_stories(30, min_sentences=2, max_sentences=7, seed=1)
    vocab = story_vocabulary()
    enc = encode_stories(stories, vocab, max_sentences=9)
    assert enc.story.shape[:2] == (30, 9)
    assert (enc.story_mask.sum(axis=1) == [len(s) for s in stories.sentences]).all()
    for n in (0, 7, 29):
        for i, words in enumerate(stories.sentences[n]):
            assert vocab.decode(enc.story[n, i]) == " ".join(words)
        assert (enc.story[n, len(stories.sentences[n]):] == vocab.pad_id).all()
        assert vocab.decode(enc.question[n]) == " ".join(stories.questions[n])
        assert ANSWERS[enc.answer[n]] == stories.answers[n]
    with pytest.raises(InvalidValueError):
        encode_stories(stories, vocab, max_sentences=3)


def test_position_encoding_follows_its_formula_and_is_zero_on_padding():
    words = np.array([[5, 6, 7, 0], [4, 0, 0, 0]])
    got = position_encoding(words, 3)
    for n, J in ((0, 3), (1, 1)):
        for j in range(1, J + 1):
            for k in range(1, 4):
                want = (1 - j / J) - (k / 3) * (1 - 2 * j / J)
                assert got[n, j - 1, k - 1] == pytest.approx(want)
    assert (got[0, 3] == 0).all() and (got[1, 1:] == 0).all()


def test_scatter_adds_like_add_at():
    rng = np.random.default_rng(0)
    index, rows = rng.integers(0, 6, size=40), rng.normal(size=(40, 3))
    want = np.zeros((6, 3))
    np.add.at(want, index, rows)
    np.testing.assert_allclose(_scatter(index, rows, 6), want)
    assert _scatter(index, rows.astype(np.float32), 6).dtype == np.float32


def reference_logits(model, story, question, mask):
    """The equations, one story and one sentence at a time."""
    A, B, C, TA, TC, W = (p.value for p in model.parameters())
    D = A.shape[1]
    out, weights = [], []
    for n in range(len(story)):
        real = np.flatnonzero(mask[n])
        L = len(real)

        def bag(E, words):
            words = words[words != 0]
            J = len(words)
            total = np.zeros(D)
            for j, w in enumerate(words, start=1):
                lj = (1 - j / J) - (np.arange(1, D + 1) / D) * (1 - 2 * j / J)
                total += lj * E[w]
            return total

        m = np.array([bag(A, story[n, i]) + TA[L - 1 - i] for i in real])
        c = np.array([bag(C, story[n, i]) + TC[L - 1 - i] for i in real])
        u = bag(B, question[n])
        e = np.exp(m @ u - (m @ u).max())
        p = e / e.sum()
        out.append((p @ c + u) @ W)
        full = np.zeros(story.shape[1])
        full[real] = p
        weights.append(full)
    return np.array(out), np.array(weights)


@st.composite
def qa_case(draw):
    n, m, j, jq = (draw(st.integers(1, k)) for k in (3, 4, 4, 3))
    v, k, d = draw(st.integers(2, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    model = MemoryQA(v, k, d, m + draw(st.integers(0, 2)), rng=seed)
    lengths = rng.integers(1, m + 1, size=n)
    mask = np.arange(m) < lengths[:, None]
    words = rng.integers(1, j + 1, size=(n, m))  # each real sentence has >= 1 word
    story = np.where((np.arange(j) < words[..., None]) & mask[..., None],
                     rng.integers(1, v, size=(n, m, j)), 0)
    question = np.where(np.arange(jq) < rng.integers(1, jq + 1, size=(n, 1)),
                        rng.integers(1, v, size=(n, jq)), 0)
    return model, story, question, mask, rng


@given(qa_case())
def test_forward_equals_the_equations_one_story_at_a_time(case):
    model, story, question, mask, _ = case
    logits = model.forward(story, question, mask)
    want, weights = reference_logits(model, story, question, mask)
    np.testing.assert_allclose(logits, want, atol=1e-12)
    np.testing.assert_allclose(model.attention_weights, weights, atol=1e-12)
    # Without a mask, a sentence is real if it has a word: the same here.
    np.testing.assert_array_equal(model.forward(story, question), logits)


@settings(max_examples=30)
@given(qa_case())
def test_every_parameter_passes_gradcheck(case):
    model, story, question, mask, rng = case
    R = rng.normal(size=(len(story), model.W.shape[1]))
    for name, p in model.named_parameters().items():

        def f(value, p=p):
            saved, p.value = p.value, value
            model.zero_grad()
            try:
                loss = float((model.forward(story, question, mask) * R).sum())
                ds, dq = model.backward(R)
            finally:
                p.value = saved
            assert ds.shape == story.shape and dq.shape == question.shape
            assert not ds.any() and not dq.any()
            return loss, p.grad.copy()

        report = gradcheck(f, p.value.copy())
        assert report.passed(1e-7), f"{model!r}, {name}: {report}"


def test_padded_sentences_get_no_weight_and_change_nothing():
    rng = np.random.default_rng(3)
    model = MemoryQA(8, 3, 4, 6, rng=0)
    story = rng.integers(1, 8, size=(2, 3, 4))
    question = rng.integers(1, 8, size=(2, 2))
    logits = model.forward(story, question)
    padded = np.concatenate([story, np.zeros((2, 2, 4), int)], axis=1)
    np.testing.assert_allclose(model.forward(padded, question), logits, atol=1e-12)
    assert (model.attention_weights[:, 3:] == 0).all()
    np.testing.assert_allclose(model.attention_weights.sum(axis=1), 1)


def test_errors_name_the_problem():
    model = MemoryQA(8, 3, 4, 3, rng=0)
    story, question = np.ones((2, 3, 4), int), np.ones((2, 2), int)
    with pytest.raises(ShapeError, match="at most 3 sentences"):
        model.forward(np.ones((2, 4, 4), int), question)
    with pytest.raises(ShapeError, match="a question per story"):
        model.forward(story, np.ones((3, 2), int))
    with pytest.raises(InvalidValueError, match="story 1 has no sentence"):
        model.forward(story, question, np.array([[True, False, False], [False] * 3]))
    with pytest.raises(InvalidValueError, match="no attention weights yet"):
        _ = model.attention_weights
    with pytest.raises(InvalidValueError):
        model.forward(story + 9, question)  # word 10 is not in a vocabulary of 8


def test_it_learns_to_answer_by_attending_to_the_supporting_fact():
    vocab = story_vocabulary()
    train, test = make_stories(4000, seed=1), make_stories(300, seed=2)
    enc, enc_test = encode_stories(train, vocab, 10), encode_stories(test, vocab, 10)
    model = MemoryQA(len(vocab), len(ANSWERS), 24, 10, rng=0)
    loss, opt = SoftmaxCrossEntropy(), Adam(model.parameters(), lr=0.02)
    rng = np.random.default_rng(0)
    for _ in range(3):
        for idx in np.array_split(rng.permutation(4000), 4000 // 64):
            opt.zero_grad()
            loss(model.forward(enc.story[idx], enc.question[idx], enc.story_mask[idx]),
                 enc.answer[idx])
            model.backward(loss.backward())
            opt.step()
    logits = model.forward(enc_test.story, enc_test.question, enc_test.story_mask)
    by_kind = accuracy_by_kind(logits.argmax(axis=1), test)
    assert by_kind["where"] > 0.9 and by_kind["who"] > 0.9, by_kind
    on_support = model.attention_weights.argmax(axis=1) == test.support
    assert on_support.mean() > 0.9


def test_accuracy_by_kind_counts_each_kind_on_its_own():
    stories = make_stories(4, seed=0)
    right = np.array([ANSWERS.index(a) for a in stories.answers])
    wrong = right.copy()
    wrong[0] = (wrong[0] + 1) % len(ANSWERS)  # one "where" answer wrong
    assert accuracy_by_kind(right, stories) == {"where": 1.0, "who": 1.0}
    assert accuracy_by_kind(wrong, stories) == {"where": 0.5, "who": 1.0}
