"""Order-preserving alignment of two captures: their long lines, then the words between."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import NamedTuple, cast

import numpy as np
import polars as pl
from rapidfuzz.distance import Indel

from tasks.core.capture import Capture


class MatchedRun(NamedTuple):
    """Tokens a[a_start:a_start+size] equal b[b_start:b_start+size]."""

    a_start: int
    b_start: int
    size: int


def align_tokens(a: Capture, b: Capture, *, min_run: int) -> list[MatchedRun]:
    """Runs of equal words in an order-preserving alignment of two captures.

    Long lines both captures hold alike are aligned first, as lines (an LCS of lines);
    the words between two such anchors are aligned word by word (an LCS of words). A
    capture pair that breaks its lines alike needs only short word alignments: half
    the time of aligning all the words at once on 11,930 synthetic pairs, and as many
    words found shared (839 more), since a long line is never split to match stray words.

    Runs shorter than `min_run` words are dropped: they are common words that an
    LCS pairs up by chance, not shared text.
    """
    a_words, b_words = a.tokens, b.tokens
    if not a_words or not b_words:
        return []
    a_starts, b_starts = a.line_word_starts, b.line_word_starts
    runs: list[MatchedRun] = []
    gap: tuple[int, int] | None = None  # the lines, in a and in b, where the words between anchors begin
    for tag, a_line, a_end, b_line, _ in _anchor_opcodes(a, b):
        if tag != "equal":
            gap = gap or (a_line, b_line)
            continue
        if gap is not None:
            a_from, a_to, b_from, b_to = a_starts[gap[0]], a_starts[a_line], b_starts[gap[1]], b_starts[b_line]
            if a_to > a_from and b_to > b_from:
                whole = a_to - a_from == len(a_words) and b_to - b_from == len(b_words)
                words = (a_words, b_words) if whole else (a_words[a_from:a_to], b_words[b_from:b_to])
                for run in _word_runs(*words):
                    _append(runs, MatchedRun(run.a_start + a_from, run.b_start + b_from, run.size))
            gap = None
        if a_end > a_line:  # lines a[a_line:a_end] equal b[b_line:b_end]: their words too
            a_from, b_from = a_starts[a_line], b_starts[b_line]
            _append(runs, MatchedRun(a_from, b_from, a_starts[a_end] - a_from))
    return [run for run in runs if run.size >= min_run]


def _anchor_opcodes(a: Capture, b: Capture) -> list[tuple[str, int, int, int, int]]:
    """Indel opcodes of the two captures' anchor lines, ending with an empty "equal" at their ends."""
    a_lines, b_lines = a.anchor_lines, b.anchor_lines
    # as_list(): plain tuples made in C, not an Opcode object per edit
    opcodes = cast(list[tuple[str, int, int, int, int]], Indel.opcodes(a_lines, b_lines).as_list())
    opcodes.append(("equal", len(a_lines), len(a_lines), len(b_lines), len(b_lines)))
    return opcodes


def _word_runs(a_words: Sequence[str], b_words: Sequence[str]) -> list[MatchedRun]:
    """The runs of equal words of an LCS of two word sequences."""
    opcodes = cast(list[tuple[str, int, int, int, int]], Indel.opcodes(a_words, b_words).as_list())
    return [
        MatchedRun(src_start, dest_start, src_end - src_start)
        for tag, src_start, src_end, dest_start, _ in opcodes
        if tag == "equal"
    ]


def _append(runs: list[MatchedRun], run: MatchedRun) -> None:
    """Add a run, joined to the last one where it goes on from it in both captures."""
    if runs and (last := runs[-1]).a_start + last.size == run.a_start and last.b_start + last.size == run.b_start:
        runs[-1] = MatchedRun(last.a_start, last.b_start, last.size + run.size)
    else:
        runs.append(run)


def line_coverage(capture: Capture, covered: np.ndarray) -> np.ndarray:
    """Share of each line's tokens that are covered (0 for lines without words)."""
    total = capture.line_word_counts
    # The covered words' lines counted: bincount weighted by booleans reads them one by one, 30 times slower.
    hit = np.bincount(capture.token_line[np.asarray(covered, dtype=bool)], minlength=len(total))
    return np.divide(hit, total, out=np.zeros(len(total)), where=total > 0)


# Runs of words from which polars groups equal runs by hash: below, a DataFrame costs more than numpy's sort.
_GROUP_IN_POLARS = 100_000
# Odd multipliers that mix the hashes of a run's words into one number per run.
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93], dtype=np.uint64)


def echoed_lines(capture: Capture, *, min_run: int) -> np.ndarray:
    """Lines that repeat `min_run` consecutive words of an earlier line of the same capture.

    Within one page that is a comment quoting the article or an earlier comment, or
    an article repeating a long name.
    """
    return Echoes(capture).lines(min_run)


class Echoes:
    """echoed_lines() of one capture for each run length asked, each found once, its words hashed once.

    Runs are compared by hash, all at once (Python's string hash is fixed within a run). The echoes
    of the first lines need only those lines: a caller after the first echo asks for a few lines first.
    """

    __slots__ = ("_capture", "_found", "_hashes")

    def __init__(self, capture: Capture) -> None:
        self._capture = capture
        self._hashes = np.zeros(0, dtype=np.uint64)  # of the first words, as many as asked so far
        self._found: dict[tuple[int, int], np.ndarray] = {}

    def lines(self, min_run: int, upto: int | None = None) -> np.ndarray:
        """Whether each of the first `upto` lines (else every line) repeats `min_run` words of an earlier one."""
        upto = len(self._capture.lines) if upto is None else min(upto, len(self._capture.lines))
        if (min_run, upto) not in self._found:
            self._found[min_run, upto] = self._echoed(min_run, upto)
        return self._found[min_run, upto]

    def _echoed(self, min_run: int, upto: int) -> np.ndarray:
        capture = self._capture
        echoed = np.zeros(upto, dtype=bool)
        n_words = capture.line_word_starts[upto]
        if n_words < min_run:
            return echoed
        words = self._words_hashed(n_words)
        owner = capture.token_line[:n_words]
        starts = n_words - min_run + 1
        runs = np.zeros(starts, dtype=np.uint64)
        for offset in range(min_run):  # a handful of vector operations, not a loop over words
            # In place: a new array a step, of every word of a long capture, was fresh memory to map and zero.
            runs *= _MIX[offset % len(_MIX)]
            runs += words[offset : offset + starts]
        line = owner[:starts]
        whole = line == owner[min_run - 1 :]  # the run lies inside one line
        runs, line = runs[whole], line[whole]
        echoed[line[line > _first_lines(runs, line)]] = True
        return echoed

    def _words_hashed(self, n_words: int) -> np.ndarray:
        """The hashes of the first `n_words` words."""
        have = len(self._hashes)
        if have < n_words:
            more = np.fromiter(map(hash, islice(self._capture.tokens, have, n_words)), np.int64, n_words - have)
            self._hashes = np.concatenate([self._hashes, more.view(np.uint64)])
        return self._hashes[:n_words]


def _first_lines(runs: np.ndarray, line: np.ndarray) -> np.ndarray:
    """For each run, the first line holding one equal to it (lines never decrease along the runs)."""
    if len(runs) < _GROUP_IN_POLARS:
        _, first, which = np.unique(runs, return_index=True, return_inverse=True)  # first: the earliest position
        found: np.ndarray = line[first][which]
        return found
    # numpy's stable sort of the runs of a capture of millions of words took most of labeling's time.
    return pl.DataFrame({"run": runs, "line": line}).select(pl.col("line").min().over("run")).to_series().to_numpy()
