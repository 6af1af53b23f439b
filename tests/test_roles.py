"""Roles of a capture without partner, of comment threads without heading, and what the body rule must never do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.articles import cues as layout
from tasks.articles.align import Echoes, echoed_lines
from tasks.articles.cues import comment_form, is_boilerplate, is_closing_furniture
from tasks.articles.roles import _first_quote, label_all, label_group
from tasks.core.capture import Capture, make_capture
from tasks.core.config import RolesConfig
from tasks.core.lines import numbered_lines
from tests.helpers import SEED_NAMES, gold_lines

# Four paragraphs of 31-35 words and five reader comments of 5-10 words.
PARAGRAPHS = [
    "The city council voted on Tuesday to close the old harbour bridge for repairs, a decision that will divert "
    "about twelve thousand cars a day onto the ring road until the end of next year.",
    "Engineers found cracks in two of the steel girders during an inspection in March, and the transport "
    "committee said the bridge could no longer carry heavy lorries safely across the river.",
    "Shop owners on the harbour front warned that the closure would cost them customers in the busiest months, "
    "and several asked the council to stage the work over two winters instead.",
    "The mayor said the council had looked at every option but that the safety of drivers and pedestrians had "
    "to come first, adding that a temporary ferry would run from May onwards.",
]
COMMENTS = [
    "About time, that bridge has been falling apart for years.",
    "Who is paying for the ferry?",
    "my shop is on the front and nobody asked us",
    "Stage it over two winters, like they did in the north.",
    "The ring road is already jammed every morning!",
]
BODY, COMMENT = ("body",) * len(PARAGRAPHS), ("comment",) * len(COMMENTS)


def capture(text: str, name: str = "0") -> Capture:
    lines, n = numbered_lines(text)
    return make_capture(name, name, name, lines, n)


def roles(*texts: str) -> list[tuple[str, ...]]:
    return [lc.roles for lc in label_group([capture(t, str(k)) for k, t in enumerate(texts)], RolesConfig())]


def thread(*lines: str) -> str:
    """A comment-page capture: one paragraph or comment a line, no blank lines."""
    return "\n".join(lines)


def test_lone_metadata_capture_follows_its_gold() -> None:
    lines = gold_lines(SEED_NAMES[1])
    expected = tuple(g.role for g in lines if g.role)
    assert roles("\n".join(g.text for g in lines)) == [expected]


def test_lone_capture_without_byline_is_body_up_to_a_comments_heading() -> None:
    text = "\n".join(["First paragraph of the story is here.", "Second paragraph.", "3 Comments", "Nice.", "Bad."])
    assert roles(text) == [("body", "body", "boilerplate", "comment", "comment")]


def test_lone_capture_without_any_marker_keeps_everything_as_body() -> None:
    assert roles("One line of text.\nAnother line of text.") == [("body", "body")]


def test_by_at_the_start_of_a_comment_is_no_byline() -> None:
    lines = gold_lines(SEED_NAMES[0])
    text = "\n".join(g.text for g in lines)
    # Line 25 starts "By promising to finish the war..."; alone, nothing marks comments.
    labeled = roles(text)[0]
    assert "byline" not in labeled


def test_lone_comments_seed_follows_its_gold() -> None:
    # No heading: line 11 quotes line 10, so the thread has begun there; the nine lines above are paragraphs.
    lines = gold_lines(SEED_NAMES[0])
    assert roles("\n".join(g.text for g in lines)) == [tuple(g.role for g in lines if g.role)]


def test_snapshots_without_heading_keep_their_shared_comments_out_of_the_body() -> None:
    # The later snapshot's two new comments show a thread; it reaches back over the short shared ones.
    earlier, later = thread(*PARAGRAPHS, *COMMENTS[:2]), thread(*PARAGRAPHS, *COMMENTS)
    assert roles(earlier, later) == [BODY + COMMENT[:2], BODY + COMMENT]


def test_a_headline_both_snapshots_have_is_a_title() -> None:
    headline = "Harbour Bridge to Close for a Year of Repairs"
    labeled = roles(thread(headline, *PARAGRAPHS, *COMMENTS[:2]), thread(headline, *PARAGRAPHS, *COMMENTS))
    assert labeled == [("title", *BODY, *COMMENT[:2]), ("title", *BODY, *COMMENT)]


def test_a_truncated_latest_snapshot_leaves_the_earlier_ones_paragraphs_in_the_body() -> None:
    # The earlier snapshot has no comment of the latest one: it has no comments yet, its last paragraph is body.
    earlier, latest = thread(*PARAGRAPHS), thread(*PARAGRAPHS[:3], *COMMENTS)
    assert roles(earlier, latest) == [BODY, BODY[:3] + COMMENT]


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        ("divert about twelve thousand cars a day", BODY + COMMENT),  # 7 words: a quote, the thread has begun
        ("about twelve thousand cars a day", BODY + ("body",) * len(COMMENTS)),  # 6 words: nothing shows a thread
    ],
)
def test_a_comment_quoting_the_article_starts_the_thread_of_a_lone_capture(
    quote: str, expected: tuple[str, ...]
) -> None:
    comments = [COMMENTS[0], f"\u201c{quote}\u201d Nonsense.", *COMMENTS[2:]]
    assert roles(thread(*PARAGRAPHS, *comments)) == [expected]


@pytest.mark.parametrize(
    ("repeated", "role"),
    [
        ("a decision that will divert about twelve thousand", "body"),  # 8 words in a paragraph: a name, no quote
        ("a decision that will divert about twelve thousand cars a day onto", "comment"),  # 12 words: a quote
    ],
)
def test_a_paragraph_shaped_line_must_repeat_more_to_quote(repeated: str, role: str) -> None:
    rest = (
        "through their quiet streets, so the council promised more buses, a new crossing and a free ferry for the year."
    )
    line = f"Residents fear {repeated} {rest}"
    assert len(line.split()) >= 30  # shaped like a paragraph
    assert roles(thread(*PARAGRAPHS, line)) == [(*BODY, role)]


def test_closing_furniture_ends_the_article_of_a_lone_capture() -> None:
    labeled = roles(thread(*PARAGRAPHS, "Share this article", *COMMENTS[:2]))
    assert labeled == [(*BODY, "boilerplate", *COMMENT[:2])]


def test_the_thread_never_opens_with_a_paragraph_shaped_line() -> None:
    # The quote at the last line is the sure sign; the paragraphs before the short comments stay body.
    quoting = "\u201cthe safety of drivers and pedestrians had to come first\u201d Sure."
    assert roles(thread(*PARAGRAPHS, *COMMENTS[:3], quoting)) == [(*BODY, *COMMENT[:3], "comment")]


def test_a_credit_at_the_end_makes_a_shared_line_a_caption() -> None:
    caption = "Engineers inspect the harbour bridge in March (AP)"
    header, footer = ["Harbour Bridge to Close", "Repairs will take a year."], ["By Jane Doe", "Jane Doe covers roads."]
    page = "\n\n".join([*header, *PARAGRAPHS[:2], caption, *PARAGRAPHS[2:], *footer])
    expected = ("title", "subtitle", "body", "body", "caption", "body", "body", "byline", "author_bio")
    assert roles(page, page.replace("\n\n", "\n\n\n")) == [expected, expected]


def test_a_hard_wrapped_paragraph_is_body_line_by_line() -> None:
    # One wrapped line ends "... the photo" (no full stop) and the last is "said.", which three articles share.
    pages = []
    for k, place in enumerate(("harbour", "river", "canal")):
        wrapped = [
            f"Engineers found cracks in the {place} bridge girders during",
            "an inspection, and the inspector who took the photo",
            "of the damage in March told reporters the structure was safe",
            "for cars but not for lorries, the mayor of the city",
            "said.",
        ]
        header = [f"The {place.title()} Bridge Closes", f"Repairs on the {place} will take a year."]
        text = "\n\n".join([*header, "\n".join(wrapped), PARAGRAPHS[k], "By Jane Doe"])
        pages.append(capture(text, str(k)))
    for group in label_all(pages, [[0], [1], [2]], RolesConfig()):
        assert group[0].roles == ("title", "subtitle", *["body"] * 6, "byline")


def test_comment_form_on_both_sides_of_its_thresholds() -> None:
    assert comment_form("Who is paying for the ferry?") == 1  # a question
    assert comment_form(COMMENTS[0]) == 1  # 10 words
    assert comment_form(" ".join(["word"] * 19) + ".") == 1  # 19 words: short
    assert comment_form(" ".join(["Word"] * 20) + ".") == 0  # 20 words: undecided
    assert comment_form(" ".join(["Word"] * 29) + ".") == 0  # 29 words: undecided
    assert comment_form(" ".join(["Word"] * 30) + ".") == -1  # 30 words ending in a full stop: a paragraph
    assert comment_form(" ".join(["word"] * 30) + ".") == 1  # ... unless it starts in lower case
    assert comment_form(PARAGRAPHS[0]) == -1


def test_copyright_and_closing_furniture() -> None:
    assert is_boilerplate("copyright 2024 the harbour times")
    assert is_closing_furniture("© the harbour times")
    assert not is_boilerplate("copyright law says you cannot do that, so stop.")
    assert not is_boilerplate("read more about how the council " + "spent the money on the bridge " * 3)
    assert is_boilerplate("advertisement")
    assert not is_closing_furniture("advertisement")  # it interrupts a body, it does not close it


def test_echoed_lines_find_lines_repeating_an_earlier_run_of_words() -> None:
    page = capture(thread("one two three four five six seven eight", "zero two three four five six seven eight nine",
                          "one two three four five six", "two three four five six seven eight"))  # fmt: skip
    assert np.flatnonzero(echoed_lines(page, min_run=7)).tolist() == [1, 3]
    assert np.flatnonzero(echoed_lines(page, min_run=8)).tolist() == []


def test_the_echoes_of_the_first_lines_need_only_those_lines() -> None:
    firsts = [0, 1, 2, 10, 20, 21, 40, 60, 61, 62, 70, 1, 80]  # a line one word on repeats 7 words of the last
    echoes = Echoes(capture(thread(*(" ".join(f"w{i + k}" for k in range(8)) for i in firsts))))
    assert np.flatnonzero(echoes.lines(7)).tolist() == [1, 2, 5, 8, 9, 11]
    for upto in (0, 1, 4, 9, 12, 13):
        assert echoes.lines(7, upto).tolist() == echoes.lines(7)[:upto].tolist()


def test_a_quote_far_down_a_long_capture_is_found() -> None:
    """Past the stretch of lines searched first: each next stretch is searched in turn."""
    lines = [f"entry{i} number{i} stands{i} alone{i}" for i in range(9_000)]
    lines[8_000] = "as entry5 number5 stands5 alone5 entry6 number6 stands6 said"  # 7 words of lines 5 and 6
    page = capture(thread(*lines))
    assert _first_quote(page, Echoes(page), after=0) is None  # a run of words across two lines is no quote
    lines[8_000] = "so entry5 number5 stands5 alone5 entry5 number5 stands5 right"
    lines[5] = "entry5 number5 stands5 alone5 entry5 number5 stands5 alone5"
    page = capture(thread(*lines))
    assert _first_quote(page, Echoes(page), after=0) == 8_000
    assert _first_quote(page, Echoes(page), after=8_000) is None


_LINE_ENDS = st.text(alphabet=st.sampled_from([*"ab (). !?'\"", "\u201d", "\u2019", "\n"]), max_size=60)


@given(_LINE_ENDS)
def test_line_end_shortcuts_agree_with_searching_the_whole_line(text: str) -> None:
    # ends_sentence and the credit test look at a line's last characters only.
    assert layout.ends_sentence(text) == bool(layout._SENTENCE_END.search(text))
    credited = bool(
        layout.CAPTION_HINT.search(text) or layout._CREDIT.search(text)
    ) and not layout._SENTENCE_END.search(text)
    assert layout.is_credited_caption(text, text) == credited
