"""The decoded capture: its non-blank lines, and the words used to align it (computed when first needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.decode import Line
from tasks.normalize import tokenize

# Body lines are hard-wrapped paragraphs (to be joined) when at least this share
# of them is followed by a blank line: 1.0 in the metadata seed, 0.3 when it is
# wrapped at 72 columns, 0.11 in the comments seed (one paragraph per line).
_BLANK_SEPARATED_SHARE = 0.2


@dataclass(frozen=True)
class _Words:
    per_line: list[tuple[str, ...]]
    words: tuple[str, ...]
    owner: tuple[int, ...]  # index into `lines` of each word


@dataclass(frozen=True)
class Capture:
    """One decoded capture.

    Its words are derived from the lines' keys when asked for, and kept only after
    `keep_words()`: kept for every capture of a 100,000-capture run they took more
    memory than the text itself. They never travel to another process.
    """

    source_id: str
    uri: str
    sha256: str
    lines: tuple[Line, ...]
    n_lines: int
    _words: list[_Words] = field(default_factory=list, repr=False, compare=False)  # empty until keep_words()

    def __reduce__(self) -> tuple[Any, ...]:
        # Lines as three flat tuples: pickling 3 million Line objects one by one cost seconds.
        numbers = tuple(line.line_no for line in self.lines)
        texts = tuple(line.text for line in self.lines)
        keys = tuple(line.key for line in self.lines)
        return (_rebuild, (self.source_id, self.uri, self.sha256, self.n_lines, numbers, texts, keys))

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every word of the capture, in order."""
        return self._layout().words

    @property
    def token_line(self) -> tuple[int, ...]:
        """The index into `lines` of each word."""
        return self._layout().owner

    def keep_words(self) -> None:
        """Derive the words once and keep them: for the stages that ask for them many times."""
        self._layout()

    def _layout(self) -> _Words:
        if self._words:
            return self._words[0]
        per_line = [tuple(tokenize(line.key)) for line in self.lines]
        words = tuple(w for line_words in per_line for w in line_words)
        owner = tuple(i for i, line_words in enumerate(per_line) for _ in line_words)
        layout = _Words(per_line, words, owner)
        self._words.append(layout)
        return layout

    def blank_separated(self, chosen: list[int] | None = None) -> bool:
        """True when paragraphs are set off by blank lines (among the chosen lines, by default all)."""
        indices = range(len(self.lines)) if chosen is None else chosen
        if not indices:
            return False
        numbers = [line.line_no for line in self.lines] + [10**12]
        alone = sum(1 for i in indices if numbers[i + 1] - numbers[i] > 1)
        return alone >= _BLANK_SEPARATED_SHARE * len(indices)

    def line_tokens(self) -> list[tuple[str, ...]]:
        """The words of each line."""
        if self._words:
            return self._words[0].per_line
        return [tuple(tokenize(line.key)) for line in self.lines]

    def line_token_counts(self) -> list[int]:
        """How many words each line has."""
        return [len(words) for words in self.line_tokens()]


def _rebuild(
    source_id: str, uri: str, sha256: str, n_lines: int,
    numbers: tuple[int, ...], texts: tuple[str, ...], keys: tuple[str, ...],
) -> Capture:  # fmt: skip
    lines = tuple(map(Line._make, zip(numbers, texts, keys, strict=True)))
    return Capture(source_id, uri, sha256, lines, n_lines)


def make_capture(source_id: str, uri: str, sha256: str, lines: list[Line], n_lines: int) -> Capture:
    """Build a capture from its numbered lines."""
    return Capture(source_id, uri, sha256, tuple(lines), n_lines)
