"""The commit-archive stage: publish the run's changes to the archive at once (see tasks/storage/store.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.core.schema import TABLES
from tasks.state import ArchiveState
from tasks.storage.store import publish, read_table, read_tables

__all__ = ["commit_archive", "read_archive", "read_table", "read_tables"]


def read_archive(out_dir: Path) -> dict[str, pl.DataFrame]:
    """Every table of the archive as one version of its manifest says it is."""
    return read_tables(out_dir, TABLES)


@task(name="commit-archive", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def commit_archive(changes: dict[str, dict[int, pl.DataFrame]], state: ArchiveState, run_id: str) -> int:
    """Write the changed buckets and make them live together; returns the archive's new version."""
    if not any(changes.values()):
        get_run_logger().info("nothing new: the archive stays at version %d", state.manifest.version)
        return state.manifest.version
    manifest = publish(state.root, state.manifest, changes, run_id)
    files = sum(len(b) for b in changes.values())
    get_run_logger().info("published version %d (%d bucket files rewritten)", manifest.version, files)
    return manifest.version
