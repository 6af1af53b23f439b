"""`python -m bench.same_archive A B`: do two archives hold the same table content?

Compares every table the manifests name (the anchor index included), row for row after sorting,
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

RUN_TIME_COLUMNS = ("ingested_at", "first_seen_at", "last_seen_at")


def manifest_tables(out_dir: Path) -> dict[str, list[Path]]:
    """Each table's live files, as the archive's manifest lists them."""
    manifest = json.loads((out_dir / "_manifest.json").read_text(encoding="utf-8"))
    return {table: sorted(out_dir / f for f in files.values()) for table, files in manifest["tables"].items()}


def table_content(files: Sequence[Path]) -> pl.DataFrame:
    """A table's rows in one order, run times left out."""
    frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical") if files else pl.DataFrame()
    frame = frame.drop([c for c in RUN_TIME_COLUMNS if c in frame.columns])
    return frame.sort(frame.columns, nulls_last=True) if frame.columns else frame


def differences(a: Path, b: Path) -> list[str]:
    """What differs between the archives in `a` and `b`: tables, then rows; empty when they hold the same."""
    tables_a, tables_b = manifest_tables(a), manifest_tables(b)
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
    tables = manifest_tables(args.a)
    rows = sum(table_content(files).height for files in tables.values())
    if found:
        print("\n".join(found))
        return 1
    print(f"same content: {len(tables)} tables, {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
