"""The commit-archive stage: the run's changes made the archive's next version at once (tasks/storage/store.py);
then the compact-archive stage, when the run's parameters ask for compaction and it is due."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.core.config import CompactionConfig
from tasks.core.schema import TABLES
from tasks.state import ArchiveState
from tasks.storage.store import compact, publish, read_table, read_tables, run_rows, runs_since_compaction

__all__ = ["commit_archive", "compact_archive", "compaction_due", "read_archive", "read_table", "read_tables"]


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


def compaction_due(runs_since: int, *, committed: bool, config: CompactionConfig) -> bool:
    """Compact after a run that committed, once `every_runs` runs have written since the last compaction."""
    return committed and config.every_runs > 0 and runs_since >= config.every_runs


@task(name="compact-archive", cache_policy=NO_CACHE)
def compact_archive(state: ArchiveState, version: int, config: CompactionConfig, run_id: str) -> int | None:
    """Compact the archive when due; the archive's version after it, or None when not compacted.

    The run has committed: a compaction that fails is a warning, never the run's failure (the archive
    is whole without it, and the next run that commits tries again).
    """
    logger = get_run_logger()
    try:
        since = runs_since_compaction(run_rows(state.root)) if config.every_runs else 0
        if not compaction_due(since, committed=version != state.manifest.version, config=config):
            return None
        manifest, removed = compact(state.root, keep_hours=config.keep_hours, run_id=f"compact-{run_id}")
    except Exception as err:
        logger.warning("compaction failed, the run's commit stands (newsarchive compact tries again): %s", err)
        return None
    logger.info(
        "compacted after %d runs: the archive is at version %d; %d files removed", since, manifest.version, removed
    )
    return manifest.version
