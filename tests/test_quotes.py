"""Quote links: word for word without rapidfuzz, others through partial_ratio; passages no line can hold skipped."""

from __future__ import annotations

import random
from collections import Counter
from itertools import chain
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

import tasks.articles.quotes as quotes
from tasks.articles.quotes import link_quotes, rarest_two
from tasks.core.config import QuoteConfig
from tasks.core.normalize import tokenize

PARAGRAPHS = [
    "the minister said the harbour tunnel would open to traffic before the end of next spring",
    "engineers found water seeping through the northern wall during the final inspection last week",
    "residents of the old quarter have waited eleven years for the crossing to be finished",
]


def test_a_passage_held_word_for_word_links_with_a_full_score() -> None:
    comments = ['as he put it "engineers found water seeping through the northern wall" and nobody blinked']
    [link] = link_quotes(PARAGRAPHS, comments, QuoteConfig())
    assert (link.comment_no, link.paragraph_no, link.quoted_comment_no, link.score) == (0, 1, None, 100.0)


def test_a_passage_with_a_typo_still_links_through_partial_ratio() -> None:
    comments = ['"residents of the old quartre have waited eleven years for the crossing" says it all']
    [link] = link_quotes(PARAGRAPHS, comments, QuoteConfig())
    assert link.paragraph_no == 2
    assert QuoteConfig().score_cutoff <= link.score < 100.0


def test_the_earliest_line_wins_whether_it_matched_word_for_word_or_not() -> None:
    """The passage is inside comment 0 word for word, and in paragraph 0 with one letter changed."""
    passage = "the minister said the harbour tunnel would open to traffic"
    comments = [f"I heard that {passage} and more", f'"{passage}"']
    links = link_quotes([PARAGRAPHS[0].replace("harbour", "harbor")], comments, QuoteConfig())
    assert [(link.comment_no, link.paragraph_no, link.quoted_comment_no) for link in links] == [(1, 0, None)]


def test_a_comment_quoting_an_earlier_comment_word_for_word_links_to_it() -> None:
    first = "my grandmother crossed the bay by ferry every single morning for forty years"
    comments = [first, f'"{first.removesuffix(" for forty years")}" what a life']
    links = link_quotes(PARAGRAPHS, comments, QuoteConfig())
    assert [(link.comment_no, link.paragraph_no, link.quoted_comment_no) for link in links] == [(1, None, 0)]


def test_a_passage_with_too_many_words_no_other_line_holds_is_not_looked_up() -> None:
    """Held once: only by the comment itself. One word in five may be missing from a quoted line, not two."""
    counts = Counter({"alpha": 3, "beta": 2, "gamma": 2, "delta": 4, "own": 1, "mine": 1})
    assert rarest_two({"alpha", "beta", "gamma", "delta", "own"}, counts) == ("own", "beta")
    assert rarest_two({"alpha", "beta", "gamma", "own", "mine"}, counts) == ()


@given(st.text(min_size=1, max_size=300), st.data())
def test_partial_ratio_scores_any_substring_100(line: str, data: st.DataObject) -> None:
    """What the shortcut relies on: rapidfuzz scores a passage that the line holds as it is 100."""
    start = data.draw(st.integers(0, len(line) - 1))
    end = data.draw(st.integers(start + 1, len(line)))
    assert fuzz.partial_ratio(line[start:end], line, processor=None) == 100.0


def test_a_comment_posted_again_and_again_links_each_copy_to_the_earliest_line_it_quotes() -> None:
    """Every earlier copy holds each copy word for word: each search stops at its first line, the paragraph."""
    comments = ['so "engineers found water seeping through the northern wall" was known'] * 2_000
    links = link_quotes(PARAGRAPHS, comments, QuoteConfig())
    assert len(links) == 2_000
    assert {(link.paragraph_no, link.quoted_comment_no, link.score) for link in links} == {(1, None, 100.0)}


def test_a_quote_is_looked_for_in_at_most_max_candidates_lines_holding_its_rarest_words() -> None:
    """Past the cap a quote is left unlinked, rather than compared with every earlier line of a huge thread."""
    passage = "the crossing will be finished before the council elections next spring"
    scrambled = " ".join(reversed(passage.split()))  # every word of it, in no order partial_ratio accepts
    paragraphs = [f"{scrambled} {n}" for n in range(10)] + [f"they promised that {passage} again"]
    comments = [f'"{passage}"']
    assert [link.paragraph_no for link in link_quotes(paragraphs, comments, QuoteConfig())] == [10]
    assert link_quotes(paragraphs, comments, QuoteConfig(max_candidates=5)) == []


def _thread(copies: int) -> list[str]:
    """A thread of the seed's shape taken to the extreme: a few comments posted again and again, every other
    copy numbered (so half are new texts), some quoting an earlier comment."""
    base = [
        "the crossing will be finished before the council elections next spring they say",
        'so "the crossing will be finished before the council elections" is what we heard',
        "engineers found water seeping through the northern wall during the last inspection",
        "nobody on this street believes the minister any more after eleven years of waiting",
    ]
    return [f"{copy}.{i} {text}" if copy % 2 else text for copy in range(copies) for i, text in enumerate(base)]


