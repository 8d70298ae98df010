"""Lesson 6's exercise checks: the reference passes, typical mistakes fail on their case."""

from __future__ import annotations

import numpy as np
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing, flat

import dlteach as dl
from dlteach.checking import check_function
from dlteach.exercises import lesson06 as ex

# ---------------------------------------------------------------- learner-style solutions


def pad_with_mask(seqs, pad_id):
    lengths = np.array([len(s) for s in seqs])
    T = lengths.max()
    ids = np.full((len(seqs), T), pad_id)
    mask = np.arange(T) < lengths[:, None]
    for n, s in enumerate(seqs):
        ids[n, : len(s)] = s
    return ids, mask


def bag_of_words(ids, vocab_size, pad_id):
    counts = np.zeros((ids.shape[0], vocab_size))
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    np.add.at(counts, (rows, ids.ravel()), 1)
    counts[:, pad_id] = 0
    return counts


def embedding_backward(ids, grad_y, vocab_size):
    D = grad_y.shape[-1]
    dW = np.zeros((vocab_size, D), dtype=grad_y.dtype)
    np.add.at(dW, ids.reshape(-1), grad_y.reshape(-1, D))
    return dW


def last_hidden_state(h, mask):
    last = mask.sum(axis=1) - 1
    return h[np.arange(len(h)), last]


REFERENCES = {
    "pad_with_mask": pad_with_mask,
    "bag_of_words": bag_of_words,
    "embedding_backward": embedding_backward,
    "last_hidden_state": last_hidden_state,
}


class TestLesson06Exercises(
    LessonExerciseTests, lesson="06_language", exercises=ex, references=REFERENCES,
    exec_globals={"np": np, "dl": dl}, min_cases=6,
):
    """Lesson 6's checks and notebook, by the tests every lesson shares."""


def failed_at(verdict, case: str, *fragments: str) -> None:
    """The verdict failed first on the case starting ``case`` ("case 3 of 8"), showing
    each fragment (line wrapping undone)."""
    assert verdict.status == "failed", verdict.text()
    assert verdict.message.startswith(case), verdict.message
    for fragment in fragments:
        assert fragment in flat(verdict.message), (fragment, verdict.message)


def fails_alone(cases, fn, reference, label: str) -> bool:
    """Whether ``fn`` fails the case labelled ``label`` on its own."""
    (case,) = [c for c, _ in cases if c.label == label]
    return check_function(fn, reference, [case], exercise="x", dtypes=True).status != "passed"


# ---------------------------------------------------------------- correct variants


def test_other_correct_ways_pass():
    def pad_concat(seqs, pad_id):
        lengths = np.array([len(s) for s in seqs])
        mask = np.arange(lengths.max()) < lengths[:, None]
        ids = np.full(mask.shape, pad_id)
        ids[mask] = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
        return ids, mask

    def bow_bincount(ids, vocab_size, pad_id):
        N = len(ids)
        flat_ids = (ids + vocab_size * np.arange(N)[:, None])[ids != pad_id]
        return np.bincount(flat_ids, minlength=N * vocab_size).reshape(N, -1).astype(float)

    def bow_one_hot(ids, vocab_size, pad_id):
        return (np.eye(vocab_size)[ids] * (ids != pad_id)[..., None]).sum(axis=1)

    def emb_one_hot(ids, grad_y, vocab_size):
        onehot = np.eye(vocab_size, dtype=grad_y.dtype)[ids.reshape(-1)]
        return onehot.T @ grad_y.reshape(-1, grad_y.shape[-1])

    def last_take(h, mask):
        t = np.asarray(mask).astype(int).sum(1) - 1
        return np.take_along_axis(h, t[:, None, None], axis=1)[:, 0]

    for check, fn in [(ex.check_pad_with_mask, pad_concat), (ex.check_bag_of_words, bow_bincount),
                      (ex.check_bag_of_words, bow_one_hot),
                      (ex.check_embedding_backward, emb_one_hot),
                      (ex.check_last_hidden_state, last_take)]:
        verdict = check(fn)
        assert verdict.passed, verdict.text()


def test_the_references_are_the_library():
    seqs = [[4, 2], [7], [1, 1, 3]]
    ids, mask = ex.pad_with_mask(seqs, 0)
    np.testing.assert_array_equal(ids, [[4, 2, 0], [7, 0, 0], [1, 1, 3]])
    assert ids.dtype == np.int64 and mask.dtype == bool
    np.testing.assert_array_equal(ex.bag_of_words(ids, 8, 0)[2], [0, 2, 0, 1, 0, 0, 0, 0])
    # embedding_backward is the Embedding layer's W gradient: the repeated 1 counts twice
    g = np.ones((3, 3, 2))
    np.testing.assert_array_equal(ex.embedding_backward(ids, g, 8)[:, 0],
                                  [3, 2, 1, 1, 1, 0, 0, 1])
    h = np.arange(18.0).reshape(3, 3, 2)
    np.testing.assert_array_equal(ex.last_hidden_state(h, mask), h[[0, 1, 2], [1, 0, 2]])


