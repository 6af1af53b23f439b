"""Which comment quotes which paragraph or earlier comment."""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from tasks.articles.assemble import Article
from tasks.core.config import QuoteConfig
from tasks.core.normalize import tokenize

# Keys fold every double quote mark to '"'; single quotes double as apostrophes.
_QUOTED = re.compile(r'"([^"]+)"')
# The quoted text must hold nearly all its words in the quoted line before
# rapidfuzz is asked (a cheap filter; partial_ratio is slow).
_MIN_WORD_OVERLAP = 0.8
_PAIRS_PER_THREAD = 1_000
# Candidates of one passage scored in its first round, and how much more each round takes: a line
# repeated down a thread has thousands of holders, and the first that passes the word filter mostly quotes it.
_FIRST_ROUND = 1
_ROUND_GROWTH = 4
# Passages searched at a time, and candidate lines gathered for them at most (unless one passage alone has more):
# their candidates and word sets are what a search holds, so its memory is bounded.
_PASSAGES_AT_ONCE = 8_192
_PAIRS_AT_ONCE = 1 << 20
# Threads of fewer lines have their candidates gathered in plain Python: an article's hundred comments
# took twice as long with numpy's calls.
_GATHER_IN_NUMPY = 1_000


class QuoteLink(NamedTuple):
    """What comment `comment_no` quotes: a paragraph number or an earlier comment's number.

    A named tuple, made in C: a thread of a hundred thousand comments has as many links.
    """

    comment_no: int
    paragraph_no: int | None
    quoted_comment_no: int | None
    score: float


def quoted_texts(key: str) -> list[str]:
    """Each passage a comment holds in quote marks, once, other than the whole comment."""
    if '"' not in key:
        return []
    quoted = dict.fromkeys(m.group(1).strip(" .,;:") for m in _QUOTED.finditer(key))
    quoted.pop(key, None)
    return list(quoted)


@dataclass
class Passages:
    """Each distinct passage once (by its text, and whether it is a whole comment), and the comments holding it.

    A passage's search does not depend on the comment that asks, only on how far back it may look:
    a comment posted again and again is searched for once, as far back as its last copy may look.
    """

    texts: list[str] = field(default_factory=list)
    tokens: list[Sequence[str]] = field(default_factory=list)  # its words (a set is made when it is searched)
    n_words: list[int] = field(default_factory=list)  # distinct words
    rarest: list[tuple[str, ...]] = field(default_factory=list)
    last_comment: list[int] = field(default_factory=list)  # the last comment that holds it
    whole_of: list[int] = field(default_factory=list)  # the first comment that is it whole, else -1 (a quotation)
    # Every comment's passages, comment by comment, in the order they are asked: passage and comment numbers.
    passage_of: list[int] = field(default_factory=list)
    comment_of: list[int] = field(default_factory=list)


def distinct_passages(
    comment_keys: Sequence[str], comment_tokens: Sequence[Sequence[str]], counts: Counter[str], cfg: QuoteConfig,
    whole_comments: WholeComments | None = None,
) -> Passages:  # fmt: skip
    """The passages (quoted text, then the whole comment) of every comment that some other line may hold.

    `whole_comments`: each comment's rarest words and number of words, where already found (TargetWords).
    """
    found = Passages()
    number: dict[tuple[str, bool], int] = {}  # -1: too short, or no other line can hold enough of it
    for comment_no, key in enumerate(comment_keys):
        asked = [(text, False) for text in quoted_texts(key)]
        if len(comment_tokens[comment_no]) >= cfg.min_quote_words:
            asked.append((key, True))
        for text, whole in asked:
            index = number.get((text, whole))
            if index is None:
                tokens = comment_tokens[comment_no] if whole else tokenize(text)
                known = whole_comments.of(comment_no) if whole and whole_comments is not None else None
                index = number[text, whole] = _add_passage(found, text, tokens, counts, cfg, known)
                if index >= 0:
                    found.whole_of.append(comment_no if whole else -1)
            if index >= 0:
                found.last_comment[index] = comment_no
                found.passage_of.append(index)
                found.comment_of.append(comment_no)
    return found


