"""`newsarchive history`, `compact` and `migrate` on real archives, and earlier runs read back."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from bench.seeds import SEED_NAMES, SEEDS
from flows.cli import main
from tasks.core.schema import TABLES
from tasks.storage.store import ArchiveDamaged, OldLayout, bucket_of, load_manifest, publish, run_rows
from tasks.write import read_archive
from tests.helpers import run_stages

DAY1, DAY2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, dict[str, pl.DataFrame]]:
    """An archive of one seed, then of both: the first run's tables with it."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    shutil.copy(SEEDS / f"{SEED_NAMES[0]}.txt", raw)
    run_stages(raw, out, run_at=DAY1)
    first = read_archive(out)
    shutil.copy(SEEDS / f"{SEED_NAMES[1]}.txt", raw)
    run_stages(raw, out, run_at=DAY2)
    return out, first


def test_history_lists_each_run_with_what_it_read(
    two_runs: tuple[Path, dict[str, pl.DataFrame]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = two_runs
    assert main(["history", "--out-dir", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["run", "0"], ["run", "1"], ["run", "2"]]
    assert "the archive created" in lines[0]
    assert "1 captures read (1 archived, 0 quarantined); articles: 1 new, 0 updated" in lines[1]
    assert "1 captures read (1 archived, 0 quarantined); articles: 0 new, 1 updated" in lines[2]


def test_an_earlier_run_reads_back_as_it_was(two_runs: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    out, first = two_runs
    earlier = read_archive(out, run=1)
    for table in TABLES:
        assert_frame_equal(earlier[table], first[table])
    assert read_archive(out)["sources"].height == first["sources"].height + 1


def test_compact_keeps_the_rows_and_records_a_run(
    two_runs: tuple[Path, dict[str, pl.DataFrame]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = two_runs
    before = read_archive(out)
    files = len(list(out.glob("*/bucket=*/*.parquet")))
    assert main(["compact", "--out-dir", str(out), "--keep-hours", "0"]) == 0
    assert "compacted: the archive is at version 3" in capsys.readouterr().out
    after = read_archive(out)
    for table in TABLES:
        assert_frame_equal(after[table], before[table])
    assert len(list(out.glob("*/bucket=*/*.parquet"))) < files


def test_migrate_converts_an_archive_of_the_old_layout(tmp_path: Path, two_runs: tuple[Path, Path]) -> None:
    out, _ = two_runs
    expected = read_archive(out)
    old = tmp_path / "old"
    listed: dict[str, dict[str, str]] = {}
    for table, frame in expected.items():  # written as the layout before Delta tables wrote it
        name = f"{table}/bucket=00/part-000001-old.parquet"
        (old / name).parent.mkdir(parents=True)
        frame.write_parquet(old / name)
        listed[table] = {"0": name}
    (old / "_manifest.json").write_text(json.dumps({"version": 1, "tables": listed}))
    with pytest.raises(OldLayout, match="newsarchive migrate"):  # what a run says, before anything else
        read_archive(old)
    assert main(["migrate", "--out-dir", str(old)]) == 0
    migrated = read_archive(old)
    for table in TABLES:
        assert_frame_equal(migrated[table], expected[table])


def test_history_of_a_folder_without_an_archive_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--out-dir", str(tmp_path / "none")]) == 1
    assert "no archive at" in capsys.readouterr().err


def comments_file(out: Path) -> Path:
    """A data file of the comments table's current version (the folder also holds files replaced since)."""
    return Path(sorted(DeltaTable(str(out / "comments")).file_uris())[0])


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_a_damaged_table_file_is_named_by_verify_and_refused_by_the_next_run(
    two_runs: tuple[Path, dict[str, pl.DataFrame]], capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    out, _ = two_runs
    assert main(["verify", "--out-dir", str(out)]) == 0
    capsys.readouterr()
    damaged = comments_file(out)
    if damage == "truncated":
        damaged.write_bytes(damaged.read_bytes()[:100])
    else:
        damaged.unlink()
    assert main(["verify", "--out-dir", str(out)]) == 1
    said = capsys.readouterr().out
    assert damaged.name in said
    assert ("is missing" if damage == "deleted" else "has 100 bytes") in said
    with pytest.raises(ArchiveDamaged, match="newsarchive verify"):
        run_stages(out.parent / "raw", out, run_at=DAY2)


def test_verify_finds_a_reference_that_points_nowhere(
    two_runs: tuple[Path, dict[str, pl.DataFrame]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = two_runs
    comments = read_archive(out)["comments"]
    orphan = comments.head(1).with_columns(pl.lit("ffffffffffffffff").alias("article_id"))
    publish(out, load_manifest(out), {"comments": {bucket_of("ffffffffffffffff"): orphan}}, "hand-edit")
    assert main(["verify", "--out-dir", str(out)]) == 1
    assert "comments: rows point at an article that does not exist" in capsys.readouterr().out


def test_a_run_after_compact_finds_the_tables_as_the_compaction_left_them(
    two_runs: tuple[Path, dict[str, pl.DataFrame]],
) -> None:
    """VACUUM is a commit of its own: made after the compaction's row of `_runs`, it left every table whose old
    files it removed ahead of the last complete run, and the next run failed putting back a change of no file."""
    out, _ = two_runs
    assert main(["compact", "--out-dir", str(out), "--keep-hours", "0"]) == 0
    raw = out.parent / "raw"
    shutil.copy(SEEDS / f"{SEED_NAMES[0]}.txt", raw / "again.txt")  # a duplicate: a row of `sources` to write
    run_stages(raw, out, run_at=DAY2)
    runs = run_rows(out)
    assert runs["kind"].to_list() == ["create", "archive", "archive", "compact", "archive"]
    assert read_archive(out)["sources"].filter(pl.col("uri") == "again.txt")["status"].to_list() == ["duplicate"]
