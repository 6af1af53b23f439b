"""`newsarchive history`, `verify`, `repair`, `compact` and `migrate`: looking after an archive between runs."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.core.config import KEEP_HOURS

if TYPE_CHECKING:
    import polars as pl


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = commands.add_parser("history", help="list the archive's runs, one line each")
    history.add_argument("--out-dir", default="data/processed", help="archive directory (default: data/processed)")
    tidy = commands.add_parser(
        "compact", help="rewrite small files into few, and remove the files no run of the last hours reads"
    )
    tidy.add_argument("--out-dir", default="data/processed", help="archive directory (default: data/processed)")
    tidy.add_argument(
        "--keep-hours", type=int, default=KEEP_HOURS,
        help=f"runs of the last hours stay readable (default: {KEEP_HOURS}, a week); older runs no longer can",
    )  # fmt: skip
    tidy.add_argument("--wait", type=int, default=3600, metavar="SECONDS", help="how long to wait for a run")
    check = commands.add_parser(
        "verify", help="check every table's log and files, ids and references; exit 1 naming what is wrong"
    )
    check.add_argument("--out-dir", default="data/processed", help="archive directory (default: data/processed)")
    check.add_argument("--raw-dir", default=None, help="the raw folder its runs archived: named in the advice")
    mend = commands.add_parser(
        "repair", help="rebuild the buckets whose files are damaged from the raw captures, as one run"
    )
    mend.add_argument("--raw-dir", default="data/raw", help="directory of raw captures (default: data/raw)")
    mend.add_argument("--out-dir", default="data/processed", help="archive directory (default: data/processed)")
    mend.add_argument("--wait", type=int, default=3600, metavar="SECONDS", help="how long to wait for a run")
    convert = commands.add_parser("migrate", help="convert an archive of the layout before Delta tables, once")
    convert.add_argument("--out-dir", default="data/processed", help="archive directory (default: data/processed)")
    convert.add_argument("--wait", type=int, default=3600, metavar="SECONDS", help="how long to wait for a run")


def history_lines(runs: pl.DataFrame) -> list[str]:
    """One line per run: number, time, kind, what it archived."""
    lines = []
    for row in runs.iter_rows(named=True):
        when = f"{row['committed_at']:%Y-%m-%d %H:%M:%S} UTC"
        what = {"create": "the archive created", "compact": "compacted"}.get(row["kind"], row["kind"])
        if row["kind"] == "repair":
            what = f"repaired: {row['articles_updated'] or 0} articles rebuilt from {row['captures'] or 0} captures"
        if row["kind"] == "archive":
            what = (
                f"{row['captures'] or 0} captures read ({row['archived'] or 0} archived, "
                f"{row['quarantined'] or 0} quarantined); articles: {row['articles_new'] or 0} new, "
                f"{row['articles_updated'] or 0} updated"
            )
        lines.append(f"run {row['run']:>4}  {when}  {row['run_id']}  {what}")
    return lines


def archive_problems(out: Path | str, raw_dir: str | None = None) -> list[str]:
    """What is wrong with the archive's last run: its files (and what to do about them), then (when they read)
    its ids and references."""
    from tasks.articles.rows import article_rows
    from tasks.checks import find_problems
    from tasks.core.schema import TABLES
    from tasks.state import damage_advice
    from tasks.storage.store import find_damage, read_tables

    damage = find_damage(out)
    if damage:
        return [*map(str, damage), damage_advice(out, damage, raw_dir)]
    tables = read_tables(out, TABLES)
    return find_problems({t: {0: frame} for t, frame in tables.items()}, [], article_rows([]))


def run_command(args: argparse.Namespace) -> int:
    """The command `args.command` names; exit 1 with one line when the archive is busy or not there."""
    # Imported here: `newsarchive run` refuses bad arguments before Prefect is imported (it creates its home).
    from tasks.core.folders import is_object_store
    from tasks.storage.store import ArchiveBusy, archive_lock, compact, migrate, run_rows

    out: Path | str = args.out_dir if is_object_store(args.out_dir) else Path(args.out_dir).absolute()
    if args.command == "migrate" and isinstance(out, str):
        print("newsarchive: migrate converts an archive on local disk", file=sys.stderr)
        return 2
    if isinstance(out, Path) and not out.is_dir():
        print(f"newsarchive: no archive at {out}", file=sys.stderr)
        return 1
    run_id = f"{args.command}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    try:
        if args.command == "verify":
            problems = archive_problems(out, args.raw_dir and str(Path(args.raw_dir).absolute()))
            print("\n".join(problems) if problems else f"the archive {out} is whole: every file and reference checked")
            return 1 if problems else 0
        if args.command == "repair":
            return repair(args, out)
        if args.command == "history":
            lines = history_lines(run_rows(out))
            print("\n".join(lines) if lines else f"no run has completed in {out}")
        elif args.command == "compact":
            with archive_lock(out, wait_seconds=args.wait, on_wait=print):
                manifest, removed = compact(out, keep_hours=args.keep_hours, run_id=run_id)
            print(f"compacted: the archive is at version {manifest.version}; {removed} files removed")
        else:
            assert isinstance(out, Path)
            with archive_lock(out, wait_seconds=args.wait, on_wait=print):
                manifest = migrate(out, run_id=run_id)
            print(f"migrated: {len(manifest.tables)} Delta tables, version {manifest.version}")
    except (ArchiveBusy, FileNotFoundError, RuntimeError) as err:
        print(f"newsarchive: {err}", file=sys.stderr)
        return 1
    return 0


def repair(args: argparse.Namespace, out: Path | str) -> int:
    """`newsarchive repair`: exit 0 when the archive is whole after it, 1 naming what it cannot rebuild."""
    from flows.repair import repair_archive
    from tasks.core.config import ArchiveParams
    from tasks.core.folders import is_object_store
    from tasks.core.rawstore import raw_folder_problem
    from tasks.storage.store import ArchiveDamaged

    problem = raw_folder_problem(args.raw_dir)
    if problem is not None:
        print(f"newsarchive: {problem}", file=sys.stderr)
        return 3
    raw = args.raw_dir if is_object_store(args.raw_dir) else str(Path(args.raw_dir).absolute())
    params = ArchiveParams(raw_dir=raw, out_dir=str(out))
    try:
        done = repair_archive(params, wait_seconds=args.wait, on_wait=print)
    except ArchiveDamaged as err:
        print(f"newsarchive: the archive {out} {err}", file=sys.stderr)
        return 1
    if done.cannot:
        print(
            f"newsarchive: nothing was changed: {len(done.cannot)} articles of the damaged buckets cannot be "
            f"rebuilt from {args.raw_dir}:\n" + "\n".join(done.cannot),
            file=sys.stderr,
        )
        return 1
    if not done.damaged:
        print(f"nothing to repair: every file of {out} is whole")
        return 0
    tables = ", ".join(f"{table} ({len(buckets)})" for table, buckets in sorted(done.damaged.items()))
    print(
        f"repaired: {len(done.buckets)} buckets of every table rebuilt from the raw captures (damaged: {tables}); "
        f"the archive is at version {done.version}"
    )
    return 0