def _add_passage(
    found: Passages, text: str, tokens: Sequence[str], counts: Counter[str], cfg: QuoteConfig,
    known: tuple[tuple[str, ...], int] | None = None,
) -> int:  # fmt: skip
    """The new passage's number, or -1 when it is not looked for. `known`: its rarest words and number of words."""
    if known is None:
        words = set(tokens)
        known = (rarest_two(words, counts), len(words))
    rarest, n_words = known
    if len(tokens) < cfg.min_quote_words or not rarest:
        return -1
    found.texts.append(text)
    found.tokens.append(tokens)
    found.n_words.append(n_words)
    found.rarest.append(rarest)
    found.last_comment.append(-1)
    return len(found.texts) - 1


def link_quotes(
    paragraph_keys: Sequence[str], comment_keys: Sequence[str], cfg: QuoteConfig,
    tokens: Sequence[Sequence[str]] | None = None,
) -> list[QuoteLink]:  # fmt: skip
    """The earliest line each comment quotes: paragraphs come first, then comments in thread order.

    `tokens`: the words of the paragraphs, then of the comments, when the caller has them.
    No set of words is kept per line: in a thread of a hundred thousand comments they held 160 MB.
    """
    targets = [*paragraph_keys, *comment_keys]
    target_tokens = [tokenize(key) for key in targets] if tokens is None else tokens
    n_par = len(paragraph_keys)
    found: dict[int, tuple[int, float, int]] = {}
    memo: dict[tuple[str, str], float] = {}
    if len(targets) < _GATHER_IN_NUMPY:
        # How many targets hold each word, counted in C; the two rarest words of each passage.
        counts = Counter(chain.from_iterable(map(set, target_tokens)))
        passages = distinct_passages(comment_keys, target_tokens[n_par:], counts, cfg)
        limits = [n_par + last for last in passages.last_comment]  # a passage looks back from its last comment
        candidates = _candidates_in_python(passages, limits, targets, target_tokens, cfg.max_candidates)
        found = _search(passages, range(len(candidates)), candidates, targets, target_tokens, cfg.score_cutoff, memo)
        return _earliest_links(passages, found, n_par)
    held = TargetWords(target_tokens)
    passages = distinct_passages(comment_keys, target_tokens[n_par:], held.counts(), cfg, held.whole_comments(n_par))
    limits = [n_par + last for last in passages.last_comment]
    index = HolderIndex(passages, targets, held, n_par)
    for numbers in index.chunks(limits, max_candidates=cfg.max_candidates):
        candidates = index.candidates(passages, numbers, limits, max_candidates=cfg.max_candidates)
        found |= _search(passages, numbers, candidates, targets, target_tokens, cfg.score_cutoff, memo)
    return _earliest_links(passages, found, n_par)


def _candidates_in_python(
    passages: Passages, limits: Sequence[int], targets: Sequence[str], target_tokens: Sequence[Sequence[str]],
    max_candidates: int,
) -> list[list[int]]:  # fmt: skip
    """HolderIndex's candidates, less its word bits, for a thread of a few lines: numpy's calls cost more there."""
    needed = set().union(*passages.rarest)
    holders: defaultdict[str, list[int]] = defaultdict(list)
    for target, words in enumerate(target_tokens):
        for word in needed.intersection(words):
            holders[word].append(target)
    return [
        [t for t in islice(_holding(rarest, holders, limit), max_candidates) if len(targets[t]) >= len(text)]
        for rarest, limit, text in zip(passages.rarest, limits, passages.texts, strict=True)
    ]


def _holding(rarest: tuple[str, ...], holders: defaultdict[str, list[int]], limit: int) -> Iterator[int]:
    """Targets before `limit` that hold one of the words, ascending and each once."""
    last = -1
    for target in heapq.merge(*(holders[word] for word in rarest)):  # each list is ascending
        if target >= limit:
            return
        if target != last:
            last = target
            yield target


