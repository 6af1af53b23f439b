"""The commit of a run, killed after any of its table commits: readers see one whole run, the next run puts the
tables back to the last whole run, and any earlier run stays readable."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import tasks.storage.store as store
from tasks.core.schema import conform
from tasks.storage.store import (
    ArchiveDamaged,
    Manifest,
    OldLayout,
    bucket_expr,
    compact,
    load_manifest,
    migrate,
    publish,
    read_tables,
    recover,
    run_rows,
    table_uri,
)

TABLES = ("articles", "paragraphs")
# Two articles in two buckets (the first 8 hex digits pick it) and one more in the first of them.
ARTICLES = ("0000000000000001", "0000000100000002", "0000000000000041")
COMMITS = 3  # a commit per changed table, then the run's row in `_runs`


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no `except Exception` catches it."""


@contextmanager
def killed_after(commits: int | None, done: list[int]) -> Iterator[None]:
    """Delta commits stop after `commits` of them, as if the process died there; `done` counts them."""
    real = store.write_deltalake

    def write(*args: Any, **kwargs: Any) -> None:
        if len(done) == commits:
            raise Killed
        real(*args, **kwargs)
        done.append(1)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "write_deltalake", write)
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


def latest(root: Path) -> Tables:
    """Each table's latest Delta version, as a reader of the table alone (not of a run) finds it."""
    return {t: conform(t, pl.read_delta(table_uri(root, t))) for t in TABLES}


OLD, NEW = version(ARTICLES[:2], "old"), version(ARTICLES, "new")


@pytest.fixture(scope="module")
def first_version(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("v1")
    return root, publish(root, Manifest(), by_bucket(OLD), "run1")


@pytest.mark.parametrize("commits", range(COMMITS + 1))
def test_a_run_killed_after_any_commit_leaves_one_whole_run(
    tmp_path: Path, commits: int, first_version: tuple[Path, Manifest]
) -> None:
    """The second run replaces both buckets of both tables and adds an article to one of them."""
    source, manifest = first_version
    root = tmp_path / "archive"
    shutil.copytree(source, root)
    done: list[int] = []
    with killed_after(commits, done), pytest.raises(Killed) if commits < COMMITS else nullcontext():
        publish(root, manifest, by_bucket(NEW), "run2")

    committed = commits == COMMITS
    assert same(read_tables(root, TABLES), NEW if committed else OLD), f"killed after {commits} commits"
    recover(root)  # what the next run does first
    assert same(read_tables(root, TABLES), NEW if committed else OLD)
    assert same(latest(root), NEW if committed else OLD)  # no table is left ahead of the archive's last run


def test_a_first_run_killed_before_its_row_leaves_no_table(tmp_path: Path) -> None:
    with killed_after(2, []), pytest.raises(Killed):  # `_runs` created, then `articles`
        publish(tmp_path, Manifest(), by_bucket(OLD), "run1")
    assert (tmp_path / "articles").exists()
    assert recover(tmp_path) == ["articles"]
    assert not (tmp_path / "articles").exists()
    assert load_manifest(tmp_path).tables == {}


def test_a_commit_streamed_slice_by_slice_writes_every_row_and_an_emptied_bucket_loses_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "_WRITE_BATCH_ROWS", 3)  # the paragraphs of a bucket of two articles take two slices
    manifest = publish(tmp_path, Manifest(), by_bucket(NEW), "run1")
    assert same(read_tables(tmp_path, TABLES), NEW)
    changes = by_bucket(NEW)
    emptied = next(b for b, part in changes["paragraphs"].items() if part.height > 3)
    for table in TABLES:
        changes[table] = {emptied: changes[table][emptied].clear()}
    publish(tmp_path, manifest, changes, "run2")
    left = read_tables(tmp_path, TABLES)
    kept = [
        a
        for a in ARTICLES
        if a not in set(NEW["articles"].filter(bucket_expr(pl.col("article_id")) == emptied)["article_id"])
    ]
    assert sorted(left["articles"]["article_id"].to_list()) == sorted(kept)
    assert sorted(set(left["paragraphs"]["article_id"].to_list())) == sorted(kept)


def test_every_earlier_run_stays_readable_by_number_id_or_time(tmp_path: Path) -> None:
    first = publish(tmp_path, Manifest(), by_bucket(OLD), "run1", counts={"captures": 2, "articles_new": 2})
    between = datetime.now(UTC)
    publish(tmp_path, first, by_bucket(NEW), "run2", counts={"captures": 1, "articles_updated": 1})
    assert same(read_tables(tmp_path, TABLES), NEW)
    for run in (1, "run1", between):
        assert same(read_tables(tmp_path, TABLES, run), OLD)
    runs = run_rows(tmp_path)
    assert runs.select("run", "run_id", "kind", "captures", "articles_new", "articles_updated").rows() == [
        (0, "run1", "create", None, None, None),  # written before any table
        (1, "run1", "archive", 2, 2, None),
        (2, "run2", "archive", 1, None, 1),
    ]
    with pytest.raises(KeyError, match="no run 3"):
        read_tables(tmp_path, TABLES, 3)


def test_compaction_keeps_the_rows_and_leaves_fewer_files(tmp_path: Path) -> None:
    manifest = Manifest()
    for n in range(5):  # five small runs, each replacing every bucket
        manifest = publish(tmp_path, manifest, by_bucket(version(ARTICLES, f"run {n}")), f"run{n}")
    files_before = len(list(tmp_path.glob("*/bucket=*/*.parquet")))
    after, removed = compact(tmp_path, keep_hours=0, run_id="compact")
    assert same(read_tables(tmp_path, TABLES), version(ARTICLES, "run 4"))
    assert run_rows(tmp_path)["kind"].to_list()[-1] == "compact"
    assert after.version == 6
    assert removed > 0
    assert len(list(tmp_path.glob("*/bucket=*/*.parquet"))) < files_before


def test_an_archive_of_the_layout_before_delta_is_converted_once(tmp_path: Path) -> None:
    files: dict[str, dict[str, str]] = {}
    for table, buckets in by_bucket(OLD).items():
        for bucket, frame in buckets.items():
            name = f"{table}/bucket={bucket:02d}/part-000001-run1.parquet"
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(tmp_path / name)
            files.setdefault(table, {})[str(bucket)] = name
    (tmp_path / "_manifest.json").write_text(json.dumps({"version": 1, "tables": files}))
    with pytest.raises(OldLayout, match="newsarchive migrate"):
        load_manifest(tmp_path)
    migrate(tmp_path, run_id="migrate")
    assert same(read_tables(tmp_path, TABLES), OLD)
    assert not (tmp_path / "_manifest.json").exists()
    assert not list(tmp_path.glob("*/bucket=*/part-000001-run1.parquet"))


def test_tables_without_their_runs_table_are_refused_not_emptied(tmp_path: Path) -> None:
    publish(tmp_path, Manifest(), by_bucket(OLD), "run1")
    shutil.rmtree(tmp_path / "_runs")
    with pytest.raises(ArchiveDamaged, match="no `_runs` table"):
        recover(tmp_path)
    assert same(latest(tmp_path), OLD)  # nothing was removed
