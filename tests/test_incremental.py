"""Incremental runs: only new work, nothing doubled, the same archive as one run over everything."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import write_deltalake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import tasks.storage.store as store
from tasks.core.config import MatchConfig
from tasks.core.ids import source_id_of
from tasks.decode import read_all
from tasks.discover import new_captures
from tasks.related import candidate_articles
from tasks.state import read_state
from tasks.storage.store import load_manifest
from tasks.write import read_archive
from tests.helpers import (
    SEED_NAMES,
    SEEDS,
    GoldLine,
    gold_lines,
    newsarchive,
    roles_by_line,
    run_stages,
    write_capture,
)

COMMENTS, META = SEED_NAMES
DAY2 = datetime(2026, 1, 2, tzinfo=UTC)
NEW_COMMENTS = [
    GoldLine("This comment was posted the day after the first capture was taken.", "comment"),
    GoldLine("So was this one, a reply to it.", "comment"),
]


def later_capture(raw: Path) -> None:
    """The comment page scraped a day later: the same thread and two new comments."""
    write_capture(raw / "000-day2.txt", gold_lines(COMMENTS) + NEW_COMMENTS)


def content(tables: dict[str, pl.DataFrame]) -> dict[str | None, dict[str, object]]:
    """What each article says, by title, without ids or times."""

    def of(table: str, article_id: str, order: str) -> pl.DataFrame:
        return tables[table].filter(pl.col("article_id") == article_id).sort(order)

    return {
        article["title"]: {
            "subtitle": article["subtitle"],
            "n_sources": article["n_sources"],
            "paragraphs": of("paragraphs", article["article_id"], "paragraph_no")["text"].to_list(),
            "captions": of("captions", article["article_id"], "after_paragraph_no")
            .select("after_paragraph_no", "text")
            .rows(),
            "comments": of("comments", article["article_id"], "comment_no")["text"].to_list(),
        }
        for article in tables["articles"].iter_rows(named=True)
    }


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    return folder


def copy_seed(raw: Path, name: str, as_name: str | None = None) -> None:
    shutil.copy(SEEDS / f"{name}.txt", raw / (as_name or f"{name}.txt"))


def archive_seeds(raw: Path, out: Path) -> dict[str, pl.DataFrame]:
    """The two seeds archived by a first run: its tables."""
    for name in SEED_NAMES:
        copy_seed(raw, name)
    run_stages(raw, out)
    return read_archive(out)


def assert_a_rerun_changes_nothing(raw: Path, out: Path) -> None:
    """Archive raw, run again a day later: the same version, the same files, the same rows."""
    run_stages(raw, out)
    first, version = read_archive(out), load_manifest(out).version
    files = sorted(p.relative_to(out) for p in out.rglob("*.parquet"))
    run_stages(raw, out, run_at=DAY2)
    assert load_manifest(out).version == version
    assert sorted(p.relative_to(out) for p in out.rglob("*.parquet")) == files
    for table, frame in read_archive(out).items():
        assert_frame_equal(frame, first[table])


def test_a_rerun_changes_nothing(raw: Path, tmp_path: Path) -> None:
    for name in SEED_NAMES:
        copy_seed(raw, name)
    assert_a_rerun_changes_nothing(raw, tmp_path / "out")


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
    out = tmp_path / "out"
    before = archive_seeds(raw, out)
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


def test_an_archive_written_before_segments_had_confidence_reads_it_as_null_and_takes_later_captures(
    raw: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    archive_seeds(raw, out)
    manifest = load_manifest(out)  # a run before the column wrote the segments table without it:
    segments = pl.read_delta(str(out / "segments")).drop("confidence").to_arrow()
    write_deltalake(str(out / "segments"), segments, mode="overwrite", schema_mode="overwrite", partition_by=["bucket"])
    store._record_run(out, manifest.version + 1, "old", "archive", {**manifest.tables, "segments": 1}, {})
    before = read_archive(out)
    assert before["segments"]["confidence"].null_count() == before["segments"].height > 0
    later_capture(raw)
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)["segments"]
    assert after["confidence"].null_count() == 0  # the article was built again, every capture's lines labeled
    assert after.height > before["segments"].height


def test_the_same_bytes_under_another_name_are_a_duplicate(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = archive_seeds(raw, out)
    copy_seed(raw, META, "renamed copy.txt")
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    copy = after["sources"].filter(pl.col("uri") == "renamed copy.txt").row(0, named=True)
    assert (copy["status"], copy["article_id"]) == ("duplicate", before["articles"]["article_id"].item())
    for table in ("articles", "paragraphs", "comments", "captions", "segments", "authors"):
        assert_frame_equal(after[table], before[table])
    run_stages(raw, tmp_path / "once")  # the copy seen in the same run as its twin counts the same
    assert content(read_archive(tmp_path / "once")) == content(after)


def test_a_rerun_beside_a_capture_still_quarantined_changes_nothing(raw: Path, tmp_path: Path) -> None:
    for name in SEED_NAMES:
        copy_seed(raw, name)
    (raw / "empty.txt").write_bytes(b"")  # tried again on the rerun, and failing as before
    assert_a_rerun_changes_nothing(raw, tmp_path / "out")


def test_a_quarantined_capture_once_fixed_leaves_the_quarantine(raw: Path, tmp_path: Path) -> None:
    copy_seed(raw, COMMENTS)
    (raw / "late.txt").write_bytes(b"")  # the scraper had not written it yet
    out = tmp_path / "out"
    run_stages(raw, out)
    assert read_archive(out)["sources"].filter(pl.col("uri") == "late.txt")["status"].to_list() == ["quarantined"]
    copy_seed(raw, META, "late.txt")
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    assert after["sources"].filter(pl.col("uri") == "late.txt")["status"].to_list() == ["archived"]
    assert roles_by_line(after, "late.txt") == {no: g.role for no, g in enumerate(gold_lines(META), 1) if g.role}


def test_a_touched_capture_is_recorded_and_then_not_read_again(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = archive_seeds(raw, out)
    touched = raw / f"{META}.txt"
    os.utime(touched, (DAY2.timestamp(), DAY2.timestamp()))  # same bytes, a new time
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    row = after["sources"].filter(pl.col("uri") == touched.name).row(0, named=True)
    assert row["modified_at"] == DAY2
    assert row["ingested_at"] == before["sources"].filter(pl.col("uri") == touched.name)["ingested_at"].item()
    for table in ("articles", "paragraphs", "comments", "captions", "segments", "authors"):
        assert_frame_equal(after[table], before[table])
    # Other bytes of the same size under the recorded time: a run that read the file would see them.
    data = touched.read_bytes()
    touched.write_bytes(data.replace(b"Putin", b"Pudin"))
    os.utime(touched, (DAY2.timestamp(), DAY2.timestamp()))
    version = load_manifest(out).version
    run_stages(raw, out, run_at=datetime(2026, 1, 3, tzinfo=UTC))
    assert load_manifest(out).version == version


def edited_in_place(path: Path) -> bytes:
    """The file with a comment added, chosen so that the new version's source_id sorts before the old one's:
    stored rows (by uri, then source_id) then come with the old version last."""
    data = path.read_bytes()
    old_id = source_id_of(path.name, hashlib.sha256(data).hexdigest())
    for n in itertools.count():
        edited = data + f"\nComment {n}: posted after the first capture was archived.\n".encode()
        if source_id_of(path.name, hashlib.sha256(edited).hexdigest()) < old_id:
            return edited
    raise AssertionError("unreachable")


@pytest.mark.slow
# Saved now, or copied with its old time; the command itself (a Prefect server to start) reruns one of them.
@pytest.mark.parametrize(("edited_at", "rerun_by_command"), [("a day later", True), ("a year earlier", False)])
def test_a_rerun_after_an_edit_in_place_reads_nothing(
    raw: Path, tmp_path: Path, edited_at: str, rerun_by_command: bool
) -> None:
    """Two versions of a file, a `sources` row each: the rerun finds the file as one of them left it and
    reads nothing (on main it compared with the row stored last, the old version's, and read it on every run)."""
    out = tmp_path / "out"
    archive_seeds(raw, out)
    path = raw / f"{COMMENTS}.txt"
    first_at, first_size = path.stat().st_mtime, path.stat().st_size
    path.write_bytes(edited_in_place(path))
    when = first_at + (86_400 if edited_at == "a day later" else -365 * 86_400)
    os.utime(path, (when, when))
    run_stages(raw, out, run_at=DAY2)
    before = read_archive(out)
    versions = before["sources"].filter(pl.col("uri") == path.name)
    assert versions["status"].to_list() == ["archived", "archived"]
    assert versions["article_id"].n_unique() == 1  # one bucket, in which the old version's row comes last
    assert versions["size_bytes"].to_list() == [path.stat().st_size, first_size]
    assert new_captures(raw, read_state(out).fingerprints()) == ([], 2)  # nothing to read, both unchanged
    if rerun_by_command:
        done = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), home=tmp_path / "home")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "nothing new: 2 captures already archived (1 article)" in done.stdout
    else:
        run_stages(raw, out, run_at=DAY2 + timedelta(days=1))
    for table, frame in read_archive(out).items():
        assert_frame_equal(frame, before[table])


