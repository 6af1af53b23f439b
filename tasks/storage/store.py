"""The archive as Delta Lake tables: each table of the spec, the anchor index, and `_runs`, the commit point.

Every table is a Delta table under the archive folder (`articles/`, `comments/`, ...),
partitioned by `bucket`: the rows of one article share a bucket (0-63, from its id) in every
table. A run replaces the buckets it changed, one Delta commit per table (an overwrite whose
predicate names those buckets, carrying the run's id), and only then appends its row to
`_runs`: which version of every table makes up the archive after it. That row is the commit
point. Readers of the archive (`read_tables`, `newsarchive history`, `read_archive(run=...)`)
read the versions one row names, so they see whole runs, never half of one. A run killed
between its tables' commits leaves some tables ahead of the last row: the next run restores
them to that row's versions before anything else (`recover`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from tasks.core.schema import TABLES, UTC_TIME, conform

# 64 buckets: a run that touches ten articles rewrites at most ten of them per
# table, and a small archive still has few files.
BUCKETS = 64
BUCKET = "bucket"
RUNS = "_runs"
LOCK = ".lock"
OLD_MANIFEST = "_manifest.json"  # the layout before Delta tables: converted by `newsarchive migrate`
RUN_ID_KEY = "newsarchive.run_id"  # in every table commit's metadata: which run made it
INDEX_TABLES: dict[str, dict[str, pl.DataType]] = {
    "_anchors": {"article_id": pl.String(), "anchor": pl.String()},
}
RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run": pl.Int64(),  # 1, 2, ...: the archive's version after the run
    "run_id": pl.String(),
    "kind": pl.String(),  # "create" (run 0, before any table), "archive", "compact", "repair" or "migrate"
    "committed_at": UTC_TIME,
    "versions": pl.String(),  # JSON: table -> its Delta version after the run
    "captures": pl.Int64(),
    "archived": pl.Int64(),
    "quarantined": pl.Int64(),
    "articles_new": pl.Int64(),
    "articles_updated": pl.Int64(),
}
# Parents before children: a reader of one table's latest version (not a run's) finds the
# article of each paragraph, comment, caption or segment.
PUBLISH_ORDER = ("authors", "articles", "_anchors", "paragraphs", "captions", "comments", "segments", "sources")
_WRITER = WriterProperties(compression="ZSTD")
_WRITE_BATCH_ROWS = 16_384  # rows handed to the Delta writer at a time


class ArchiveBusy(RuntimeError):
    """Another run holds the archive's lock for longer than this run will wait."""


class OldLayout(RuntimeError):
    """The archive was written before its tables were Delta tables."""

    permanent = True  # a task does not try again


class ArchiveDamaged(RuntimeError):
    """The archive is not as its runs left it; the message says what is wrong."""

    permanent = True


# Which column puts a row in its bucket: rows of one article share a bucket in every table.
BUCKET_KEY: dict[str, pl.Expr] = {
    "sources": pl.coalesce("article_id", "source_id"),
    "authors": pl.col("author_id"),
} | {t: pl.col("article_id") for t in ("articles", "paragraphs", "captions", "comments", "segments", "_anchors")}


def bucket_of(key: str) -> int:
    """Bucket of an id (ids are hex digests, so their first digits are uniform)."""
    return int(key[:8], 16) % BUCKETS


def bucket_expr(key: pl.Expr) -> pl.Expr:
    """bucket_of, as a polars expression over an id column."""
    return key.str.slice(0, 8).str.to_integer(base=16).mod(BUCKETS).cast(pl.Int32)


def all_tables() -> dict[str, dict[str, pl.DataType]]:
    return TABLES | INDEX_TABLES


@dataclass(frozen=True)
class Manifest:
    """One whole run's archive: its number (0 before the first run) and the Delta version of each table."""

    version: int = 0
    tables: Mapping[str, int] = field(default_factory=dict)
    run_id: str = ""


def table_uri(root: Path | str, table: str) -> str:
    return f"{str(root).rstrip('/')}/{table}"


