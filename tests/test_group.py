"""Grouping: the seeds form one article; articles sharing a quote or wire paragraph do not."""

from __future__ import annotations

import itertools
import random
import textwrap
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from rapidfuzz import fuzz

from tasks.core.capture import Capture, make_capture
from tasks.core.config import MatchConfig
from tasks.core.lines import decode_capture, numbered_lines
from tasks.core.normalize import normalize_key, tokenize
from tasks.decode import DecodedBatch, shelve_decoded
from tasks.group import (
    blank_separated,
    components,
    containment_pairs,
    frame_pairs,
    group_captures,
    shingle_hashes,
    text_keys,
)
from tasks.related import ANCHORS_PER_PARAGRAPH, articles_anchors, line_shingles, paragraph_anchors, shingle_hash
from tasks.synth.article import make_article
from tasks.synth.render import render_article
from tasks.synth.world import make_world
from tests.helpers import SEED_NAMES, gold_lines

WORDS = [
    *[
        "council",
        "budget",
        "river",
        "school",
        "harbor",
        "election",
        "storm",
        "bridge",
        "museum",
        "vaccine",
        "court",
        "farmers",
        "rail",
    ],
    *[
        "festival",
        "factory",
        "drought",
        "tariff",
        "senator",
        "mayor",
        "teachers",
        "hospital",
        "airport",
        "wildfire",
        "coast",
        "union",
    ],
]


def capture(name: str, text: str) -> Capture:
    lines, n = numbered_lines(text)
    return make_capture(name, name, name, lines, n)


def article(seed: int, paragraphs: int = 8) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(30)) + "." for _ in range(paragraphs)]


def seeds() -> list[Capture]:
    return [capture(n, "\n".join(g.text for g in gold_lines(n))) for n in SEED_NAMES]


def test_the_two_seeds_are_one_article() -> None:
    pairs = containment_pairs(seeds(), MatchConfig())
    # The metadata capture's long lines are 86% inside the comments capture.
    assert pairs["containment"].to_list()[0] > 0.8
    # Outside the text they share, the comments capture shows 4 short lines (short comments), the other
    # 1 ("Author: ..."): neither a page frame (min_frame_lines 10).
    frames = frame_pairs(seeds(), MatchConfig())
    assert frames.select("frame_a", "frame_b").rows() == [(4, 1)]
    assert group_captures(seeds(), MatchConfig(min_frame_lines=1)) == [[0], [1]]
    assert group_captures(seeds(), MatchConfig()) == [[0, 1]]


def test_articles_sharing_one_wire_paragraph_stay_apart() -> None:
    wire = "The agency said in a statement on Monday that talks would resume next week in Geneva."
    a, b = article(1), article(2)
    caps = [capture("a", "\n".join([*a[:4], wire, *a[4:]])), capture("b", "\n".join([*b[:3], wire, *b[3:]]))]
    assert group_captures(caps, MatchConfig()) == [[0], [1]]


def test_a_truncated_capture_with_many_comments_still_matches() -> None:
    body = article(3)
    comments = [" ".join(random.Random(k).choice(WORDS) for _ in range(12)) for k in range(200)]
    caps = [capture("full", "\n\n".join(body)), capture("short", "\n".join(body[:5] + comments))]
    assert group_captures(caps, MatchConfig()) == [[0, 1]]


def test_grouping_does_not_depend_on_input_order() -> None:
    caps = [*seeds(), capture("other", "\n".join(article(4)))]
    forward = group_captures(caps, MatchConfig())
    backward = group_captures(caps[::-1], MatchConfig())
    names = lambda groups, cs: sorted(sorted(cs[i].source_id for i in g) for g in groups)  # noqa: E731
    assert names(forward, caps) == names(backward, caps[::-1])


