"""The archive flow's deployment and schedule, kept apart from the pipeline.

`python -m flows.deploy` registers the deployment with the Prefect server at PREFECT_API_URL and
executes its runs in this process (`prefect.serve`) until it is stopped.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import signal
import sys
import time
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flows.lifetime import InterruptUntilHeard
from tasks.core.folders import is_object_store

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

DEPLOYMENT = "newsarchive"  # shown as archive/newsarchive
DEFAULT_CRON = "0 2 * * *"  # daily at 02:00
DEFAULT_TIMEZONE = "UTC"
# How often the runner asks the server for runs due (Prefect's default: 10 s). A run queued behind another starts
# this long (plus up to 30 % jitter) after the first ends.
POLL_SECONDS = 2


def archive_deployment(*, cron: str, timezone: str, raw_dir: str, out_dir: str) -> RunnerDeployment:
    """One deployment for scheduled and manual runs, so one concurrency limit covers both.

    The folders are top-level parameters of the flow: a run given other parameters keeps them.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    from flows.archive import archive

    deployment = archive.to_deployment(
        name=DEPLOYMENT,
        description=(
            f"Archives {raw_dir} into {out_dir} on the cron schedule {cron!r} ({timezone}). "
            "Run → Quick run archives now; Run → Custom run changes directories or thresholds for one run. "
            "One run at a time: further runs wait in the queue and start when it ends."
        ),
        schedules=[Cron(cron, timezone=timezone)],
        # A second run writing the same tables at once would race on them: runs queue instead of failing.
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
        parameters={"raw_dir": raw_dir, "out_dir": out_dir},
        enforce_parameter_schema=True,
        tags=["newsarchive"],
    )
    assert not inspect.isawaitable(deployment)  # async_dispatch: called from sync code, it returns the deployment
    return deployment


def parse_args(
    argv: Sequence[str] | None,
    *,
    prog: str = "python -m flows.deploy",
    about: str = __doc__ or "",
    epilog: str | None = None,
) -> argparse.Namespace:
    """Options, each with an environment variable as its default; bad values stop here, before any server call.

    `prog`, `about` and `epilog`: how the command that takes these options (this one or flows.serve) presents itself.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=about, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env = os.environ.get
    parser.add_argument(
        "--cron",
        default=env("NEWSARCHIVE_CRON", DEFAULT_CRON),
        help=f"when scheduled runs start (env NEWSARCHIVE_CRON, default {DEFAULT_CRON!r})",
    )
    parser.add_argument(
        "--timezone",
        default=env("NEWSARCHIVE_TIMEZONE", DEFAULT_TIMEZONE),
        help="IANA time zone of the cron schedule (env NEWSARCHIVE_TIMEZONE, default UTC)",
    )
    parser.add_argument(
        "--raw-dir",
        default=env("NEWSARCHIVE_RAW_DIR", "data/raw"),
        help="raw directory of runs that name none (env NEWSARCHIVE_RAW_DIR, default data/raw), or s3://bucket/prefix",
    )
    parser.add_argument(
        "--out-dir",
        default=env("NEWSARCHIVE_OUT_DIR", "data/processed"),
        help=(
            "archive directory of runs that name none (env NEWSARCHIVE_OUT_DIR, default data/processed), "
            "or s3://bucket/prefix"
        ),
    )
    args = parser.parse_args(argv)
    try:
        zoneinfo.ZoneInfo(args.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        parser.error(f"--timezone: {args.timezone!r} is not an IANA time zone such as 'UTC' or 'Europe/Berlin'")
    from prefect.schedules import Cron

    try:
        Cron(args.cron, timezone=args.timezone)
    except ValueError as err:
        parser.error(f"--cron: {args.cron!r} is not a valid cron expression ({err})")
    # Absolute, so the UI shows exactly where runs read and write, whatever directory serves them.
    args.raw_dir, args.out_dir = (
        d if is_object_store(d) else str(Path(d).resolve()) for d in (args.raw_dir, args.out_dir)
    )
    return args


def pause_schedule() -> None:
    """Pause the deployment's schedule once nothing executes its runs; a server that is gone is left alone.

    Prefect's runner pauses it only once it has started: stopped between registering the deployment and that
    (`make serve` stopped a few seconds after it printed the UI address), it left the schedule on, and the
    server went on scheduling runs that nothing would execute.
    """
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(f"archive/{DEPLOYMENT}")
            if not deployment.paused:
                client.pause_deployment(deployment.id)
                print(f"newsarchive: paused the schedule of archive/{DEPLOYMENT}", flush=True)
    except ObjectNotFound:
        pass  # stopped before it was registered
    except Exception as err:  # stopping must not fail on it
        print(f"newsarchive: could not pause the schedule of archive/{DEPLOYMENT}: {err}", file=sys.stderr)


class AtCapacityNowAndThen(logging.Filter):
    """The runner's "N scheduled runs skipped (at capacity)" at most once a minute: with limit=1 it says so at every
    poll (2 s) for as long as a run waits for the one in progress, hours maybe."""

    def __init__(self, every_s: float = 60.0) -> None:
        super().__init__()
        self.every_s = every_s
        self.last = -every_s

    def filter(self, record: logging.LogRecord) -> bool:
        if "(at capacity)" not in str(record.msg):
            return True
        if time.monotonic() - self.last < self.every_s:
            return False
        self.last = time.monotonic()
        return True


def main(argv: Sequence[str] | None = None) -> int:
    """Register the deployment and execute its runs until Ctrl-C or SIGTERM; then pause its schedule."""
    # Prefect's runner takes SIGTERM over once it starts; until then SIGTERM would end this process on the spot.
    # The same way out as Ctrl-C, so the schedule is paused on the way.
    interrupt = InterruptUntilHeard()
    signal.signal(signal.SIGTERM, interrupt)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = parse_args(argv)
    from prefect import serve

    logging.getLogger("prefect.runner").addFilter(AtCapacityNowAndThen())
    try:
        # limit=1: the runner leaves a run due while it executes another Scheduled, and takes it at its next poll.
        # Without it, the server put that run in AwaitingConcurrencySlot for 30 s at a time (its
        # PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS), so it started up to 30 s after the first ended.
        serve(
            archive_deployment(cron=args.cron, timezone=args.timezone, raw_dir=args.raw_dir, out_dir=args.out_dir),
            limit=1,
            query_seconds=POLL_SECONDS,
        )
    except KeyboardInterrupt:
        pass  # interrupted before the runner started (once started, it catches KeyboardInterrupt itself)
    finally:  # also on the runner's SystemExit(0) after SIGTERM
        interrupt.heard()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the pause short
        pause_schedule()
    return 0


if __name__ == "__main__":
    sys.exit(main())
