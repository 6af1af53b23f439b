"""The archive flow: raw captures in, normalized Parquet archive out, only new work done."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow

from tasks.articles import batch_articles, build_articles, find_site_furniture
from tasks.build import build_changes, gather_rows, summarize_run
from tasks.checks import check_changes
from tasks.config import (
    LOCK_WAIT_SECONDS,
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
from tasks.decode import decode_captures, merge_decoded, reading_batches, settle_after_reading
from tasks.discover import count_files, discover_captures
from tasks.execution import batch_runner, gc_paused, worker_count
from tasks.folders import absolute_folders
from tasks.group import group_articles
from tasks.related import everything, load_related
from tasks.report import StageProgress, publish_run_report
from tasks.shelf import scratch_folder
from tasks.state import open_archive
from tasks.store import archive_lock
from tasks.write import commit_archive

STAGES = 11  # the stage.run / stage.map calls below: the progress artifact's 100 %


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
) -> dict[str, int]:
    """Archive the new captures of `raw_dir` into the tables of `out_dir`.

    Decoding, and labeling + merging + quote linking, run batch by batch on the task
    runner `execution` names; the other stages see the whole run at once.
    """
    run_at = datetime.now(UTC)
    # Absolute before any task or worker sees them; an archive inside the raw folder (or holding it) is refused.
    raw_dir, out_dir = absolute_folders(raw_dir, out_dir)
    workers = worker_count(execution)  # several batches of a stage come in a multiple of them
    lock = archive_lock(Path(out_dir), wait_seconds=lock_wait_seconds, on_wait=print)
    # Decoded lines wait in the archive's scratch folder, not in this process (tasks/shelf.py).
    # The collector is paused as in the batch tasks: this process holds every capture of the run.
    with (
        lock, gc_paused(freeze_survivors=True), batch_runner(execution) as runner,
        scratch_folder(out_dir) as shelf,
    ):  # fmt: skip
        stage = StageProgress(total=STAGES, runner=runner)
        state = stage.run(open_archive, out_dir)
        runner.start_workers_for(count_files(raw_dir) - state.known.height)  # while the folder is listed
        listed = stage.run(discover_captures, raw_dir, state.fingerprints())
        archived = state.archived_shas()
        to_read, settled = reading_batches(listed, archived, execution.decode_batch_captures, workers=workers)
        decoded = stage.map(decode_captures, to_read, limits=read, shelf_dir=shelf.path)
        raw, batch = settle_after_reading(listed, merge_decoded([settled, *decoded]), archived)
        related = stage.run(load_related, raw_dir, state, batch.captures, match)
        captures = everything(related)
        groups = stage.run(group_articles, captures, match, related.article_of)
        furniture = stage.run(find_site_furniture, captures, groups)
        article_batches = batch_articles(captures, groups, execution.batch_captures, parts_multiple_of=workers)
        built = stage.map(
            build_articles, article_batches,
            furniture=furniture, roles=roles, quotes=quotes, match=match,
            stored_article_of=related.article_of, shelf_dir=shelf.path,
        )  # fmt: skip
        runner.release()  # the last batch stage: the workers go, and their memory back, while tables are planned
        rows = gather_rows(built)
        shelf.release()  # no stage reads the lines or rows left there again: removed while tables are planned
        changes = stage.run(build_changes, state, raw, batch, rows, related, run_at)
        stage.run(check_changes, changes, captures, rows, state)
        stage.run(commit_archive, changes, state, f"{run_at:%Y%m%dT%H%M%S%f}")
        summary, run_tables = stage.run(summarize_run, changes, state, rows, raw)
    publish_run_report(run_tables, summary, stage.seconds, raw_dir=raw_dir, out_dir=out_dir)
    return summary