def test_captures_wrapped_at_different_widths_are_one_article() -> None:
    paragraphs = [g.text for g in gold_lines(SEED_NAMES[1]) if g.role == "body"]
    wrapped = ["\n\n".join("\n".join(textwrap.wrap(p, width)) for p in paragraphs) for width in (72, 61)]
    caps = [capture("w72", wrapped[0]), capture("w61", wrapped[1])]
    # No wrapped line of one is a line of the other; their paragraphs are the same.
    assert not {line.key for line in caps[0].lines} & {line.key for line in caps[1].lines} - {""}
    assert [sorted(g) for g in group_captures(caps, MatchConfig())] == [[0, 1]]


# An invented site: the furniture of every page (menus, masthead, related links, footer) and two articles.
MENU = ["Home", "Local news", "Sport", "Weather", "Opinion", "Obituaries", "Contact us"]
MASTHEAD = [
    "The Harwick Valley Courier, your independent voice for the valley since 1921",
    "Subscribe today and get the printed edition delivered to your door before breakfast",
]
RELATED = [
    "Council approves new cycle lanes along the old mill road",
    "Harwick under-fourteens reach the county cup final for the first time",
    "Snow ploughs on standby as the valley braces for a cold weekend",
    "Volunteers plant four hundred oak saplings on Gallow Hill",
    "Bakery on Station Street celebrates fifty years of sourdough",
]
FOOTER = [
    "Copyright 2026 Harwick Valley Courier Ltd. All rights reserved.",
    "No part of this website may be reproduced without the written permission of the publisher.",
]
FERRY = [
    "Lake Orrin ferry returns to service after a winter of repairs",
    "The ferry linking Port Ellery and Tamsin Point will carry passengers again from Saturday, after engineers "
    "replaced both of its engines and most of the wiring below deck during a three-month refit.",
    "Skipper Moira Fenwick said the crossing would take twenty minutes instead of the half hour regulars had "
    "grown used to, and that the new engines burn roughly a third less fuel than the old pair.",
    "The county transport office paid for the work from a maintenance fund set aside in 2023. Fares will stay "
    "at last year's prices until the end of the summer timetable, the office confirmed.",
    'Commuters who drove the long way round the lake all winter welcomed the news. "It added forty minutes to '
    'my day," said Darren Oakes, who works at the boatyard in Tamsin Point.',
]
LIBRARY = [
    "Branch library in Eastcombe to open on Sundays from next month",
    "Eastcombe library will open from ten until four on Sundays starting in March, the first change to its "
    "hours in twelve years, after a survey found that most readers wanted weekend access.",
    "The extra day will be staffed by two librarians and a rota of volunteers from the Friends of Eastcombe "
    "Library, who also plan a Sunday reading hour for children under eight.",
]
TEASERS = [
    "Anglers on the Orrin say pike numbers have doubled since the weir was rebuilt, and the angling club wants "
    "the county to extend the season by a month.",
    "A retired teacher from Port Ellery has walked the whole shoreline path every day this year and raised nine "
    "thousand pounds for the lifeboat station.",
    "The old signal box at Harwick station will become a tea room run by the railway society, which has spent "
    "two years restoring its levers and windows.",
    "Parents at Gallow Hill primary have asked for a crossing patrol after a van clipped a pupil's bicycle "
    "outside the school gates last Tuesday morning.",
]
NEW_HEADLINES = [
    "Harwick rowing club names its new boat after a founding member",
    "Road works on the bypass will close the northbound lane overnight",
    "Primary school pupils raise money for a new minibus with a sponsored walk",
    "Farmers market moves indoors to the corn exchange for the winter",
]


def site_page(article: list[str], related: list[str], *, blank_lines: bool) -> str:
    """A whole page of the site as copied from a browser: one paragraph a line, blank lines between lines or not."""
    title, *paragraphs = article
    lines = [*MENU, *MASTHEAD, title, "By our staff reporter", *paragraphs, "Related stories", *related, *FOOTER]
    return ("\n\n" if blank_lines else "\n").join(lines)


