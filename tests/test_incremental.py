"""Incremental runs: only new work, nothing doubled, the same archive as one run over everything."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tasks.store import load_manifest
from tasks.write import read_archive
from tests.helpers import SEED_NAMES, SEEDS, GoldLine, gold_lines, roles_by_line, run_stages, write_capture

COMMENTS, META = SEED_NAMES
DAY2 = datetime(2026, 1, 2, tzinfo=UTC)
NEW_COMMENTS = [
    GoldLine("This comment was posted the day after the first capture was taken.", "comment"),
    GoldLine("So was this one, a reply to it.", "comment"),
]


def later_capture(raw: Path) -> None:
    """The comment page scraped a day later: the same thread and two new comments."""
    write_capture(raw / "000-day2.txt", gold_lines(COMMENTS) + NEW_COMMENTS)


def content(tables: dict[str, pl.DataFrame]) -> dict[str, list[object]]:
    """What an article says, without ids or times."""
    return {
        "titles": tables["articles"].sort("title")["title"].to_list(),
        "paragraphs": tables["paragraphs"].sort("paragraph_no")["text"].to_list(),
        "captions": tables["captions"].select("after_paragraph_no", "text").rows(),
        "comments": tables["comments"].sort("comment_no")["text"].to_list(),
    }


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    return folder


def copy_seed(raw: Path, name: str, as_name: str | None = None) -> None:
    shutil.copy(SEEDS / f"{name}.txt", raw / (as_name or f"{name}.txt"))


def test_a_rerun_changes_nothing(raw: Path, tmp_path: Path) -> None:
    for name in SEED_NAMES:
        copy_seed(raw, name)
    out = tmp_path / "out"
    run_stages(raw, out)
    first, version = read_archive(out), load_manifest(out).version
    files = sorted(p.relative_to(out) for p in out.rglob("*.parquet"))
    run_stages(raw, out, run_at=DAY2)
    assert load_manifest(out).version == version
    assert sorted(p.relative_to(out) for p in out.rglob("*.parquet")) == files
    for table, frame in read_archive(out).items():
        assert_frame_equal(frame, first[table])


def test_captures_in_two_runs_give_the_archive_of_one(raw: Path, tmp_path: Path) -> None:
    copy_seed(raw, COMMENTS)
    run_stages(raw, tmp_path / "split")
    article_id = read_archive(tmp_path / "split")["articles"]["article_id"].item()
    copy_seed(raw, META)
    run_stages(raw, tmp_path / "split", run_at=DAY2)
    run_stages(raw, tmp_path / "once")
    split, once = read_archive(tmp_path / "split"), read_archive(tmp_path / "once")
    assert content(split) == content(once)
    article = split["articles"].row(0, named=True)
    assert article["article_id"] == article_id  # the stored article keeps its id
    assert (article["n_sources"], article["last_seen_at"]) == (2, DAY2)
    for name in SEED_NAMES:
        expected = {no: g.role for no, g in enumerate(gold_lines(name), start=1) if g.role}
        assert roles_by_line(split, f"{name}.txt") == expected


def test_a_later_capture_appends_its_new_comments(raw: Path, tmp_path: Path) -> None:
    for name in SEED_NAMES:
        copy_seed(raw, name)
    out = tmp_path / "out"
    run_stages(raw, out)
    before = read_archive(out)
    later_capture(raw)
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    assert after["articles"]["article_id"].to_list() == before["articles"]["article_id"].to_list()
    old = after["comments"].filter(pl.col("comment_no") < before["comments"].height)
    assert_frame_equal(old, before["comments"])
    new = after["comments"].filter(pl.col("comment_no") >= before["comments"].height)
    assert new["text"].to_list() == [g.text for g in NEW_COMMENTS]
    assert_frame_equal(after["paragraphs"], before["paragraphs"])
    assert after["articles"]["n_sources"].item() == 3
    # Each old comment is now in two captures: one of its two segments is the duplicate.
    comment_segments = after["segments"].filter(pl.col("role") == "comment")
    assert comment_segments["duplicate"].sum() == before["comments"].height


def test_the_same_bytes_under_another_name_are_a_duplicate(raw: Path, tmp_path: Path) -> None:
    for name in SEED_NAMES:
        copy_seed(raw, name)
    out = tmp_path / "out"
    run_stages(raw, out)
    before = read_archive(out)
    copy_seed(raw, META, "renamed copy.txt")
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    copy = after["sources"].filter(pl.col("uri") == "renamed copy.txt").row(0, named=True)
    assert (copy["status"], copy["article_id"]) == ("duplicate", before["articles"]["article_id"].item())
    for table in ("paragraphs", "comments", "captions", "segments", "authors"):
        assert_frame_equal(after[table], before[table])


CORPUS = {
    "a.txt": lambda: gold_lines(COMMENTS),
    "b.txt": lambda: gold_lines(META),
    "c.txt": lambda: gold_lines(COMMENTS) + NEW_COMMENTS,
    "d.txt": lambda: [
        GoldLine("Harbor council approves new budget for the river bridge repairs this spring.", "body"),
        GoldLine("The mayor said the vote was the last step before the contract is signed next week.", "body"),
    ],
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 2), min_size=len(CORPUS), max_size=len(CORPUS)))
def test_random_splits_into_runs_give_the_archive_of_one_run(tmp_path: Path, batches: list[int]) -> None:
    work = tmp_path / f"split-{''.join(map(str, batches))}"
    shutil.rmtree(work, ignore_errors=True)
    raw, split_out, once_out = work / "raw", work / "split", work / "once"
    raw.mkdir(parents=True)
    for run in range(3):
        for (name, lines), batch in zip(CORPUS.items(), batches, strict=True):
            if batch == run:
                write_capture(raw / name, lines())
        run_stages(raw, split_out, run_at=datetime(2026, 1, 1 + run, tzinfo=UTC))
    run_stages(raw, once_out)
    split, once = read_archive(split_out), read_archive(once_out)
    assert content(split) == content(once)
    for name in CORPUS:
        assert roles_by_line(split, name) == roles_by_line(once, name)
