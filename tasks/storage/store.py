"""The archive on disk: tables split into buckets, a manifest, a journal as the commit point, a lock.

A run never rewrites a file in place. It writes the buckets it changes under
hidden `.pending` names, then atomically writes `_journal.json` (the commit
point: which pending files become live, which files they supersede, the new
manifest), then applies it: the renames in PUBLISH_ORDER, `_manifest.json`, and
only then the deletions. A run killed before the journal leaves only hidden
files, which the next run removes; a run killed after it is completed by the
next run, which replays the journal. Every file `_manifest.json` names exists
until a later manifest has replaced it, so it always names one whole version.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tasks.core.schema import TABLES, conform

# 64 buckets: a run that touches ten articles rewrites at most ten of them per
# table, and a small archive still has few files.
BUCKETS = 64
MANIFEST = "_manifest.json"
JOURNAL = "_journal.json"
LOCK = ".lock"
PENDING_SUFFIX = ".pending"
_WRITERS = 4  # files written at once: a core each, and a file being fsynced waits on the disk, not a core
INDEX_TABLES: dict[str, dict[str, pl.DataType]] = {
    "_anchors": {"article_id": pl.String(), "anchor": pl.String()},
}


class ArchiveBusy(RuntimeError):
    """Another run holds the archive's lock for longer than this run will wait."""


def bucket_of(key: str) -> int:
    """Bucket of an id (ids are hex digests, so their first digits are uniform)."""
    return int(key[:8], 16) % BUCKETS


def bucket_expr(key: pl.Expr) -> pl.Expr:
    """bucket_of, as a polars expression over an id column."""
    return key.str.slice(0, 8).str.to_integer(base=16).mod(BUCKETS).cast(pl.Int32)


def all_tables() -> dict[str, dict[str, pl.DataType]]:
    return TABLES | INDEX_TABLES


@dataclass
class Manifest:
    """The live files of every table, relative to the archive root."""

    version: int = 0
    files: dict[str, dict[int, str]] = field(default_factory=dict)  # table -> bucket -> file

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tables": {t: {str(b): f for b, f in sorted(bs.items())} for t, bs in sorted(self.files.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        tables = data.get("tables", {})
        return cls(int(data.get("version", 0)), {t: {int(b): f for b, f in bs.items()} for t, bs in tables.items()})


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover(root: Path) -> None:
    """Finish a run that committed but was killed; drop what a run left before committing."""
    journal = root / JOURNAL
    if journal.exists():
        _apply(root, json.loads(journal.read_text(encoding="utf-8")))
    for stray in root.glob(f"**/.*{PENDING_SUFFIX}"):
        stray.unlink(missing_ok=True)
    for stray in root.glob("**/.*.tmp"):
        stray.unlink(missing_ok=True)


def load_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not path.exists():
        return Manifest()
    return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))


def read_buckets(
    root: Path, manifest: Manifest, table: str, buckets: set[int] | None = None, columns: list[str] | None = None
) -> pl.DataFrame:
    """Rows of the chosen buckets of a table (all buckets when None), cast to its schema.

    A column added to the schema after a file was written (`segments.confidence`) reads as null there.
    """
    schema = all_tables()[table]
    files = [root / f for b, f in sorted(manifest.files.get(table, {}).items()) if buckets is None or b in buckets]
    wanted = columns or list(schema)
    if not files:
        return pl.DataFrame(schema={c: schema[c] for c in wanted})
    return pl.read_parquet(files, columns=wanted, schema=schema, missing_columns="insert", hive_partitioning=False)


def read_tables(root: Path, tables: Iterable[str]) -> dict[str, pl.DataFrame]:
    """Whole tables as one manifest says they are: one version of all of them, unlike a glob during a commit."""
    tables = list(tables)
    manifest = load_manifest(root)
    while True:
        try:
            frames = {t: read_buckets(root, manifest, t) for t in tables}
            return {t: conform(t, f) if t in TABLES else f for t, f in frames.items()}
        except FileNotFoundError:
            # A commit removed a file of the version read after its new manifest was in
            # place: read the new version. The same manifest with a file missing is damage.
            newer = load_manifest(root)
            if newer.version == manifest.version:
                raise
            manifest = newer


