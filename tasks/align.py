"""Stage 4a: order-preserving alignment of two captures, word by word."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Indel

from tasks.capture import Capture


@dataclass(frozen=True)
class MatchedRun:
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
    return [
        MatchedRun(op.src_start, op.dest_start, op.src_end - op.src_start)
        for op in Indel.opcodes(a.tokens, b.tokens)
        if op.tag == "equal" and op.src_end - op.src_start >= min_run
    ]


def line_coverage(capture: Capture, covered: np.ndarray) -> np.ndarray:
    """Share of each line's tokens that are covered (0 for lines without words)."""
    owners = np.asarray(capture.token_line, dtype=np.int64)
    n = len(capture.lines)
    total = np.bincount(owners, minlength=n)
    hit = np.bincount(owners, weights=covered.astype(np.float64), minlength=n)
    return np.divide(hit, total, out=np.zeros(n), where=total > 0)