# ---------------------------------------------------------------- pad_with_mask


def test_pad_with_mask_mistakes_fail_on_their_case():
    def no_mask(seqs, pad_id):
        return pad_with_mask(seqs, pad_id)[0]

    failed_at(ex.check_pad_with_mask(no_mask), "case 1 of 8", "Return the pair (ids, mask)")

    def left_padding(seqs, pad_id):
        ids, mask = pad_with_mask([list(s)[::-1] for s in seqs], pad_id)
        return ids[:, ::-1].copy(), mask[:, ::-1].copy()

    failed_at(ex.check_pad_with_mask(left_padding), "case 2 of 8: lengths 3, 1, 2",
              "the padding FOLLOWS them")

    def first_length(seqs, pad_id):
        ids = np.full((len(seqs), len(seqs[0])), pad_id)
        mask = np.zeros(ids.shape, dtype=bool)
        for n, s in enumerate(seqs):
            ids[n, : len(s)], mask[n, : len(s)] = s, True
        return ids, mask

    failed_at(ex.check_pad_with_mask(first_length), "case 3 of 8", "the LONGEST sequence")

    def zeros(seqs, pad_id):
        ids, mask = pad_with_mask(seqs, pad_id)
        return np.where(mask, ids, 0), mask

    failed_at(ex.check_pad_with_mask(zeros), "case 4 of 8: pad_id = 9", "started with np.zeros")

    def with_np_pad(seqs, pad_id):
        T = max(len(s) for s in seqs)
        ids = np.vstack([np.pad(s, (0, T - len(s)), constant_values=pad_id) for s in seqs])
        return ids, np.arange(T) < np.array([len(s) for s in seqs])[:, None]

    failed_at(ex.check_pad_with_mask(with_np_pad), "case 5 of 8: an empty sequence",
              "expected: (int64 array, bool array)", "what np.pad makes of it")

    def max_unpacked(seqs, pad_id):
        lengths = [len(s) for s in seqs]
        T = max(*lengths)  # max(4) for a batch of one: TypeError
        return pad_with_mask(seqs, pad_id) if T else None

    failed_at(ex.check_pad_with_mask(max_unpacked), "case 6 of 8: a batch of one",
              "your function raised TypeError")

    def list_concat(seqs, pad_id):
        T = max(len(s) for s in seqs)
        ids = np.array([s + [pad_id] * (T - len(s)) for s in seqs])
        return ids, np.arange(T) < np.array([len(s) for s in seqs])[:, None]

    failed_at(ex.check_pad_with_mask(list_concat), "case 7 of 8: sequences given as int32")

    def int_mask(seqs, pad_id):
        ids, mask = pad_with_mask(seqs, pad_id)
        return ids, mask.astype(int)

    failed_at(ex.check_pad_with_mask(int_mask), "case 1 of 8",
              "expected: (int64 array, bool array) got: (int64 array, int64 array)",
              "h[mask] with integers picks rows 0 and 1")
    cases = ex._pad_with_mask_cases()
    for wrong in (left_padding, first_length, int_mask):
        assert fails_alone(cases, wrong, ex.pad_with_mask, "32 random sequences of 1-12 tokens")


# ---------------------------------------------------------------- bag_of_words


def test_bag_of_words_mistakes_fail_on_their_case():
    def counts_padding(ids, vocab_size, pad_id):
        counts = np.zeros((len(ids), vocab_size))
        np.add.at(counts, (np.arange(len(ids))[:, None], ids), 1)
        return counts

    failed_at(ex.check_bag_of_words(counts_padding), "case 1 of 6", "its column stays 0")

    def presence(ids, vocab_size, pad_id):
        counts = np.zeros((len(ids), vocab_size))
        counts[np.arange(len(ids))[:, None], ids] += 1  # a repeated index adds once
        counts[:, pad_id] = 0
        return counts

    failed_at(ex.check_bag_of_words(presence), "case 2 of 6: repeated words",
              "a COUNT, not 1 for present", "np.add.at")


    def skips_zero_simple(ids, vocab_size, pad_id):
        counts = np.zeros((len(ids), vocab_size))
        keep = ids > 0  # "padding is 0"
        np.add.at(counts, (np.nonzero(keep)[0], ids[keep]), 1)
        return counts

    failed_at(ex.check_bag_of_words(skips_zero_simple), "case 3 of 6: pad_id = 3",
              "ids == pad_id")

    def max_id(ids, vocab_size, pad_id):
        return bag_of_words(ids, int(ids.max()) + 1, pad_id)

    failed_at(ex.check_bag_of_words(max_id), "case 4 of 6: a vocabulary of 10",
              "expected an array of shape (2, 10), got shape (2, 3)")

    def squeezed(ids, vocab_size, pad_id):
        return bag_of_words(ids, vocab_size, pad_id).squeeze()

    failed_at(ex.check_bag_of_words(squeezed), "case 5 of 6: a batch of one",
              "expected an array of shape (1, 4), got shape (4,)")

    def integer_counts(ids, vocab_size, pad_id):
        return bag_of_words(ids, vocab_size, pad_id).astype(int)

    failed_at(ex.check_bag_of_words(integer_counts), "case 1 of 6",
              "expected float64 array", "Dense layer (which refuses integers)")
    cases = ex._bag_of_words_cases()
    for wrong in (counts_padding, presence, integer_counts):
        assert fails_alone(cases, wrong, ex.bag_of_words,
                           "64 reviews of 20 steps, a vocabulary of 50")


