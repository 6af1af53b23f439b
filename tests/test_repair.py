"""`newsarchive repair`: the buckets an archive's damaged files spoil, rebuilt from the raw captures as one run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from bench.same_archive import archive_tables, differences, table_content
from flows.cli import main
from tasks.storage.store import ArchiveDamaged, bucket_of, find_damage, load_manifest, run_rows
from tasks.synth.corpus import write_corpus
from tasks.write import read_archive
from tests.helpers import REPO, run_stages

DAY1, DAY2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


@dataclass(frozen=True)
class Damaged:
    """An archive of a small synthetic corpus with two of its files damaged, a copy of it before, and a clean
    archive of the same raw folder (one run)."""

    raw: Path
    out: Path
    before: Path
    clean: Path
    buckets: tuple[int, int]  # the buckets of the truncated comments file and the deleted paragraphs file
    runs: int  # that archived it


def newsarchive(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, as `python -m flows.cli` (this checkout's code, whichever the
    environment's script would run)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def assert_as_before(damaged: Damaged) -> None:
    """The repaired archive holds what it held before the damage.

    Archived in two runs, a capture's lines were labeled among the captures of its own run: a rebuild of all of
    them gave 18 lines of one capture a confidence 0.001-0.004 apart, the same roles (as a clean run has them).
    """
    if damaged.runs == 1:
        assert differences(damaged.out, damaged.before) == []
        return
    after, before = archive_tables(damaged.out), archive_tables(damaged.before)
    assert sorted(after) == sorted(before)
    for table in after:
        assert_frame_equal(
            table_content(after[table].drop("confidence", strict=False)),
            table_content(before[table].drop("confidence", strict=False)),
        )


def data_file(out: Path, table: str, bucket: int) -> Path:
    """The data file of one bucket of a table's current version (the folder also holds files replaced since)."""
    found = [Path(uri) for uri in DeltaTable(str(out / table)).file_uris() if f"/bucket={bucket}/" in uri]
    assert len(found) == 1, found
    return found[0]


def bucket_files(out: Path) -> dict[str, set[str]]:
    """The data files of every table's current version, by table."""
    return {table: set(DeltaTable(str(out / table)).file_uris()) for table in sorted(load_manifest(out).tables)}


