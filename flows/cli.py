"""`newsarchive run`: the archive flow once, from the command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tasks.config import ArchiveParams


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newsarchive", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="archive the raw captures once")
    run.add_argument("--raw-dir", default="data/raw", help="directory of raw captures (default: data/raw)")
    run.add_argument("--out-dir", default="data/processed", help="archive directory (default: data/processed)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; exit 1 only when the run itself failed."""
    args = parse_args(argv)
    if not Path(args.raw_dir).is_dir():
        print(f"newsarchive: raw directory {args.raw_dir!r} does not exist or is not a directory", file=sys.stderr)
        return 2
    # Offline machines: no telemetry calls from the temporary server.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.archive import archive  # Prefect is imported only once the arguments are good

    params = ArchiveParams(raw_dir=args.raw_dir, out_dir=args.out_dir)
    try:
        counts = archive(params)
    except Exception as err:  # the flow already logged the traceback
        print(f"newsarchive: the run failed: {err}", file=sys.stderr)
        return 1
    print(
        f"captures read: {counts['captures']}, articles: {counts['articles']}, "
        f"paragraphs: {counts['paragraphs']}, comments: {counts['comments']}, "
        f"quarantined: {counts['quarantined']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