CORPUS = {
    "a.txt": lambda: gold_lines(COMMENTS),
    "b.txt": lambda: gold_lines(META),
    "c.txt": lambda: gold_lines(COMMENTS) + NEW_COMMENTS,
    "d.txt": lambda: [
        GoldLine("Harbor council approves new budget for the river bridge repairs this spring.", "body"),
        GoldLine("The mayor said the vote was the last step before the contract is signed next week.", "body"),
    ],
    "a copy.txt": lambda: gold_lines(COMMENTS),  # the bytes of a.txt: whichever comes first is the capture
}
TWINS = {"a.txt": "a copy.txt", "a copy.txt": "a.txt"}


def archived_roles(tables: dict[str, pl.DataFrame], uri: str) -> dict[int, str]:
    """The roles of a capture's lines, or of its twin's when it is the duplicate."""
    status = tables["sources"].filter(pl.col("uri") == uri)["status"].item()
    return roles_by_line(tables, uri if status == "archived" else TWINS[uri])


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
        assert archived_roles(split, name) == archived_roles(once, name)
    assert split["sources"]["status"].sort().to_list() == once["sources"]["status"].sort().to_list()


@pytest.mark.parametrize("gone", SEED_NAMES)
def test_an_earlier_capture_gone_from_the_raw_directory_loses_nothing_of_the_article(
    raw: Path, tmp_path: Path, gone: str
) -> None:
    """Its stored article stands in for it when a later capture of the article arrives."""
    out = tmp_path / "out"
    before = archive_seeds(raw, out)
    (raw / f"{gone}.txt").unlink()
    later_capture(raw)
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    keep = ["article_id", "title", "subtitle", "author_id", "n_paragraphs"]
    assert_frame_equal(after["articles"].select(keep), before["articles"].select(keep))
    for table in ("authors", "paragraphs", "captions"):
        assert_frame_equal(after[table], before[table])
    old = after["comments"].filter(pl.col("comment_no") < before["comments"].height)
    assert_frame_equal(old, before["comments"])
    assert after["comments"]["text"].to_list()[before["comments"].height :] == [g.text for g in NEW_COMMENTS]
    gone_id = before["sources"].filter(pl.col("uri") == f"{gone}.txt")["source_id"].item()
    assert_frame_equal(  # the lines of the capture that is gone keep the roles they had
        after["segments"].filter(pl.col("source_id") == gone_id),
        before["segments"].filter(pl.col("source_id") == gone_id),
    )