def _work(comments: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, int]:
    """Candidate lines gathered, pairs scored, and pairs of them scored by partial_ratio, linking the comments."""
    gathered, scored, sliding = [0], [0], [0]
    candidates, cpdist = quotes.HolderIndex.candidates, quotes.process.cpdist

    def counting_candidates(*args: Any, **kwargs: Any) -> list[list[int]]:
        found = candidates(*args, **kwargs)
        gathered[0] += sum(map(len, found))
        return found

    def counting_cpdist(passages: list[str], texts: list[str], **kwargs: Any) -> Any:
        if kwargs["scorer"] is fuzz.partial_ratio:
            sliding[0] += len(passages)
        else:
            scored[0] += len(passages)
        return cpdist(passages, texts, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(quotes, "_GATHER_IN_NUMPY", 0)  # the index of huge threads, whatever the size
        patched.setattr(quotes.HolderIndex, "candidates", counting_candidates)
        patched.setattr(quotes.process, "cpdist", counting_cpdist)
        links = quotes.link_quotes(PARAGRAPHS, comments, QuoteConfig(max_candidates=8))
    assert links  # the copies quote their first copies
    return gathered[0], scored[0], sliding[0]


def test_linking_a_thread_twice_as_long_costs_twice_as_much_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each passage's search is bounded (max_candidates, each text once): no comment compares with all before it."""
    small = _work(_thread(200), monkeypatch)
    large = _work(_thread(400), monkeypatch)
    assert small[0] > 0
    assert small[1] > 0
    assert all(b <= 2.1 * s for s, b in zip(small, large, strict=True)), (small, large)


def test_a_numbered_copy_of_a_comment_is_settled_without_sliding_it_along_its_earlier_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The earlier copy's first window holds the copy but for its number: partial_ratio is asked about few pairs."""
    _, scored, sliding = _work(_thread(400), monkeypatch)
    assert scored > 50
    assert sliding <= 0.1 * scored, (scored, sliding)


@given(st.text(alphabet="abc .", max_size=40), st.text(alphabet="abc .", max_size=40), st.data())
def test_a_line_whose_first_window_reaches_the_cutoff_reaches_it_by_partial_ratio(
    passage: str, rest: str, data: st.DataObject
) -> None:
    """What reaching_cutoff relies on: partial_ratio is at least the ratio of the line's first window."""
    line = data.draw(st.sampled_from([passage + rest, rest + passage, passage[::-1] + rest, rest]))
    cutoff = data.draw(st.sampled_from([50.0, 75.0, 90.0]))
    exact = fuzz.partial_ratio(passage, line, processor=None, score_cutoff=cutoff)
    assert [score >= cutoff for score in quotes.reaching_cutoff([(passage, line)], cutoff)] == [exact >= cutoff]


@pytest.mark.parametrize("copies", [3, 60])
def test_a_thread_links_alike_whether_its_candidates_are_gathered_in_python_or_numpy(
    copies: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    comments = _thread(copies)
    in_python = link_quotes(PARAGRAPHS, comments, QuoteConfig(max_candidates=8))
    monkeypatch.setattr(quotes, "_GATHER_IN_NUMPY", 0)
    assert link_quotes(PARAGRAPHS, comments, QuoteConfig(max_candidates=8)) == in_python
    assert in_python


def _mixed_thread(seed: int) -> tuple[list[str], list[str]]:
    """Paragraphs and a thread of comments: some quote an earlier line, some are posted again, some repeat one word."""
    rng = random.Random(seed)
    words = ["harbour", "tunnel", "crossing", "council", "spring", "minister", "water", "wall", "street"]
    words += ["years", "ferry", "bay", "morning", *(f"word{n}" for n in range(60))]
    paragraphs = [" ".join(rng.choices(words, k=rng.randint(8, 30))) for _ in range(6)]
    comments: list[str] = []
    for _ in range(1_500):
        roll = rng.random()
        if roll < 0.3:
            said = rng.choice(paragraphs + comments).split()
            at = rng.randint(0, max(0, len(said) - 8))
            comments.append(f'{rng.choice(words)} "{" ".join(said[at : at + rng.randint(6, 12)])}" {rng.choice(words)}')
        elif roll < 0.4 and comments:
            comments.append(rng.choice(comments))
        elif roll < 0.45:
            comments.append(" ".join([rng.choice(words)] * rng.randint(1, 9)))
        else:
            comments.append(" ".join(rng.choices(words[: rng.choice([8, 20, len(words)])], k=rng.randint(1, 25))))
    return paragraphs, comments


def test_the_word_table_of_a_long_thread_says_what_the_loops_over_its_lines_say() -> None:
    paragraphs, comments = _mixed_thread(5)
    tokens = [tokenize(line) for line in paragraphs + comments]
    held = quotes.TargetWords(tokens)
    counts = Counter(chain.from_iterable(map(set, tokens)))
    assert held.counts() == counts
    assert held.bits.tolist() == quotes._word_bits(tokens).tolist()
    whole = held.whole_comments(len(paragraphs))
    assert [whole.of(c) for c in range(len(comments))] == [
        (rarest_two(set(words), counts), len(set(words))) for words in tokens[len(paragraphs) :]
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_long_thread_links_as_the_plain_python_search_links_it(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    paragraphs, comments = _mixed_thread(seed)
    links = link_quotes(paragraphs, comments, QuoteConfig())
    assert len(links) > 200
    monkeypatch.setattr(quotes, "_GATHER_IN_NUMPY", 10**9)  # every thread searched as a short one is
    assert link_quotes(paragraphs, comments, QuoteConfig()) == links


@pytest.mark.parametrize("paragraph", ["the harbour tunnel opens in spring", "!!!"])
def test_a_long_thread_of_comments_without_words_links_nothing(paragraph: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reactions alone (an emoji, dots): no word to look for, in the numpy index as in the plain search."""
    monkeypatch.setattr(quotes, "_GATHER_IN_NUMPY", 0)
    assert link_quotes([paragraph], ["\U0001f44d", "...", "\u2764\ufe0f"] * 400, QuoteConfig()) == []