def rarest_two(words: set[str], counts: Counter[str]) -> tuple[str, ...]:
    """The passage's two words that the fewest targets hold; none when no other line can hold enough of it.

    A passage that is 80% inside a line shares one of any two of its words with it
    unless both fall in its missing 20%; the rarest two prune most lines at once.
    A word only its own comment holds (held once) is missing from every other line: a
    passage with more than 20% of such words quotes nothing (3 passages in 4 of 9,917 synthetic captures).
    """
    held = list(map(counts.__getitem__, words))
    if len(words) - held.count(1) < _MIN_WORD_OVERLAP * len(words):
        return ()
    # Ties go to the word first in sort order: a set's order changes with PYTHONHASHSEED, and
    # with it which lines a comment was found to quote (1 of 14,011 links at 9,917 captures).
    # (count, word) pairs built and sorted in C: no Python key function per word.
    return tuple(word for _, word in sorted(zip(held, words, strict=True))[:2])


@dataclass(frozen=True)
class WholeComments:
    """Each comment's two rarest words (as rarest_two finds them), and its number of distinct words."""

    rarest: list[str]
    second: list[str]
    n_words: list[int]
    enough: list[bool]  # holding enough words that other lines hold too

    def of(self, comment_no: int) -> tuple[tuple[str, ...], int]:
        n = self.n_words[comment_no]
        if not n or not self.enough[comment_no]:
            return (), n
        return ((self.rarest[comment_no],) if n == 1 else (self.rarest[comment_no], self.second[comment_no])), n


