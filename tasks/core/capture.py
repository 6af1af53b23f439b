"""The decoded capture: its non-blank lines, and the words used to align it (computed when first needed)."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Any

import numpy as np
import numpy.typing as npt

from tasks.core.lines import Line
from tasks.core.normalize import at_most_words, tokenize_lines
from tasks.core.shelf import ShelfRef, pack, read_entries, unpack

# Body lines are hard-wrapped paragraphs (to be joined) when at least this share
# of them is followed by a blank line: 1.0 in the metadata seed, 0.3 when it is
# wrapped at 72 columns, 0.11 in the comments seed (one paragraph per line).
BLANK_SEPARATED_SHARE = 0.2

# Lines of at most this many words may be a site's furniture (tasks/articles/roles.py).
FURNITURE_MAX_WORDS = 8

# A line of at least this many words that two captures hold alike anchors their alignment
# (tasks/articles/align.py). Shorter lines ("Reply", a site's name, "Recommended") recur in places that
# do not correspond: anchored on them, 1,412 of 11,930 pairs of 9,784 synthetic captures lost shared words.
ANCHOR_LINE_WORDS = 6


@dataclass(frozen=True)
class _Words:
    per_line: list[tuple[str, ...]]
    words: tuple[str, ...]
    owner: npt.NDArray[np.int64]  # index into `lines` of each word (an array: the stages index with it)
    counts: npt.NDArray[np.int64]  # words of each line
    starts: list[int]  # where each line's words begin in `words`, then how many words there are
    anchors: list[object]  # each line's key where it may anchor an alignment, else an object equal to nothing


class Capture:
    """One decoded capture.

    Its lines are either held or on a shelf (tasks/core/shelf.py): a shelved capture is a
    few hundred bytes (names, hash, line numbers, its short lines) and reads its lines
    each time they are asked for, unless `keep_words()` pinned them. Its words are
    derived from the lines' keys when asked for, and kept only after `keep_words()`.
    Neither pinned lines nor words travel to another process.
    """

    __slots__ = ("_held", "_shelf", "_short", "_words", "line_numbers", "n_lines", "sha256", "source_id", "uri")

    def __init__(
        self, source_id: str, uri: str, sha256: str, n_lines: int, line_numbers: array[int],
        held: tuple[Line, ...] | None, shelf: ShelfRef | None = None, short: frozenset[str] | None = None,
    ) -> None:  # fmt: skip
        self.source_id = source_id
        self.uri = uri
        self.sha256 = sha256
        self.n_lines = n_lines  # blank lines included
        self.line_numbers = line_numbers  # of the non-blank lines, 1-based
        self._held = held
        self._shelf = shelf
        self._short = short
        self._words: _Words | None = None

    def __repr__(self) -> str:
        return f"Capture({self.source_id!r}, {self.uri!r}, {len(self.line_numbers)} lines)"

    def __reduce__(self) -> tuple[Any, ...]:
        if self._shelf is not None:  # a few hundred bytes, whatever the capture's size
            held = None
        else:  # lines as two flat tuples: pickling 3 million Line objects one by one cost seconds
            held = (tuple(line.text for line in self.lines), tuple(line.key for line in self.lines))
        fields = (self.source_id, self.uri, self.sha256, self.n_lines, self.line_numbers)
        return (_rebuild, (*fields, held, self._shelf, self._short))

    @property
    def lines(self) -> tuple[Line, ...]:
        """The non-blank lines, read from the shelf unless held."""
        if self._held is not None:
            return self._held
        assert self._shelf is not None
        return self._lines_from(read_entries([self._shelf])[0])

    def _lines_from(self, entry: bytes) -> tuple[Line, ...]:
        assert self._shelf is not None
        texts, keys = unpack(entry, self._shelf.keys_length, len(self.line_numbers))
        return tuple(map(Line._make, zip(self.line_numbers, texts, keys, strict=True)))

    def shelve(self, ref: ShelfRef) -> Capture:
        """The same capture with its lines on the shelf at `ref` (written by the caller from `shelf_entry()`)."""
        return Capture(
            self.source_id, self.uri, self.sha256, self.n_lines, self.line_numbers, None, ref, self.short_keys()
        )

    def shelf_entry(self) -> tuple[bytes, int]:
        return pack([line.text for line in self.lines], [line.key for line in self.lines])

    def short_keys(self) -> frozenset[str]:
        """Keys of the lines of at most FURNITURE_MAX_WORDS words: the ones that may be a site's furniture."""
        if self._short is None:
            keys = [line.key for line in self.lines]
            self._short = frozenset(
                key for key, short in zip(keys, at_most_words(keys, FURNITURE_MAX_WORDS), strict=True) if short
            )
        return self._short

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every word of the capture, in order."""
        return self._layout().words

    @property
    def token_line(self) -> npt.NDArray[np.int64]:
        """The index into `lines` of each word (read-only)."""
        return self._layout().owner

    @property
    def line_word_counts(self) -> npt.NDArray[np.int64]:
        """How many words each line has (read-only)."""
        return self._layout().counts

    @property
    def line_word_starts(self) -> list[int]:
        """Where each line's words begin in `tokens`, then how many words there are."""
        return self._layout().starts

    @property
    def anchor_lines(self) -> list[object]:
        """Each line's key where it has ANCHOR_LINE_WORDS words or more, else an object equal to no other line.

        What tasks.articles.align aligns first: the lines two captures hold alike that are long enough to say so.
        """
        return self._layout().anchors

    def keep_words(self, words_of_key: dict[str, tuple[str, ...]] | None = None) -> None:
        """Pin the lines and derive the words once: for the stages that ask for them many times.

        `words_of_key`: words of keys already split, shared by the captures of a batch.
        """
        if self._held is None:
            self._held = self.lines
        self._layout(words_of_key)

    def release_words(self) -> None:
        """Forget what keep_words() pinned (a held capture keeps its lines: they are all it has)."""
        self._words = None
        if self._shelf is not None:
            self._held = None

    def _layout(self, words_of_key: dict[str, tuple[str, ...]] | None = None) -> _Words:
        if self._words is not None:
            return self._words
        keys = [line.key for line in self.lines]
        if words_of_key is None:
            per_line = tokenize_lines(keys)
        else:
            unseen = [key for key in dict.fromkeys(keys) if key not in words_of_key]
            words_of_key.update(zip(unseen, tokenize_lines(unseen), strict=True))
            per_line = list(map(words_of_key.__getitem__, keys))
        counts = np.fromiter(map(len, per_line), dtype=np.int64, count=len(per_line))
        owner = np.repeat(np.arange(len(per_line), dtype=np.int64), counts)
        owner.flags.writeable = False  # shared by every stage that asks
        counts.flags.writeable = False
        starts = [0, *accumulate(map(len, per_line))]
        anchors = [
            key if len(words) >= ANCHOR_LINE_WORDS else object() for key, words in zip(keys, per_line, strict=True)
        ]
        self._words = _Words(per_line, tuple(chain.from_iterable(per_line)), owner, counts, starts, anchors)
        return self._words

    def blank_separated(self, chosen: list[int] | None = None) -> bool:
        """True when paragraphs are set off by blank lines (among the chosen lines, by default all)."""
        indices = range(len(self.line_numbers)) if chosen is None else chosen
        if not indices:
            return False
        numbers = [*self.line_numbers, 10**12]
        alone = sum(1 for i in indices if numbers[i + 1] - numbers[i] > 1)
        return alone >= BLANK_SEPARATED_SHARE * len(indices)

    def line_tokens(self) -> list[tuple[str, ...]]:
        """The words of each line."""
        if self._words is not None:
            return self._words.per_line
        return tokenize_lines([line.key for line in self.lines])

    def words_of_lines(self, first: int, last: int) -> tuple[str, ...]:
        """The words of lines `first` to `last` (indices into `lines`): those of their keys joined by a space."""
        per_line = self._layout().per_line
        return per_line[first] if first == last else tuple(chain.from_iterable(per_line[first : last + 1]))


