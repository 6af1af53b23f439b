"""SIGKILL a real `newsarchive run` at many points: the archive stays readable and consistent,
and the next run completes the work with nothing lost and nothing doubled."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from bench.seeds import write_seed_variants
from tasks.articles.rows import article_rows
from tasks.checks import find_problems
from tasks.core.schema import TABLES
from tasks.state import read_state
from tasks.storage.store import load_manifest, read_buckets, read_tables
from tasks.write import read_archive
from tests.helpers import REPO, SEED_NAMES, run_stages

pytestmark = pytest.mark.slow
ARTICLES = 50


def after_task(name: str) -> Callable[[str, Path], bool]:
    """Kill once the run logs that a task finished (so the next stage is under way)."""
    return lambda line, _out: f"Task run '{name}" in line and "Finished" in line


def when_committed(table: str) -> Callable[[str, Path], bool]:
    """Kill once the run has committed a new version of `table` (the tables go in PUBLISH_ORDER, `_runs` last)."""
    before: list[int] = []

    def trigger(_line: str, out: Path) -> bool:
        commits = len(list((out / table / "_delta_log").glob("*.json")))
        if not before:
            before.append(commits)  # on the first look, before the run has written anything
        return commits > before[0]

    return trigger


# Before the first table's commit a run has written nothing but its scratch folder, so one point
# early and one in the middle of the work stand for every stage (test_lifetime stops the others).
KILL_POINTS: dict[str, Callable[[str, Path], bool]] = {
    "while starting": lambda line, _out: "Starting temporary server" in line,
    "while labeling": after_task("find-site-furniture"),
    "between the tables' commits": when_committed("articles"),
    "after the last table's commit": when_committed("sources"),
    "after the commit point": when_committed("_runs"),
}


def run_until(raw: Path, out: Path, trigger: Callable[[str, Path], bool]) -> bool:
    """Start `newsarchive run`; SIGKILL its whole process group when trigger fires. True if killed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--raw-dir", str(raw), "--out-dir", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    fired = threading.Event()

    def watch_files() -> None:
        while process.poll() is None and not fired.is_set():
            if trigger("", out):
                fired.set()
                os.killpg(process.pid, signal.SIGKILL)
            time.sleep(0.002)

    watcher = threading.Thread(target=watch_files, daemon=True)
    watcher.start()
    assert process.stdout is not None
    for line in process.stdout:
        if not fired.is_set() and trigger(line, out):
            fired.set()
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=300)
    watcher.join()
    return fired.is_set()


def assert_consistent(tables: dict[str, pl.DataFrame]) -> None:
    """References and ids of a whole archive (no lines to cover: no capture is being read)."""
    assert find_problems({t: {0: frame} for t, frame in tables.items()}, [], article_rows([])) == []


def assert_whole_and_consistent(out: Path) -> None:
    """As a reader finds it right after the kill: every table's latest version reads, and the last
    whole run is consistent; then as the next run finds it, the tables put back to that run."""
    for table in TABLES:
        if (out / table / "_delta_log").exists():
            pl.scan_delta(str(out / table)).collect()
    assert_consistent(read_tables(out, TABLES))  # before any recovery
    state = read_state(out)  # puts back what a run left ahead of the last whole one
    assert_consistent({t: read_buckets(out, state.manifest, t) for t in TABLES})
    assert_no_table_ahead(out)


def assert_no_table_ahead(out: Path) -> None:
    manifest = load_manifest(out)
    for table in TABLES:
        if (out / table / "_delta_log").exists():
            assert DeltaTable(str(out / table)).version() == manifest.tables[table], f"{table} is ahead"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pl.DataFrame]]:
    raw = tmp_path_factory.mktemp("raw")
    write_seed_variants(raw, ARTICLES)
    clean = tmp_path_factory.mktemp("clean")
    run_stages(raw, clean)
    return raw, read_archive(clean)


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_run_leaves_a_consistent_archive_and_the_next_run_completes_it(
    tmp_path: Path, point: str, corpus: tuple[Path, dict[str, pl.DataFrame]]
) -> None:
    raw, expected = corpus
    out = tmp_path / "archive"
    assert run_until(raw, out, KILL_POINTS[point]), f"the run ended before the kill point ({point})"
    assert_whole_and_consistent(out)
    run_stages(raw, out)  # the next run
    assert_completed(out, expected)


def assert_completed(out: Path, expected: dict[str, pl.DataFrame]) -> None:
    assert_no_table_ahead(out)
    after = read_archive(out)
    for table in TABLES:
        ignore = ["ingested_at", "first_seen_at", "last_seen_at", "modified_at"]
        assert_frame_equal(after[table].drop(ignore, strict=False), expected[table].drop(ignore, strict=False))


@pytest.fixture(scope="module")
def half_archived(
    tmp_path_factory: pytest.TempPathFactory, corpus: tuple[Path, dict[str, pl.DataFrame]]
) -> tuple[Path, Path]:
    """An archive of the metadata capture of each article, before the run that adds their comment pages."""
    raw, _ = corpus
    first = tmp_path_factory.mktemp("first-raw")
    for path in raw.glob(f"*-{SEED_NAMES[0]}.txt"):
        shutil.copy(path, first / path.name)
    out = tmp_path_factory.mktemp("half")
    run_stages(first, out)
    return first, out


# A run that rewrites files the archive already has: every article's buckets are replaced.
REPLACING_KILL_POINTS = {
    point: KILL_POINTS[point]
    for point in ("between the tables' commits", "after the last table's commit", "after the commit point")
}


@pytest.mark.parametrize("point", list(REPLACING_KILL_POINTS))
def test_a_run_killed_while_replacing_stored_files_leaves_the_archive_whole(
    tmp_path: Path, point: str, corpus: tuple[Path, dict[str, pl.DataFrame]], half_archived: tuple[Path, Path]
) -> None:
    raw, _ = corpus
    _, half = half_archived
    out = tmp_path / "archive"
    shutil.copytree(half, out)
    assert run_until(raw, out, REPLACING_KILL_POINTS[point]), f"the run ended before the kill point ({point})"
    assert_whole_and_consistent(out)
    run_stages(raw, out)
    expected = tmp_path / "uninterrupted"
    shutil.copytree(half, expected)
    run_stages(raw, expected)
    assert_completed(out, read_archive(expected))