def article_only(article: list[str], width: int = 70) -> str:
    """Title, then each paragraph hard-wrapped, a blank line between paragraphs."""
    return "\n\n".join("\n".join(textwrap.wrap(paragraph, width)) for paragraph in article)


def test_a_page_and_its_hard_wrapped_article_are_one_article_and_another_page_of_the_site_is_not() -> None:
    caps = [
        capture("ferry-page", site_page(FERRY, RELATED, blank_lines=True)),
        capture("ferry-article", article_only(FERRY)),
        capture("library-page", site_page(LIBRARY, RELATED, blank_lines=False)),
    ]
    # The library page's long lines are 0.59 in the ferry page (masthead, related links, footer): over
    # min_containment. Between the masthead and the related links each has its own article; the library
    # page's is 3 long lines (min_own_lines 3), 0.406 of its long-line text (min_own_share 0.1), with a
    # paragraph of 32 words (min_own_paragraph_words 20).
    assert containment_pairs(caps, MatchConfig())["containment"].round(2).to_list() == [1.0, 0.59]
    assert sorted(sorted(g) for g in group_captures(caps, MatchConfig())) == [[0, 1], [2]]
    # Just over each of those measures, the two pages would be one article.
    for cfg in (MatchConfig(min_own_lines=4), MatchConfig(min_own_share=0.41), MatchConfig(min_own_paragraph_words=33)):
        assert sorted(sorted(g) for g in group_captures(caps, cfg)) == [[0, 1, 2]]


def test_a_page_captured_again_with_new_related_links_is_still_one_article() -> None:
    page = capture("ferry-page", site_page(FERRY, [*RELATED, *TEASERS[:2]], blank_lines=True))
    # Two teasers (25-28 words) became two others: on each side 0.17 of the smaller page's long-line text,
    # but 2 lines, under min_own_lines (3).
    teasers = capture("ferry-page-later", site_page(FERRY, [*RELATED, *TEASERS[2:]], blank_lines=False))
    # Three headlines became four others: 0.11 and 0.15 of that text, in 3 and 4 lines, but the longest has
    # 12 words, under min_own_paragraph_words (20).
    headlines = [RELATED[0], *NEW_HEADLINES, RELATED[4], *TEASERS[:2]]
    others = capture("ferry-page-next-day", site_page(FERRY, headlines, blank_lines=False))
    assert group_captures([page, teasers], MatchConfig()) == [[0, 1]]
    assert group_captures([page, others], MatchConfig()) == [[0, 1]]
    assert len(group_captures([page, teasers], MatchConfig(min_own_lines=2))) == 2
    assert len(group_captures([page, others], MatchConfig(min_own_paragraph_words=12))) == 2


# A reference of what containment_pairs computes, one unit and one shingle at a time as first
# written: the vectorized one must find the same capture pairs with the same containment.


def reference_units(capture: Capture) -> list[tuple[str, tuple[str, ...]]]:
    lines = [(line.line_no, line.key, tuple(tokenize(line.key))) for line in capture.lines]
    runs: list[list[tuple[int, str, tuple[str, ...]]]] = []
    for item in lines:
        if runs and item[0] == runs[-1][-1][0] + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    units = []
    for run in runs:
        fits = all(len(key) <= 100 and (i == len(run) - 1 or len(key) >= 50) for i, (_, key, _) in enumerate(run))
        if capture.blank_separated() and len(run) > 1 and fits:
            units.append((" ".join(k for _, k, _ in run), tuple(w for _, _, ws in run for w in ws)))
        else:
            units.extend((key, words) for _, key, words in run)
    return units