def lines_of(captures: Sequence[Capture]) -> list[tuple[Line, ...]]:
    """The lines of each capture; shelved ones read together, each shelf file opened once."""
    shelved = [i for i, c in enumerate(captures) if c._held is None]
    entries = read_entries([captures[i]._shelf for i in shelved])  # type: ignore[misc]
    found: list[tuple[Line, ...]] = [c._held or () for c in captures]
    for i, entry in zip(shelved, entries, strict=True):
        found[i] = captures[i]._lines_from(entry)
    return found


def joined_keys(captures: Sequence[Capture]) -> list[str]:
    """The keys of each capture's lines joined by LF (never in a key): split them in polars."""
    shelved = [i for i, c in enumerate(captures) if c._held is None]
    entries = read_entries([captures[i]._shelf for i in shelved], keys_only=True)  # type: ignore[misc]
    found = ["\n".join(line.key for line in c._held) if c._held is not None else "" for c in captures]
    for i, entry in zip(shelved, entries, strict=True):
        found[i] = entry.decode()
    return found


def keep_words_of(captures: Sequence[Capture]) -> None:
    """keep_words() for each capture, the shelved ones read together.

    A line the batch holds twice is split into words once, and its words are shared: the
    captures of an article repeat most of their lines (44 % of the words of a batch of
    2,500 synthetic captures lie in a line seen before in it).
    """
    words_of_key: dict[str, tuple[str, ...]] = {}
    for capture, lines in zip(captures, lines_of(captures), strict=True):
        capture._held = lines
        capture.keep_words(words_of_key)


def release_words_of(captures: Sequence[Capture]) -> None:
    """release_words() for each capture."""
    for capture in captures:
        capture.release_words()


def _rebuild(
    source_id: str, uri: str, sha256: str, n_lines: int, line_numbers: array[int],
    held: tuple[tuple[str, ...], tuple[str, ...]] | None, shelf: ShelfRef | None, short: frozenset[str] | None,
) -> Capture:  # fmt: skip
    lines = None if held is None else tuple(map(Line._make, zip(line_numbers, *held, strict=True)))
    return Capture(source_id, uri, sha256, n_lines, line_numbers, lines, shelf, short)


def make_capture(source_id: str, uri: str, sha256: str, lines: Sequence[Line], n_lines: int) -> Capture:
    """Build a capture from its numbered lines, held in memory."""
    numbers = array("q", (line.line_no for line in lines))
    return Capture(source_id, uri, sha256, n_lines, numbers, tuple(lines))
