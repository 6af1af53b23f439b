"""The archive flow: raw captures in, normalized Parquet archive out, only new work done.

The stages run in three phases, written once here and run two ways: by the flow, each stage
a Prefect task (StageProgress), or in this process as plain functions (InProcessStages) by the
tests, the benchmarks and the model's training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import polars as pl
from prefect import flow
from prefect.tasks import Task

from tasks.articles.batch import batch_articles, build_articles, find_site_furniture
from tasks.articles.rows import ArticleRows, gather_rows
from tasks.checks import check_changes
from tasks.core.capture import Capture
from tasks.core.config import (
    LOCK_WAIT_SECONDS,
    ArchiveParams,
    Compaction,
    CompactionConfig,
    Execution,
    ExecutionConfig,
    Grouping,
    LockWaitSeconds,
    MatchConfig,
    OutDir,
    QuoteConfig,
    Quotes,
    RawDir,
    ReadConfig,
    Reading,
    Roles,
    RolesConfig,
)
from tasks.core.folders import absolute_folders, count_files
from tasks.core.shelf import scratch_folder
from tasks.decode import DecodedBatch, decode_captures, merge_decoded, reading_batches, settle_after_reading
from tasks.discover import RawCapture, discover_captures
from tasks.group import group_articles
from tasks.plan import build_changes
from tasks.related import Related, everything, load_related
from tasks.report import publish_run_report, summarize_run
from tasks.runtime.execution import batch_runner, gc_paused, memory_policy_for_batches, worker_count
from tasks.runtime.progress import InProcessStages, StageProgress
from tasks.state import ArchiveState, open_archive
from tasks.storage.store import archive_lock
from tasks.write import commit_archive, compact_archive

# The stages in the order they run: the progress artifact counts them, and refuses any other.
STAGE_ORDER: tuple[Task[..., Any], ...] = (
    open_archive, discover_captures, decode_captures, load_related, group_articles, find_site_furniture,
    build_articles, build_changes, check_changes, summarize_run, commit_archive, compact_archive,
)  # fmt: skip
# The modules of the batch stages, which a process pool's workers import as they start.
WORKER_PRELOAD = ("tasks.decode", "tasks.articles.batch")


class Stages(Protocol):
    """What runs the stages: StageProgress in the flow, InProcessStages elsewhere."""

    def run(self, stage: Task[..., Any], *args: Any, **kwargs: Any) -> Any: ...
    def map(self, stage: Task[..., Any], batches: Sequence[Any], **common: Any) -> list[Any]: ...
    def start_workers_for(self, new_files: int) -> None: ...
    def release_workers(self) -> None: ...


@dataclass(frozen=True)
class ReadPhase:
    """What the run read: the archive's state, the raw files, the captures decoded, and the stored ones they extend."""

    state: ArchiveState
    raw: list[RawCapture]
    batch: DecodedBatch
    related: Related

    @property
    def captures(self) -> list[Capture]:
        """The new captures, then the earlier captures read again."""
        return everything(self.related)


@dataclass(frozen=True)
class GroupPhase:
    """The run's captures grouped into articles, and the furniture the run's sites share."""

    groups: list[list[int]]
    furniture: frozenset[str]


def read_phase(
    stages: Stages, raw_dir: str, out_dir: str, read: ReadConfig, match: MatchConfig, execution: ExecutionConfig,
    *, shelf_dir: str,
) -> ReadPhase:  # fmt: skip
    """Open the archive, list the raw folder, decode what is new, and read again the stored captures it extends."""
    workers = worker_count(execution)  # several batches of a stage come in a multiple of them
    state = stages.run(open_archive, out_dir, raw_dir)
    stages.start_workers_for(count_files(raw_dir) - state.known.height)  # while the folder is listed
    listed = stages.run(discover_captures, raw_dir, state.fingerprints())
    archived = state.archived_shas()
    to_read, settled = reading_batches(listed, archived, execution.decode_batch_captures, workers=workers)
    decoded = stages.map(decode_captures, to_read, limits=read, shelf_dir=shelf_dir)
    raw, batch = settle_after_reading(listed, merge_decoded([settled, *decoded]), archived)
    related = stages.run(load_related, raw_dir, state, batch.captures, match)
    return ReadPhase(state, raw, batch, related)


def group_phase(stages: Stages, reading: ReadPhase, match: MatchConfig) -> GroupPhase:
    """Which captures hold one article, and which lines are the furniture of their sites."""
    captures = reading.captures
    groups = stages.run(group_articles, captures, match, reading.related.article_of)
    return GroupPhase(groups, stages.run(find_site_furniture, captures, groups))


