"""The archive flow: raw captures in, normalized Parquet archive out."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow

from tasks.assemble import assemble_articles
from tasks.build import build_archive_tables
from tasks.config import ArchiveParams
from tasks.decode import decode_captures
from tasks.discover import discover_captures
from tasks.group import group_articles
from tasks.quotes import link_all_quotes
from tasks.roles import label_articles
from tasks.write import read_previous_sources, write_archive


@flow(name="archive", log_prints=True, timeout_seconds=6 * 3600)
def archive(params: ArchiveParams = ArchiveParams()) -> dict[str, int]:  # noqa: B008
    """Archive the captures of `params.raw_dir` into the tables of `params.out_dir`."""
    run_at = datetime.now(UTC)
    raw = discover_captures(params.raw_dir)
    batch = decode_captures(raw)
    groups = group_articles(batch.captures, params.match)
    labeled = label_articles(batch.captures, groups, params.roles)
    articles = assemble_articles(labeled, params.roles)
    articles = link_all_quotes(articles, params.quotes)
    previous = read_previous_sources(params.out_dir)
    tables = build_archive_tables(raw, batch, articles, previous, run_at)
    return write_archive(tables, params.out_dir)