def damage(tmp_path: Path, *, runs: int) -> Damaged:
    """The corpus archived in `runs` runs (the captures split between them), then two files damaged."""
    write_corpus(tmp_path / "corpus", articles=8, seed=3, workers=1)
    captures = sorted((tmp_path / "corpus" / "raw").glob("*.txt"))
    raw, out, before, clean = tmp_path / "raw", tmp_path / "out", tmp_path / "before", tmp_path / "clean"
    raw.mkdir()
    for day, run_at in enumerate([DAY1, DAY2][-runs:]):
        for path in captures[day * len(captures) // runs : (day + 1) * len(captures) // runs]:
            shutil.copy2(path, raw / path.name)
        run_stages(raw, out, run_at=run_at)
    run_stages(raw, clean, run_at=DAY2)
    shutil.copytree(out, before)
    buckets = sorted({bucket_of(a) for a in read_archive(out)["articles"]["article_id"]})
    comments, paragraphs = data_file(out, "comments", buckets[0]), data_file(out, "paragraphs", buckets[-1])
    comments.write_bytes(comments.read_bytes()[:100])
    paragraphs.unlink()
    return Damaged(raw, out, before, clean, (buckets[0], buckets[-1]), runs)


@pytest.fixture
def damaged(tmp_path: Path) -> Damaged:
    return damage(tmp_path, runs=1)


@pytest.fixture(params=[1, 2], ids=["one-run", "two-runs"])
def damaged_either(tmp_path: Path, request: pytest.FixtureRequest) -> Damaged:
    """Archived in one run, or in two: then its articles keep the ids their first captures gave them, which a
    clean run of all the captures names otherwise."""
    return damage(tmp_path, runs=request.param)


def test_a_run_on_a_damaged_archive_is_refused_with_the_repair_command(damaged: Damaged) -> None:
    runs = run_rows(damaged.out).height
    command = f"`newsarchive repair --raw-dir {damaged.raw} --out-dir {damaged.out}`"
    with pytest.raises(ArchiveDamaged, match=command.replace("-", r"\-")):
        run_stages(damaged.raw, damaged.out, run_at=datetime.now(UTC))
    assert run_rows(damaged.out).height == runs


def test_verify_names_the_damaged_files_and_the_repair_command(
    damaged: Damaged, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--out-dir", str(damaged.out), "--raw-dir", str(damaged.raw)]) == 1
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith(f"comments: {damaged.out}/comments/bucket={damaged.buckets[0]}/")
    assert said[0].endswith("has 100 bytes, its log says " + said[0].rsplit(" ", 1)[-1])
    assert said[1].startswith(f"paragraphs: {damaged.out}/paragraphs/bucket={damaged.buckets[1]}/")
    assert said[1].endswith("is missing")
    assert said[2].startswith(f"`newsarchive repair --raw-dir {damaged.raw} --out-dir {damaged.out}` rebuilds")


@pytest.mark.slow
def test_repair_from_the_command_line_makes_the_archive_whole_and_equal_to_a_clean_run(tmp_path: Path) -> None:
    damaged = damage(tmp_path, runs=1)
    assert differences(damaged.before, damaged.clean) == []
    done = newsarchive("repair", "--raw-dir", str(damaged.raw), "--out-dir", str(damaged.out), home=tmp_path / "h")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "repaired: 2 buckets of every table rebuilt from the raw captures" in done.stdout
    assert "(damaged: comments (1), paragraphs (1)); the archive is at version 2" in done.stdout
    checked = newsarchive("verify", "--out-dir", str(damaged.out), home=tmp_path / "h")
    assert checked.returncode == 0, checked.stdout
    assert "is whole" in checked.stdout
    assert differences(damaged.out, damaged.clean) == []
    history = newsarchive("history", "--out-dir", str(damaged.out), home=tmp_path / "h").stdout.splitlines()
    assert "  repair-" in history[-1]
    assert history[-1].endswith(" captures")
    assert "repaired: " in history[-1]


def test_repair_replaces_only_the_damaged_buckets_and_keeps_when_captures_were_first_archived(
    damaged_either: Damaged,
) -> None:
    damaged = damaged_either
    before = bucket_files(damaged.out)
    assert main(["repair", "--raw-dir", str(damaged.raw), "--out-dir", str(damaged.out)]) == 0
    assert find_damage(damaged.out) == []
    assert_as_before(damaged)
    after = bucket_files(damaged.out)
    for table in before:  # every table's files of the other buckets are those it had
        changed = before[table] ^ after[table]
        assert all(any(f"/bucket={b}/" in f for b in damaged.buckets) for f in changed), (table, changed)
    assert after["comments"] != before["comments"]
    assert after["sources"] != before["sources"]  # every table's rows of the damaged buckets, not only the two
    tables = read_archive(damaged.out)
    mended = tables["sources"].filter(pl.col("article_id").map_elements(bucket_of, pl.Int64).is_in(damaged.buckets))
    assert mended.height > 0
    assert set(mended["ingested_at"].to_list()) <= {DAY1, DAY2}  # the times of the runs that archived them
    runs = run_rows(damaged.out)
    assert runs["kind"].to_list()[-1] == "repair"
    run_stages(damaged.raw, damaged.out, run_at=datetime.now(UTC))  # nothing new after it: no commit
    assert run_rows(damaged.out).height == runs.height


def test_repair_says_which_articles_cannot_be_rebuilt_and_changes_nothing(
    damaged: Damaged, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = read_archive(damaged.before)["sources"]
    lost = sources.filter(
        pl.col("article_id").map_elements(bucket_of, pl.Int64) == damaged.buckets[0], pl.col("status") == "archived"
    )
    for uri in lost["uri"]:
        (damaged.raw / uri).unlink()
    before = bucket_files(damaged.out)
    runs = run_rows(damaged.out).height
    assert main(["repair", "--raw-dir", str(damaged.raw), "--out-dir", str(damaged.out)]) == 1
    said = capsys.readouterr().err
    assert "nothing was changed" in said
    for article in lost["article_id"].unique():
        assert f"article {article} (" in said
    for uri in lost["uri"]:
        assert uri in said
    assert bucket_files(damaged.out) == before
    assert run_rows(damaged.out).height == runs
    assert len(find_damage(damaged.out)) == 2


def test_repair_of_a_whole_archive_changes_nothing(damaged: Damaged, capsys: pytest.CaptureFixture[str]) -> None:
    runs = run_rows(damaged.clean).height
    assert main(["repair", "--raw-dir", str(damaged.raw), "--out-dir", str(damaged.clean)]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert run_rows(damaged.clean).height == runs


def test_a_file_of_the_right_size_but_unreadable_is_repaired_too(
    damaged: Damaged, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's own check looks at sizes only; repair reads every file, as verify does."""
    assert main(["repair", "--raw-dir", str(damaged.raw), "--out-dir", str(damaged.out)]) == 0
    bucket = bucket_of(read_archive(damaged.out)["articles"]["article_id"][1])
    garbled = data_file(damaged.out, "sources", bucket)
    garbled.write_bytes(b"x" * garbled.stat().st_size)
    assert find_damage(damaged.out, deep=False) == []
    assert main(["repair", "--raw-dir", str(damaged.raw), "--out-dir", str(damaged.out)]) == 0
    assert "(damaged: sources (1))" in capsys.readouterr().out
    assert find_damage(damaged.out) == []
    assert_as_before(damaged)
