"""Compaction as a run parameter: after its commit, a run compacts the archive every N runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import tasks.write
from bench.same_archive import differences
from tasks.core.config import ArchiveParams, CompactionConfig
from tasks.storage.store import run_rows, runs_since_compaction
from tasks.synth.corpus import write_corpus
from tasks.write import compaction_due
from tests.helpers import REPO, run_stages

DAY1 = datetime(2026, 1, 1, tzinfo=UTC)


def runs_of(*kinds: str) -> pl.DataFrame:
    return pl.DataFrame({"run": list(range(len(kinds))), "kind": list(kinds)})


def test_runs_since_compaction_counts_the_runs_that_wrote_after_the_last_one() -> None:
    assert runs_since_compaction(runs_of("create", "archive", "archive")) == 2
    assert runs_since_compaction(runs_of("create", "archive", "compact", "archive", "repair")) == 2
    assert runs_since_compaction(runs_of("create", "archive", "archive", "compact")) == 0
    assert runs_since_compaction(runs_of()) == 0


def test_compaction_is_due_after_a_commit_once_enough_runs_wrote() -> None:
    every_two = CompactionConfig(every_runs=2)
    assert compaction_due(2, committed=True, config=every_two)
    assert compaction_due(3, committed=True, config=every_two)  # a compaction that failed: the next run tries
    assert not compaction_due(1, committed=True, config=every_two)
    assert not compaction_due(2, committed=False, config=every_two)  # nothing new: no commit, no compaction
    assert not compaction_due(9, committed=True, config=CompactionConfig())  # 0: never


def parquet_files(out: Path) -> int:
    return sum(1 for path in out.rglob("*.parquet") if ".scratch" not in path.parts)


def daily_runs(tmp_path: Path, name: str, compaction: CompactionConfig, days: int = 4) -> Path:
    """A synthetic corpus dropped in `days` parts, one run a day; the archive."""
    corpus = tmp_path / "corpus"
    if not corpus.exists():
        write_corpus(corpus, articles=8, seed=5, workers=1)
    captures = sorted((corpus / "raw").glob("*.txt"))
    raw, out = tmp_path / f"raw-{name}", tmp_path / name
    raw.mkdir()
    for day in range(days):
        for path in captures[day * len(captures) // days : (day + 1) * len(captures) // days]:
            shutil.copy2(path, raw / path.name)
        params = ArchiveParams(raw_dir=str(raw), out_dir=str(out), compaction=compaction)
        run_stages(raw, out, params, run_at=DAY1 + timedelta(days=day))
    return out


def test_runs_with_compaction_every_two_runs_leave_fewer_files_and_the_same_tables(tmp_path: Path) -> None:
    plain = daily_runs(tmp_path, "plain", CompactionConfig())
    compacted = daily_runs(tmp_path, "compacted", CompactionConfig(every_runs=2, keep_hours=0))
    kinds = run_rows(compacted)["kind"].to_list()
    assert kinds == ["create", "archive", "archive", "compact", "archive", "archive", "compact"]
    assert run_rows(plain)["kind"].to_list() == ["create", "archive", "archive", "archive", "archive"]
    assert parquet_files(compacted) < parquet_files(plain)
    assert differences(compacted, plain) == []


def test_a_compaction_that_fails_leaves_the_committed_run_standing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise OSError("the object store answered 503 (injected)")

    monkeypatch.setattr(tasks.write, "compact", failing)
    out = daily_runs(tmp_path, "failed", CompactionConfig(every_runs=1, keep_hours=0), days=2)
    assert run_rows(out)["kind"].to_list() == ["create", "archive", "archive"]  # both committed, neither compacted
    monkeypatch.undo()
    raw = tmp_path / "raw-failed"
    shutil.copy2(sorted((tmp_path / "corpus" / "raw").glob("*.txt"))[-1], raw / "one-more.txt")
    params = ArchiveParams(raw_dir=str(raw), out_dir=str(out), compaction=CompactionConfig(every_runs=3))
    run_stages(raw, out, params, run_at=DAY1 + timedelta(days=3))
    assert run_rows(out)["kind"].to_list()[-2:] == ["archive", "compact"]  # three runs wrote since: due


@pytest.mark.slow
def test_newsarchive_run_compacts_when_asked_on_the_command_line(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "h")}

    def newsarchive(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flows.cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip

    done = newsarchive(
        "run", "--raw-dir", str(raw), "--out-dir", str(out), "--compact-every-runs", "1", "--keep-hours", "0"
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    history = newsarchive("history", "--out-dir", str(out)).stdout.splitlines()
    assert [line.split()[-1] for line in history] == ["created", "updated", "compacted"]
    refused = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), "--compact-every-runs", "-1")
    assert refused.returncode == 2
    assert "every_runs" in refused.stderr
