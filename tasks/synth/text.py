"""English-like text: words drawn by their real frequency (wordfreq), shaped into sentences."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import numpy as np

# Plain words and contractions ("don't"); digits, hashtags and stray letters are dropped.
_WORD = re.compile(r"^[a-z]+(?:'[a-z]+)?$")
# 25,000 ranks hold the words of everyday news prose; further down it is mostly names and typos.
VOCABULARY_SIZE = 25_000
# Topic and headline words: frequent enough to read as news, rare enough to tell stories apart.
_CONTENT_RANKS = (400, 12_000)
_SMALL_WORDS = frozenset({"a", "an", "the", "of", "in", "on", "to", "for", "and", "at", "by", "with", "or", "as"})
# Words drawn per numpy call: a few paragraphs' worth, so little of the last block goes unused.
_WORD_BLOCK = 1024
_CURLY = (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'))


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Words in display form (typographic apostrophes, "I") with their cumulative frequency share."""

    table: np.ndarray  # the words (dtype object), so numpy can pick many at once
    cdf: np.ndarray  # cumulative share of each word, ending at 1.0
    content: tuple[str, ...]


class TextRandom(random.Random):
    """random.Random that also draws words by frequency, a block at a time with numpy.

    Three times faster than `choices(words, cum_weights=...)`, which bisects word by word.
    """

    def __init__(self, seed: str, vocab: Vocabulary) -> None:
        super().__init__(seed)
        self.vocab = vocab
        self._numpy = np.random.default_rng(self.getrandbits(64))
        self._block: list[str] = []
        self._at = 0

    def words(self, k: int) -> list[str]:
        """k words, each drawn by its frequency in English."""
        if self._at + k > len(self._block):
            draws = np.searchsorted(self.vocab.cdf, self._numpy.random(max(_WORD_BLOCK, k)), side="right")
            picked: list[str] = self.vocab.table[np.minimum(draws, len(self.vocab.table) - 1)].tolist()
            self._block = self._block[self._at :] + picked
            self._at = 0
        self._at += k
        return self._block[self._at - k : self._at]


def _display(word: str) -> str:
    word = word.replace("'", "\u2019")
    return "I" + word[1:] if word == "i" or word.startswith("i\u2019") else word


@lru_cache(maxsize=2)
def load_vocabulary(size: int = VOCABULARY_SIZE) -> Vocabulary:
    """The `size` most frequent plain English words of wordfreq's 'best' list."""
    try:
        import wordfreq
    except ImportError as err:  # a dev dependency: `make setup` installs it
        raise RuntimeError("synthetic corpora need the dev dependency `wordfreq` (run `make setup`)") from err
    frequencies = wordfreq.get_frequency_dict("en", wordlist="best")
    ranked = [w for w in wordfreq.top_n_list("en", size * 2, wordlist="best") if _WORD.match(w)]
    ranked = [w for w in ranked if len(w) > 1 or w in {"a", "i"}][:size]
    low, high = _CONTENT_RANKS
    content = tuple(w for w in ranked[low:high] if len(w) >= 4 and "'" not in w)
    cumulative = np.fromiter(accumulate(frequencies[w] for w in ranked), dtype=np.float64, count=len(ranked))
    return Vocabulary(np.array([_display(w) for w in ranked], dtype=object), cumulative / cumulative[-1], content)


def straighten(text: str) -> str:
    """Typographic quotes and apostrophes made plain (str.translate is five times slower here)."""
    for curly, straight in _CURLY:
        text = text.replace(curly, straight)
    return text


def capitalize(text: str) -> str:
    """First letter upper-cased, the rest left alone (names keep their case)."""
    return text[:1].upper() + text[1:]


def title_case(words: list[str]) -> str:
    """Headline case: every word capitalized but short function words inside."""
    return " ".join(w if (i > 0 and w in _SMALL_WORDS) else capitalize(w) for i, w in enumerate(words))


def split_lengths(rng: random.Random, total: int, shortest: int, longest: int) -> list[int]:
    """Sentence lengths adding up to `total`, each within [shortest, longest] (longest >= 2 * shortest)."""
    lengths: list[int] = []
    left = total
    while left > longest:
        size = min(rng.randint(shortest, longest), left - shortest)
        lengths.append(size)
        left -= size
    if left:
        lengths.append(left)
    return lengths


def mix_topic(rng: random.Random, words: list[str], topic: tuple[str, ...], rate: float) -> None:
    """Replace about `rate` of the words with the story's topic words, in place."""
    for _ in range(int(len(words) * rate + rng.random())):
        words[rng.randrange(len(words))] = rng.choice(topic)


def punctuate(rng: random.Random, words: list[str], *, end: str = ".", comma_rate: float = 0.06) -> str:
    """One sentence: capitalized, a few commas, closing punctuation."""
    out = list(words)
    for _ in range(int((len(words) - 1) * comma_rate + rng.random())):
        index = rng.randrange(len(words) - 1)
        out[index] = out[index].rstrip(",") + ","
    return capitalize(" ".join(out)) + end


def wrap(text: str, width: int) -> list[str]:
    """Greedy hard wrap at spaces (textwrap is ten times slower and does the same here)."""
    lines: list[str] = []
    current: list[str] = []
    used = 0
    for word in text.split(" "):
        if current and used + 1 + len(word) > width:
            lines.append(" ".join(current))
            current, used = [], 0
        used += len(word) + (1 if current else 0)
        current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines
