"""Alignment of two captures: long lines held alike first, then the words between them."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Indel

from tasks.articles.align import MatchedRun, align_tokens
from tasks.core.capture import ANCHOR_LINE_WORDS, Capture, make_capture
from tasks.core.lines import numbered_lines

WORDS = [
    "the", "council", "voted", "to", "close", "bridge", "for", "two", "years", "while", "ferry", "runs", "from",
    "harbour", "and", "shops", "wait",
]  # fmt: skip


def capture(lines: list[str], name: str = "c") -> Capture:
    found, n = numbered_lines("\n".join(lines))
    return make_capture(name, name, name, found, n)


def word_lcs_runs(a: Capture, b: Capture, min_run: int) -> list[MatchedRun]:
    """The runs of one LCS of all the words: what align_tokens gives where no line anchors."""
    return [
        MatchedRun(op.src_start, op.dest_start, op.src_end - op.src_start)
        for op in Indel.opcodes(a.tokens, b.tokens)
        if op.tag == "equal" and op.src_end - op.src_start >= min_run
    ]


def assert_runs_are_shared_words_in_order(a: Capture, b: Capture, runs: list[MatchedRun], min_run: int) -> None:
    a_end = b_end = 0
    for run in runs:
        assert run.size >= min_run
        assert run.a_start >= a_end  # order kept, nothing aligned twice
        assert run.b_start >= b_end
        assert a.tokens[run.a_start : run.a_start + run.size] == b.tokens[run.b_start : run.b_start + run.size]
        a_end, b_end = run.a_start + run.size, run.b_start + run.size


def test_captures_breaking_their_lines_alike_align_as_one_run() -> None:
    lines = ["Bridge to close for two years", *(" ".join(WORDS[i:] + WORDS[:i]) for i in range(5))]
    a, b = capture(lines, "a"), capture(lines, "b")
    assert align_tokens(a, b, min_run=3) == [MatchedRun(0, 0, len(a.tokens))]


def test_reflowed_captures_align_as_all_their_words_do() -> None:
    paragraph = " ".join(WORDS * 3)
    wrapped = [" ".join(WORDS[:9]), " ".join(WORDS[9:] + WORDS[:4]), " ".join(WORDS[4:] + WORDS), "Reply"]
    a, b = capture([paragraph, "Reply"], "a"), capture(wrapped, "b")
    assert align_tokens(a, b, min_run=3) == word_lcs_runs(a, b, 3)


def test_a_short_line_held_alike_does_not_anchor() -> None:
    # "Recommended" opens one capture and closes the other: anchoring it would cut the body off.
    body = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(4)]
    a = capture(["Recommended", " ".join(body)], "a")
    b = capture([*body, "Recommended"], "b")
    runs = align_tokens(a, b, min_run=3)
    assert sum(run.size for run in runs) >= sum(len(line.split()) for line in body) - 1


def test_text_between_anchors_is_aligned_word_by_word() -> None:
    anchor_1, anchor_2 = " ".join(WORDS[:8]), " ".join(WORDS[8:])
    edited = "the council voted again to close the bridge"
    a = capture([anchor_1, "the council voted to close the bridge", anchor_2], "a")
    b = capture([anchor_1, edited, anchor_2], "b")
    runs = align_tokens(a, b, min_run=3)
    assert_runs_are_shared_words_in_order(a, b, runs, 3)
    first_gap_word = len(anchor_1.split())
    assert MatchedRun(0, 0, first_gap_word + 3) in runs  # the anchor and "the council voted", joined
    assert any(run.a_start == first_gap_word + 3 and run.size >= 3 for run in runs)  # "to close ... bridge" too


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_lines=st.integers(1, 12), width=st.integers(1, 14))
def test_runs_are_shared_words_in_order_and_find_every_line_held_alike(seed: int, n_lines: int, width: int) -> None:
    rng = random.Random(seed)
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 20))) for _ in range(n_lines)]
    other = [line for line in lines if rng.random() < 0.8]
    other.insert(rng.randint(0, len(other)), " ".join(rng.choices(WORDS, k=width)))  # a line of its own
    if rng.random() < 0.5 and other:  # one line re-wrapped
        i = rng.randrange(len(other))
        words = other[i].split()
        other[i : i + 1] = [" ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])]
    a, b = capture(lines, "a"), capture([line for line in other if line], "b")
    runs = align_tokens(a, b, min_run=3)
    assert_runs_are_shared_words_in_order(a, b, runs, 3)
    # A long line both hold alike, with the same long lines around it in both, is aligned whole.
    a_long = [line for line in lines if len(line.split()) >= ANCHOR_LINE_WORDS]
    b_long = [line for line in other if len(line.split()) >= ANCHOR_LINE_WORDS]
    if a_long == b_long and len(set(a_long)) == len(a_long):
        covered = sum(run.size for run in runs)
        assert covered >= sum(len(line.split()) for line in a_long)
