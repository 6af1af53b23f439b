"""The consistency checks refuse output that breaks an invariant, and name what is wrong."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import tasks.plan
from tasks.articles.batch import batch_articles, build_batch
from tasks.articles.roles import site_furniture
from tasks.articles.rows import ArticleRows, article_rows, concat_rows
from tasks.checks import ArchiveInconsistent, find_problems
from tasks.core.capture import Capture
from tasks.core.config import ArchiveParams
from tasks.decode import read_all
from tasks.discover import new_captures
from tasks.group import group_new_captures
from tasks.plan import Changes, plan_changes
from tasks.related import everything, find_related
from tasks.state import read_state
from tasks.storage.store import LOCK, bucket_of, load_manifest
from tasks.write import read_archive
from tests.helpers import RUN_AT, SEED_NAMES, SEEDS

OTHER_ARTICLE = (
    "Harbor council approves new budget for the river bridge repairs this spring.\n\n"
    "The mayor said the vote was the last step before the contract is signed next week.\n"
)

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


def test_a_source_pointing_at_no_article_is_refused(planned: Planned) -> None:
    changes, captures, rows = planned
    broken = first_bucket(changes, "sources", lambda f: f.with_columns(pl.lit("0" * 16).alias("article_id")))
    assert "sources: article_id points at an article that does not exist" in find_problems(broken, captures, rows)


def test_a_source_may_point_at_a_stored_article_the_run_leaves_alone(planned: Planned) -> None:
    """A duplicate of a capture archived earlier points at an article in a bucket the run does not rewrite."""
    changes, captures, rows = planned
    elsewhere = next(a for a in ("0" * 16, "1" * 16, "2" * 16) if bucket_of(a) not in changes["articles"])
    broken = first_bucket(changes, "sources", lambda f: f.with_columns(pl.lit(elsewhere).alias("article_id")))
    assert find_problems(broken, captures, rows, stored_article_ids={elsewhere}) == []
    assert find_problems(broken, captures, rows, stored_article_ids=set()) != []


def test_sources_are_checked_when_no_article_changes(planned: Planned) -> None:
    """A run that found only duplicates and quarantined files writes `sources` alone."""
    changes, _, rows = planned
    only_sources = {"sources": {b: pl.concat([f, f]) for b, f in changes["sources"].items() if f.height}}
    stored = rows.article_ids  # the sources' articles, stored by an earlier run
    problems = find_problems(only_sources, [], article_rows([]), stored_article_ids=stored)
    assert problems == ["sources: source_id is not unique"]


@pytest.mark.slow
def test_a_run_whose_output_fails_a_check_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> None:
    """Through the flow: the archive as the last run left it, every file, and the reasons in the error."""
    from flows.archive import archive

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")
    archive(raw_dir=str(raw), out_dir=str(out))
    before, manifest = read_archive(out), load_manifest(out)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and p.name != LOCK)

    (raw / "later.txt").write_text(OTHER_ARTICLE, encoding="utf-8")
    planned_changes = tasks.plan.plan_changes

    def broken_plan(*args: Any, **kwargs: Any) -> Changes:  # a bug that writes the new capture's row twice
        changes = planned_changes(*args, **kwargs)
        return first_bucket(changes, "sources", lambda f: pl.concat([f, f.head(1)]))

    monkeypatch.setattr(tasks.plan, "plan_changes", broken_plan)
    with pytest.raises(ArchiveInconsistent, match="nothing was published: sources: source_id is not unique"):
        archive(raw_dir=str(raw), out_dir=str(out))
    assert load_manifest(out) == manifest
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and p.name != LOCK) == files
    for table, frame in read_archive(out).items():
        assert_frame_equal(frame, before[table])

    monkeypatch.undo()
    archive(raw_dir=str(raw), out_dir=str(out))  # the bug fixed, the next run archives the new capture
    assert read_archive(out)["sources"].filter(pl.col("uri") == "later.txt")["status"].item() == "archived"
