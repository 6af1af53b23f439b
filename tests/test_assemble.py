"""Assembly's lineage: each segment carries the mean confidence of its lines' role."""

from __future__ import annotations

import pytest

from tasks.articles.assemble import segment_of, units_of
from tasks.articles.roles import LabeledCapture, Role
from tasks.core.capture import make_capture
from tasks.core.lines import numbered_lines

# A title, then two paragraphs set off by blank lines, the first wrapped over three lines.
PAGE = "Bridge Closes\n\nThe council voted\non Tuesday to close\nthe bridge.\n\nRepairs take a year."
ROLES: tuple[Role, ...] = ("title", "body", "body", "body", "body")


def segments(confidence: tuple[float, ...] | None) -> list[tuple[int, int, str, float | None]]:
    lines, n = numbered_lines(PAGE)
    labeled = LabeledCapture(make_capture("s", "s", "s", lines, n), ROLES, None, False, confidence)
    return [(s.line_start, s.line_end, s.role, s.confidence) for s in map(segment_of, units_of(labeled))]


def test_a_wrapped_paragraph_has_the_mean_confidence_of_its_lines() -> None:
    assert segments((0.9, 0.5, 0.6, 0.8, 0.25)) == [
        (1, 1, "title", 0.9),
        (3, 5, "body", pytest.approx(1.9 / 3)),  # (0.5 + 0.6 + 0.8) / 3
        (7, 7, "body", 0.25),
    ]


def test_lines_the_rules_alone_labeled_have_no_confidence() -> None:
    assert [confidence for *_, confidence in segments(None)] == [None, None, None]
