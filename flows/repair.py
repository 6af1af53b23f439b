"""`newsarchive repair`: the buckets an archive's damaged files spoil, rebuilt from the raw captures as one run.

The raw folder is archived again by the flow's own phases, in this process, into a scratch archive (a
clean run); every table's rows of the damaged buckets are then replaced by the scratch archive's (under the
ids the archive gave its articles: tasks/storage/repair.py), one commit per table and a row of `_runs`
(kind "repair"), under the archive's lock. Every capture of the raw
folder takes part, not only those of the damaged buckets: site furniture (lines several articles of a run
share) and authors (whose rows are bucketed by author, not article) are found across a whole run, so
only a whole run gives those buckets what a clean run gives them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from flows.archive import archive_in_process
from tasks.core.config import ArchiveParams, CompactionConfig
from tasks.core.folders import is_object_store
from tasks.storage.repair import (
    archive_ids,
    cannot_rebuild,
    damaged_buckets,
    rebuilt_changes,
    rebuilt_rows,
    spoiled,
    stored_article_of,
)
from tasks.storage.store import archive_lock, find_damage, load_manifest, publish, read_buckets, recover


@dataclass(frozen=True)
class Repair:
    """What a repair found and did: the damaged buckets by table, the archive's version after it, and the
    articles it could not rebuild (then it changed nothing)."""

    damaged: dict[str, set[int]] = field(default_factory=dict)
    version: int = 0
    cannot: list[str] = field(default_factory=list)

    @property
    def buckets(self) -> set[int]:
        return set().union(*self.damaged.values())


def repair_archive(
    params: ArchiveParams, *, wait_seconds: float, on_wait: Callable[[str], object] | None = None
) -> Repair:
    """Rebuild the damaged buckets of `params.out_dir` from `params.raw_dir` (absolute folders)."""
    out: Path | str = params.out_dir if is_object_store(params.out_dir) else Path(params.out_dir)
    with archive_lock(out, wait_seconds=wait_seconds, on_wait=on_wait):
        recover(out)
        damage = find_damage(out)
        manifest = load_manifest(out)
        if not damage:
            return Repair(version=manifest.version)
        damaged = damaged_buckets(damage)
        stored_of = stored_article_of(out, manifest, damaged)
        # Beside the archive on local disk: its folder is apart from the raw folder (a run checks that).
        with tempfile.TemporaryDirectory(prefix=".repair-", dir=None if isinstance(out, str) else out) as scratch:
            rebuilt = Path(scratch)
            archive_in_process(params.model_copy(update={"out_dir": str(rebuilt), "compaction": CompactionConfig()}))
            rebuilt_manifest = load_manifest(rebuilt)
            ids = archive_ids(read_buckets(rebuilt, rebuilt_manifest, "sources"), stored_of)
            rows = rebuilt_rows(rebuilt, rebuilt_manifest, ids, spoiled(damaged))
        cannot = cannot_rebuild(out, manifest, rows, damaged)
        if cannot:
            return Repair(damaged, manifest.version, cannot)
        changes = rebuilt_changes(out, manifest, rows, damaged)
        articles = sum(frame.height for frame in changes.get("articles", {}).values())
        captures = sum(
            frame.filter(pl.col("status") == "archived").height for frame in changes.get("sources", {}).values()
        )
        counts = {"captures": captures, "archived": captures, "articles_updated": articles}
        run_id = f"repair-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        after = publish(out, manifest, changes, run_id, counts=counts, kind="repair")
    return Repair(damaged, after.version)
