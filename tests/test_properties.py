"""Invariants over generated inputs: lineage covers every line once, order does not matter."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.helpers import SEED_NAMES, GoldLine, archive_tables, gold_lines, write_capture

ALL_LINES = [g for name in SEED_NAMES for g in gold_lines(name) if g.text.strip()]


@st.composite
def capture_sets(draw: st.DrawFn) -> list[list[GoldLine]]:
    """One to three captures, each an ordered selection of seed lines with random blank lines."""
    captures = []
    for _ in range(draw(st.integers(1, 3))):
        picks = sorted(draw(st.sets(st.integers(0, len(ALL_LINES) - 1), min_size=1, max_size=40)))
        lines: list[GoldLine] = []
        for index in picks:
            if draw(st.booleans()):
                lines.append(GoldLine("", None))
            lines.append(ALL_LINES[index])
        captures.append(lines)
    return captures


def archive(captures: list[list[GoldLine]], names: list[str]) -> dict[str, pl.DataFrame]:
    with tempfile.TemporaryDirectory() as raw:
        for name, lines in zip(names, captures, strict=True):
            write_capture(Path(raw) / name, lines)
        return archive_tables(Path(raw))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capture_sets())
def test_every_non_blank_line_lies_in_exactly_one_segment(captures: list[list[GoldLine]]) -> None:
    names = [f"c{k}.txt" for k in range(len(captures))]
    tables = archive(captures, names)
    for name, lines in zip(names, captures, strict=True):
        row = tables["sources"].filter(pl.col("uri") == name).row(0, named=True)
        if row["status"] == "duplicate":
            continue
        segments = tables["segments"].filter(pl.col("source_id") == row["source_id"])
        covered = sorted(n for s, e in segments.select("line_start", "line_end").iter_rows() for n in range(s, e + 1))
        assert covered == [no for no, g in enumerate(lines, start=1) if g.text.strip()]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capture_sets(), st.randoms())
def test_file_names_and_order_change_no_article(captures: list[list[GoldLine]], rng: object) -> None:
    names = [f"c{k}.txt" for k in range(len(captures))]
    shuffled = names[:]
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    first = archive(captures, names)
    second = archive(captures, shuffled)
    for table in ("articles", "paragraphs", "captions", "comments"):
        assert_frame_equal(first[table], second[table])
