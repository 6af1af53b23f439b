"""Stage 6c: what must hold before a run publishes anything."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.assemble import Article
from tasks.capture import Capture
from tasks.ids import author_id_of
from tasks.related import STORED_PREFIX


class ArchiveInconsistent(RuntimeError):
    """The run's output breaks an invariant of the archive; nothing was published."""


def find_problems(
    changes: dict[str, dict[int, pl.DataFrame]], captures: Sequence[Capture], articles: Sequence[Article]
) -> list[str]:
    """Broken references, ids that are not unique, lines of the written articles' captures not covered once."""
    written = {sid for a in articles for sid in a.source_ids}
    captures = [c for c in captures if c.source_id in written]
    author_ids = [author_id_of(a.author) for a in articles if a.author]
    tables = {t: pl.concat(list(bs.values())) if bs else None for t, bs in changes.items()}
    problems: list[str] = []
    article_rows = tables.get("articles")
    if article_rows is None:
        return problems
    article_ids = set(article_rows["article_id"])
    if article_rows["article_id"].n_unique() != article_rows.height:
        problems.append("articles: article_id is not unique")
    for table in ("paragraphs", "captions", "comments", "segments"):
        frame = tables.get(table)
        if frame is not None and not set(frame["article_id"].drop_nulls()) <= article_ids:
            problems.append(f"{table}: rows point at an article that does not exist")
    authors = tables.get("authors")
    # Authors are rewritten with their articles: each author of this run's articles is among the changes.
    if not set(author_ids) <= (set(authors["author_id"]) if authors is not None else set()):
        problems.append("articles: author_id points at an author that does not exist")
    comments = tables.get("comments")
    if comments is not None:
        if comments["comment_id"].n_unique() != comments.height:
            problems.append("comments: comment_id is not unique")
        if not set(comments["quotes_comment_id"].drop_nulls()) <= set(comments["comment_id"]):
            problems.append("comments: quotes_comment_id points at a comment that does not exist")
    sources = tables.get("sources")
    if sources is not None and sources["source_id"].n_unique() != sources.height:
        problems.append("sources: source_id is not unique")
    problems += _coverage_problems(tables.get("segments"), captures)
    return problems


def _coverage_problems(segments: pl.DataFrame | None, captures: Sequence[Capture]) -> list[str]:
    """Every non-blank line of every capture read this run lies in exactly one segment."""
    if segments is None:
        return []
    lines = segments.select("source_id", pl.int_ranges("line_start", pl.col("line_end") + 1).alias("line_no")).explode(
        "line_no"
    )
    problems = []
    for capture in captures:
        if capture.source_id.startswith(STORED_PREFIX):
            continue
        covered = lines.filter(pl.col("source_id") == capture.source_id)["line_no"].sort().to_list()
        if covered != [line.line_no for line in capture.lines]:
            problems.append(f"segments: the lines of {capture.uri} are not covered exactly once")
    return problems


@task(name="check-consistency", cache_policy=NO_CACHE)
def check_changes(
    changes: dict[str, dict[int, pl.DataFrame]], captures: list[Capture], articles: list[Article]
) -> None:
    """Refuse to publish a run whose output breaks an invariant."""
    problems = find_problems(changes, captures, articles)
    if problems:
        raise ArchiveInconsistent("nothing was published: " + "; ".join(problems))
    get_run_logger().info("consistency checks passed")
