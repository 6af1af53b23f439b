"""The decoded capture: its non-blank lines and the tokens used to align it."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from tasks.decode import Line
from tasks.normalize import tokenize

# Body lines are hard-wrapped paragraphs (to be joined) when at least this share
# of them is followed by a blank line: 1.0 in the metadata seed, 0.3 when it is
# wrapped at 72 columns, 0.11 in the comments seed (one paragraph per line).
_BLANK_SEPARATED_SHARE = 0.2


@dataclass(frozen=True)
class Capture:
    """One decoded capture with its tokens laid out line by line."""

    source_id: str
    uri: str
    sha256: str
    lines: tuple[Line, ...]
    n_lines: int
    tokens: tuple[str, ...] = field(repr=False)
    token_line: tuple[int, ...] = field(repr=False)  # index into `lines` of each token

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
        out: list[list[str]] = [[] for _ in self.lines]
        for token, index in zip(self.tokens, self.token_line, strict=True):
            out[index].append(token)
        return [tuple(words) for words in out]

    def line_token_counts(self) -> list[int]:
        """How many tokens each line has."""
        counts = [0] * len(self.lines)
        for index in self.token_line:
            counts[index] += 1
        return counts


def make_capture(source_id: str, uri: str, sha256: str, lines: list[Line], n_lines: int) -> Capture:
    """Build a capture and its token layout."""
    tokens: list[str] = []
    owners: list[int] = []
    for index, line in enumerate(lines):
        words = [sys.intern(w) for w in tokenize(line.key)]  # one copy of each word: 2 GB -> a tenth at 10k captures
        tokens.extend(words)
        owners.extend([index] * len(words))
    return Capture(source_id, uri, sha256, tuple(lines), n_lines, tuple(tokens), tuple(owners))
