"""The consistency checks refuse output that breaks an invariant, and name what is wrong."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import polars as pl
import pytest

from tasks.articles import batch_articles, build_batch
from tasks.build import ArticleRows, Changes, concat_rows, plan_changes
from tasks.capture import Capture
from tasks.checks import find_problems
from tasks.config import ArchiveParams
from tasks.decode import read_all
from tasks.discover import new_captures
from tasks.group import group_new_captures
from tasks.related import everything, find_related
from tasks.roles import site_furniture
from tasks.state import read_state
from tests.helpers import RUN_AT, SEED_NAMES, SEEDS

Planned = tuple[Changes, list[Capture], ArticleRows]


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Planned:
    """What the seeds' run would publish, not yet published."""
    raw = tmp_path_factory.mktemp("raw")
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")
    out = tmp_path_factory.mktemp("archive")
    params = ArchiveParams(raw_dir=str(raw), out_dir=str(out))
    state = read_state(out)
    listed, _ = new_captures(raw, state.fingerprints())
    found, batch = read_all(listed)
    related = find_related(raw, state, batch.captures, params.match)
    captures = everything(related)
    groups = group_new_captures(captures, params.match, related.article_of)
    furniture = site_furniture(captures, groups)
    rows = concat_rows(
        [
            build_batch(part, furniture, params.roles, params.quotes, params.match, {})
            for part in batch_articles(captures, groups, 100)
        ]
    )
    return plan_changes(state, found, batch, rows, related, run_at=RUN_AT), captures, rows


def edited(changes: Changes, table: str, edit: Callable[[pl.DataFrame], pl.DataFrame]) -> Changes:
    """The changes with every bucket of one table edited."""
    return {**changes, table: {b: edit(frame) for b, frame in changes[table].items()}}


def first_bucket(changes: Changes, table: str, edit: Callable[[pl.DataFrame], pl.DataFrame]) -> Changes:
    """The changes with the first non-empty bucket of one table edited."""
    bucket = next(b for b, frame in changes[table].items() if frame.height)
    return {**changes, table: {**changes[table], bucket: edit(changes[table][bucket])}}


def test_the_seeds_output_passes(planned: Planned) -> None:
    assert find_problems(*planned) == []


@pytest.mark.parametrize(
    ("table", "edit", "problem"),
    [
        ("articles", lambda f: pl.concat([f, f]), "articles: article_id is not unique"),
        (
            "paragraphs",
            lambda f: f.with_columns(pl.lit("0000000000000000").alias("article_id")),
            "paragraphs: rows point at an article that does not exist",
        ),
        ("authors", lambda f: f.clear(), "articles: author_id points at an author that does not exist"),
        (
            "comments",
            lambda f: f.with_columns(pl.lit("ffffffffffffffff").alias("quotes_comment_id")),
            "comments: quotes_comment_id points at a comment that does not exist",
        ),
        ("comments", lambda f: pl.concat([f, f.head(1)]), "comments: comment_id is not unique"),
        ("sources", lambda f: pl.concat([f, f.head(1)]), "sources: source_id is not unique"),
        (
            "segments",
            lambda f: pl.concat([f, f.head(1)]),
            "segments: the lines of 000_a1bb77ff0534570e.txt are not covered exactly once",
        ),
        (
            "segments",
            lambda f: f.filter(pl.col("line_start") != pl.col("line_start").max()),
            "segments: the lines of 000_a1bb77ff0534570e.txt are not covered exactly once",
        ),
        (  # a segment running on past the capture's last line
            "segments",
            lambda f: f.with_columns(
                pl.when(pl.col("line_end") == pl.col("line_end").max())
                .then(pl.col("line_end") + 10_000)
                .otherwise(pl.col("line_end"))
                .alias("line_end")
            ),
            "segments: the lines of 000_a1bb77ff0534570e.txt are not covered exactly once",
        ),
    ],
)
def test_broken_output_is_refused_with_the_reason(
    planned: Planned, table: str, edit: Callable[[pl.DataFrame], pl.DataFrame], problem: str
) -> None:
    changes, captures, rows = planned
    broken = first_bucket(changes, table, edit) if table != "authors" else edited(changes, table, edit)
    if table == "segments":  # the edited bucket must hold the capture named in the message
        only = pl.col("source_id") == next(c.source_id for c in captures if c.uri.startswith("000_"))
        broken = edited(changes, table, lambda f: pl.concat([f.filter(~only), edit(f.filter(only))]))
    assert problem in find_problems(broken, captures, rows)