def read_table(root: Path, table: str) -> pl.DataFrame:
    """A whole table as the manifest says it is."""
    return read_tables(root, [table])[table]


# Parents before children: at every step of applying a journal, a reader of the
# globs finds each article of a paragraph, comment, caption or segment. Old files
# go only after the new manifest is in place, so a reader of the globs may see a
# replaced bucket's rows twice for a moment, but never misses one.
PUBLISH_ORDER = ("authors", "articles", "_anchors", "paragraphs", "captions", "comments", "segments", "sources")


def publish(root: Path, manifest: Manifest, changes: dict[str, dict[int, pl.DataFrame]], run_id: str) -> Manifest:
    """Replace the changed buckets of each table at once; returns the new manifest."""
    steps: list[list[str]] = []  # ["rename", pending, final] or ["delete", file]
    files = {t: dict(bs) for t, bs in manifest.files.items()}
    version = manifest.version + 1
    # The version in the name: a new file never takes the name of a file the old manifest names
    # (two runs could share a run id; a clock set back, or a test's fixed time).
    name = f"part-{version:06d}-{run_id}.parquet"
    to_write: list[tuple[Path, pl.DataFrame]] = []
    for table in sorted(changes, key=PUBLISH_ORDER.index):
        for bucket, frame in sorted(changes[table].items()):
            old = files.setdefault(table, {}).pop(bucket, None)
            delete = [["delete", old]] if old is not None else []
            rename = []
            if frame.height:
                final = f"{table}/bucket={bucket:02d}/{name}"
                pending = f"{table}/bucket={bucket:02d}/.{name}{PENDING_SUFFIX}"
                to_write.append((root / pending, frame))
                rename = [["rename", pending, final]]
                files[table][bucket] = final
            steps += rename + delete
    # Files written side by side: encoding, compressing and fsync let go of the GIL.
    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
        for _ in pool.map(lambda item: _write_pending(*item), to_write):
            pass  # a failed write raises here, before the commit point
    new = Manifest(version, files)
    _write_json_atomically(root / JOURNAL, {"steps": steps, "manifest": new.to_json()})  # the commit point
    _apply(root, json.loads((root / JOURNAL).read_text(encoding="utf-8")))
    return new


def _write_pending(path: Path, frame: pl.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="zstd", statistics=True)
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _apply(root: Path, journal: dict[str, Any]) -> None:
    """Idempotent: a replay after a kill in the middle does the rest.

    New files are put in place and the manifest is replaced before any old file
    goes: a reader of the old manifest finds all its files until the new one is
    there (a new file's name holds the new version, so it never takes an old one's name).
    """
    for step in journal["steps"]:
        if step[0] == "rename" and (root / step[1]).exists():
            (root / step[1]).replace(root / step[2])
    _write_json_atomically(root / MANIFEST, journal["manifest"])
    for step in journal["steps"]:
        if step[0] == "delete":
            (root / step[1]).unlink(missing_ok=True)
    for table in all_tables():
        for folder in sorted((root / table).glob("bucket=*")):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    (root / JOURNAL).unlink(missing_ok=True)


@contextmanager
def archive_lock(root: Path, *, wait_seconds: float, on_wait: Any = None) -> Iterator[None]:
    """Hold the archive's lock; wait for another run to finish, up to wait_seconds."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK).open("a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait_seconds
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another run"
                if time.monotonic() >= deadline:
                    raise ArchiveBusy(
                        f"the archive {root} is being written by {holder}; gave up after {wait_seconds:.0f} s"
                    ) from None
                if on_wait is not None and not told:
                    on_wait(f"waiting for {holder} to finish writing the archive")
                    told = True
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