class TargetWords:
    """Every target's distinct words as numbers, in numpy: what the targets' words say, for a long thread.

    Counted, hashed and sorted by numpy: in a thread of a hundred thousand comments a loop per line
    or per word (a set of each line's words, a hash of each word) took most of the linking's time.
    The same figures as the loops': how many targets hold each word, each line's word bits
    (_word_bits), each comment's rarest two (rarest_two), each needed word's holders.
    """

    def __init__(self, target_tokens: Sequence[Sequence[str]]) -> None:
        self.vocabulary = list(dict.fromkeys(chain.from_iterable(target_tokens)))
        self.number = number = {word: i for i, word in enumerate(self.vocabulary)}
        size = max(len(number), 1)
        sizes = np.fromiter(map(len, target_tokens), dtype=np.int64, count=len(target_tokens))
        pairs = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes) * size
        pairs += np.fromiter(map(number.__getitem__, chain.from_iterable(target_tokens)), np.int64, len(pairs))
        pairs = _distinct(np.sort(pairs))  # each (target, word) once, by target then word
        self.target, self.word = (pairs // size).astype(np.int32), (pairs % size).astype(np.int32)
        del pairs
        self.n_targets = len(sizes)
        self.held_by_count = np.bincount(self.word, minlength=len(number))  # how many targets hold each word
        self.n_words = np.bincount(self.target, minlength=self.n_targets)
        self.first = np.concatenate([[0], np.cumsum(self.n_words)[:-1]])  # each target's first pair
        word_bit = np.left_shift(
            np.uint64(1), (np.fromiter(map(hash, self.vocabulary), np.int64, len(number)) & 63).astype(np.uint64)
        )
        self.bits = np.zeros(self.n_targets, dtype=np.uint64)
        has_words = self.n_words > 0
        if len(self.word):
            self.bits[has_words] = np.bitwise_or.reduceat(word_bit[self.word], self.first[has_words])

    def counts(self) -> Counter[str]:
        """How many targets hold each word."""
        return Counter(dict(zip(self.vocabulary, self.held_by_count.tolist(), strict=True)))

    def whole_comments(self, n_par: int) -> WholeComments:
        """rarest_two() of each comment's own words (the targets after the first `n_par`), and their number."""
        n_words = self.n_words[n_par:].tolist()
        if not self.vocabulary:  # no line has a word (a thread of emoji): nothing to look for
            blank = [""] * len(n_words)
            return WholeComments(blank, blank, n_words, [False] * len(n_words))
        size = len(self.vocabulary)
        # Ties go to the word first in sort order, as in rarest_two: a word's rank among the sorted vocabulary.
        by_text = sorted(range(len(self.vocabulary)), key=self.vocabulary.__getitem__)
        rank = np.empty(len(by_text), dtype=np.int64)
        rank[by_text] = np.arange(len(by_text))
        count = self.held_by_count[self.word]
        order_key = count * size + rank[self.word]  # (count, word) as one number
        has_words = self.n_words > 0
        starts = self.first[has_words]
        first = np.full(self.n_targets, -1, dtype=np.int64)
        second = np.full(self.n_targets, -1, dtype=np.int64)
        if len(order_key):
            least = np.minimum.reduceat(order_key, starts)
            first[has_words] = least
            rest = np.where(order_key == np.repeat(least, self.n_words[has_words]), np.iinfo(np.int64).max, order_key)
            second[has_words] = np.minimum.reduceat(rest, starts)
        once = np.bincount(self.target, weights=count == 1, minlength=self.n_targets)
        enough = self.n_words - once >= _MIN_WORD_OVERLAP * self.n_words
        word_at = np.asarray(by_text, dtype=np.int64)  # the word of each rank
        rarest, second_rarest = (
            list(map(self.vocabulary.__getitem__, word_at[np.maximum(key[n_par:], 0) % size].tolist()))
            for key in (first, second)
        )
        return WholeComments(rarest, second_rarest, n_words, enough[n_par:].tolist())

    def holder_keys(self, needed: dict[str, int], n_targets: int) -> npt.NDArray[np.int64]:
        """`needed`'s number times `n_targets` plus the target, for each target holding a needed word: ascending."""
        number = np.full(max(len(self.vocabulary), 1), -1, dtype=np.int64)
        for word, i in needed.items():
            if word in self.number:  # a quotation's word that no target holds has no holders
                number[self.number[word]] = i
        wanted = number[self.word] >= 0
        keys: npt.NDArray[np.int64] = np.sort(number[self.word[wanted]] * n_targets + self.target[wanted])
        return keys


class HolderIndex:
    """The targets holding each passage's rarest words, ascending: a passage's candidates, gathered in numpy.

    In a thread of a hundred thousand comments most passages have their hundred candidates, and most
    of those cannot hold them: too short, or lacking too many of their words. Each line's words are also
    one 64-bit number, a bit per word's hash: a bit of the passage that the line lacks is a word of the
    passage it lacks (one at least), so the bits bound the words the two share. They only drop lines
    that could not pass _Search.take: the hash seed changes which lines they drop, never a link.
    """

    def __init__(self, passages: Passages, targets: Sequence[str], held: TargetWords, n_par: int) -> None:
        rarest = passages.rarest
        self.chars = np.fromiter(map(len, targets), dtype=np.int64, count=len(targets))
        self.bits = held.bits
        # A passage that is a whole comment has that comment's bits: only quotations are hashed again.
        whole_of = np.asarray(passages.whole_of, dtype=np.int64)
        quoted = np.flatnonzero(whole_of < 0)
        self.passage_bits = self.bits[np.maximum(whole_of, 0) + n_par] if len(whole_of) else np.zeros(0, np.uint64)
        self.passage_bits[quoted] = _word_bits([passages.tokens[p] for p in quoted.tolist()])
        needed = {word: i for i, word in enumerate(sorted(set().union(*rarest)))}
        self.n_targets = max(held.n_targets, 1)
        # One ascending key per (word, holder): a word's holders before a limit are one searchsorted away.
        self.keys = held.holder_keys(needed, self.n_targets)
        self.held_by = self.keys % self.n_targets
        word_of_key = self.keys // self.n_targets
        self.starts = np.searchsorted(word_of_key, np.arange(len(needed) + 1)).astype(np.int64)
        self.asks = [[needed[word] for word in words] for words in rarest]

    def chunks(self, limits: Sequence[int], *, max_candidates: int) -> Iterator[range]:
        """The passages in order, a bounded number at a time, with a bounded number of candidates in all."""
        passage, _, taken = self._taken(range(len(self.asks)), limits, max_candidates)
        sizes = np.bincount(passage, weights=taken, minlength=len(self.asks)).astype(np.int64)
        first, pairs = 0, 0
        for number, size in enumerate(sizes.tolist()):
            if number > first and (number - first >= _PASSAGES_AT_ONCE or pairs + size > _PAIRS_AT_ONCE):
                yield range(first, number)
                first, pairs = number, 0
            pairs += size
        if first < len(sizes):
            yield range(first, len(sizes))

    def _taken(
        self, numbers: range, limits: Sequence[int], max_candidates: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Each ask (a passage and one of its rarest words): the passage, where the word's holders start, and
        how many of them lie before the passage's limit (at most `max_candidates`)."""
        asks = [(p, w) for p in numbers for w in self.asks[p]]
        passage = np.fromiter((p for p, _ in asks), dtype=np.int64, count=len(asks))
        word = np.fromiter((w for _, w in asks), dtype=np.int64, count=len(asks))
        limit = np.asarray(limits, dtype=np.int64)[passage]
        below = np.searchsorted(self.keys, word * self.n_targets + limit) - self.starts[word]
        return passage, self.starts[word], np.minimum(below, max_candidates)

    def candidates(
        self, passages: Passages, numbers: range, limits: Sequence[int], *, max_candidates: int
    ) -> list[list[int]]:
        """The candidates of passages `numbers`: the first `max_candidates` lines before the passage's limit
        holding one of its rarest words, ascending, less those that cannot hold it."""
        pairs = _first_holders(*self._taken(numbers, limits, max_candidates), self.held_by, self.n_targets)
        owner, target = pairs // self.n_targets, pairs % self.n_targets
        new_owner = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))
        rank = np.arange(len(owner)) - np.repeat(new_owner, np.diff(np.append(new_owner, len(owner))))
        owner -= numbers.start
        keep = (rank < max_candidates) & self._may_hold(passages, numbers, owner, target)
        found: list[list[int]] = [[] for _ in numbers]
        _split_into(found, owner[keep], target[keep])
        return found

    def _may_hold(
        self, passages: Passages, numbers: range, owner: npt.NDArray[np.int64], target: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Whether each target may hold its passage: as long, and lacking no more words than _Search.take allows."""
        chunk = slice(numbers.start, numbers.stop)
        chars = np.fromiter(map(len, passages.texts[chunk]), dtype=np.int64)[owner]
        words = np.asarray(passages.n_words[chunk], dtype=np.int64)[owner]
        lacking = np.bitwise_count(self.passage_bits[chunk][owner] & ~self.bits[target]).astype(np.int64)
        possible: npt.NDArray[np.bool_] = (self.chars[target] >= chars) & (words - lacking >= _MIN_WORD_OVERLAP * words)
        return possible


def _first_holders(
    passage: npt.NDArray[np.int64], start: npt.NDArray[np.int64], taken: npt.NDArray[np.int64],
    held_by: npt.NDArray[np.int64], n_targets: int,
) -> npt.NDArray[np.int64]:  # fmt: skip
    """(passage, target) keys, ascending and each once, of the first `taken` holders of each ask's word."""
    total = int(taken.sum())
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(taken) - taken, taken)
    pairs = np.sort(np.repeat(passage, taken) * n_targets + held_by[np.repeat(start, taken) + offset])
    return _distinct(pairs)  # a line holding both words once