def reference_containment(captures: list[Capture], cfg: MatchConfig) -> dict[tuple[int, int], float]:
    units = [reference_units(c) for c in captures]
    k = cfg.shingle_words
    shingles: dict[tuple[int, int], set[str]] = {}
    holders: dict[str, set[int]] = defaultdict(set)
    for c, capture_units in enumerate(units):
        for i, (_, words) in enumerate(capture_units):
            if len(words) >= cfg.min_line_words:
                grams = [words[j : j + k] for j in range(len(words) - k + 1)] if len(words) >= k else [words]
                shingles[c, i] = {" ".join(g) for g in grams}
                for s in shingles[c, i]:
                    holders[s].add(c)
    index: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for unit, grams in shingles.items():
        for s in grams:
            if 1 < len(holders[s]) <= cfg.max_shingle_captures:
                index[s].append(unit)
    shared: Counter[tuple[tuple[int, int], tuple[int, int]]] = Counter()
    for members in index.values():
        for x, y in itertools.combinations(sorted(members), 2):
            if x[0] != y[0]:
                shared[x, y] += 1
    held: dict[tuple[int, int], tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    for (x, y), n in shared.items():
        a, b = units[x[0]][x[1]][0], units[y[0]][y[1]][0]
        scorer = fuzz.partial_ratio if min(len(a), len(b)) < 0.8 * max(len(a), len(b)) else fuzz.ratio
        if n >= 2 and scorer(a, b) >= cfg.line_score_cutoff:
            held[x[0], y[0]][0].add(x[1])
            held[x[0], y[0]][1].add(y[1])
    chars = [max(1, sum(len(u) for u, w in cu if len(w) >= cfg.min_line_words)) for cu in units]
    out = {}
    for (a, b), (on_a, on_b) in held.items():
        held_a, held_b = (sum(len(units[c][i][0]) for i in on) for c, on in ((a, on_a), (b, on_b)))
        out[a, b] = held_a / chars[a] if chars[a] <= chars[b] else held_b / chars[b]
    return out


def synthetic_captures(n_articles: int, seed: int) -> list[Capture]:
    """Captures of synthetic articles (tasks.synth): reflowed, edited, sharing wire paragraphs and quotes."""
    world = make_world(seed, n_articles)
    out = []
    for number in range(n_articles):
        for rendered in render_article(make_article(world, seed, number), world.vocab, seed=seed, article_no=number):
            lines, n = numbered_lines(decode_capture(rendered.data)[0])
            out.append(make_capture(rendered.name, rendered.name, rendered.name, lines, n))
    return out


def odd_captures() -> list[Capture]:
    """Corner cases: a paragraph twice in one capture, a line in many captures, short units."""
    para = article(7)
    boiler = "Sign up for our newsletter to get the best stories every single morning."
    caps = [capture("twice", "\n\n".join([para[0], *para[:5], para[0]]))]
    caps += [capture(f"boiler{i}", "\n".join([boiler, *article(20 + i)])) for i in range(12)]
    caps += [capture("short-a", "council budget river school\nharbor election storm\n" + para[5])]
    caps += [capture("short-b", "council budget river school\nharbor election storm\n" + para[6])]
    return caps


def test_containment_is_that_of_the_reference() -> None:
    caps = synthetic_captures(40, seed=3) + odd_captures()
    for cfg in (MatchConfig(), MatchConfig(min_line_words=2, max_shingle_captures=3), MatchConfig(shingle_words=2)):
        found = containment_pairs(caps, cfg)
        got = dict(zip(zip(found["capture_a"], found["capture_b"], strict=True), found["containment"], strict=True))
        expected = reference_containment(caps, cfg)
        assert got.keys() == expected.keys()
        assert all(abs(got[pair] - expected[pair]) < 1e-9 for pair in expected)


def test_shelved_captures_give_the_containment_of_held_ones(tmp_path: Path) -> None:
    caps = synthetic_captures(30, seed=5) + odd_captures()
    # Two shelf files, like two decoding batches; a held capture among them, like an earlier one read again.
    first = shelve_decoded(DecodedBatch(caps[:20], {}, {}, {}), str(tmp_path)).captures
    second = shelve_decoded(DecodedBatch(caps[21:], {}, {}, {}), str(tmp_path)).captures
    mixed = [*first, caps[20], *second]
    for cfg in (MatchConfig(), MatchConfig(min_line_words=2, max_shingle_captures=3)):
        assert_frame_equal(containment_pairs(mixed, cfg), containment_pairs(caps, cfg))
    units = (np.array([3, 0, 3, 40], np.uint32), np.array([0, 1, 2, 0], np.uint32), np.array([2, 1, 1, 3], np.uint32))
    expected = [" ".join(line.key for line in caps[c].lines[i : i + n]) for c, i, n in zip(*units, strict=True)]
    assert text_keys(mixed, *units) == text_keys(caps, *units) == expected


def test_shingle_hashes_hash_each_window_of_words() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 12, 300)
    words = rng.integers(0, 2**63, int(lengths.sum()), dtype=np.uint64)
    for k in (1, 2, 4, 6):
        count, hashes = shingle_hashes(words, lengths, k)
        starts = np.cumsum(lengths) - lengths
        windows = [
            tuple(words[s + j : s + min(j + k, n)])
            for s, n in zip(starts, lengths, strict=True)
            for j in range(max(n - k + 1, 1))
        ]
        assert count.sum() == len(windows) == len(hashes)
        # Equal windows hash equal; different ones differ.
        assert len(set(windows)) == len(set(hashes.tolist()))
        assert len(set(zip(windows, hashes.tolist(), strict=True))) == len(set(windows))


