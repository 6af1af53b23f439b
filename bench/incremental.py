"""Incremental runs: what a run that adds 10 captures to an archive of N reads, and how long it takes.

.venv/bin/python -m bench.incremental --articles 5000 --out BENCHMARKS-incremental.md
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

import tasks.store as store
from tests.corpus import write_seed_variants
from tests.helpers import run_stages


class ReadMeter:
    """Counts the bytes of the Parquet files the store reads."""

    def __init__(self) -> None:
        self.bytes = 0
        self._read = pl.read_parquet

    def __enter__(self) -> ReadMeter:
        def counting(source: list[Path], **kwargs: object) -> pl.DataFrame:
            self.bytes += sum(Path(p).stat().st_size for p in source)
            return self._read(source, **kwargs)  # type: ignore[arg-type]

        store.pl.read_parquet = counting  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        store.pl.read_parquet = self._read


def archive_bytes(out: Path) -> int:
    return sum(p.stat().st_size for p in out.rglob("*.parquet"))


def measure(n_articles: int, n_new_articles: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        raw, out = Path(work) / "raw", Path(work) / "out"
        write_seed_variants(raw, n_articles + n_new_articles)
        new = sorted(raw.glob("*.txt"))[-2 * n_new_articles :]
        held = Path(work) / "held"
        held.mkdir()
        for path in new:
            path.rename(held / path.name)
        started = time.perf_counter()
        run_stages(raw, out)
        first = time.perf_counter() - started
        size = archive_bytes(out)
        with ReadMeter() as meter:
            started = time.perf_counter()
            run_stages(raw, out)
            rerun = time.perf_counter() - started
        rerun_read = meter.bytes
        for path in held.iterdir():
            path.rename(raw / path.name)
        with ReadMeter() as meter:
            started = time.perf_counter()
            run_stages(raw, out)
            added = time.perf_counter() - started
        return {
            "captures": 2 * n_articles, "new": 2 * n_new_articles, "first_s": first, "rerun_s": rerun,
            "added_s": added, "archive_mb": size / 1e6, "rerun_read_mb": rerun_read / 1e6,
            "added_read_mb": meter.bytes / 1e6,
        }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--new-articles", type=int, default=5)
    args = parser.parse_args()
    print(measure(args.articles, args.new_articles))


if __name__ == "__main__":
    main()
