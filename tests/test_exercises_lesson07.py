"""Lesson 7's exercise checks: the reference passes, typical mistakes fail usefully."""

from __future__ import annotations

import numpy as np
from lesson_exercise_tests import LessonExerciseTests, assert_failed_showing, failed_at, flat, quiet

import dlteach as dl
from dlteach.checking import Case, rebuilt_inputs
from dlteach.exercises import lesson07 as ex

# ---------------------------------------------------------------- learner-style solutions


def masked_softmax(scores, mask):
    mask = np.broadcast_to(mask, scores.shape)
    real = mask.any(axis=-1, keepdims=True)  # rows with something to attend to
    s = np.where(mask, scores, -np.inf)
    top = np.where(real, s.max(axis=-1, keepdims=True), 0)
    e = np.exp(s - top)  # e^-inf = 0 on masked positions
    return e / np.where(real, e.sum(axis=-1, keepdims=True), 1)


def scaled_dot_product_attention(query, keys, values, mask=None):
    scores = query @ keys.transpose(0, 2, 1) / query.shape[-1] ** 0.5
    if mask is None:
        mask = np.ones(scores.shape, dtype=bool)
    else:
        mask = mask[:, None, :]
    weights = masked_softmax(scores, mask)
    return weights @ values, weights


def attention_decoder_step(x, h_prev, c_prev, states, mask, Wx, Wh, b, Wc, bc):
    h, c, _ = dl.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    context, weights = scaled_dot_product_attention(h[:, None, :], states, states, mask)
    h_tilde = np.tanh(np.concatenate([context[:, 0], h], axis=1) @ Wc + bc)
    return h, c, h_tilde, weights[:, 0]


REFERENCES = {
    "masked_softmax": masked_softmax,
    "scaled_dot_product_attention": scaled_dot_product_attention,
    "attention_decoder_step": attention_decoder_step,
}


# ---------------------------------------------------------------- the library agrees


def test_the_decoder_step_reference_is_the_first_step_of_a_seq2seq():
    rng = np.random.default_rng(0)
    model = dl.Seq2Seq(7, 6, 3, 4, attention="dot", rng=1)
    for p in model.parameters():
        p.value = rng.normal(size=p.shape)
    src = np.array([[4, 5, 6, 4], [5, 6, 0, 0]])
    mask = src != 0
    logits = model.forward(src, np.full((2, 1), model.bos_id), mask)
    states = model.encoder.forward(model.src_embed.forward(src))
    h0 = states[[0, 1], [3, 1]]
    P = {k: p.value for k, p in model.named_parameters().items()}
    x = P["tgt_embed.W"][[model.bos_id] * 2]
    args = (x, h0, np.zeros_like(h0), states, mask, P["decoder.Wx"], P["decoder.Wh"],
            P["decoder.b"], P["combine.W"], P["combine.b"])
    for fn in (ex.attention_decoder_step, attention_decoder_step):
        h, c, h_tilde, weights = fn(*args)
        np.testing.assert_allclose(h, model.decoder.last_state[0], atol=1e-12)
        np.testing.assert_allclose(c, model.decoder.last_state[1], atol=1e-12)
        np.testing.assert_allclose(h_tilde @ P["out.W"] + P["out.b"], logits[:, 0], atol=1e-12)
        np.testing.assert_allclose(weights, model.attention_weights[:, 0], atol=1e-12)
        assert (weights[1, 2:] == 0).all()


def test_the_masked_softmax_reference_follows_its_definition():
    scores = np.array([[1.0, 2.0, 5.0], [3.0, -1.0, 0.0]])
    mask = np.array([[True, True, False], [False, False, False]])
    got = ex.masked_softmax(scores, mask)
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(got[0], [*(e / e.sum()), 0.0])
    assert (got[1] == 0).all()
    np.testing.assert_allclose(ex.masked_softmax(scores, np.ones((2, 3), bool)),
                               dl.softmax(scores))
    f32 = ex.masked_softmax(scores.astype(np.float32), mask)
    assert f32.dtype == np.float32


