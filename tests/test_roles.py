"""Roles of a capture without partner, and what the body rule must never do."""

from __future__ import annotations

from tasks.capture import make_capture
from tasks.config import RolesConfig
from tasks.decode import numbered_lines
from tasks.roles import label_group
from tests.helpers import SEED_NAMES, gold_lines


def roles(*texts: str) -> list[tuple[str, ...]]:
    caps = []
    for k, text in enumerate(texts):
        lines, n = numbered_lines(text)
        caps.append(make_capture(str(k), str(k), str(k), lines, n))
    return [lc.roles for lc in label_group(caps, RolesConfig())]


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
