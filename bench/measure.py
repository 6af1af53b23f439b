"""One measured configuration in a fresh process: `python -m bench.measure METHOD CORPUS RESULT.json`.

A process of its own per configuration, so its peak RSS is that configuration's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

METHODS = ("flow", "stages", "floor", "group", "allpairs", "minhash")


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its finished children (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_rss_children_mb": round(children, 1)}


def decoded(raw_dir: Path) -> tuple[list[Any], list[str], float]:
    """The captures as newsarchive decodes them, their names (file stem) and the seconds it took."""
    from tasks.decode import decode_batch
    from tasks.discover import hash_capture, list_capture_paths

    started = time.perf_counter()
    raw = [hash_capture(uri, path, problem) for uri, path, problem in list_capture_paths(raw_dir)]
    captures = decode_batch(raw).captures
    names = [c.uri.removesuffix(".txt") for c in captures]
    return captures, names, time.perf_counter() - started


def named(clusters: list[list[int]], names: list[str]) -> list[list[str]]:
    return [[names[i] for i in cluster] for cluster in clusters]


class TreeMemory:
    """Peak of the summed resident memory of this process and all its descendants (worker processes
    included), sampled every 0.1 s: ru_maxrss sees one process at a time."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_mb = max(self.peak_mb, _tree_rss_mb(os.getpid()))


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _tree_rss_mb(root: int) -> float:
    # /proc/PID/stat is one line (parent at field 4, resident pages at 24): parsing every
    # process's /proc/PID/status ten times a second took more CPU than some stages measured.
    children: dict[int, list[int]] = {}
    rss: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with Path(f"/proc/{entry.name}/stat").open("rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()  # after "(command name)", which may hold spaces
        except OSError:  # the process ended meanwhile
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * _PAGE_MB
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def stage_seconds_of(flow_run_id: Any) -> dict[str, float]:
    """Wall seconds of each stage of a flow run: from the first start to the last end of its task runs."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    spans: dict[str, list[float]] = {}
    for run in runs:
        if run.start_time is None or run.end_time is None:
            continue
        stage = run.name.rsplit("-", 1)[0]  # "decode-and-split-lines-f94": the task's name
        span = spans.setdefault(stage, [run.start_time.timestamp(), run.end_time.timestamp()])
        span[0], span[1] = min(span[0], run.start_time.timestamp()), max(span[1], run.end_time.timestamp())
    return {stage: end - start for stage, (start, end) in sorted(spans.items(), key=lambda kv: kv[1][0])}


def run_flow(corpus: Path, work: Path) -> dict[str, Any]:
    """The Prefect flow, as `newsarchive run` runs it (temporary server included)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.archive import archive
    from flows.cli import run_settings
    from tasks.core.config import ArchiveParams
    from tasks.runtime.execution import workers_started_early
    from tasks.runtime.server import on_temporary_server

    out = work / "archive"
    shutil.rmtree(out, ignore_errors=True)
    params = ArchiveParams(raw_dir=str((corpus / "raw").absolute()), out_dir=str(out.absolute()))
    with TreeMemory() as memory:
        started = time.perf_counter()  # the workers started before the flow are timed too
        # The temporary server as `newsarchive run` starts it: it dies with this process, however that ends.
        with run_settings(), workers_started_early(params), on_temporary_server():
            state = archive(**params.flow_parameters(), return_state=True)
            seconds = time.perf_counter() - started
            stages = stage_seconds_of(state.state_details.flow_run_id)
            summary = state.result()
    return {
        "seconds": seconds, "summary": summary, "archive": str(out), "peak_tree_rss_mb": round(memory.peak_mb, 1),
        "stage_seconds": stages,
    }  # fmt: skip


def run_stages(corpus: Path, work: Path) -> dict[str, Any]:
    """The flow's stages as plain functions in this process (flows.archive.archive_in_process), each stage timed."""
    from flows.archive import archive_in_process
    from tasks.core.config import ArchiveParams
    from tasks.write import read_archive

    out = work / "stages-archive"
    started = time.perf_counter()
    _, totals = archive_in_process(ArchiveParams(raw_dir=str(corpus / "raw"), out_dir=str(out)))
    seconds = time.perf_counter() - started
    rss = peak_rss_mb()
    tables = read_archive(out)
    tables_dir = work / "stages"
    tables_dir.mkdir(parents=True, exist_ok=True)
    for table in ("sources", "segments"):
        tables[table].write_parquet(tables_dir / f"{table}.parquet")
    return {"seconds": seconds, "stage_seconds": totals, "tables": str(tables_dir), **rss}


def run_floor(corpus: Path, work: Path) -> dict[str, Any]:
    from bench.baselines import floor
    from tasks.discover import list_capture_paths

    started = time.perf_counter()
    paths = [path for _, path, _ in list_capture_paths(corpus / "raw")]
    lines = floor(paths, work / "floor.parquet")
    return {"seconds": time.perf_counter() - started, "lines": lines}


def run_group(corpus: Path, work: Path) -> dict[str, Any]:
    """newsarchive's grouping alone, on captures decoded beforehand (decoding not counted)."""
    from tasks.core.config import MatchConfig
    from tasks.group import group_captures

    captures, names, decode_seconds = decoded(corpus / "raw")
    started = time.perf_counter()
    groups = group_captures(captures, MatchConfig())
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "decode_seconds": decode_seconds, **peak_rss_mb(), "sweep": {"": named(groups, names)}}


def run_sweep(corpus: Path, work: Path, method: str) -> dict[str, Any]:
    """A baseline with its thresholds: setup (scores or signatures) plus, per threshold, the clustering."""
    from bench.baselines import all_pairs, minhash_lsh

    captures, names, decode_seconds = decoded(corpus / "raw")
    sweep = all_pairs(captures) if method == "allpairs" else minhash_lsh(captures)
    return {
        "setup_seconds": sweep.setup_seconds,
        "threshold_seconds": {str(t): s for t, s in sweep.seconds.items()},
        "decode_seconds": decode_seconds,
        **peak_rss_mb(),
        "sweep": {str(t): named(c, names) for t, c in sweep.clusters.items()},
    }


def measure(method: str, corpus: Path, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    if method in ("allpairs", "minhash"):
        return run_sweep(corpus, work, method)
    runner = {"flow": run_flow, "stages": run_stages, "floor": run_floor, "group": run_group}[method]
    result = runner(corpus, work)
    return {**peak_rss_mb(), **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.measure", description=__doc__)
    parser.add_argument("method", choices=METHODS)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("result", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.method, args.corpus, args.result.parent / f"{args.method}-work")
    args.result.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