def _root(parent: list[int], x: int) -> int:
    while parent[x] != x:
        x = parent[x]
    return x


def test_components_are_those_of_union_find() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        a, b = rng.integers(0, n, (2, int(rng.integers(0, 250))))
        parent = list(range(n))
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            low, high = sorted((_root(parent, x), _root(parent, y)))
            parent[high] = low
        assert components(n, a, b).tolist() == [_root(parent, i) for i in range(n)]


@given(st.lists(st.lists(st.integers(1, 3), max_size=12), max_size=8))
def test_blank_separation_at_once_is_that_of_each_capture(gaps_per_capture: list[list[int]]) -> None:
    # Each capture's line numbers from the gaps between its lines (1: none blank between).
    captures = []
    for name, gaps in enumerate(gaps_per_capture):
        numbers = list(itertools.accumulate([1, *gaps]))
        text = "\n".join(f"line {n}" if n in numbers else "" for n in range(1, numbers[-1] + 1))
        captures.append(make_capture(str(name), str(name), str(name), *numbered_lines(text)))
    line_no = np.concatenate([np.zeros(0, np.int64), *(np.frombuffer(c.line_numbers, np.int64) for c in captures)])
    counts = np.array([len(c.line_numbers) for c in captures], np.int64)
    assert blank_separated(line_no, counts).tolist() == [c.blank_separated() for c in captures]


@given(st.lists(st.sampled_from(["the", "war", "putin", "said", "a", "1", "x_y"]), max_size=20), st.integers(2, 6))
def test_line_shingles_are_the_windows_of_k_words(words: list[str], k: int) -> None:
    cfg = MatchConfig(shingle_words=k, min_line_words=2)
    key = " ".join(words)
    window = min(k, len(words))
    expected = [" ".join(words[i : i + window]) for i in range(len(words) - window + 1)] if len(words) >= 2 else []
    assert line_shingles(key, cfg) == expected


def lowest_shingles(key: str, cfg: MatchConfig) -> set[str]:
    """The anchors of one paragraph, one shingle at a time: its distinct shingles of smallest shingle_hash()."""
    ranked = sorted((shingle_hash(s.split(" ")), s) for s in set(line_shingles(key, cfg)))
    return {s for _, s in ranked[:ANCHORS_PER_PARAGRAPH]}


def test_paragraph_anchors_are_the_shingles_of_smallest_hash() -> None:
    cfg = MatchConfig()
    paragraphs = [normalize_key(line.text) for line in gold_lines(SEED_NAMES[0]) if line.role == "body"]
    expected = set().union(*(lowest_shingles(key, cfg) for key in paragraphs))
    anchors = paragraph_anchors(paragraphs, cfg)
    assert anchors == tuple(sorted(expected))
    assert len(anchors) == ANCHORS_PER_PARAGRAPH * len(paragraphs)