def _distinct(ordered: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct values of an ascending array. Not np.unique: numpy 2.4's hashes, seconds on millions."""
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(ordered) else ordered


def _word_bits(word_lists: Sequence[Sequence[str]]) -> npt.NDArray[np.uint64]:
    """Each list's words as the bits of one 64-bit number: bit `hash(word) % 64` of each."""
    sizes = np.fromiter(map(len, word_lists), dtype=np.int64, count=len(word_lists))
    hashes = np.fromiter(map(hash, chain.from_iterable(word_lists)), dtype=np.int64, count=int(sizes.sum()))
    bits = np.left_shift(np.uint64(1), (hashes & 63).astype(np.uint64))
    found = np.zeros(len(word_lists), dtype=np.uint64)
    held = sizes > 0
    if len(bits):  # a nonempty list's bits run up to the next nonempty list's
        found[held] = np.bitwise_or.reduceat(bits, (np.cumsum(sizes) - sizes)[held])
    return found


def _split_into(found: list[list[int]], owner: npt.NDArray[np.int64], target: npt.NDArray[np.int64]) -> None:
    """Each owner's targets (owners ascending) into its list."""
    if not len(owner):
        return
    edges = [0, *(np.flatnonzero(np.diff(owner)) + 1).tolist(), len(owner)]
    chosen = target.tolist()
    for p, low, high in zip(owner[edges[:-1]].tolist(), edges, edges[1:], strict=False):
        found[p] = chosen[low:high]


class _Search:
    """One passage's search for the earliest line that quotes it: candidates taken a few at a time."""

    __slots__ = ("candidates", "done", "need", "number", "passage", "scored", "seen", "taken", "words")

    def __init__(self, number: int, passage: str, words: set[str], candidates: Iterator[int]) -> None:
        self.number, self.passage, self.words, self.candidates = number, passage, words, candidates
        self.need = _MIN_WORD_OVERLAP * len(words)
        self.taken: list[int] = []  # this round's targets, ascending
        self.scored: list[float] = []  # their scores; -1 until rapidfuzz has scored them
        self.seen: set[str] = set()  # target texts asked already: a line repeated scores as its first copy did
        self.done = False

    def take(self, targets: Sequence[str], target_tokens: Sequence[Sequence[str]], most: int) -> None:
        """The next targets holding enough of the words; a target holding it word for word ends it."""
        self.taken, self.scored = [], []
        for target in self.candidates:
            text = targets[target]
            if text in self.seen or len(self.words.intersection(target_tokens[target])) < self.need:
                continue
            self.seen.add(text)
            self.taken.append(target)
            # A passage the line holds word for word scores 100 without rapidfuzz: 85 % of the candidate
            # pairs of 9,917 synthetic captures, and 98 % of partial_ratio's time (it slides along the line).
            exact = self.passage in text
            self.scored.append(100.0 if exact else -1.0)
            if exact:
                self.done = True
                return
            if len(self.taken) >= most:
                return
        self.done = True

    def first_at_least(self, cutoff: float) -> tuple[int, float] | None:
        return next(((t, s) for t, s in zip(self.taken, self.scored, strict=True) if s >= cutoff), None)


def _search(
    passages: Passages, numbers: range, candidates: Sequence[list[int]], targets: Sequence[str],
    target_tokens: Sequence[Sequence[str]], cutoff: float, memo: dict[tuple[str, str], float],
) -> dict[int, tuple[int, float, int]]:  # fmt: skip
    """Each passage's first candidate that holds it (word for word, or by partial_ratio): target, score, round.

    Each round scores the next candidates of every passage still searching, earliest first: a
    passage stops at its first target that holds it, however many lines hold its rarest words.
    """
    searches = [
        _Search(number, passages.texts[number], set(passages.tokens[number]), iter(found))
        for number, found in zip(numbers, candidates, strict=True)
        if found
    ]
    found: dict[int, tuple[int, float, int]] = {}
    most = _FIRST_ROUND
    rounds = 0
    while searches:
        for search in searches:
            search.take(targets, target_tokens, most)
        most *= _ROUND_GROWTH
        _score_round(searches, targets, memo, cutoff)
        searching = []
        for search in searches:
            first = search.first_at_least(cutoff)
            if first is not None:
                found[search.number] = (*first, rounds)
            elif not search.done:
                searching.append(search)
        searches = searching
        rounds += 1
    return found


def _score_round(
    searches: Sequence[_Search], targets: Sequence[str], memo: dict[tuple[str, str], float], cutoff: float
) -> None:
    """Whether each candidate of the round not held word for word reaches `cutoff`, in a few calls.

    `memo` keeps the scores of the call's earlier rounds: a comment posted again is not scored again.
    A score is at least `cutoff` or 0 (rapidfuzz stops early under it): only whether it reaches it matters.
    """
    asked = [
        (search, i, (search.passage, targets[search.taken[i]]))
        for search in searches
        for i, score in enumerate(search.scored)
        if score < 0
    ]
    pairs = {pair for _, _, pair in asked if pair not in memo}
    if pairs:
        new = sorted(pairs)  # a fixed order: the scores do not depend on it, the threads' split does not either
        memo.update(zip(new, reaching_cutoff(new, cutoff), strict=True))
    for search, i, pair in asked:
        search.scored[i] = memo[pair]


def reaching_cutoff(pairs: Sequence[tuple[str, str]], cutoff: float) -> list[float]:
    """For each (passage, line): a score of at least `cutoff` when partial_ratio reaches it, else 0.

    partial_ratio is fuzz.ratio's best over the line's windows, the one as long as the passage at
    the line's start among them: where that one reaches the cutoff, its ratio stands for the score.
    A comment posted again with a number in front has its earlier copies as candidates, nearly the
    same line: the first window settled 97 % of the pairs of a 19.5 MB capture's thread, each at
    a hundredth of the cost of partial_ratio, which slides the passage along the line in both directions.
    """
    # The bound holds where the passage is the shorter, and not empty: candidates are at least as long,
    # and partial_ratio swaps the two otherwise (and scores an empty one 0).
    bounded = [k for k, (passage, text) in enumerate(pairs) if 0 < len(passage) <= len(text)]
    bound = [0.0] * len(pairs)
    if bounded:
        found = process.cpdist(
            [pairs[k][0] for k in bounded], [pairs[k][1][: len(pairs[k][0])] for k in bounded], scorer=fuzz.ratio,
            processor=None, score_cutoff=cutoff, workers=1,
        ).tolist()  # fmt: skip
        for k, score in zip(bounded, found, strict=True):
            bound[k] = score
    undecided = [k for k, score in enumerate(bound) if score < cutoff]
    if undecided:
        # An article has tens of candidate pairs: starting threads for them costs more than scoring
        # them; batches of articles already run one per core.
        found = process.cpdist(
            [pairs[k][0] for k in undecided], [pairs[k][1] for k in undecided], scorer=fuzz.partial_ratio,
            processor=None, score_cutoff=cutoff, workers=1 if len(undecided) < _PAIRS_PER_THREAD else -1,
        ).tolist()  # fmt: skip
        for k, score in zip(undecided, found, strict=True):
            bound[k] = score
    return [float(score) for score in bound]


def _earliest_links(passages: Passages, found: dict[int, tuple[int, float, int]], n_par: int) -> list[QuoteLink]:
    """Each comment's earliest line quoted by any of its passages, found before the comment itself.

    Of passages finding the same line, the score is that of the one found first (in the earlier
    round, else asked first), as when each comment's passages were searched on their own.
    """
    best: dict[int, tuple[int, int, int, float]] = {}  # comment -> (target, round, ask, score)
    for ask, (number, comment_no) in enumerate(zip(passages.passage_of, passages.comment_of, strict=True)):
        hit = found.get(number)
        if hit is not None and hit[0] < n_par + comment_no:
            candidate = (hit[0], hit[2], ask, hit[1])
            if comment_no not in best or candidate < best[comment_no]:
                best[comment_no] = candidate
    return [
        QuoteLink(c, t if t < n_par else None, t - n_par if t >= n_par else None, s)
        for c, (t, _, _, s) in sorted(best.items())
    ]


def link_article_quotes(article: Article, cfg: QuoteConfig) -> Article:
    """The article with `quotes_paragraph_no` / `quotes_comment_id` filled in."""
    keys = article.keys  # kept from the captures' lines: nothing is normalized or tokenized again
    links = link_quotes(keys.paragraph_keys, keys.comment_keys, cfg, [*keys.paragraph_words, *keys.comment_words])
    comments = list(article.comments)
    for link in links:
        quoted = comments[link.quoted_comment_no].comment_id if link.quoted_comment_no is not None else None
        comments[link.comment_no] = comments[link.comment_no]._replace(
            quotes_paragraph_no=link.paragraph_no, quotes_comment_id=quoted
        )
    return replace(article, comments=tuple(comments))
