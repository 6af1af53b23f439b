"""What the Delta Lake store costs run by run: `python -m bench.delta_runs daily|s3|incremental`.

- `daily --days 30 --captures 1000 [--compact-every-runs N]`: a synthetic corpus dropped in one day at a
  time, one run a day (compacting every N runs with `--keep-hours 0` when N is given); the archive's files
  after the last run, then after `newsarchive compact`.
- `s3 --captures 10000`: one run of a synthetic corpus into `s3://` on a moto server on 127.0.0.1;
  seconds and the requests the server answered, by method.
- `incremental --archive DIR --raw DIR`: on an archive of the raw folder, a rerun with nothing new,
  then 10 new captures; seconds of each command.
Every run is the real command (`newsarchive run`), as a user runs it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NEWSARCHIVE = [sys.executable, "-m", "flows.cli"]


STAGE_SECONDS = re.compile(r"; ([0-9.]+) s in the stages")
LAST_STAGES: list[float] = []  # the seconds in the stages of the last run, as it logged them


def newsarchive(*args: str, env: dict[str, str] | None = None) -> float:
    """Run the command; its seconds (the stages' own in LAST_STAGES). Fails loudly when it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [*NEWSARCHIVE, *args], cwd=REPO, env=env or dict(os.environ), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"newsarchive {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    LAST_STAGES[:] = [float(m) for m in STAGE_SECONDS.findall(done.stdout + done.stderr)][-1:]
    return time.perf_counter() - started


def synthetic(folder: Path, captures: int, seed: int) -> list[Path]:
    """A synthetic corpus of about `captures` captures; its capture files, in name order."""
    articles = max(1, captures * 10 // 23)  # the generator gives 2.3 captures an article on average
    newsarchive("synth", "--articles", str(articles), "--out", str(folder), "--seed", str(seed))
    return sorted((folder / "raw").glob("*.txt"))


def archive_files(out: Path) -> int:
    return sum(1 for p in out.rglob("*") if p.is_file() and ".scratch" not in p.parts)


def daily(days: int, captures: int, work: Path, compact_every_runs: int = 0) -> dict[str, object]:
    files = synthetic(work / "corpus", days * captures, seed=30)
    raw, out = work / "raw", work / "archive"
    raw.mkdir()
    seconds = []
    compaction = ["--compact-every-runs", str(compact_every_runs), "--keep-hours", "0"] if compact_every_runs else []
    for day in range(days):
        for path in files[day * captures : (day + 1) * captures]:
            shutil.copy(path, raw / path.name)
        seconds.append(newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), *compaction))
    before = archive_files(out)
    compact_s = newsarchive("compact", "--out-dir", str(out), "--keep-hours", "0")
    return {
        "days": days, "captures_a_day": captures, "compact_every_runs": compact_every_runs,
        "run_seconds_first_last": [seconds[0], seconds[-1]],
        "run_seconds_median": sorted(seconds)[len(seconds) // 2], "files_before_compaction": before,
        "files_after_compaction": archive_files(out), "compact_seconds": compact_s,
    }  # fmt: skip


def on_moto(captures: int, work: Path) -> dict[str, object]:
    import boto3
    from moto.server import ThreadedMotoServer

    requests: Counter[str] = Counter()

    class CountRequests(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            for method in ("GET", "PUT", "POST", "HEAD", "DELETE"):
                if f'"{method} ' in message:
                    requests[method] += 1

    logging.getLogger("werkzeug").addHandler(CountRequests())
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = dict(os.environ) | {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
    }  # fmt: skip
    try:
        client = boto3.client(
            "s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
        )  # fmt: skip
        client.create_bucket(Bucket="bench")
        files = synthetic(work / "corpus", captures, seed=31)
        requests.clear()
        seconds = newsarchive(
            "run", "--raw-dir", str(work / "corpus" / "raw"), "--out-dir", "s3://bench/archive", env=env
        )
        first = dict(requests)
        requests.clear()
        rerun = newsarchive(
            "run", "--raw-dir", str(work / "corpus" / "raw"), "--out-dir", "s3://bench/archive", env=env
        )
        return {
            "captures": len(files), "seconds": seconds, "requests": first, "rerun_seconds": rerun,
            "rerun_requests": dict(requests),
        }  # fmt: skip
    finally:
        server.stop()


def incremental(archive: Path, raw: Path, work: Path) -> dict[str, object]:
    """A rerun with nothing new, then 10 new captures, on a copy of the archive (the raw folder is left as it is)."""
    out = work / "archive"
    shutil.copytree(archive, out)
    rerun = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out))
    rerun_stages = list(LAST_STAGES)
    more = work / "raw"
    shutil.copytree(raw, more, copy_function=os.link)
    extra = synthetic(work / "extra", 10, seed=32)[:10]
    for path in extra:
        shutil.copy(path, more / f"new-{path.name}")
    added = newsarchive("run", "--raw-dir", str(more), "--out-dir", str(out))
    return {
        "rerun_seconds": rerun, "rerun_stage_seconds": rerun_stages, "ten_new_seconds": added,
        "ten_new_stage_seconds": list(LAST_STAGES), "new_captures": len(extra),
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delta_runs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    day = commands.add_parser("daily")
    day.add_argument("--days", type=int, default=30)
    day.add_argument("--captures", type=int, default=1000)
    day.add_argument("--compact-every-runs", type=int, default=0, help="each run's --compact-every-runs (0: never)")
    s3 = commands.add_parser("s3")
    s3.add_argument("--captures", type=int, default=10_000)
    inc = commands.add_parser("incremental")
    inc.add_argument("--archive", type=Path, required=True)
    inc.add_argument("--raw", type=Path, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="delta-runs-") as work:
        if args.command == "daily":
            found = daily(args.days, args.captures, Path(work), args.compact_every_runs)
        elif args.command == "s3":
            found = on_moto(args.captures, Path(work))
        else:
            found = incremental(args.archive, args.raw, Path(work))
    print(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
