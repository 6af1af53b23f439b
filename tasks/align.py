"""Stage 4a: order-preserving alignment of two captures, word by word."""

from __future__ import annotations

from typing import NamedTuple, cast

import numpy as np
from rapidfuzz.distance import Indel

from tasks.capture import Capture


class MatchedRun(NamedTuple):
    """Tokens a[a_start:a_start+size] equal b[b_start:b_start+size]."""

    a_start: int
    b_start: int
    size: int


def align_tokens(a: Capture, b: Capture, *, min_run: int) -> list[MatchedRun]:
    """Runs of equal words in an order-preserving (LCS) alignment of two captures.

    Runs shorter than `min_run` words are dropped: they are common words that an
    LCS pairs up by chance, not shared text.
    """
    if not a.tokens or not b.tokens:
        return []
    # as_list(): plain tuples made in C, not an Opcode object per edit
    opcodes = cast(list[tuple[str, int, int, int, int]], Indel.opcodes(a.tokens, b.tokens).as_list())
    return [
        MatchedRun(src_start, dest_start, src_end - src_start)
        for tag, src_start, src_end, dest_start, _ in opcodes
        if tag == "equal" and src_end - src_start >= min_run
    ]


def line_coverage(capture: Capture, covered: np.ndarray) -> np.ndarray:
    """Share of each line's tokens that are covered (0 for lines without words)."""
    total = capture.line_word_counts
    hit = np.bincount(capture.token_line, weights=covered, minlength=len(total))
    return np.divide(hit, total, out=np.zeros(len(total)), where=total > 0)


# Odd multipliers that mix the hashes of a run's words into one number per run.
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)


def echoed_lines(capture: Capture, *, min_run: int) -> np.ndarray:
    """Lines that repeat `min_run` consecutive words of an earlier line of the same capture.

    Within one page that is a comment quoting the article or an earlier comment, or
    an article repeating a long name. Runs are compared by hash, all at once (a
    capture has a few thousand words; Python's string hash is fixed within a run).
    """
    n = len(capture.lines)
    tokens = capture.tokens
    echoed = np.zeros(n, dtype=bool)
    if len(tokens) < min_run:
        return echoed
    words = np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)).view(np.uint64)
    owner = np.asarray(capture.token_line, dtype=np.int64)
    starts = len(tokens) - min_run + 1
    runs = np.zeros(starts, dtype=np.uint64)
    for offset in range(min_run):  # a handful of vector operations, not a loop over words
        runs = runs * _MIX[offset % len(_MIX)] + words[offset : offset + starts]
    line = owner[:starts]
    whole = line == owner[min_run - 1 :]  # the run lies inside one line
    runs, line = runs[whole], line[whole]
    _, first, which = np.unique(runs, return_index=True, return_inverse=True)  # first: the earliest position
    echoed[line[line > line[first][which]]] = True
    return echoed