def article_phase(
    stages: Stages, reading: ReadPhase, grouping: GroupPhase, params: ArchiveParams, *, shelf_dir: str
) -> ArticleRows:
    """Label every line, merge each article's captures into one, link the quotes: the rows of every article."""
    captures, execution = reading.captures, params.execution
    article_batches = batch_articles(
        captures, grouping.groups, execution.batch_captures, parts_multiple_of=worker_count(execution)
    )
    built = stages.map(
        build_articles, article_batches,
        furniture=grouping.furniture, roles=params.roles, quotes=params.quotes, match=params.match,
        stored_article_of=reading.related.article_of, shelf_dir=shelf_dir,
    )  # fmt: skip
    stages.release_workers()  # the last batch stage: the workers go, and their memory back, while tables are planned
    return gather_rows(built)


def write_phase(
    stages: Stages, reading: ReadPhase, rows: ArticleRows, run_at: datetime, compaction: CompactionConfig
) -> tuple[dict[str, int], dict[str, pl.DataFrame]]:
    """Plan the tables' changes, check and count them, publish them at once, compact when due; the run's counts
    and `sources` rows."""
    state, raw = reading.state, reading.raw
    changes = stages.run(build_changes, state, raw, reading.batch, rows, reading.related, run_at)
    stages.run(check_changes, changes, reading.captures, rows, state)
    summary, run_tables = stages.run(summarize_run, changes, state, rows, raw)
    run_id = f"{run_at:%Y%m%dT%H%M%S%f}"
    version = stages.run(commit_archive, changes, state, run_id, summary)
    stages.run(compact_archive, state, version, compaction, run_id)  # still under the run's lock
    return summary, run_tables


@flow(name="archive", log_prints=True, timeout_seconds=6 * 3600)
def archive(
    raw_dir: RawDir,
    out_dir: OutDir,
    *,
    lock_wait_seconds: LockWaitSeconds = LOCK_WAIT_SECONDS,
    read: Reading = ReadConfig(),  # noqa: B008 (frozen: one shared default is safe)
    match: Grouping = MatchConfig(),  # noqa: B008
    roles: Roles = RolesConfig(),  # noqa: B008
    quotes: Quotes = QuoteConfig(),  # noqa: B008
    execution: Execution = ExecutionConfig(),  # noqa: B008
    compaction: Compaction = CompactionConfig(),  # noqa: B008
) -> dict[str, int]:
    """Archive the new captures of `raw_dir` into the tables of `out_dir`.

    Decoding, and labeling + merging + quote linking, run batch by batch on the task
    runner `execution` names; the other stages see the whole run at once.
    """
    run_at = datetime.now(UTC)
    # Absolute before any task or worker sees them; an archive inside the raw folder (or holding it) is refused.
    raw_dir, out_dir = absolute_folders(raw_dir, out_dir)
    params = ArchiveParams(
        raw_dir=raw_dir,
        out_dir=out_dir,
        read=read,
        match=match,
        roles=roles,
        quotes=quotes,
        execution=execution,
        compaction=compaction,
    )
    lock = archive_lock(out_dir, wait_seconds=lock_wait_seconds, on_wait=print)
    memory_policy_for_batches()  # the stages run here when there is one batch
    # Decoded lines wait in the archive's scratch folder, not in this process (tasks/core/shelf.py).
    # The collector is paused as in the batch tasks: this process holds every capture of the run.
    with (
        lock, gc_paused(freeze_survivors=True), batch_runner(execution, WORKER_PRELOAD) as runner,
        scratch_folder(out_dir, beside_the_archive=execution.workers_elsewhere) as shelf,
    ):  # fmt: skip
        stages = StageProgress(STAGE_ORDER, runner=runner)
        reading = read_phase(stages, raw_dir, out_dir, read, match, execution, shelf_dir=shelf.path)
        grouping = group_phase(stages, reading, match)
        rows = article_phase(stages, reading, grouping, params, shelf_dir=shelf.path)
        shelf.release()  # no stage reads the lines or rows left there again: removed while tables are planned
        summary, run_tables = write_phase(stages, reading, rows, run_at, compaction)
    publish_run_report(run_tables, summary, stages.seconds, raw_dir=raw_dir, out_dir=out_dir)
    return summary


def archive_in_process(
    params: ArchiveParams, *, run_at: datetime | None = None
) -> tuple[dict[str, int], dict[str, float]]:
    """The flow's phases as plain functions in this process, no Prefect run: for tests and benchmarks.

    The same stages in the same order on a real archive folder, its lock and scratch folder
    included; every batch in this process. Returns the run's counts and the seconds of each stage.
    """
    raw_dir, out_dir = absolute_folders(params.raw_dir, params.out_dir)
    run_at = run_at or datetime.now(UTC)
    memory_policy_for_batches()
    with archive_lock(out_dir, wait_seconds=60), scratch_folder(out_dir) as shelf:
        stages = InProcessStages(STAGE_ORDER)
        reading = read_phase(
            stages, raw_dir, out_dir, params.read, params.match, params.execution, shelf_dir=shelf.path
        )
        grouping = group_phase(stages, reading, params.match)
        rows = article_phase(stages, reading, grouping, params, shelf_dir=shelf.path)
        summary, _ = write_phase(stages, reading, rows, run_at, params.compaction)
    return summary, stages.seconds
