"""Batches and task runners: the archive does not depend on how the work was cut or where it ran."""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import subprocess
import sys
import weakref
from pathlib import Path
from typing import cast

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from prefect.tasks import Task
from prefect_dask.task_runners import DaskTaskRunner

from tasks.articles.batch import batch_articles, build_batch
from tasks.articles.roles import site_furniture
from tasks.articles.rows import ShelvedRows, gather_rows
from tasks.core.capture import make_capture
from tasks.core.config import ArchiveParams, ExecutionConfig
from tasks.core.folders import count_files
from tasks.core.lines import numbered_lines
from tasks.core.schema import TABLES
from tasks.decode import decode_new
from tasks.discover import new_captures
from tasks.group import group_new_captures
from tasks.runtime.execution import (
    BatchRunner,
    Sealed,
    cores_for_this_batch,
    gc_paused,
    make_task_runner,
    split_evenly,
    workers_started_early,
)
from tasks.synth.corpus import write_corpus
from tasks.write import read_archive
from tests.helpers import archive_tables

# Columns that record when a run happened, not what it found.
RUN_TIMES = ("ingested_at", "first_seen_at", "last_seen_at")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, articles=24, seed=11, workers=1)
    return out / "raw"


def without_run_times(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {name: frame.drop([c for c in RUN_TIMES if c in frame.columns]) for name, frame in tables.items()}


def assert_same_archive(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    got, want = without_run_times(got), without_run_times(want)
    for name in TABLES:
        assert want[name].height > 0, name
        assert_frame_equal(got[name], want[name], check_row_order=False)


def test_split_evenly_keeps_order_and_sizes_close() -> None:
    batches = split_evenly(list(range(10)), 4)
    assert batches == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert split_evenly([], 4) == []
    assert split_evenly([1], 4) == [[1]]


def test_several_batches_come_in_a_multiple_of_the_workers() -> None:
    assert [len(b) for b in split_evenly(list(range(10)), 4, parts_multiple_of=2)] == [2, 3, 3, 2]
    assert [len(b) for b in split_evenly(list(range(9)), 3, parts_multiple_of=2)] == [2, 2, 3, 2]
    assert [len(b) for b in split_evenly(list(range(3)), 5, parts_multiple_of=2)] == [3]  # one batch: no pool
    assert [len(b) for b in split_evenly(list(range(3)), 1, parts_multiple_of=4)] == [1, 1, 1]  # at most one each


def test_article_batches_never_split_an_article() -> None:
    lines, n = numbered_lines("one line of text")
    captures = [make_capture(str(i), str(i), str(i), lines, n) for i in range(7)]
    groups = [[0, 3], [1], [2, 4, 5], [6]]
    batches = batch_articles(captures, groups, max_captures=3)
    assert [[[c.source_id for c in (b.captures[i] for i in g)] for g in b.groups] for b in batches] == [
        [["0", "3"], ["1"]],
        [["2", "4", "5"]],
        [["6"]],
    ]
    for_two_workers = batch_articles(captures, groups, max_captures=3, parts_multiple_of=2)  # aiming at 2 each
    assert [[[c.source_id for c in (b.captures[i] for i in g)] for g in b.groups] for b in for_two_workers] == [
        [["0", "3"]],
        [["1"], ["2", "4", "5"]],
        [["6"]],
    ]


def test_the_runner_parameter_picks_the_task_runner() -> None:
    assert isinstance(make_task_runner(ExecutionConfig()), ProcessPoolTaskRunner)
    assert isinstance(make_task_runner(ExecutionConfig(runner="threads")), ThreadPoolTaskRunner)
    local = make_task_runner(ExecutionConfig(runner="dask", workers=2))
    assert isinstance(local, DaskTaskRunner)
    assert local.cluster_kwargs == {"n_workers": 2, "threads_per_worker": 1, "processes": True}
    remote = make_task_runner(ExecutionConfig(runner="dask", dask_address="tcp://10.0.0.5:8786"))
    assert isinstance(remote, DaskTaskRunner)
    assert remote.address == "tcp://10.0.0.5:8786"


def test_small_batches_give_the_archive_of_one_batch(corpus: Path) -> None:
    one = archive_tables(corpus)
    small_batches = ExecutionConfig(decode_batch_captures=7, batch_captures=7)
    small = ArchiveParams(raw_dir=str(corpus), out_dir="/unused", execution=small_batches)
    assert_same_archive(archive_tables(corpus, small), one)


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("runner", ["dask", "processes"])
def test_the_flow_on_two_workers_gives_the_tables_of_the_default_run(corpus: Path, tmp_path: Path, runner: str) -> None:
    from flows.archive import archive

    default = tmp_path / "default"
    archive(raw_dir=str(corpus), out_dir=str(default))
    # Batches of 10 captures: the corpus's ~70 captures make 7 decoding tasks and about as many article batches.
    two_workers = ExecutionConfig(runner=runner, workers=2, decode_batch_captures=10, batch_captures=10)
    spread = tmp_path / runner
    params = ArchiveParams(raw_dir=str(corpus), out_dir=str(spread), execution=two_workers)
    with workers_started_early(params):  # as `newsarchive run` does: the process pool's workers start first
        archive(**params.flow_parameters())
    assert_same_archive(read_archive(spread), read_archive(default))


def test_count_files_guesses_the_run_size_without_reading(tmp_path: Path) -> None:
    # The flow starts its workers early when this many files are more than the archive knows.
    (tmp_path / "day1").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("a.txt", "day1/b.txt", "day1/c.txt", ".hidden/d.txt", "day1/.e.txt"):
        (tmp_path / name).write_text("text", encoding="utf-8")
    assert count_files(str(tmp_path)) == 3
    assert count_files(str(tmp_path / "missing")) == 0


def test_workers_started_before_the_flow_are_taken_over_by_its_task_runner(corpus: Path) -> None:
    small_batches = ExecutionConfig(workers=2, decode_batch_captures=10, batch_captures=10)
    params = ArchiveParams(raw_dir=str(corpus), out_dir="/unused", execution=small_batches)
    before = set(multiprocessing.active_children())
    with workers_started_early(params):
        early = set(multiprocessing.active_children()) - before
        assert len(early) == 2
        with make_task_runner(params.execution) as runner:
            assert isinstance(runner, ProcessPoolTaskRunner)
            ran_on = {runner._executor.submit(os.getpid).result() for _ in range(8)}
            assert ran_on <= {p.pid for p in early}  # no other process was started
            assert set(multiprocessing.active_children()) - before == early
    assert set(multiprocessing.active_children()) - before == set()  # the runner stopped them


def test_workers_started_early_are_stopped_when_the_run_leaves_them(corpus: Path) -> None:
    before = set(multiprocessing.active_children())
    params = ArchiveParams(raw_dir=str(corpus), out_dir="/unused", execution=ExecutionConfig(workers=2))
    with workers_started_early(params):  # fewer captures than a batch: a run would not use workers
        assert set(multiprocessing.active_children()) == before
    small_batches = ExecutionConfig(workers=2, decode_batch_captures=10, batch_captures=10)
    with workers_started_early(params.model_copy(update={"execution": small_batches})):
        assert len(set(multiprocessing.active_children()) - before) == 2
    assert set(multiprocessing.active_children()) == before
    threads = params.model_copy(update={"execution": ExecutionConfig(runner="threads", batch_captures=10)})
    with workers_started_early(threads):
        assert set(multiprocessing.active_children()) == before


def test_a_sealed_result_unpickles_its_value_only_when_read() -> None:
    value = {"frame": pl.DataFrame({"a": [1, 2]}), "names": ["x", "y"]}
    sealed = Sealed(value)
    assert sealed.value is value  # in the process that made it, nothing is copied

    copy = pickle.loads(pickle.dumps(sealed))
    assert copy._pickled is not None  # travelled as bytes, still packed
    first = copy.value
    assert copy._pickled is None
    assert copy.value is first  # unpacked once
    assert first["names"] == value["names"]
    assert_frame_equal(first["frame"], value["frame"])
    # A value read before it travels again goes on whole.
    assert pickle.loads(pickle.dumps(copy)).value["names"] == ["x", "y"]


def _cores_seen(batch: int) -> Sealed[int]:
    return Sealed(cores_for_this_batch())


def test_a_batch_alone_in_its_stage_may_use_every_workers_core() -> None:
    """It runs in the flow's process while the workers idle; elsewhere a batch task has its own core only."""
    runner = BatchRunner(ExecutionConfig(runner="threads", workers=3))
    try:
        assert runner.map(cast(Task[..., Sealed[int]], _cores_seen), [0]) == [3]
    finally:
        runner.close()
    assert cores_for_this_batch() == 1


class _Node:
    partner: _Node


def test_a_run_leaves_what_survives_it_out_of_collections_until_the_next_run() -> None:
    try:
        with gc_paused(freeze_survivors=True):
            assert not gc.isenabled()
            alive = [_Node() for _ in range(1000)]
            garbage = _Node()
            garbage.partner = garbage  # a cycle: only the collector frees it
            collected = weakref.ref(garbage)
            del garbage
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(alive)  # the first collection will not visit them
        gc.collect()
        assert collected() is not None
        with gc_paused(freeze_survivors=True):
            assert gc.get_freeze_count() == 0
            gc.collect()
            assert collected() is None
    finally:
        gc.unfreeze()


def test_a_batch_of_articles_hands_back_its_rows_as_files_in_the_scratch_folder(corpus: Path, tmp_path: Path) -> None:
    params = ArchiveParams(raw_dir=str(corpus), out_dir=str(tmp_path))
    raw, _ = new_captures(corpus, {})
    captures = decode_new(raw, params.read).captures
    groups = group_new_captures(captures, params.match, {})
    batch = batch_articles(captures, groups, max_captures=len(captures))[0]
    rows = build_batch(batch, site_furniture(captures, groups), params.roles, params.quotes, params.match, {})
    assert rows.segments.height > 0
    assert rows.comments.height > 0

    shelved = ShelvedRows(rows, str(tmp_path))
    travelled = pickle.dumps(Sealed(shelved))
    assert len(travelled) < 4_000  # names of files, not rows
    assert {Path(f).parent for f in shelved.files.values()} == {tmp_path}
    back = gather_rows([pickle.loads(travelled).value])
    twice = gather_rows([shelved, shelved])
    for path in shelved.files.values():  # the scratch folder goes while the gathered rows are still used
        Path(path).unlink()
    for name, frame in rows.frames().items():
        assert_frame_equal(back.frames()[name], frame)
    assert_frame_equal(twice.segments, pl.concat([rows.segments, rows.segments]))


# Frees an array of 8 MiB (glibc then takes blocks under it from the heap), then 200 arrays of 1 MiB but the
# last, which holds the heap's top: the MB of memory the process still holds for them.
_FREED_ARRAYS = """
import sys
import numpy as np
from contextlib import nullcontext
from tasks.runtime.execution import large_blocks_from_the_heap, map_large_blocks_apart

def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6

if sys.argv[1] != "default":
    map_large_blocks_apart()
big = np.ones(8 << 20, dtype=np.uint8)
del big
before = rss_mb()
with large_blocks_from_the_heap() if sys.argv[1].startswith("heap") else nullcontext():
    arrays = [np.ones(1 << 20, dtype=np.uint8) for _ in range(200)]
    last = arrays.pop()
    del arrays
    inside = rss_mb() - before
print(inside if sys.argv[1] == "heap, inside" else rss_mb() - before)
"""


# A frame of 160 MB made and dropped in polars, after importing the stages first or polars first: the MB the
# process still holds.
_FREED_FRAME = """
import sys
if sys.argv[1] == "stages first":
    import tasks.articles.batch
import numpy as np
import polars as pl

def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6

before = rss_mb()
frame = pl.DataFrame({"a": np.arange(10_000_000)}).with_columns(b=pl.col("a") * 2)
del frame
print(rss_mb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads a process's memory from /proc")
def test_frames_freed_in_polars_give_their_memory_back() -> None:
    """The stages set polars' allocator to give back what it frees at once, when they load before polars."""
    env = {name: value for name, value in os.environ.items() if name != "_RJEM_MALLOC_CONF"}
    assert _held_mb(_FREED_FRAME, "polars first", env) > 50  # what jemalloc keeps on its own
    assert _held_mb(_FREED_FRAME, "stages first", env) < 20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads a process's memory from /proc")
def test_arrays_freed_in_a_run_give_their_memory_back() -> None:
    """The flow and its workers map large blocks apart: a batch's freed arrays do not stay in the process."""
    # glibc's own settings, not what Dask leaves in the environment (MALLOC_TRIM_THRESHOLD_ does the same)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    assert _held_mb(_FREED_ARRAYS, "default", env) > 150  # what glibc keeps on its own
    assert _held_mb(_FREED_ARRAYS, "apart", env) < 20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads a process's memory from /proc")
def test_a_part_that_takes_large_blocks_from_the_heap_gives_them_back_when_it_ends() -> None:
    """Quote linking takes its arrays from the heap (no fresh memory to map each time), and leaves none behind."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    assert _held_mb(_FREED_ARRAYS, "heap, inside", env) > 150  # from the heap, kept for the next arrays
    assert _held_mb(_FREED_ARRAYS, "heap for a while", env) < 20


# A large array made after the run's memory policy is set, or without it: whether the kernel was asked
# for huge pages for it (the `hg` flag of its mapping in /proc/self/smaps).
_HUGE_PAGE_ADVICE = """
import sys
import numpy as np
from tasks.runtime.execution import memory_policy_for_batches

if sys.argv[1] == "policy":
    memory_policy_for_batches()
array = np.ones(64 << 20, dtype=np.uint8)
address = array.ctypes.data + array.nbytes // 2  # numpy advises the aligned part only
inside = False
with open("/proc/self/smaps") as smaps:
    for line in smaps:
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            low, high = (int(part, 16) for part in head.split("-"))
            inside = low <= address < high
        elif inside and head == "VmFlags:":
            print(int("hg" in line.split()[1:]))
            break
"""


def _thp_on_request() -> bool:
    """Whether this kernel gives transparent huge pages on request (madvise) or always."""
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return setting.exists() and "[never]" not in setting.read_text()


@pytest.mark.skipif(not _thp_on_request(), reason="the kernel has no transparent huge pages to ask for")
def test_a_run_asks_no_huge_pages_for_its_arrays_unless_the_user_does() -> None:
    """Arrays made under the run's memory policy are not advised for huge pages; NUMPY_MADVISE_HUGEPAGE rules."""
    env = {name: value for name, value in os.environ.items() if name != "NUMPY_MADVISE_HUGEPAGE"}
    assert _held_mb(_HUGE_PAGE_ADVICE, "default", env) == 1  # numpy asks, on its own
    assert _held_mb(_HUGE_PAGE_ADVICE, "policy", env) == 0
    assert _held_mb(_HUGE_PAGE_ADVICE, "policy", {**env, "NUMPY_MADVISE_HUGEPAGE": "1"}) == 1


def _held_mb(script: str, mode: str, env: dict[str, str]) -> float:
    """What `script` prints, run with `mode` in a fresh interpreter: the MB its process still holds."""
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script, mode], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout)