def _table_at(uri: str, version: int) -> DeltaTable:
    """A table as one version left it, its log read once per process (a run reads some tables per article).

    A version never changes, but a folder can hold another table later (removed and written again): on
    local disk the commit file's identity is part of the key.
    """
    identity = (0, 0)
    if not _remote(uri):
        try:
            found = (Path(uri) / "_delta_log" / f"{version:020d}.json").stat()
            identity = (found.st_ino, found.st_mtime_ns)
        except OSError:
            pass  # a commit file cleaned up after a checkpoint
    return _cached_table(uri, version, identity)


@lru_cache(maxsize=256)
def _cached_table(uri: str, version: int, identity: tuple[int, int]) -> DeltaTable:
    return DeltaTable(uri, version=version)


def _remote(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


def _latest(uri: str) -> DeltaTable | None:
    try:
        return DeltaTable(uri)
    except TableNotFoundError:
        return None


def run_rows(root: Path | str) -> pl.DataFrame:
    """Every row of `_runs`, oldest first; empty for an archive no run has completed."""
    runs = _latest(table_uri(root, RUNS))
    if runs is None:
        return pl.DataFrame(schema=RUNS_SCHEMA)
    return pl.scan_delta(runs).select(list(RUNS_SCHEMA)).collect().sort("run")


def load_manifest(root: Path | str, run: int | str | datetime | None = None) -> Manifest:
    """The archive after the last complete run, or after the run named by its number, its id, or a time."""
    old = Path(str(root)) / OLD_MANIFEST
    if not _remote(str(root)) and old.exists():
        raise OldLayout(
            f"the archive {root} was written before its tables were Delta tables ({OLD_MANIFEST}): "
            f"convert it once with `newsarchive migrate --out-dir {root}`"
        )
    rows = run_rows(root)
    if run is not None:
        if isinstance(run, datetime):
            rows = rows.filter(pl.col("committed_at") <= run)
        elif isinstance(run, int):
            rows = rows.filter(pl.col("run") == run)
        else:
            rows = rows.filter(pl.col("run_id") == run)
        if rows.is_empty():
            raise KeyError(f"the archive {root} has no run {run!r} (newsarchive history lists them)")
    if rows.is_empty():
        return Manifest()
    last = rows.row(-1, named=True)
    return Manifest(int(last["run"]), json.loads(last["versions"]), str(last["run_id"]))


def recover(root: Path | str) -> list[str]:
    """Put back every table a killed run left ahead of the last complete run; the tables it put back."""
    manifest = load_manifest(root)
    if _latest(table_uri(root, RUNS)) is None:
        present = [t for t in all_tables() if _latest(table_uri(root, t)) is not None]
        if present:  # `_runs` is written before any table: tables without it were not left by a run
            raise ArchiveDamaged(
                f"the archive {root} has tables ({', '.join(present)}) but no `{RUNS}` table, which records "
                "its runs: it was removed or damaged. Nothing was changed; move the archive away and run again "
                "to rebuild it from the raw captures"
            )
        return []
    put_back = []
    for table in all_tables():
        uri = table_uri(root, table)
        latest = _latest(uri)
        if latest is None:
            continue
        recorded = manifest.tables.get(table)
        if recorded is None:  # created by a run that never completed: nothing of it is the archive's
            _remove_table(uri)
            put_back.append(table)
        elif latest.version() > recorded:
            _put_back(uri, table, latest, recorded)
            put_back.append(table)
    return put_back


def _put_back(uri: str, table: str, latest: DeltaTable, recorded: int) -> None:
    """The table's buckets that changed since version `recorded` written again as they were then.

    A commit like a run's (Delta's RESTORE never answered on an S3 server here); the buckets are those
    of the data files one version has and the other has not.
    """

    def files(delta: DeltaTable) -> pl.DataFrame:
        return pl.DataFrame(pa.table(delta.get_add_actions(flatten=True))).select("path", f"partition.{BUCKET}")

    before = DeltaTable(uri, version=recorded)
    changed = (
        files(latest)
        .join(files(before), on="path", how="anti")
        .vstack(files(before).join(files(latest), on="path", how="anti"))
    )
    buckets = set(changed[f"partition.{BUCKET}"].to_list())
    if not buckets:  # commits that changed no data file (a VACUUM run by hand)
        return
    rows = read_buckets_at(before, table, buckets)
    by_bucket = {int(b): part for (b,), part in rows.partition_by(BUCKET, as_dict=True, include_key=False).items()}
    _replace_buckets(
        uri, table, {b: by_bucket.get(b, rows.clear().drop(BUCKET)) for b in buckets},
        CommitProperties(custom_metadata={RUN_ID_KEY: "recover"}),
    )  # fmt: skip


def read_buckets_at(delta: DeltaTable, table: str, buckets: set[int]) -> pl.DataFrame:
    """The rows of some buckets of one version of a table, with their bucket."""
    return pl.scan_delta(delta).filter(pl.col(BUCKET).is_in(sorted(buckets))).collect()


def _remove_table(uri: str) -> None:
    if _remote(uri):
        import pyarrow.fs as pafs

        filesystem, path = pafs.FileSystem.from_uri(uri)
        filesystem.delete_dir(path)
    else:
        shutil.rmtree(uri, ignore_errors=True)


@dataclass(frozen=True)
class Damage:
    """One thing wrong with a file of the archive's last run: a data file (its table and bucket), or a table's log."""

    table: str
    problem: str  # what is wrong, naming the file
    bucket: int | None = None  # None: not one bucket's file (a table's log, or `_runs` missing)

    def __str__(self) -> str:
        return f"{self.table}: {self.problem}"


def file_problems(root: Path | str, *, deep: bool = True) -> list[str]:
    """What is wrong with the files of the archive's last run: each table's log at the version the run
    recorded, and every data file it names there (present and of the size the log says; with `deep`,
    also a readable Parquet file of as many rows). Empty when every file is whole."""
    return [str(damage) for damage in find_damage(root, deep=deep)]


def find_damage(root: Path | str, *, deep: bool = True) -> list[Damage]:
    """file_problems, each with the table and bucket of the file, so that `repair` knows what to rebuild."""
    if _latest(table_uri(root, RUNS)) is None:
        present = [t for t in all_tables() if _latest(table_uri(root, t)) is not None]
        return [Damage(RUNS, f"tables {', '.join(present)} but no `{RUNS}` table")] if present else []
    found = []
    for table, version in sorted(load_manifest(root).tables.items()):
        uri = table_uri(root, table)
        try:
            delta = DeltaTable(uri, version=version)
        except Exception as err:
            found.append(Damage(table, f"its log cannot be read at version {version}: {err}"))
            continue
        found += [Damage(table, problem, bucket) for bucket, problem in _data_file_problems(uri, delta, deep=deep)]
    return found


def _data_file_problems(uri: str, delta: DeltaTable, *, deep: bool) -> list[tuple[int, str]]:
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    filesystem, base = pafs.FileSystem.from_uri(uri)
    found = {  # one listing of the table's folder, not a request per file
        info.path: info.size
        for info in filesystem.get_file_info(pafs.FileSelector(base, recursive=True))
        if info.type == pafs.FileType.File
    }
    problems = []
    files = pl.DataFrame(pa.table(delta.get_add_actions(flatten=True)))
    columns = ["path", f"partition.{BUCKET}", "size_bytes", "num_records"]
    for relative, bucket, size, rows in files.select(columns).iter_rows():
        path = f"{base}/{relative}"
        if path not in found:
            problems.append((bucket, f"{uri}/{relative} is missing"))
        elif found[path] != size:
            problems.append((bucket, f"{uri}/{relative} has {found[path]} bytes, its log says {size}"))
        elif deep:
            try:
                with filesystem.open_input_file(path) as handle:
                    held = pq.read_metadata(handle).num_rows
            except Exception as err:
                problems.append((bucket, f"{uri}/{relative} is not a readable Parquet file: {err}"))
                continue
            if rows is not None and held != rows:
                problems.append((bucket, f"{uri}/{relative} holds {held} rows, its log says {rows}"))
    return problems


def read_buckets(
    root: Path | str, manifest: Manifest, table: str, buckets: set[int] | None = None, columns: list[str] | None = None
) -> pl.DataFrame:
    """Rows of the chosen buckets of a table (all buckets when None) as `manifest` has it, cast to its schema.

    A column added to the schema after a table was written reads as null there.
    """
    schema = all_tables()[table]
    wanted = columns or list(schema)
    empty = pl.DataFrame(schema={c: schema[c] for c in wanted})
    version = manifest.tables.get(table)
    if version is None or (buckets is not None and not buckets):
        return empty
    scan = pl.scan_delta(_table_at(table_uri(root, table), version))
    if buckets is not None:
        scan = scan.filter(pl.col(BUCKET).is_in(sorted(buckets)))
    present = set(scan.collect_schema().names())
    return scan.select(
        pl.col(c).cast(schema[c]) if c in present else pl.lit(None, dtype=schema[c]).alias(c) for c in wanted
    ).collect()


def read_tables(
    root: Path | str, tables: Iterable[str], run: int | str | datetime | None = None
) -> dict[str, pl.DataFrame]:
    """Whole tables as one run left them (the last complete one unless `run` names another)."""
    manifest = load_manifest(root, run)
    frames = {t: read_buckets(root, manifest, t) for t in tables}
    return {t: conform(t, f) if t in TABLES else f for t, f in frames.items()}


def read_table(root: Path | str, table: str) -> pl.DataFrame:
    """A whole table as the last complete run left it."""
    return read_tables(root, [table])[table]


def publish(
    root: Path | str, manifest: Manifest, changes: Mapping[str, Mapping[int, pl.DataFrame]], run_id: str,
    *, counts: Mapping[str, int] | None = None, kind: str = "archive",
) -> Manifest:  # fmt: skip
    """Replace the changed buckets of each table, then record the run in `_runs`; returns the archive after it."""
    versions = dict(manifest.tables)
    commit = CommitProperties(custom_metadata={RUN_ID_KEY: run_id})
    if _latest(table_uri(root, RUNS)) is None:  # first: then any table without it is damage, not a killed run
        _record_run(root, 0, run_id, "create", {}, {})
    for table in sorted(changes, key=PUBLISH_ORDER.index):
        buckets = changes[table]
        if not buckets:
            continue
        versions[table] = _replace_buckets(table_uri(root, table), table, buckets, commit)
    return _record_run(root, manifest.version + 1, run_id, kind, versions, counts or {})


def _replace_buckets(uri: str, table: str, buckets: Mapping[int, pl.DataFrame], commit: CommitProperties) -> int:
    """One Delta commit that replaces the rows of `buckets` in a table (creating it); the table's new version."""
    data = _arrow_batches(buckets, all_tables()[table] | {BUCKET: pl.Int32()})
    if _latest(uri) is None:
        write_deltalake(
            uri, data, partition_by=[BUCKET], mode="append", writer_properties=_WRITER, commit_properties=commit
        )
    else:
        predicate = f"{BUCKET} IN ({', '.join(str(b) for b in sorted(buckets))})"
        write_deltalake(
            uri, data, mode="overwrite", predicate=predicate, schema_mode="merge",
            writer_properties=_WRITER, commit_properties=commit,
        )  # fmt: skip
    return DeltaTable(uri).version()


def _arrow_batches(buckets: Mapping[int, pl.DataFrame], schema: Mapping[str, pl.DataType]) -> pa.RecordBatchReader:
    """The buckets' rows in the table's schema as a stream of Arrow batches, each made when the writer asks for it.

    Converted whole, a large run's comments stood in memory three times at once: as frames, as one
    Arrow table, and in the writer's buffers.
    """
    arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema

    def batches() -> Iterator[pa.RecordBatch]:
        for bucket, frame in buckets.items():
            for offset in range(0, frame.height, _WRITE_BATCH_ROWS):
                part = frame.slice(offset, _WRITE_BATCH_ROWS).with_columns(pl.lit(bucket, dtype=pl.Int32).alias(BUCKET))
                yield from (
                    part.select(pl.col(c).cast(t) for c, t in schema.items()).to_arrow().cast(arrow_schema).to_batches()
                )

    return pa.RecordBatchReader.from_batches(arrow_schema, batches())


def _record_run(
    root: Path | str, run: int, run_id: str, kind: str, versions: Mapping[str, int], counts: Mapping[str, int]
) -> Manifest:
    """The commit point: the row of `_runs` that makes the tables' new versions the archive."""
    row: dict[str, Any] = {name: counts.get(name) for name in RUNS_SCHEMA if RUNS_SCHEMA[name] == pl.Int64()}
    row |= {
        "run": run, "run_id": run_id, "kind": kind, "committed_at": datetime.now(UTC),
        "versions": json.dumps(dict(sorted(versions.items()))),
    }  # fmt: skip
    write_deltalake(
        table_uri(root, RUNS), pl.DataFrame([row], schema=RUNS_SCHEMA).to_arrow(), mode="append",
        commit_properties=CommitProperties(custom_metadata={RUN_ID_KEY: run_id}),
    )  # fmt: skip
    return Manifest(run, dict(versions), run_id)


def runs_since_compaction(runs: pl.DataFrame) -> int:
    """How many runs wrote to the archive since it was last compacted (or created)."""
    kinds = runs.sort("run")["kind"].to_list()
    last = max((no for no, kind in enumerate(kinds) if kind == "compact"), default=-1)
    return sum(1 for kind in kinds[last + 1 :] if kind not in ("create", "compact"))


def compact(root: Path | str, *, keep_hours: int, run_id: str) -> tuple[Manifest, int]:
    """Drop the files no version of the last `keep_hours` hours reads, then rewrite each table's small files into
    few (a new version, the same rows); the archive after it and the number of files removed.

    Runs older than `keep_hours` can no longer be read once their files are gone. Files are dropped first:
    Delta's VACUUM is itself a commit, and one after the run's row left every table ahead of it (the next run
    took that for a killed run). The files the rewrite replaces go at the next compaction; until the run's row
    is written, the last complete run's files are all there for a run to put the tables back to.
    """
    recover(root)  # what a killed run left ahead of the last complete one goes first
    manifest = load_manifest(root)
    versions = dict(manifest.tables)
    commit = CommitProperties(custom_metadata={RUN_ID_KEY: run_id})
    removed = 0
    for table in [*sorted(manifest.tables), RUNS]:
        delta = DeltaTable(table_uri(root, table))
        removed += len(delta.vacuum(retention_hours=keep_hours, dry_run=False, enforce_retention_duration=False))
    for table in sorted(manifest.tables):
        DeltaTable(table_uri(root, table)).optimize.compact(writer_properties=_WRITER, commit_properties=commit)
        versions[table] = DeltaTable(table_uri(root, table)).version()
    return _record_run(root, manifest.version + 1, run_id, "compact", versions, {}), removed


def migrate(root: Path, *, run_id: str) -> Manifest:
    """An archive of the layout before Delta tables (a manifest naming Parquet files per bucket) made Delta tables.

    The Parquet files the old manifest named are read, written as the first run, and removed with it.
    """
    old = json.loads((root / OLD_MANIFEST).read_text(encoding="utf-8"))
    if run_rows(root).height:
        raise RuntimeError(f"{root} holds Delta tables already")
    changes: dict[str, dict[int, pl.DataFrame]] = {}
    for table, files in old["tables"].items():
        schema = all_tables()[table]
        changes[table] = {
            int(bucket): pl.read_parquet(root / name, schema=schema, missing_columns="insert", hive_partitioning=False)
            for bucket, name in files.items()
        }
    (root / OLD_MANIFEST).rename(root / f".{OLD_MANIFEST}.migrating")
    manifest = publish(root, Manifest(), changes, run_id, kind="migrate")
    for files in old["tables"].values():
        for name in files.values():
            (root / name).unlink(missing_ok=True)
    (root / f".{OLD_MANIFEST}.migrating").unlink()
    return manifest


LEASE = "_lease"
LEASE_SECONDS = 300  # a run killed outright holds an archive in object storage this long at most
RENEW_SECONDS = 60


@dataclass(frozen=True)
class LeaseHolder:
    holder: str
    until: datetime


_FREE = ""
_LEASE_SCHEMA = {"holder": pl.String(), "until": UTC_TIME}


def _lease_table(root: str) -> DeltaTable:
    """The `_lease` table (one row: who holds the archive, until when), created free if missing."""
    uri = table_uri(root, LEASE)
    lease = _latest(uri)
    if lease is None:
        with suppress(Exception):  # another run created it first
            free = pl.DataFrame({"holder": [_FREE], "until": [datetime.now(UTC)]}, schema=_LEASE_SCHEMA)
            write_deltalake(uri, free.to_arrow(), mode="error")
        lease = DeltaTable(uri)
    return lease


def lease_holder(lease: DeltaTable, now: datetime) -> LeaseHolder | None:
    """Who holds the lease in this version of the `_lease` table, unless it has run out."""
    row = pl.scan_delta(lease).collect()
    if row.is_empty() or row["holder"][0] == _FREE or row["until"][0] < now:
        return None
    return LeaseHolder(str(row["holder"][0]), row["until"][0])


def _write_lease(lease: DeltaTable, holder: str, until: datetime) -> bool:
    """Replace the row of the version `lease` was read at; False when another run wrote the table since.

    Two runs that read the same version both replace its one file: Delta lets the first commit and
    refuses the second (a concurrent transaction deleted what it read).
    """
    row = pl.DataFrame({"holder": [holder], "until": [until]}, schema=_LEASE_SCHEMA)
    try:
        write_deltalake(lease, row.to_arrow(), mode="overwrite")
    except CommitFailedError:
        return False
    return True


@contextmanager
def _object_store_lease(root: str, *, wait_seconds: float, on_wait: Any = None) -> Iterator[None]:
    """The lock of an archive in object storage: a lease taken, renewed every minute, and given back.

    A run killed outright holds it until it runs out (LEASE_SECONDS).
    """
    me = f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        lease = _lease_table(root)
        now = datetime.now(UTC)
        held = lease_holder(lease, now)
        if held is None and _write_lease(lease, me, now + timedelta(seconds=LEASE_SECONDS)):
            break
        if held is not None and time.monotonic() >= deadline:
            busy = f"the archive {root} is being written by {held.holder}"
            raise ArchiveBusy(f"{busy}; gave up after {wait_seconds:.0f} s")
        if on_wait is not None and not told and held is not None:
            on_wait(f"waiting for {held.holder} to finish writing the archive")
            told = True
        time.sleep(1.0)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RENEW_SECONDS):
            with suppress(Exception):  # a missed renewal is tried again; the lease lasts five of them
                lease = _lease_table(root)
                held = lease_holder(lease, datetime.now(UTC))
                if held is not None and held.holder == me:
                    _write_lease(lease, me, datetime.now(UTC) + timedelta(seconds=LEASE_SECONDS))

    renewing = threading.Thread(target=renew, name="archive-lease", daemon=True)
    renewing.start()
    try:
        yield
    finally:
        stop.set()
        renewing.join()
        lease = _lease_table(root)
        held = lease_holder(lease, datetime.now(UTC))
        if held is not None and held.holder == me:
            _write_lease(lease, _FREE, datetime.now(UTC))


@contextmanager
def archive_lock(root: Path | str, *, wait_seconds: float, on_wait: Any = None) -> Iterator[None]:
    """Hold the archive's lock; wait for another run to finish, up to wait_seconds.

    On local disk a lock file (`flock`); in object storage a lease in the `_lease` table.
    """
    if _remote(str(root)):
        with _object_store_lease(str(root), wait_seconds=wait_seconds, on_wait=on_wait):
            yield
        return
    root = Path(root)
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