@given(
    st.lists(st.lists(st.lists(st.sampled_from(["a", "b", "the", "war"]), max_size=12), max_size=4), max_size=3),
    st.integers(2, 3),
    st.integers(1, 4),
)
def test_paragraph_anchors_with_repeated_shingles(articles: list[list[list[str]]], k: int, min_words: int) -> None:
    """A shingle twice in a paragraph counts once; a paragraph shorter than a shingle is one; a batch of
    articles gets each article's anchors."""
    cfg = MatchConfig(shingle_words=k, min_line_words=min_words)
    expected = [
        tuple(sorted(set().union(*(lowest_shingles(" ".join(words), cfg) for words in paragraphs))))
        for paragraphs in articles
    ]
    assert articles_anchors(articles, cfg) == expected
    assert [paragraph_anchors([" ".join(w) for w in paragraphs], cfg) for paragraphs in articles] == expected


# The frames of two invented sites, in short lines: a name, menus, a box of the most read, footer links.
COURIER_FRAME = (
    ["Harwick Valley Courier", "Home", "Local news", "Sport", "Weather", "Opinion", "Obituaries", "Sign in"],
    ["Most read", "Pike are back", "New tea room", "Crossing patrol", "About us", "Contact the newsroom",
     "Privacy policy", "Terms of use", "Advertise with us"],
)  # fmt: skip
POST_FRAME = (
    ["Tamsin Point Evening Post", "Front page", "Farming", "Sport", "Weather", "Letters", "Jobs", "Log in"],
    ["Popular now", "Harbour dredging delayed", "Lifeboat day", "Our journalists", "Cookie settings",
     "Complaints", "Archive", "Buy a photo"],
)  # fmt: skip
COMMENTS_THREAD = [
    "About time too, the drive round the lake was costing me a fortune in petrol every week",
    "posted by ellery_resident | 15 March 2026 7:48",
    "Will the timetable go back to the old early sailing at six? Some of us start work at seven",
    "posted by boatyard_dave | 15 March 2026 9:30",
]
LATER_COMMENTS = [
    "Took the first crossing this morning and it really is quicker, well done to the engineers",
    "posted by early_commuter | 16 March 2026 8:05",
]


def framed_page(
    frame: tuple[list[str], list[str]], story: Sequence[str], *, related: Sequence[str] = (), thread: Sequence[str] = ()
) -> str:
    """A page of a site: its name and menus, the story, related links, the reader thread, the rest of the frame."""
    top, bottom = frame
    return "\n".join([*top, *story, *related, *thread, *bottom])


