"""One huge capture of one article (issue 18, item 6): `python -m bench.big_capture`.

Builds a capture of about 19.5 MB from the seed's lines again and again (every other copy
numbered, so half the lines are not repeats), runs `newsarchive run` on it alone in a temporary
folder, and prints the wall clock, the peak memory and each stage's seconds. `--profile` runs the
labeling stage in this process under cProfile instead, and prints its parts.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.measure import TreeMemory

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "tests" / "fixtures" / "seeds" / "000_a1bb77ff0534570e.txt"
# Just under the 20 MB limit on a capture (ReadConfig.max_capture_mb), as issue 18 measured it.
TARGET_BYTES = 19_500_000
_FINISHED = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \| \w+ +\| Task run '(.+)-\w{3}' - Finished in state")
_BEGUN = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) \| \w+ +\| Flow run '.*' - Beginning flow run")
# Where labeling's time goes: the parts of tasks.articles.batch.build_batch, as cProfile names them.
PARTS = {
    "rules (label_all)": "label_all",
    "model (relabel)": "relabel",
    "  line table": "line_table",
    "  features": "feature_matrix",
    "  LightGBM predict": "predict",
    "  viterbi": "viterbi",
    "assembly (assemble_all)": "assemble_all",
    "quote linking (link_article_quotes)": "link_article_quotes",
    "anchors (articles_anchors)": "articles_anchors",
    "rows (article_rows)": "article_rows",
}


def big_capture(target_bytes: int = TARGET_BYTES, seed: Path = SEED) -> str:
    """The seed's lines copied until the text holds `target_bytes`; every other copy's lines numbered."""
    lines = seed.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    size = 0
    copy = 0
    while True:
        block = [f"{copy}.{i} {line}" if copy % 2 and line.strip() else line for i, line in enumerate(lines)]
        block_bytes = len("\n".join(block).encode()) + 1
        if size + block_bytes > target_bytes:
            break
        out += block
        size += block_bytes
        copy += 1
    return "\n".join(out) + "\n"


def stage_seconds(log: str) -> dict[str, float]:
    """Each stage's seconds, from the run's log: from the end of the stage before (stages run one by one)."""
    seconds: dict[str, float] = {}
    last: datetime | None = None
    for line in log.splitlines():
        begun, finished = _BEGUN.match(line), _FINISHED.match(line)
        if begun:
            last = datetime.strptime(begun.group(1), "%H:%M:%S.%f")
        elif finished and last is not None:
            at = datetime.strptime(finished.group(1), "%H:%M:%S.%f")
            seconds[finished.group(2)] = seconds.get(finished.group(2), 0.0) + (at - last).total_seconds()
            last = at
    return seconds


def run_cli(raw: Path, out: Path) -> dict[str, object]:
    """`newsarchive run` on the folder: wall seconds, peak memory of one process and of the process tree."""
    command = [str(REPO / ".venv" / "bin" / "newsarchive"), "run", "--raw-dir", str(raw), "--out-dir", str(out)]
    with TreeMemory() as memory:
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"newsarchive run exited {done.returncode}")
    return {
        "wall_s": wall,
        # The largest process (what /usr/bin/time -v reports, in kB), and the sum over the tree sampled every
        # 0.1 s (in MiB); both as MB of 10^6 bytes.
        "peak_process_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6,
        "peak_tree_mb": memory.peak_mb * 2**20 / 1e6,
        "stages": stage_seconds(done.stdout + done.stderr),
        "summary": done.stdout.strip().splitlines()[-1],
    }


def _timed_parts(totals: dict[str, float], peaks: dict[str, float]) -> list[tuple[object, str, object]]:
    """Wrap labeling's parts where build_batch and relabel look them up; the originals, to put back."""
    import tasks.articles.batch as articles
    import tasks.articles.rolemodel.batch as batch
    from tasks.articles.rolemodel.model import LineRoleModel

    places = {"label_all": articles, "relabel": articles, "assemble_all": articles,
              "link_article_quotes": articles, "articles_anchors": articles, "article_rows": articles,
              "line_table": batch, "feature_matrix": batch, "viterbi": batch, "predict": LineRoleModel}  # fmt: skip
    saved = []
    for name, owner in places.items():
        original = getattr(owner, name)

        def timed(*args: object, _original: Any = original, _name: str = name, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_name] = totals.get(_name, 0.0) + time.perf_counter() - started
                peaks[_name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        setattr(owner, name, timed)
        saved.append((owner, name, original))
    return saved


def profile_labeling(raw: Path, *, cprofile: bool) -> None:
    """The labeling stage (build_batch) in this process: its parts' seconds; with `cprofile`, cProfile's top."""
    from tasks.articles.batch import batch_articles, build_batch
    from tasks.articles.roles import site_furniture
    from tasks.core.config import ArchiveParams
    from tasks.decode import decode_batch
    from tasks.discover import hash_capture, list_capture_paths
    from tasks.group import group_new_captures
    from tasks.runtime.execution import gc_paused, memory_policy_for_batches

    params = ArchiveParams(raw_dir=str(raw), out_dir=str(raw.parent / "out"))
    memory_policy_for_batches()  # as the flow's process sets it
    captures = decode_batch([hash_capture(uri, path, problem) for uri, path, problem in list_capture_paths(raw)])
    groups = group_new_captures(captures.captures, params.match, {})
    furniture = site_furniture(captures.captures, groups)
    batch = batch_articles(captures.captures, groups, params.execution.batch_captures)[0]
    totals: dict[str, float] = {}
    peaks: dict[str, float] = {}
    print(f"peak RSS before labeling: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    saved = _timed_parts(totals, peaks)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    if cprofile:
        profiler.enable()
    with gc_paused():  # as the task runs it
        build_batch(batch, furniture, params.roles, params.quotes, params.match, {})
    profiler.disable()
    for owner, name, original in saved:
        setattr(owner, name, original)
    print(f"labeling (build_batch) in this process: {time.perf_counter() - started:.2f} s")
    for label, name in PARTS.items():
        print(f"  {label:<40} {totals.get(name, 0.0):7.2f} s   peak RSS after it {peaks.get(name, 0.0):6.0f} MB")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if cprofile:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        print(text.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=TARGET_BYTES / 1e6, help="size of the capture (default: 19.5)")
    parser.add_argument("--profile", action="store_true", help="time labeling's parts in this process instead")
    parser.add_argument("--cprofile", action="store_true", help="with --profile: under cProfile, and its top")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="big-capture-") as scratch:
        raw = Path(scratch) / "raw"
        raw.mkdir()
        text = big_capture(int(args.mb * 1e6))
        (raw / "big.txt").write_text(text, encoding="utf-8")
        print(f"capture: {len(text.encode()) / 1e6:.2f} MB, {text.count(chr(10)):,} lines")
        if args.profile:
            profile_labeling(raw, cprofile=args.cprofile)
            return 0
        found = run_cli(raw, Path(scratch) / "out")
    print(found["summary"])
    print(f"wall clock: {found['wall_s']:.1f} s")
    process, tree = found["peak_process_mb"], found["peak_tree_mb"]
    print(f"peak memory: {process:.0f} MB (largest process), {tree:.0f} MB (process tree)")
    stages = found["stages"]
    assert isinstance(stages, dict)
    for stage, seconds in stages.items():
        print(f"  {stage:<36} {seconds:7.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
