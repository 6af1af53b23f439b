"""`newsarchive run` from the outside: its exit codes, and what it prints after a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import newsarchive, run_stages, without_root_read

COUNTS = {
    "captures": 0, "archived": 0, "duplicates": 0, "quarantined": 0, "articles": 0, "articles_new": 0,
    "articles_updated": 0, "paragraphs": 0, "captions": 0, "comments": 0,
    "captures_archived_before": 100_187, "articles_archived_before": 37_002,
}  # fmt: skip


def test_a_missing_raw_folder_exits_3_and_a_mistyped_flag_2(tmp_path: Path) -> None:
    """3 tells a raw folder not there (a mount not up yet) from a usage error (on main both were 2)."""
    missing = newsarchive("run", "--raw-dir", str(tmp_path / "nope"), "--out-dir", str(tmp_path / "out"),
                          home=tmp_path / "home", timeout=60)  # fmt: skip
    assert missing.returncode == 3, missing.stderr
    assert f"raw directory '{tmp_path / 'nope'}' does not exist" in missing.stderr
    mistyped = newsarchive("run", "--raw-dirr", str(tmp_path), home=tmp_path / "home", timeout=60)
    assert mistyped.returncode == 2
    assert "unrecognized arguments: --raw-dirr" in mistyped.stderr
    assert not (tmp_path / "out").exists()


def test_a_raw_folder_that_cannot_be_listed_exits_3_before_anything_starts(raw: Path, tmp_path: Path) -> None:
    """As a user who may not list it (on main the run started, then failed with exit 1)."""
    prefix = without_root_read(tmp_path)
    raw.chmod(0)
    try:
        done = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(tmp_path / "out"),
                           home=tmp_path / "home", prefix=prefix, timeout=120)  # fmt: skip
    finally:
        raw.chmod(0o755)
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"raw directory '{raw}' cannot be listed: Permission denied" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_run_that_read_nothing_says_nothing_new_and_how_much_is_archived() -> None:
    from flows.cli import RAW_DIR_MISSING, summary_line

    assert RAW_DIR_MISSING == 3
    assert summary_line(COUNTS) == "nothing new: 100187 captures already archived (37002 articles)"
    one = COUNTS | {"captures_archived_before": 1, "articles_archived_before": 1}
    assert summary_line(one) == "nothing new: 1 capture already archived (1 article)"
    read = COUNTS | {"captures": 2, "articles": 1, "paragraphs": 9, "comments": 123}
    assert summary_line(read) == "captures read: 2, articles: 1, paragraphs: 9, comments: 123, quarantined: 0"


@pytest.mark.slow
def test_a_rerun_with_nothing_new_reads_no_file_and_says_so(raw: Path, tmp_path: Path) -> None:
    """On main it printed `captures read: 0, articles: 0, ...`, which read like an empty archive."""
    out = tmp_path / "out"
    run_stages(raw, out)  # the first run, without Prefect
    done = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), home=tmp_path / "home")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "nothing new: 2 captures already archived (1 article)" in done.stdout.splitlines()
    assert "captures read" not in done.stdout
