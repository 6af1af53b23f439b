"""A corpus of many articles made from the seeds: each copy gets words of its own."""

from __future__ import annotations

import random
import re
from pathlib import Path

from tests.helpers import SEED_NAMES, GoldLine, gold_lines, write_capture

_WORD = re.compile(r"\b[a-z]{4,}\b")


def _vocabulary() -> list[str]:
    words = {w for name in SEED_NAMES for g in gold_lines(name) for w in _WORD.findall(g.text)}
    return sorted(words)


def write_seed_variants(raw: Path, n_articles: int) -> None:
    """n articles of two captures each: article k swaps the seeds' lowercase words by a mapping of its own.

    Capitalized words (names, bylines) stay, so roles stay those of the gold.
    """
    raw.mkdir(parents=True, exist_ok=True)
    vocabulary = _vocabulary()
    for k in range(n_articles):
        shuffled = vocabulary[:]
        random.Random(k).shuffle(shuffled)
        mapping = dict(zip(vocabulary, shuffled, strict=True))
        for name in SEED_NAMES:
            lines = [GoldLine(_WORD.sub(lambda m, w=mapping: w[m.group(0)], g.text), g.role) for g in gold_lines(name)]
            write_capture(raw / f"{k:04d}-{name}.txt", lines)
