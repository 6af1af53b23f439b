"""The archive flow's deployment and schedule, kept apart from the pipeline.

`python -m flows.deploy` registers the deployment with the Prefect server at PREFECT_API_URL and
executes its runs in this process (`prefect.serve`) until it is stopped.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.config import ArchiveParams

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

DEPLOYMENT = "newsarchive"  # shown as archive/newsarchive
DEFAULT_CRON = "0 2 * * *"  # daily at 02:00
DEFAULT_TIMEZONE = "UTC"


def archive_deployment(*, cron: str, timezone: str, params: ArchiveParams) -> RunnerDeployment:
    """One deployment for scheduled and manual runs, so one concurrency limit covers both."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    from flows.archive import archive

    deployment = archive.to_deployment(
        name=DEPLOYMENT,
        description=(
            f"Archives {params.raw_dir} into {params.out_dir} on the cron schedule {cron!r} ({timezone}). "
            "Run → Quick run archives now; Run → Custom run changes directories or thresholds for one run. "
            "One run at a time: further runs wait in the queue (AwaitingConcurrencySlot)."
        ),
        schedules=[Cron(cron, timezone=timezone)],
        # A second run writing the same tables at once would race on them: runs queue instead of failing.
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
        parameters={"params": {"raw_dir": params.raw_dir, "out_dir": params.out_dir}},
        enforce_parameter_schema=True,
        tags=["newsarchive"],
    )
    assert not inspect.isawaitable(deployment)  # async_dispatch: called from sync code, it returns the deployment
    return deployment


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options, each with an environment variable as its default; bad values stop here, before any server call."""
    parser = argparse.ArgumentParser(prog="python -m flows.deploy", description=__doc__.split("\n\n")[0])
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
        help="default raw directory of runs (env NEWSARCHIVE_RAW_DIR, default data/raw)",
    )
    parser.add_argument(
        "--out-dir",
        default=env("NEWSARCHIVE_OUT_DIR", "data/processed"),
        help="default archive directory of runs (env NEWSARCHIVE_OUT_DIR, default data/processed)",
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
    args.raw_dir = str(Path(args.raw_dir).resolve())
    args.out_dir = str(Path(args.out_dir).resolve())
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Register the deployment and execute its runs until Ctrl-C."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    args = parse_args(argv)
    from prefect import serve

    params = ArchiveParams(raw_dir=args.raw_dir, out_dir=args.out_dir)
    serve(archive_deployment(cron=args.cron, timezone=args.timezone, params=params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