# ---------------------------------------------------------------- embedding_backward


def test_embedding_backward_mistakes_fail_on_their_case():
    def transposed(ids, grad_y, vocab_size):
        return embedding_backward(ids, grad_y, vocab_size).T

    failed_at(ex.check_embedding_backward(transposed), "case 1 of 7",
              "expected an array of shape (4, 2), got shape (2, 4)")

    def fancy_add(ids, grad_y, vocab_size):
        dW = np.zeros((vocab_size, grad_y.shape[-1]), dtype=grad_y.dtype)
        dW[ids] += grad_y  # a repeated id keeps one gradient
        return dW

    failed_at(ex.check_embedding_backward(fancy_add), "case 2 of 7: token 2 twice",
              "use np.add.at(dW, ids, grad_y)")

    def loop_over_time(ids, grad_y, vocab_size):
        dW = np.zeros((vocab_size, grad_y.shape[-1]), dtype=grad_y.dtype)
        for t in range(ids.shape[1]):
            dW[ids[:, t]] += grad_y[:, t]  # repeats within one step across the batch
        return dW

    failed_at(ex.check_embedding_backward(loop_over_time), "case 3 of 7",
              "across the whole batch")

    def two_axes(ids, grad_y, vocab_size):
        N, T = ids.shape
        return embedding_backward(ids.reshape(N, T), grad_y, vocab_size)

    failed_at(ex.check_embedding_backward(two_axes), "case 4 of 7: ids (N,)",
              "your function raised ValueError")

    def max_id(ids, grad_y, vocab_size):
        return embedding_backward(ids, grad_y, int(ids.max()) + 1)

    failed_at(ex.check_embedding_backward(max_id), "case 5 of 7: a vocabulary of 8",
              "expected an array of shape (8, 1), got shape (3, 1)")

    def float64_table(ids, grad_y, vocab_size):
        return embedding_backward(ids, grad_y, vocab_size).astype(np.float64)

    failed_at(ex.check_embedding_backward(float64_table), "case 6 of 7: float32 gradients",
              "expected float32 array", "Give np.zeros the dtype of grad_y")
    cases = ex._embedding_backward_cases()
    for wrong in (fancy_add, loop_over_time):
        assert fails_alone(cases, wrong, ex.embedding_backward,
                           "16 reviews of 12 steps, a vocabulary of 10, D = 8")


# ---------------------------------------------------------------- last_hidden_state


def test_last_hidden_state_mistakes_fail_on_their_case():
    def last_column(h, mask):
        return h[:, -1]

    failed_at(ex.check_last_hidden_state(last_column), "case 1 of 6",
              "h[:, -1], is a state computed on padding")

    def first_padding(h, mask):
        first_pad = np.array([list(row).index(False) for row in mask])
        return h[np.arange(len(h)), first_pad - 1]

    failed_at(ex.check_last_hidden_state(first_padding), "case 2 of 6: one sequence without",
              "your function raised ValueError")

    def squeezed(h, mask):
        return last_hidden_state(h, mask).squeeze()

    failed_at(ex.check_last_hidden_state(squeezed), "case 3 of 6: a batch of one",
              "expected an array of shape (1, 2), got shape (2,)")

    def drops_one_unit(h, mask):
        out = last_hidden_state(h, mask)
        return out[:, 0] if out.shape[1] == 1 else out

    failed_at(ex.check_last_hidden_state(drops_one_unit), "case 4 of 6: H = 1",
              "Nothing removes an axis")

    def loop_into_zeros(h, mask):
        out = np.zeros((h.shape[0], h.shape[2]))
        for n in range(len(h)):
            out[n] = h[n, mask[n].sum() - 1]
        return out

    failed_at(ex.check_last_hidden_state(loop_into_zeros), "case 5 of 6: float32 states",
              "expected float32 array", "a new array needs h's dtype")
    cases = ex._last_hidden_state_cases()
    assert fails_alone(cases, last_column, ex.last_hidden_state,
                       "16 sequences of up to 10 steps, H = 8")


def test_failing_cases_show_the_rebuild_line_of_big_inputs():
    verdict = ex.check_embedding_backward(
        lambda ids, g, v: embedding_backward(ids, g, v) * (1 if ids.size < 100 else 2))
    assert_failed_showing(verdict, "case 7 of 7",
                          "rebuild: rng = np.random.default_rng(65); ids = rng.integers")