def test_a_stored_article_sharing_paragraphs_with_a_new_one_stays_whole(raw: Path, tmp_path: Path) -> None:
    """A new article quoting two paragraphs of a stored one: the stored one is looked at, not joined,
    and must be left exactly as it was (it lost every row but its sources once)."""
    out = tmp_path / "out"
    before = archive_seeds(raw, out)
    quoted = before["paragraphs"].sort("paragraph_no")["text"].to_list()[2:4]
    own = [
        f"Report {k}: the harbor council met on a {day} to weigh item {k * 7} of the bridge budget, "
        f"worth {k * 1000} dollars, before the {day} vote on repairs to pier number {k + 40}."
        for k, day in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] * 2)
    ]
    (raw / "wire.txt").write_text("\n\n".join(own[:5] + quoted + own[5:]) + "\n", encoding="utf-8")
    state = read_state(out)
    listed, _ = new_captures(raw, state.fingerprints())
    _, batch = read_all(listed)
    stored_id = before["articles"]["article_id"].item()
    assert candidate_articles(batch.captures, state.anchors, MatchConfig()) == {stored_id}  # it is looked at

    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    assert after["articles"].height == 2  # not joined: an article of its own
    for table in ("articles", "paragraphs", "comments", "captions", "segments"):
        stored = pl.col("article_id") == stored_id
        assert_frame_equal(after[table].filter(stored), before[table].filter(stored))


def test_a_capture_touched_while_its_article_takes_a_later_one_still_counts(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    archive_seeds(raw, out)
    os.utime(raw / f"{META}.txt", (DAY2.timestamp(), DAY2.timestamp()))
    later_capture(raw)
    run_stages(raw, out, run_at=DAY2)
    after = read_archive(out)
    assert after["articles"]["n_sources"].item() == 3
    assert after["sources"].filter(pl.col("uri") == f"{META}.txt")["modified_at"].item() == DAY2
