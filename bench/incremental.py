"""Incremental runs: what a run that adds 10 captures to an archive of N reads, and how long it takes.

.venv/bin/python -m bench.incremental --articles 5000 --out BENCHMARKS-incremental.md
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

import tasks.plan
import tasks.related
import tasks.state
import tasks.storage.store as store
from bench.seeds import SEED_NAMES, write_seed_variants
from flows.archive import archive_in_process
from tasks.core.config import ArchiveParams

# Each run at a time of its own, as days apart: a run's files are named by the archive's version and its time.
DAY2, DAY3 = datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)


READERS = (store, tasks.plan, tasks.related, tasks.state)  # the modules that read buckets


class ReadMeter:
    """Counts the bytes of the Parquet files the store reads: the files of the buckets each read names."""

    def __init__(self) -> None:
        self.bytes = 0
        self._read = store.read_buckets

    def __enter__(self) -> ReadMeter:
        def counting(
            root: Path, manifest: store.Manifest, table: str, buckets: set[int] | None = None, **kwargs: object
        ) -> pl.DataFrame:
            version = manifest.tables.get(table)
            if version is not None:
                actions = DeltaTable(store.table_uri(root, table), version=version).get_add_actions(flatten=True)
                files = pl.DataFrame(pa.table(actions))
                if buckets is not None:
                    files = files.filter(pl.col("partition.bucket").is_in(sorted(buckets)))
                self.bytes += int(files["size_bytes"].sum())
            return self._read(root, manifest, table, buckets, **kwargs)  # type: ignore[arg-type]

        for module in READERS:
            module.read_buckets = counting  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        for module in READERS:
            module.read_buckets = self._read  # type: ignore[attr-defined]


def run_stages(raw: Path, out: Path, *, run_at: datetime | None = None) -> None:
    """One run of the flow's stages in this process."""
    archive_in_process(ArchiveParams(raw_dir=str(raw), out_dir=str(out)), run_at=run_at)


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
            run_stages(raw, out, run_at=DAY2)
            added = time.perf_counter() - started
        added_read = meter.bytes
        later = write_later_captures(raw, 2 * n_new_articles)
        with ReadMeter() as meter:
            started = time.perf_counter()
            run_stages(raw, out, run_at=DAY3)
            extended = time.perf_counter() - started
        articles = store.read_table(out, "articles")
        assert articles.height == n_articles + n_new_articles, "a later capture made an article of its own"
        assert articles["n_sources"].sum() == 2 * (n_articles + n_new_articles) + later, "a later capture was lost"
        return {
            "captures": 2 * n_articles, "new": 2 * n_new_articles, "first_s": first, "rerun_s": rerun,
            "added_s": added, "archive_mb": size / 1e6, "rerun_read_mb": rerun_read / 1e6,
            "added_read_mb": added_read / 1e6, "later": later, "extended_s": extended,
            "extended_read_mb": meter.bytes / 1e6,
        }  # fmt: skip


def write_later_captures(raw: Path, n: int) -> int:
    """The comment pages of the first n stored articles scraped again, each with a new comment."""
    pages = sorted(raw.glob(f"*-{SEED_NAMES[0]}.txt"))[:n]
    for k, page in enumerate(pages):
        text = page.read_text(encoding="utf-8")
        (raw / f"{page.stem}-later.txt").write_text(f"{text}\nA new comment on this page, number {k}, a day later.\n")
    return len(pages)


def markdown(figures: dict[str, float], command: str) -> str:
    """The section BENCHMARKS.md gets."""
    f = figures
    return "\n".join([
        "## Incremental runs",
        "",
        f"Command: `{command}`",
        "",
        f"An archive of {f['captures']:,.0f} captures (seed variants, 123 comments each), then a rerun "
        f"with nothing new, then a run with {f['new']:,.0f} new captures. \"Files opened\" counts the whole "
        "size of every Parquet file a run opens (it reads only some columns of some), against the "
        "archive's size.",
        "",
        "| run | seconds | files opened MB | archive MB | share |",
        "|---|---:|---:|---:|---:|",
        f"| first run, {f['captures']:,.0f} captures | {f['first_s']:.1f} | - | {f['archive_mb']:.1f} | - |",
        f"| rerun, nothing new | {f['rerun_s']:.2f} | {f['rerun_read_mb']:.1f} | {f['archive_mb']:.1f} | "
        f"{f['rerun_read_mb'] / f['archive_mb']:.0%} |",
        f"| {f['new']:,.0f} new captures | {f['added_s']:.2f} | {f['added_read_mb']:.1f} | {f['archive_mb']:.1f} | "
        f"{f['added_read_mb'] / f['archive_mb']:.0%} |",
        f"| {f['later']:,.0f} later captures of stored articles | {f['extended_s']:.2f} | "
        f"{f['extended_read_mb']:.1f} | {f['archive_mb']:.1f} | {f['extended_read_mb'] / f['archive_mb']:.0%} |",
        "",
        "The later captures are comment pages of stored articles scraped again with one new comment: "
        "each article is rebuilt from its earlier captures (read again from the raw directory) and "
        "the new one.",
        "",
        f"Rerun / first run: {f['rerun_s'] / f['first_s']:.4f}; run adding {f['new']:,.0f} / first run: "
        f"{f['added_s'] / f['first_s']:.4f}; run adding {f['later']:,.0f} later captures / first run: "
        f"{f['extended_s'] / f['first_s']:.4f}.",
        "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--new-articles", type=int, default=5)
    parser.add_argument("--append", type=Path, help="markdown file to append the section to")
    args = parser.parse_args()
    figures = measure(args.articles, args.new_articles)
    print(figures)
    if args.append:
        command = f".venv/bin/python -m bench.incremental --articles {args.articles} --append {args.append}"
        with args.append.open("a", encoding="utf-8") as handle:
            handle.write("\n" + markdown(figures, command))


if __name__ == "__main__":
    main()
