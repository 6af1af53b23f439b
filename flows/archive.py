"""The archive flow: raw captures in, normalized Parquet archive out, only new work done."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import flow

from tasks.assemble import assemble_articles
from tasks.build import build_changes, summarize_run
from tasks.checks import check_changes
from tasks.config import ArchiveParams
from tasks.decode import decode_captures
from tasks.discover import discover_captures
from tasks.group import group_articles
from tasks.quotes import link_all_quotes
from tasks.related import everything, load_related
from tasks.report import StageProgress, publish_run_report
from tasks.roles import label_articles
from tasks.state import open_archive
from tasks.store import archive_lock
from tasks.write import commit_archive

STAGES = 12  # the stage.run calls below: the progress artifact's 100 %


@flow(name="archive", log_prints=True, timeout_seconds=6 * 3600)
def archive(params: ArchiveParams = ArchiveParams()) -> dict[str, int]:  # noqa: B008
    """Archive the new captures of `params.raw_dir` into the tables of `params.out_dir`."""
    run_at = datetime.now(UTC)
    stage = StageProgress(total=STAGES)
    with archive_lock(Path(params.out_dir), wait_seconds=params.lock_wait_seconds, on_wait=print):
        state = stage.run(open_archive, params.out_dir)
        raw = stage.run(discover_captures, params.raw_dir, state.fingerprints())
        batch = stage.run(decode_captures, raw, state.archived_shas(), params.read)
        related = stage.run(load_related, params.raw_dir, state, batch.captures, params.match)
        captures = everything(related)
        groups = stage.run(group_articles, captures, params.match, related.article_of)
        labeled = stage.run(label_articles, captures, groups, params.roles)
        articles = stage.run(assemble_articles, labeled, params.roles, related.article_of)
        articles = stage.run(link_all_quotes, articles, params.quotes)
        changes = stage.run(build_changes, state, raw, batch, articles, related, run_at, params.match)
        stage.run(check_changes, changes, captures, articles)
        stage.run(commit_archive, changes, state, f"{run_at:%Y%m%dT%H%M%S%f}")
        summary, run_tables = stage.run(summarize_run, changes, state, articles, raw)
    publish_run_report(run_tables, summary, stage.seconds, params)
    return summary
