"""The commit-archive stage: the run's changes made the archive's next version at once (tasks/storage/store.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.core.schema import TABLES
from tasks.state import ArchiveState
from tasks.storage.store import publish, read_table, read_tables

__all__ = ["commit_archive", "read_archive", "read_table", "read_tables"]


def read_archive(out_dir: Path | str, run: int | str | datetime | None = None) -> dict[str, pl.DataFrame]:
    """Every table of the archive as the last complete run left it, or as the run `run` names did.

    `run`: a run's number (the archive's version after it), its id, or a time (the last run then).
    """
    return read_tables(out_dir, TABLES, run)


@task(name="commit-archive", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def commit_archive(
    changes: dict[str, dict[int, pl.DataFrame]], state: ArchiveState, run_id: str, summary: dict[str, int]
) -> int:
    """Replace the changed buckets of each table, then record the run: the archive's version after it."""
    if not any(changes.values()):
        get_run_logger().info("nothing new: the archive stays at version %d", state.manifest.version)
        return state.manifest.version
    manifest = publish(state.root, state.manifest, changes, run_id, counts=summary)
    tables = sum(1 for buckets in changes.values() if buckets)
    buckets = sum(len(b) for b in changes.values())
    get_run_logger().info("published version %d: %d buckets of %d tables replaced", manifest.version, buckets, tables)
    return manifest.version
