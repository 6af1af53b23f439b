"""The open-archive stage: the archive as an earlier run left it (after finishing or dropping an interrupted run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.core.folders import is_object_store, retry_transient
from tasks.discover import Fingerprints
from tasks.storage.store import ArchiveDamaged, Damage, Manifest, find_damage, load_manifest, read_buckets, recover

KNOWN_COLUMNS = ["source_id", "uri", "sha256", "size_bytes", "modified_at", "status", "error", "article_id"]


@dataclass(frozen=True)
class ArchiveState:
    """What a run needs to know of the archive: its manifest, its sources' fingerprints, its anchors."""

    root: Path | str  # a local folder, or s3://bucket/prefix
    manifest: Manifest
    known: pl.DataFrame  # KNOWN_COLUMNS of every source
    anchors: pl.DataFrame  # article_id, anchor

    def fingerprints(self) -> dict[str, Fingerprints]:
        """uri -> (size, modified time) of each version archived under it (quarantined ones are retried).

        A file edited in place has a row per version. One fingerprint per uri, that of the row
        stored last, was an older version's whenever its source_id sorted after the newer one's,
        and every rerun read the file again. Taking the latest by modified time instead fails a
        version copied in with its old time; any version the file matches is what it is.
        """
        done = self.known.filter(pl.col("status") != "quarantined").drop_nulls(["size_bytes", "modified_at"])
        versions: dict[str, set[tuple[int, datetime]]] = {}
        for uri, size, modified_at in done.select("uri", "size_bytes", "modified_at").iter_rows():
            versions.setdefault(uri, set()).add((size, modified_at))
        return {uri: frozenset(found) for uri, found in versions.items()}

    def archived_files(self) -> int:
        """How many files (uris) the archive holds a capture of, archived or as a duplicate."""
        return self.known.filter(pl.col("status") != "quarantined")["uri"].n_unique()

    def article_ids(self) -> set[str]:
        """The articles the archive holds (each has at least one source)."""
        return set(self.known["article_id"].drop_nulls().to_list())

    def archived_shas(self) -> dict[str, str]:
        """sha256 -> source_id of every capture archived before."""
        done = self.known.filter(pl.col("status") == "archived")
        return dict(zip(done["sha256"].to_list(), done["source_id"].to_list(), strict=True))


def damage_advice(root: Path | str, damage: list[Damage], raw_dir: str | None = None) -> str:
    """What to do about damaged files: `newsarchive repair` when each is one bucket's, else a rebuild from raw."""
    if all(found.bucket is not None for found in damage):
        return (
            f"`newsarchive repair --raw-dir {raw_dir or 'RAW_DIR'} --out-dir {root}` rebuilds the damaged buckets "
            "from the raw captures" + ("" if raw_dir else " (RAW_DIR: the folder its runs archived)")
        )
    return "its logs cannot be repaired bucket by bucket: move the archive away and run again to rebuild it"


def read_state(root: Path | str, *, raw_dir: str | None = None) -> ArchiveState:
    """The archive as its last complete run left it; refused, naming `newsarchive repair`, when a file is damaged."""
    if not is_object_store(str(root)):
        Path(root).mkdir(parents=True, exist_ok=True)
    recover(root)
    damage = find_damage(root, deep=False)
    if damage:  # a run would fail half-way on it, or write around it
        raise ArchiveDamaged(
            f"the archive {root} is damaged, so nothing was written: {'; '.join(map(str, damage[:5]))}"
            + (f" (and {len(damage) - 5} more)" if len(damage) > 5 else "")
            + f". {damage_advice(root, damage, raw_dir)}; `newsarchive verify --out-dir {root}` checks it all"
        )
    manifest = load_manifest(root)
    known = read_buckets(root, manifest, "sources", columns=KNOWN_COLUMNS)
    anchors = read_buckets(root, manifest, "_anchors")
    return ArchiveState(root, manifest, known, anchors)


@task(
    name="open-archive", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)  # fmt: skip
def open_archive(out_dir: str, raw_dir: str | None = None) -> ArchiveState:
    """Finish or drop what an interrupted run left, then read the manifest and what is known.

    `raw_dir` only names the folder in the `newsarchive repair` command a damaged archive's refusal gives.
    """
    state = read_state(out_dir if is_object_store(out_dir) else Path(out_dir), raw_dir=raw_dir)
    get_run_logger().info(
        "archive %s: version %d, %d sources known", out_dir, state.manifest.version, state.known.height
    )
    return state