def test_one_story_on_two_sites_is_two_articles_and_its_article_only_capture_joins_its_own_page() -> None:
    # The Post runs the wire story without its last paragraph.
    caps = [
        capture("courier", framed_page(COURIER_FRAME, FERRY, related=RELATED)),
        capture("post", framed_page(POST_FRAME, FERRY[:-1])),
        capture("courier-article", article_only(FERRY)),
    ]
    shapes = frame_pairs(caps, MatchConfig()).sort("capture_a", "capture_b")
    # Each holds all of the smaller's long-line text. Outside the story the Courier page shows 17 short
    # lines, the Post 16 (min_frame_lines 10), and of the smaller frame's characters 0.07 are in the
    # other's ("Sport", "Weather"; min_frame_match 0.5): two pages. The article-only capture shows none.
    assert shapes.select("capture_a", "capture_b").rows() == [(0, 1), (0, 2), (1, 2)]
    assert shapes["containment"].to_list() == [1.0, 1.0, 1.0]
    assert shapes["frame_a"].to_list() == [17, 17, 16]
    assert shapes["frame_b"].to_list() == [16, 0, 0]
    assert round(shapes["frame_match"][0], 2) == 0.07
    # The article-only capture matches both pages; the Courier's holds all of it, the Post's 0.78: it joins
    # the Courier's, and the Post's page stays apart instead of joining through it.
    assert sorted(sorted(g) for g in group_captures(caps, MatchConfig())) == [[0, 2], [1]]
    # Just over those measures, the pages are one article.
    for cfg in (MatchConfig(min_frame_lines=17), MatchConfig(min_frame_match=0.06)):
        assert sorted(sorted(g) for g in group_captures(caps, cfg)) == [[0, 1, 2]]
    # The Post's article-only capture is held whole by both pages and by the Courier's article-only capture;
    # it joins the page holding nothing besides it (the Courier's has a paragraph more), and the two
    # article-only captures do not join the pages through each other.
    with_post = [*caps, capture("post-article", article_only(FERRY[:-1], 75))]
    assert frame_pairs(with_post, MatchConfig())["containment"].to_list() == [1.0] * 6
    assert sorted(sorted(g) for g in group_captures(with_post, MatchConfig())) == [[0, 2], [1, 3]]


def test_an_article_only_capture_both_pages_hold_whole_joins_the_page_showing_its_title() -> None:
    story = ["Ferry back in service", *FERRY[1:]]  # a title of 4 words: under min_line_words, not compared
    caps = [
        capture("a-post", framed_page(POST_FRAME, ["Lake ferry sails again", *FERRY[1:]])),
        capture("courier", framed_page(COURIER_FRAME, story, related=RELATED)),
        capture("courier-article", article_only(story)),
    ]
    # Both pages hold all of its long-line text; only the Courier's shows its title. By rank alone (sha256,
    # here the name) it would join the Post's page.
    assert frame_pairs(caps, MatchConfig())["containment"].to_list() == [1.0, 1.0, 1.0]
    assert sorted(sorted(g) for g in group_captures(caps, MatchConfig())) == [[0], [1, 2]]


def test_a_full_page_and_its_hard_wrapped_article_only_capture_are_one_article() -> None:
    page = capture("courier", framed_page(COURIER_FRAME, FERRY, related=RELATED, thread=COMMENTS_THREAD))
    caps = [page, capture("courier-article", article_only(FERRY, 66))]
    # The page shows 17 short lines outside the story, the article-only capture none: no frame to part them,
    # whatever the thresholds.
    shapes = frame_pairs(caps, MatchConfig())
    assert shapes["frame_a"].to_list() == [17]
    assert shapes["frame_b"].to_list() == [0]
    for cfg in (MatchConfig(), MatchConfig(min_frame_lines=1, min_frame_match=1.0)):
        assert group_captures(caps, cfg) == [[0, 1]]


def test_one_page_captured_twice_with_new_comments_and_a_changed_teaser_is_one_article() -> None:
    bottom = COURIER_FRAME[1]
    later_frame = (COURIER_FRAME[0], [*bottom[:3], "Signal box reopens", *bottom[4:]])  # a "Most read" teaser
    first = capture("first", framed_page(COURIER_FRAME, FERRY, related=RELATED[:4], thread=COMMENTS_THREAD))
    later = capture(
        "later", framed_page(later_frame, FERRY, related=RELATED[1:], thread=[*COMMENTS_THREAD, *LATER_COMMENTS])
    )
    shapes = frame_pairs([first, later], MatchConfig())
    # Both show a frame of 17 short lines; 0.92 of the smaller's characters are in the other's (one teaser
    # changed), over min_frame_match (0.5): one page.
    assert shapes["frame_a"].to_list() == [17]
    assert shapes["frame_b"].to_list() == [17]
    assert round(shapes["frame_match"][0], 2) == 0.92
    assert group_captures([first, later], MatchConfig()) == [[0, 1]]
    assert len(group_captures([first, later], MatchConfig(min_frame_match=0.93))) == 2
