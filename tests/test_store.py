"""The commit of a run, killed after any of its steps: the manifest always names one whole version,
a glob never misses a row of it, and the next run's recovery makes the new version whole."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tasks.core.schema import conform
from tasks.storage.store import (
    JOURNAL,
    PENDING_SUFFIX,
    Manifest,
    bucket_expr,
    load_manifest,
    publish,
    read_tables,
    recover,
)

TABLES = ("articles", "paragraphs")
# Two articles in two buckets (the first 8 hex digits pick it) and one more in the first of them.
ARTICLES = ("0000000000000001", "0000000100000002", "0000000000000041")


KILL_POINTS = 16  # more than the renames and deletions of the commit below (checked by the last test)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no `except Exception` catches it."""


@contextmanager
def killed_after(steps: int | None, done: list[int]) -> Iterator[None]:
    """Renames and deletions stop after `steps` of them, as if the process died there; `done` counts them."""
    real_replace, real_unlink = Path.replace, Path.unlink

    def count() -> None:
        if len(done) == steps:
            raise Killed
        done.append(1)

    def replace(self: Path, target: Any) -> Path:
        count()
        return real_replace(self, target)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        count()
        real_unlink(self, missing_ok=missing_ok)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "replace", replace)
        patch.setattr(Path, "unlink", unlink)
        yield


Tables = dict[str, pl.DataFrame]


def version(article_ids: tuple[str, ...], tag: str) -> Tables:
    """Whole tables of some articles, with texts that say which version they are."""
    articles = pl.DataFrame({"article_id": list(article_ids), "title": [f"{tag} {a}" for a in article_ids]})
    paragraphs = pl.DataFrame(
        {
            "article_id": [a for a in article_ids for _ in range(2)],
            "paragraph_no": [n for _ in article_ids for n in range(2)],
            "text": [f"{tag} {a} {n}" for a in article_ids for n in range(2)],
        }
    )
    return {"articles": conform("articles", articles), "paragraphs": conform("paragraphs", paragraphs)}


def by_bucket(tables: Tables) -> dict[str, dict[int, pl.DataFrame]]:
    keyed = {t: f.with_columns(bucket_expr(pl.col("article_id")).alias("_b")) for t, f in tables.items()}
    return {
        t: {b: part for (b,), part in f.partition_by("_b", as_dict=True, include_key=False).items()}
        for t, f in keyed.items()
    }


def same(a: Tables, b: Tables) -> bool:
    return all(a[t].equals(b[t]) for t in TABLES)


def through_globs(root: Path) -> Tables:
    return {
        t: conform(t, pl.read_parquet(sorted((root / t).glob("**/*.parquet")), hive_partitioning=False)) for t in TABLES
    }


OLD, NEW = version(ARTICLES[:2], "old"), version(ARTICLES, "new")


@pytest.fixture(scope="module")
def first_version(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("v1")
    return root, publish(root, Manifest(), by_bucket(OLD), "run1")


@pytest.mark.parametrize("steps", range(KILL_POINTS))
def test_a_commit_killed_after_any_step_leaves_one_whole_version(
    tmp_path: Path, steps: int, first_version: tuple[Path, Manifest]
) -> None:
    """The second run rewrites both buckets of both tables and adds an article to one of them."""
    source, manifest = first_version
    root = tmp_path / "archive"
    shutil.copytree(source, root)
    try:
        with killed_after(steps, []):
            publish(root, manifest, by_bucket(NEW), "run2")
    except Killed:
        pass

    seen = read_tables(root, TABLES)  # what a reader finds right after the kill, before any recovery
    assert same(seen, OLD) or same(seen, NEW), f"killed after {steps} steps: not one whole version"
    for table, rows in through_globs(root).items():
        missing = seen[table].join(rows, on=list(seen[table].columns), how="anti", nulls_equal=True)
        assert missing.is_empty(), f"killed after {steps} steps: a glob misses rows of {table}"

    committed = (root / JOURNAL).exists() or load_manifest(root).version == 2
    recover(root)  # what the next run does first
    assert same(read_tables(root, TABLES), NEW if committed else OLD)
    assert not list(root.glob(f"**/.*{PENDING_SUFFIX}"))
    assert not (root / JOURNAL).exists()
    assert same(through_globs(root), NEW if committed else OLD)  # once recovered, the globs show it exactly


def test_the_kill_points_cover_the_whole_commit(tmp_path: Path, first_version: tuple[Path, Manifest]) -> None:
    source, manifest = first_version
    root = tmp_path / "archive"
    shutil.copytree(source, root)
    done: list[int] = []
    with killed_after(None, done):
        publish(root, manifest, by_bucket(NEW), "run2")
    assert 0 < len(done) < KILL_POINTS
    assert same(read_tables(root, TABLES), NEW)
