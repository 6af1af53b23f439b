"""Stage 6c: the tables on disk as zstd Parquet, each file replaced atomically."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.build import run_summary
from tasks.schema import TABLES, conform

PART_NAME = "part-0.parquet"


def write_table(frame: pl.DataFrame, table_dir: Path) -> Path:
    """Write to a hidden temporary name, then rename into place: readers never see half a file."""
    table_dir.mkdir(parents=True, exist_ok=True)
    target = table_dir / PART_NAME
    temporary = table_dir / f".{PART_NAME}.{uuid.uuid4().hex}.tmp"
    try:
        frame.write_parquet(temporary, compression="zstd", statistics=True)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    return target


def read_table(out_dir: Path, table: str) -> pl.DataFrame | None:
    """A table of an earlier run, or None when there is none yet."""
    files = sorted((out_dir / table).glob("**/*.parquet"))
    if not files:
        return None
    return conform(table, pl.read_parquet(files))


@task(name="write-archive", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def write_archive(tables: dict[str, pl.DataFrame], out_dir: str) -> dict[str, int]:
    """Write every table of the archive; returns the run's summary counts."""
    root = Path(out_dir)
    counts = {}
    for table in TABLES:
        write_table(tables[table], root / table)
        counts[table] = tables[table].height
    get_run_logger().info("wrote %s", ", ".join(f"{t}: {n} rows" for t, n in counts.items()))
    return run_summary(tables)


@task(name="read-previous-sources", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_previous_sources(out_dir: str) -> pl.DataFrame | None:
    """The `sources` table an earlier run wrote, so reruns keep its times."""
    return read_table(Path(out_dir), "sources")