def test_the_references_do_not_modify_their_inputs_and_keep_float32():
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=s).astype(np.float32) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 2)])
    before = [a.copy() for a in (q, k, v)]
    context, weights = ex.scaled_dot_product_attention(q, k, v, np.ones((2, 5), bool))
    assert context.dtype == weights.dtype == np.float32
    assert all((a == b).all() for a, b in zip((q, k, v), before, strict=True))


# ---------------------------------------------------------------- masked_softmax


def _softmax_rows(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _with_empty_rows(fn):
    """fn's weights, with rows that have no real position set to 0 (the exercise's rule),
    so that only fn's own mistake shows."""
    def wrapped(scores, mask):
        real = np.broadcast_to(mask, scores.shape).any(axis=-1, keepdims=True)
        return np.where(real, fn(scores, mask), 0)
    return wrapped


def test_masked_softmax_ignoring_the_mask_fails_on_the_first_case():
    v = ex.check_masked_softmax(lambda s, m: _softmax_rows(s))
    failed_at(v, "case 1 of 7: one row of 4 scores, the last 2 masked",
              "The masked scores must not enter the sum")


def test_masked_softmax_without_an_empty_row_rule_fails_on_the_fully_masked_row():
    def minus_inf(scores, mask):
        return _softmax_rows(np.where(mask, scores, -np.inf))

    def add_minus_1e9(scores, mask):
        return _softmax_rows(scores + np.where(mask, 0.0, -1e9))

    def replace_by_minus_1e9(scores, mask):
        return _softmax_rows(np.where(mask, scores, -1e9))

    v = quiet(ex.check_masked_softmax, minus_inf)
    failed_at(v, "case 2 of 7: the second row is masked everywhere: all 0",
              "e^(-inf - (-inf)) = nan there")
    assert "nan" in v.message.split("got:")[1]
    for fn in (add_minus_1e9, replace_by_minus_1e9):
        failed_at(ex.check_masked_softmax(fn), "case 2 of 7",
                  "adding -1e9 gives that row a softmax of its scores")


def test_masked_softmax_without_the_maximum_fails_on_scores_of_1000():
    def no_max(scores, mask):
        e = np.where(mask, np.exp(scores), 0)
        total = e.sum(axis=-1, keepdims=True)
        return e / np.where(total > 0, total, 1)

    def max_of_all(scores, mask):
        e = np.where(mask, np.exp(scores - scores.max(axis=-1, keepdims=True)), 0)
        return e / e.sum(axis=-1, keepdims=True)

    for fn in (no_max, _with_empty_rows(max_of_all)):
        v = quiet(ex.check_masked_softmax, fn)
        failed_at(v, "case 3 of 7: scores of +-1000: e^1000 overflows",
                  "Subtract each row's largest REAL score")
        assert "nan" in v.message.split("got:")[1]


def test_masked_softmax_adding_minus_1e9_fails_on_masked_scores_of_1e12():
    fn = _with_empty_rows(lambda s, m: _softmax_rows(s + np.where(m, 0.0, -1e9)))
    failed_at(ex.check_masked_softmax(fn), "case 4 of 7: masked scores of 1e12 and -1e12",
              "Adding -1e9 to them leaves about 1e12")


def test_masked_softmax_over_axis_1_fails_on_the_first_3d_case():
    def axis_1(scores, mask):
        return masked_softmax(np.moveaxis(scores, 1, -1), np.moveaxis(
            np.broadcast_to(mask, scores.shape), 1, -1)).swapaxes(1, -1) \
            if scores.ndim == 3 else masked_softmax(scores, mask)

    failed_at(ex.check_masked_softmax(axis_1),
              "case 5 of 7: scores (N, Tq, Tk) = (2, 3, 4), a key mask (2, 1, 4)",
              "Each of the 2 x 3 rows is a softmax over its last axis")


def test_masked_softmax_losing_float32_fails_on_the_dtype_once_the_values_are_right():
    def float64_buffer(scores, mask):
        out = np.zeros(scores.shape)
        out[:] = masked_softmax(scores, mask)
        return out

    v = ex.check_masked_softmax(float64_buffer)
    assert_failed_showing(v, "case 6 of 7: float32 scores: float32 weights",
                          "problem: expected float32 array, got float64 array")
    assert "Every value is right, but not the dtype" in flat(v.message)


def test_masked_softmax_a_failing_big_case_shows_its_rebuild_line():
    def wrong_for_big(scores, mask):
        w = masked_softmax(scores, mask)
        return w if w.size < 96 else w * 1.01

    v = ex.check_masked_softmax(wrong_for_big)
    assert_failed_showing(v, "case 7 of 7: 8 rows of 12, random lengths")
    line = next(ln for ln in v.message.splitlines() if ln.startswith("rebuild: "))
    made = rebuilt_inputs(Case(rebuild=line[len("rebuild: "):]))
    np.testing.assert_array_equal(made["scores"],
                                  np.random.default_rng(3).normal(scale=3.0, size=(8, 12)))


def test_masked_softmax_correct_variants_pass():
    def loop(scores, mask):
        mask = np.broadcast_to(mask, scores.shape)
        out = np.zeros_like(scores)
        for idx in np.ndindex(scores.shape[:-1]):
            m = mask[idx]
            if m.any():
                s = scores[idx][m]
                e = np.exp(s - s.max())
                out[idx][m] = e / e.sum()
        return out

    def via_library(scores, mask):
        real = np.broadcast_to(mask, scores.shape).any(axis=-1, keepdims=True)
        return np.where(real, dl.masked_softmax(np.where(real, scores, 0), mask | ~real), 0)

    for fn in (loop, via_library, masked_softmax, ex.masked_softmax):
        assert ex.check_masked_softmax(fn).status == "passed", fn.__name__


# ---------------------------------------------------------------- scaled_dot_product_attention


def _attention_with(scale=None, axis=-1, key_mask=lambda m: m[:, None, :], keepdims=True,
                    stable=True):
    """The attention with one piece replaced by a typical mistake."""
    def fn(query, keys, values, mask=None):
        d = query.shape[-1]
        s = query @ keys.transpose(0, 2, 1) * (d ** -0.5 if scale is None
                                                else scale(query, keys, values))
        m = np.ones(s.shape, bool) if mask is None else key_mask(mask)
        s = np.where(m, s, -np.inf)
        e = np.exp(s - s.max(axis=axis, keepdims=True)) if stable else np.exp(s)
        w = e / e.sum(axis=axis, keepdims=keepdims)
        return w @ values, w
    return fn


def test_attention_without_the_scale_or_swapped_outputs_fails_on_the_first_case():
    v = ex.check_scaled_dot_product_attention(_attention_with(scale=lambda q, k, v: 1.0))
    failed_at(v, "case 1 of 7: one query, 2 keys, D = Dv = 2, no mask",
              "divided by sqrt(D) = sqrt(2)")

    def swapped(*args):
        return scaled_dot_product_attention(*args)[::-1]

    failed_at(ex.check_scaled_dot_product_attention(swapped), "case 1 of 7",
              "Return (context, weights), in that order")


def test_attention_over_the_queries_fails():
    v = quiet(ex.check_scaled_dot_product_attention, _attention_with(axis=1))
    failed_at(v, "case 1 of 7", "the weights their softmax over the keys")


def test_attention_scaled_by_the_wrong_size_fails_on_d_4():
    for wrong in (lambda q, k, v: v.shape[-1] ** -0.5, lambda q, k, v: k.shape[1] ** -0.5):
        v = ex.check_scaled_dot_product_attention(_attention_with(scale=wrong))
        failed_at(v, "case 2 of 7: D = 4, Dv = 3, Tk = 3",
                  "not by sqrt(Dv) = sqrt(3), the values' size")


def test_attention_whose_softmax_sum_loses_its_axis_fails_on_two_queries():
    v = ex.check_scaled_dot_product_attention(_attention_with(keepdims=False))
    failed_at(v, "case 3 of 7: Tq = 2 queries, Tk = 5 keys",
              "a sum that keeps its axis so that it lines up with the scores")


def test_attention_with_the_key_mask_on_the_wrong_axis_fails_on_n_equal_tq():
    v = ex.check_scaled_dot_product_attention(_attention_with(key_mask=lambda m: m))
    failed_at(v, "case 4 of 7: a key mask (N, Tk) = (2, 4), with N = Tq = 2",
              "a mask used as it is broadcasts without an error, but along the wrong axis")
    assert "problem: element [0] of the result: wrong values" in v.message
    v = ex.check_scaled_dot_product_attention(_attention_with(key_mask=lambda m: m[:, :, None]))
    failed_at(v, "case 4 of 7", "your function raised ValueError")


def test_attention_without_the_maximum_fails_on_scores_beyond_1000():
    v = quiet(ex.check_scaled_dot_product_attention, _attention_with(stable=False))
    failed_at(v, "case 5 of 7: scores beyond +-1000", "e^1414 is inf")
    assert "nan" in v.message.split("got:")[1]


def test_attention_with_a_float64_scale_fails_on_the_dtype_where_numpy_upcasts():
    v = ex.check_scaled_dot_product_attention(
        _attention_with(scale=lambda q, k, v: 1 / np.sqrt(q.shape[-1])))
    if np.lib.NumpyVersion(np.__version__) < "2.0.0":
        # NumPy 1.x casts by value: float32 array * float64 scalar stays float32, so this
        # answer keeps the dtype there and is right.
        assert v.status == "passed", v.text()
        return
    assert_failed_showing(v, "case 6 of 7: float32 inputs",
                          "expected float32 array, got float64 array")


def test_attention_a_failing_big_case_shows_its_rebuild_line():
    def wrong_for_big(query, keys, values, mask=None):
        c, w = scaled_dot_product_attention(query, keys, values, mask)
        return (c + 1e-3, w) if len(query) >= 16 else (c, w)

    v = ex.check_scaled_dot_product_attention(wrong_for_big)
    assert_failed_showing(v, "case 7 of 7: 16 sequences, Tq = 6, Tk = 9")
    line = next(ln for ln in v.message.splitlines() if ln.startswith("rebuild: "))
    made = rebuilt_inputs(Case(rebuild=line[len("rebuild: "):]))
    np.testing.assert_array_equal(made["query"],
                                  np.random.default_rng(15).normal(size=(16, 6, 8)))


def test_attention_correct_variants_pass():
    def einsum(query, keys, values, mask=None):
        s = np.einsum("nqd,nkd->nqk", query, keys) / np.sqrt(query.shape[-1]).astype(
            query.dtype)
        m = np.ones(s.shape, bool) if mask is None else np.broadcast_to(
            mask[:, None, :], s.shape)
        w = dl.masked_softmax(s, m)
        return np.einsum("nqk,nkv->nqv", w, values), w

    for fn in (einsum, scaled_dot_product_attention, ex.scaled_dot_product_attention,
               dl.scaled_dot_product_attention):
        assert ex.check_scaled_dot_product_attention(fn).status == "passed", fn


# ---------------------------------------------------------------- attention_decoder_step


def _step_with(query="h", order="ch", scale="H", use_mask=True):
    """The decoder step with one piece replaced by a typical mistake."""
    def fn(x, h_prev, c_prev, states, mask, Wx, Wh, b, Wc, bc):
        h, c, _ = dl.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        q = {"h": h, "h_prev": h_prev}[query]
        d = {"H": h.shape[1], "E": x.shape[1], "S": states.shape[1]}[scale]
        s = np.einsum("nd,nsd->ns", q, states) / d ** 0.5
        w = dl.masked_softmax(s, mask if use_mask else np.ones_like(mask))
        context = np.einsum("ns,nsd->nd", w, states)
        parts = [context, h] if order == "ch" else [h, context]
        return h, c, np.tanh(np.concatenate(parts, axis=1) @ Wc + bc), w
    return fn


def test_decoder_step_attending_with_h_prev_fails_on_the_first_case():
    v = ex.check_attention_decoder_step(_step_with(query="h_prev"))
    failed_at(v, "case 1 of 6: one sequence, S = 2 source steps, E = H = 2",
              "the query is h, not h_prev")


def test_decoder_step_ignoring_the_mask_fails_on_padded_sources():
    v = ex.check_attention_decoder_step(_step_with(use_mask=False))
    failed_at(v, "case 2 of 6: a batch of 3, padded sources", "padded steps get weight 0")


def test_decoder_step_scaled_by_the_input_size_fails_on_e_3_h_4():
    v = ex.check_attention_decoder_step(_step_with(scale="E"))
    failed_at(v, "case 3 of 6: E = 3, H = 4", "not E = 3, the size of the input x")
    v = ex.check_attention_decoder_step(_step_with(scale="S"))
    failed_at(v, "case 2 of 6")


def test_decoder_step_concatenating_h_first_fails_when_wc_halves_differ():
    v = ex.check_attention_decoder_step(_step_with(order="hc"))
    failed_at(v, "case 4 of 6: Wc's two halves differ", "its first H rows multiply the context")


def test_decoder_step_losing_float32_fails_on_the_dtype():
    def float64_weights(*args):
        h, c, h_tilde, w = attention_decoder_step(*args)
        return h, c, h_tilde, w.astype(np.float64)

    v = ex.check_attention_decoder_step(float64_weights)
    assert_failed_showing(v, "case 5 of 6: float32 inputs: float32 outputs",
                          "expected float32 array, got float64 array")


def test_decoder_step_a_failing_big_case_shows_its_rebuild_line():
    def wrong_for_big(*args):
        h, c, h_tilde, w = attention_decoder_step(*args)
        return (h, c, h_tilde + 1e-3, w) if len(h) >= 32 else (h, c, h_tilde, w)

    v = ex.check_attention_decoder_step(wrong_for_big)
    assert_failed_showing(v, "case 6 of 6: 32 sequences, S = 12, E = 8, H = 16")
    line = next(ln for ln in v.message.splitlines() if ln.startswith("rebuild: "))
    made = rebuilt_inputs(Case(rebuild=line[len("rebuild: "):]))
    np.testing.assert_array_equal(made["x"], np.random.default_rng(26).integers(
        -4, 5, size=(32, 8)) / 4)


def test_decoder_step_correct_variants_pass():
    def with_layers(x, h_prev, c_prev, states, mask, Wx, Wh, b, Wc, bc):
        lstm = dl.LSTM(x.shape[1], h_prev.shape[1], rng=0, dtype=x.dtype)
        lstm.Wx.value, lstm.Wh.value, lstm.b.value = Wx, Wh, b
        h = lstm.forward(x[:, None, :], h_prev, c_prev)[:, 0].copy()
        c = lstm.last_state[1]
        attention = dl.DotProductAttention()
        context = attention.forward(h[:, None, :], states, states, mask)[:, 0]
        H = h.shape[1]
        h_tilde = np.tanh(context @ Wc[:H] + h @ Wc[H:] + bc)
        return h, c, h_tilde, attention.weights[:, 0]

    for fn in (with_layers, attention_decoder_step, ex.attention_decoder_step):
        assert ex.check_attention_decoder_step(fn).status == "passed", fn.__name__


def test_no_hint_of_lesson_7_hands_over_a_line_of_solution_code():
    hints = [h for h in vars(ex).values() if isinstance(h, str)]
    for name in ex.EXERCISES:
        hints.append(getattr(ex, f"check_{name}")(lambda *a, **k: np.zeros((1, 2))).message)
    for text in hints:
        for code in ("np.exp(", "keepdims", "np.sqrt(", "max(axis", "np.concatenate(",
                     "transpose(", "@ Wc", "-np.inf", "sum(axis"):
            assert code not in text, (code, text)


class TestLesson07Exercises(
    LessonExerciseTests, lesson="07_attention", exercises=ex, references=REFERENCES,
    exec_globals={"np": np, "dl": dl}, min_cases=6,
):
    """Lesson 7's checks and notebook; REFERENCES are learner-style solutions."""

    def test_the_checks_own_reference_passes(self, name):
        assert self.check(name, getattr(ex, name)).status == "passed"
