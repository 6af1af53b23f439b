"""`python -m bench.same_archive A B`: do two archives hold the same table content?

Compares every table (the anchor index included; either layout: Delta tables, or the Parquet files
an older manifest names), row for row after sorting,
leaving out the columns that hold the time of a run. Used to show that a change of the code's
layout changed no byte of what the archive holds. Exit 0 when equal, 1 with the first difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from tasks.storage.store import OLD_MANIFEST, load_manifest, read_buckets

RUN_TIME_COLUMNS = ("ingested_at", "first_seen_at", "last_seen_at")


def archive_tables(out_dir: Path) -> dict[str, pl.DataFrame]:
    """Every table the archive holds: its Delta tables at its last run, or the files an older layout's
    manifest (`_manifest.json`) lists."""
    old = out_dir / OLD_MANIFEST
    if not old.exists():
        manifest = load_manifest(out_dir)
        return {table: read_buckets(out_dir, manifest, table) for table in sorted(manifest.tables)}
    listed = json.loads(old.read_text(encoding="utf-8"))["tables"]
    return {
        table: pl.concat([pl.read_parquet(out_dir / f, hive_partitioning=False) for f in files.values()])
        for table, files in listed.items()
    }


def table_content(frame: pl.DataFrame) -> pl.DataFrame:
    """A table's rows in one order, run times left out."""
    frame = frame.drop([c for c in RUN_TIME_COLUMNS if c in frame.columns])
    return frame.sort(frame.columns, nulls_last=True) if frame.columns else frame


def differences(a: Path, b: Path) -> list[str]:
    """What differs between the archives in `a` and `b`: tables, then rows; empty when they hold the same."""
    return table_differences(archive_tables(a), archive_tables(b))


def table_differences(tables_a: dict[str, pl.DataFrame], tables_b: dict[str, pl.DataFrame]) -> list[str]:
    """differences() of two archives' tables as read (archive_tables), perhaps changed by the caller first."""
    if sorted(tables_a) != sorted(tables_b):
        return [f"tables differ: {sorted(tables_a)} against {sorted(tables_b)}"]
    found = []
    for table in sorted(tables_a):
        try:
            assert_frame_equal(table_content(tables_a[table]), table_content(tables_b[table]))
        except AssertionError as err:
            found.append(f"{table}: {str(err).splitlines()[0]}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.same_archive", description=__doc__)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    found = differences(args.a, args.b)
    tables = archive_tables(args.a)
    rows = sum(frame.height for frame in tables.values())
    if found:
        print("\n".join(found))
        return 1
    print(f"same content: {len(tables)} tables, {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
