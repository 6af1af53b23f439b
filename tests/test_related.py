"""Earlier captures read again: only where the listing would read them, never out of the raw directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tasks.related import reread_capture
from tasks.write import read_archive
from tests.helpers import SEED_NAMES, SEEDS, GoldLine, gold_lines, run_stages, write_capture
from tests.test_bad_input import release_a_blocked_reader

COMMENTS, META = SEED_NAMES
SEED = f"{COMMENTS}.txt"
DAY2 = datetime(2026, 1, 2, tzinfo=UTC)
NEW_COMMENT = GoldLine("This comment was posted the day after the first capture was taken.", "comment")

_opened: list[str] = []
_recording: list[bool] = []  # non-empty while a test records; the hook stays installed, idle


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _recording and isinstance(args[0], str | bytes | os.PathLike):
        _opened.append(os.fsdecode(args[0]))


@contextmanager
def opened_paths() -> Iterator[list[str]]:
    """Every path this process opens meanwhile (the "open" audit event of open() and os.open())."""
    if not getattr(sys, "_newsarchive_audit", False):  # an audit hook cannot be removed: installed once
        sys.addaudithook(_audit)
        sys._newsarchive_audit = True  # type: ignore[attr-defined]
    _opened.clear()
    _recording.append(True)
    try:
        yield _opened
    finally:
        _recording.clear()


def link_out(raw: Path, path: Path) -> None:
    """The file's name now a link to a copy of the same bytes outside the raw directory."""
    outside = raw.parent / "outside" / path.name
    outside.parent.mkdir()
    shutil.copy(path, outside)
    path.unlink()
    path.symlink_to(outside)


def remove(raw: Path, path: Path) -> None:
    path.unlink()


def two_runs(work: Path, change_earlier: Callable[[Path, Path], None]) -> tuple[dict[str, pl.DataFrame], list[str]]:
    """The seeds archived; one seed changed; a later capture of their article added and archived.

    The later capture makes the second run read the article's earlier captures again.
    """
    raw, out = work / "raw", work / "out"
    raw.mkdir(parents=True)
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")
    run_stages(raw, out)
    change_earlier(raw, raw / SEED)
    write_capture(raw / "000-day2.txt", [*gold_lines(COMMENTS), NEW_COMMENT])
    with opened_paths() as opened:
        run_stages(raw, out, run_at=DAY2)
    return read_archive(out), list(opened)


def test_an_earlier_capture_now_a_link_out_of_the_raw_directory_is_not_read(tmp_path: Path) -> None:
    linked, opened = two_runs(tmp_path / "linked", link_out)
    outside = tmp_path / "linked" / "outside" / SEED
    assert not [p for p in opened if Path(p).resolve() == outside.resolve()], "the file outside was read"
    # The stored article stands in for it, as for a file that is gone (README, "Only new work").
    gone, _ = two_runs(tmp_path / "gone", remove)
    link_row = linked["sources"].filter(pl.col("status") == "quarantined").row(0, named=True)
    assert (link_row["uri"], link_row["error"]) == (SEED, "symbolic link leads outside the raw directory; not followed")
    for table, frame in linked.items():
        if table == "sources":
            frame = frame.filter(pl.col("status") != "quarantined").drop("modified_at")
            assert_frame_equal(frame, gone[table].drop("modified_at"))
        else:
            assert_frame_equal(frame, gone[table], check_row_order=False)


def fifo_in_place(raw: Path, path: Path) -> None:
    data = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    release_a_blocked_reader(path, data)  # the capture's bytes: a blocked reader would take them as the capture


def folder_linked(raw: Path, path: Path) -> None:
    """The capture's folder now a link to another folder of the raw directory holding the same bytes."""
    other = raw / "other"
    other.mkdir()
    shutil.copy(path, other / path.name)
    shutil.rmtree(path.parent)
    path.parent.symlink_to(other)


def link_inside(raw: Path, path: Path) -> None:
    """A link to a copy inside the raw directory: the listing follows it, and so does reading again."""
    inside = raw / "copy.txt"
    shutil.copy(path, inside)
    path.unlink()
    path.symlink_to(inside)


# name: (change to the earlier capture's file, read again?)
CHANGES: dict[str, tuple[Callable[[Path, Path], None], bool]] = {
    "unchanged": (lambda raw, path: None, True),
    "a link to a copy inside the raw directory": (link_inside, True),
    "a link to a copy outside the raw directory": (link_out, False),
    "its folder a link to a folder with a copy": (folder_linked, False),
    "a named pipe": (fifo_in_place, False),
    "removed": (remove, False),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_reread_capture_follows_the_listing_rules(tmp_path: Path, change: str) -> None:
    make, read_again = CHANGES[change]
    raw = tmp_path / "raw"
    (raw / "day1").mkdir(parents=True)
    data = (SEEDS / SEED).read_bytes()
    (raw / "day1" / SEED).write_bytes(data)
    row = {"uri": f"day1/{SEED}", "sha256": hashlib.sha256(data).hexdigest(), "source_id": "s1"}
    make(raw, raw / "day1" / SEED)
    capture = reread_capture(raw, row)  # a named pipe opened to be read would wait here for a writer
    assert (capture is not None) == read_again
