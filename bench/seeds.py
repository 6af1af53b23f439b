"""The two reference captures (also shipped in data/raw) with their gold roles, and corpora made from them.

The gold lives with the tests (tests/fixtures/seeds); benchmarks read it from there as data.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "seeds"
SEED_NAMES = ("000_a1bb77ff0534570e", "002_e23ddddf5298c3e8")


@dataclass(frozen=True)
class GoldLine:
    """A line of a seed as decoded, with its gold role (None for blank lines)."""

    text: str
    role: str | None


def gold_lines(name: str) -> list[GoldLine]:
    roles = {}
    for row in (SEEDS / "gold" / f"{name}.roles.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        number, role, _ = row.split("\t", 2)
        roles[int(number)] = role
    text = (SEEDS / f"{name}.txt").read_text(encoding="utf-8")
    return [GoldLine(line, roles.get(no)) for no, line in enumerate(text.split("\n"), start=1)]


def write_capture(path: Path, lines: list[GoldLine], *, encoding: str = "utf-8", newline: str = "\n") -> None:
    path.write_bytes(newline.join(line.text for line in lines).encode(encoding))


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
