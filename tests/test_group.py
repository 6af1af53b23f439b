"""Grouping: the seeds form one article; articles sharing a quote or wire paragraph do not."""

from __future__ import annotations

import random

from tasks.capture import Capture, make_capture
from tasks.config import MatchConfig
from tasks.decode import numbered_lines
from tasks.group import containment_pairs, group_captures
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
    import textwrap

    paragraphs = [g.text for g in gold_lines(SEED_NAMES[1]) if g.role == "body"]
    wrapped = ["\n\n".join("\n".join(textwrap.wrap(p, width)) for p in paragraphs) for width in (72, 61)]
    caps = [capture("w72", wrapped[0]), capture("w61", wrapped[1])]
    # No wrapped line of one is a line of the other; their paragraphs are the same.
    assert not {line.key for line in caps[0].lines} & {line.key for line in caps[1].lines} - {""}
    assert [sorted(g) for g in group_captures(caps, MatchConfig())] == [[0, 1]]
