"""Which comment quotes which paragraph or earlier comment."""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import chain, islice

from rapidfuzz import fuzz, process

from tasks.articles.assemble import Article
from tasks.core.config import QuoteConfig
from tasks.core.normalize import tokenize

# Keys fold every double quote mark to '"'; single quotes double as apostrophes.
_QUOTED = re.compile(r'"([^"]+)"')
# The quoted text must hold nearly all its words in the quoted line before
# rapidfuzz is asked (a cheap filter; partial_ratio is slow).
_MIN_WORD_OVERLAP = 0.8
_PAIRS_PER_THREAD = 5_000
# Candidates of one passage scored in its first round, and how much more each round takes: a line
# repeated down a thread has thousands of holders, and the first that passes the word filter mostly quotes it.
_FIRST_ROUND = 1
_ROUND_GROWTH = 4


@dataclass(frozen=True)
class QuoteLink:
    """What comment `comment_no` quotes: a paragraph number or an earlier comment's number."""

    comment_no: int
    paragraph_no: int | None
    quoted_comment_no: int | None
    score: float


def quoted_passages(
    key: str, key_words: Sequence[str], *, min_words: int, key_word_set: set[str] | None = None
) -> list[tuple[str, set[str]]]:
    """Text a comment may quote, with its words: each passage in quote marks, and the whole comment.

    `key_words` are the comment's words, tokenized once for all the uses of them; `key_word_set`,
    when given, is their set (the comment's, as a target of other comments' quotes).
    """
    quoted = dict.fromkeys(m.group(1).strip(" .,;:") for m in _QUOTED.finditer(key))
    quoted.pop(key, None)
    passages = [(p, set(w)) for p in quoted if len(w := tokenize(p)) >= min_words]
    if len(key_words) >= min_words:
        passages.append((key, set(key_words) if key_word_set is None else key_word_set))
    return passages


def link_quotes(
    paragraph_keys: Sequence[str], comment_keys: Sequence[str], cfg: QuoteConfig,
    tokens: Sequence[Sequence[str]] | None = None,
) -> list[QuoteLink]:  # fmt: skip
    """The earliest line each comment quotes: paragraphs come first, then comments in thread order.

    `tokens`: the words of the paragraphs, then of the comments, when the caller has them.
    """
    targets = [*paragraph_keys, *comment_keys]
    target_tokens = [tokenize(key) for key in targets] if tokens is None else tokens
    target_words = [set(words) for words in target_tokens]
    # How many targets hold each word, counted in C; the two rarest words of each passage.
    counts = Counter(chain.from_iterable(target_words))
    n_par = len(paragraph_keys)
    passages = [
        (comment_no, passage, words, rarest)
        for comment_no, key in enumerate(comment_keys)
        for passage, words in quoted_passages(
            key,
            target_tokens[n_par + comment_no],
            min_words=cfg.min_quote_words,
            key_word_set=target_words[n_par + comment_no],
        )
        if (rarest := rarest_two(words, counts))
    ]
    # word -> targets holding it, in order: only for those rarest words (an index of every comment word cost 4x).
    needed = set().union(*(rarest for *_, rarest in passages))
    holders: defaultdict[str, list[int]] = defaultdict(list)
    for index, words in enumerate(target_words):
        for word in words & needed:
            holders[word].append(index)
    best: dict[int, tuple[int, float]] = {}
    memo: dict[tuple[str, str], float] = {}
    searches = [
        _Search(comment_no, passage, words, islice(_holding(rarest, holders, n_par + comment_no), cfg.max_candidates))
        for comment_no, passage, words, rarest in passages
    ]
    most = _FIRST_ROUND
    while searches:
        # Each round scores the next candidates of every passage still searching, earliest first:
        # a passage stops at its first target that holds it, however many lines hold its rarest words.
        for search in searches:
            search.take(targets, target_words, most)
        most *= _ROUND_GROWTH
        _score_round(searches, targets, memo)
        searching = []
        for search in searches:
            found = search.first_at_least(cfg.score_cutoff)
            if found is None:
                searching += [] if search.done else [search]
            elif search.comment_no not in best or found[0] < best[search.comment_no][0]:
                best[search.comment_no] = found
        searches = searching
    return [
        QuoteLink(c, t if t < n_par else None, t - n_par if t >= n_par else None, s)
        for c, (t, s) in sorted(best.items())
    ]


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


def _holding(rarest: tuple[str, ...], holders: defaultdict[str, list[int]], limit: int) -> Iterator[int]:
    """Targets before `limit` that hold one of the words, ascending and each once, as they are asked for."""
    last = -1
    for target in heapq.merge(*(holders[word] for word in rarest)):  # each list is ascending
        if target >= limit:
            return
        if target != last:
            last = target
            yield target


class _Search:
    """One passage's search for the earliest line that quotes it: candidates taken a few at a time."""

    __slots__ = ("candidates", "comment_no", "done", "need", "passage", "scored", "seen", "taken", "words")

    def __init__(self, comment_no: int, passage: str, words: set[str], candidates: Iterator[int]) -> None:
        self.comment_no, self.passage, self.words, self.candidates = comment_no, passage, words, candidates
        self.need = _MIN_WORD_OVERLAP * len(words)
        self.taken: list[int] = []  # this round's targets, ascending
        self.scored: list[float] = []  # their scores; -1 until rapidfuzz has scored them
        self.seen: set[str] = set()  # target texts asked already: a line repeated scores as its first copy did
        self.done = False

    def take(self, targets: Sequence[str], target_words: Sequence[set[str]], most: int) -> None:
        """The next targets long enough and holding enough of the words; a target holding it word for word ends it."""
        self.taken, self.scored = [], []
        for target in self.candidates:
            text = targets[target]
            if len(self.passage) > len(text) or text in self.seen or len(self.words & target_words[target]) < self.need:
                continue
            self.seen.add(text)
            self.taken.append(target)
            # A passage the line holds word for word scores 100 without rapidfuzz: 85 % of the candidate
            # pairs of 9,917 synthetic captures, and 98 % of partial_ratio's time (it slides along the line).
            exact = self.passage in targets[target]
            self.scored.append(100.0 if exact else -1.0)
            if exact:
                self.done = True
                return
            if len(self.taken) >= most:
                return
        self.done = True

    def first_at_least(self, cutoff: float) -> tuple[int, float] | None:
        return next(((t, s) for t, s in zip(self.taken, self.scored, strict=True) if s >= cutoff), None)


def _score_round(searches: Sequence[_Search], targets: Sequence[str], memo: dict[tuple[str, str], float]) -> None:
    """rapidfuzz's partial_ratio for every candidate of the round not held word for word, in one call.

    `memo` keeps the scores of the call's earlier rounds: a comment posted again is not scored again.
    """
    asked = [(search, i) for search in searches for i, score in enumerate(search.scored) if score < 0]
    pairs = {(search.passage, targets[search.taken[i]]) for search, i in asked} - memo.keys()
    if pairs:
        new = sorted(pairs)  # a fixed order: the scores do not depend on it, the threads' split does not either
        # An article has tens of candidate pairs: starting threads for them costs more than scoring
        # them; batches of articles already run one per core.
        found = process.cpdist(
            [passage for passage, _ in new], [text for _, text in new],
            scorer=fuzz.partial_ratio, processor=None, workers=1 if len(new) < _PAIRS_PER_THREAD else -1,
        )  # fmt: skip
        memo.update(zip(new, map(float, found.tolist()), strict=True))
    for search, i in asked:
        search.scored[i] = memo[search.passage, targets[search.taken[i]]]


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
