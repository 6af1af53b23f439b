"""`newsarchive run`: the archive flow once, from the command line; `newsarchive synth`: a test corpus;
`newsarchive history`, `verify`, `compact`, `migrate`: looking after an archive."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from flows.maintain import add_commands, run_command
from tasks.core.config import KEEP_HOURS, ArchiveParams, CompactionConfig, ExecutionConfig
from tasks.core.folders import FolderOverlapError, absolute_folders
from tasks.core.rawstore import raw_folder_problem

# Exit codes (README, "Two commands"): 0 done, 1 the run failed, 2 a usage error (argparse's own), then:
RAW_DIR_MISSING = 3  # the raw folder is missing or cannot be listed: often a mount not there yet


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newsarchive", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="archive the raw captures once")
    run.add_argument(
        "--raw-dir", default="data/raw", help="directory of raw captures, or s3://bucket/prefix (default: data/raw)"
    )
    run.add_argument(
        "--out-dir", default="data/processed", help="archive directory, or s3://bucket/prefix (default: data/processed)"
    )
    run.add_argument(
        "--wait", type=int, default=3600, metavar="SECONDS",
        help="how long to wait while another run writes the same archive (default: 3600)",
    )  # fmt: skip
    run.add_argument(
        "--runner", choices=["processes", "threads", "dask"], default="processes",
        help="task runner of the batch stages (default: processes, one per core)",
    )  # fmt: skip
    run.add_argument("--workers", type=int, default=0, help="worker processes or threads (default: one per core)")
    run.add_argument("--dask-address", default="", help="with --runner dask: an existing cluster's scheduler")
    run.add_argument(
        "--decode-batch-captures", type=int, default=ExecutionConfig().decode_batch_captures, metavar="N",
        help="captures per decoding task (default: %(default)s)",
    )  # fmt: skip
    run.add_argument(
        "--batch-captures", type=int, default=ExecutionConfig().batch_captures, metavar="N",
        help="captures per batch of articles: fewer hold less memory per worker (default: %(default)s)",
    )  # fmt: skip
    run.add_argument(
        "--compact-every-runs", type=int, default=0, metavar="N",
        help="after the commit, compact the archive once N runs have written since it was last compacted "
        "(default: 0, never)",
    )  # fmt: skip
    run.add_argument(
        "--keep-hours", type=int, default=KEEP_HOURS, metavar="H",
        help=f"runs of the last hours stay readable when this run compacts (default: {KEEP_HOURS}, a week)",
    )  # fmt: skip
    synth = commands.add_parser("synth", help="write a synthetic corpus of captures with gold labels")
    synth.add_argument("--articles", type=int, required=True, help="number of articles (1 to 4 captures each)")
    synth.add_argument("--out", required=True, help="corpus directory: OUT/raw/*.txt and OUT/gold/")
    synth.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default: 0)")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU)")
    add_commands(commands)
    return parser.parse_args(argv)


def synthesize(args: argparse.Namespace) -> int:
    """Write the corpus; exit 2 when the output directory already holds captures."""
    from tasks.synth.corpus import write_corpus

    if args.articles < 1:
        print("newsarchive: --articles must be at least 1", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        summary = write_corpus(Path(args.out), articles=args.articles, seed=args.seed, workers=args.workers)
    except FileExistsError as err:
        print(f"newsarchive: {err}", file=sys.stderr)
        return 2
    print(
        f"articles: {summary.articles}, captures: {summary.captures}, "
        f"MB: {summary.raw_bytes / 1e6:.1f}, lines: {summary.lines}, seconds: {time.perf_counter() - started:.1f}"
    )
    return 0


@contextmanager
def run_settings() -> Iterator[None]:
    """Prefect settings for a run started here, as `newsarchive run` starts it.

    On the temporary server (no PREFECT_API_URL), flow-run heartbeats are off: that server
    ends with this process, so nothing could miss them, and stopping the heartbeat thread
    held up the end of every run by up to a second (it sleeps a second at a time). A real
    server keeps them: they tell it which runs crashed.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit 1 only when the run itself failed."""
    args = parse_args(argv)
    if args.command == "synth":
        return synthesize(args)
    if args.command in ("history", "compact", "migrate", "verify", "repair"):
        return run_command(args)
    problem = raw_folder_problem(args.raw_dir)
    if problem is not None:
        print(f"newsarchive: {problem}", file=sys.stderr)
        return RAW_DIR_MISSING
    try:
        raw_dir, out_dir = absolute_folders(args.raw_dir, args.out_dir)
    except FolderOverlapError as err:
        print(f"newsarchive: {err}; give an --out-dir apart from --raw-dir", file=sys.stderr)
        return 2
    # Offline machines: no telemetry calls from the temporary server.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The temporary server's 20 s default is too short when two runs start at once on two busy cores.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    from flows.lifetime import stop_on_signals

    watch = stop_on_signals()  # Ctrl-C: exit 130, SIGTERM: 143, in seconds; before any thread or process starts
    from flows.archive import archive  # Prefect is imported only once the arguments are good
    from tasks.runtime.execution import workers_started_early
    from tasks.runtime.server import on_temporary_server

    try:
        execution = ExecutionConfig(
            runner=args.runner, workers=args.workers, dask_address=args.dask_address,
            decode_batch_captures=args.decode_batch_captures, batch_captures=args.batch_captures,
        )  # fmt: skip
        compaction = CompactionConfig(every_runs=args.compact_every_runs, keep_hours=args.keep_hours)
    except ValidationError as err:
        print(f"newsarchive: {err}", file=sys.stderr)
        return 2
    params = ArchiveParams(
        raw_dir=raw_dir, out_dir=out_dir, lock_wait_seconds=args.wait, execution=execution, compaction=compaction
    )
    try:
        # The temporary server as Prefect would start it, but dying with this process.
        with run_settings(), workers_started_early(params), on_temporary_server():
            counts = archive.with_options(on_running=[watch.note_run_for_ctrl_c])(**params.flow_parameters())
    except Exception as err:  # the flow already logged the traceback
        print(f"newsarchive: the run failed: {err}", file=sys.stderr)
        return 1
    print(summary_line(counts))
    return 0


def summary_line(counts: Mapping[str, int]) -> str:
    """The run's counts; a run that read nothing says so, where a row of zeros read like an empty archive."""
    if counts["captures"] == 0:
        archived, articles = counts["captures_archived_before"], counts["articles_archived_before"]
        return f"nothing new: {_plural(archived, 'capture')} already archived ({_plural(articles, 'article')})"
    return (
        f"captures read: {counts['captures']}, articles: {counts['articles']}, "
        f"paragraphs: {counts['paragraphs']}, comments: {counts['comments']}, "
        f"quarantined: {counts['quarantined']}"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


if __name__ == "__main__":
    sys.exit(main())
