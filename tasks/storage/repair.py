"""Repairing an archive bucket by bucket: which buckets its damaged files spoil, the rows a rebuild of the raw
folder (a clean archive beside it) gives them, and whether those hold all the buckets held.

The rows of one article share a bucket in every table, so a damaged data file spoils one bucket of one
table. Every table's rows of those buckets are replaced together, so that references stay whole. A clean
rebuild names an article after the smallest hash of all its captures, where the archive kept the id its
first captures gave it: each rebuilt article takes the id the archive gave its captures (what `sources`
says, or `segments` where a `sources` file is damaged), and its comments the ids that follow from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from tasks.core.ids import comment_id_of
from tasks.core.normalize import normalize_key
from tasks.core.schema import TABLES, conform
from tasks.storage.store import (
    BUCKET,
    BUCKET_KEY,
    BUCKETS,
    ArchiveDamaged,
    Damage,
    Manifest,
    all_tables,
    bucket_expr,
    bucket_of,
    read_buckets,
)

Changes = dict[str, dict[int, pl.DataFrame]]
Damaged = Mapping[str, set[int]]  # table -> its damaged buckets


def damaged_buckets(damage: Sequence[Damage]) -> dict[str, set[int]]:
    """table -> its damaged buckets; ArchiveDamaged when something is damaged that is not one bucket's file."""
    whole = [str(found) for found in damage if found.bucket is None]
    if whole:
        raise ArchiveDamaged(
            f"cannot be repaired bucket by bucket: {'; '.join(whole)}. Nothing was changed; move the archive "
            "away and run again to rebuild it from the raw captures"
        )
    by_table: dict[str, set[int]] = {}
    for found in damage:
        by_table.setdefault(found.table, set()).add(int(found.bucket or 0))
    return by_table


def spoiled(damaged: Damaged) -> set[int]:
    return set().union(*damaged.values())


def _readable(
    root: Path | str, manifest: Manifest, table: str, buckets: set[int], damaged: Damaged, columns: list[str]
) -> pl.DataFrame:
    """The rows of those of `buckets` whose files are whole in this table."""
    return read_buckets(root, manifest, table, buckets - damaged.get(table, set()), columns)


def stored_article_of(root: Path | str, manifest: Manifest, damaged: Damaged) -> dict[str, str]:
    """source_id -> the article the archive gave the capture, from every whole bucket of `sources`, and from
    `segments` for the buckets whose `sources` file is damaged."""
    columns = ["source_id", "article_id"]
    found = pl.concat([
        _readable(root, manifest, "sources", set(range(BUCKETS)), damaged, columns),
        _readable(root, manifest, "segments", damaged.get("sources", set()), damaged, columns),
    ]).drop_nulls().unique("source_id")  # fmt: skip
    return dict(zip(found["source_id"].to_list(), found["article_id"].to_list(), strict=True))


def archive_ids(rebuilt_sources: pl.DataFrame, stored_of: Mapping[str, str]) -> dict[str, str]:
    """Rebuilt article id -> the id the archive gave its captures (the smallest, as a run that merges keeps it)."""
    known = pl.col("source_id").replace_strict(dict(stored_of), default=None, return_dtype=pl.String)
    ids = (
        rebuilt_sources.filter(pl.col("status") == "archived")
        .group_by("article_id")
        .agg(known.drop_nulls().min().alias("stored"))
        .drop_nulls()
    )
    return {a: s for a, s in ids.iter_rows() if a != s}


def renamed(table: str, frame: pl.DataFrame, ids: Mapping[str, str]) -> pl.DataFrame:
    """A table's rows with the articles' ids the archive gave them (and comments' ids following from them)."""
    if "article_id" not in frame.columns or not ids:
        return frame
    frame = frame.with_columns(pl.col("article_id").replace(dict(ids)))
    return _comment_ids(frame) if table == "comments" else frame


def _comment_ids(comments: pl.DataFrame) -> pl.DataFrame:
    """Comment ids made again from the article, the text's key and its repeat (tasks/articles/assemble.py)."""
    key = pl.col("text").map_elements(normalize_key, return_dtype=pl.String)
    keyed = comments.sort("article_id", "comment_no").with_columns(
        key.alias("_key"), pl.int_range(pl.len()).over("article_id", key).alias("_repeat")
    )
    made = [comment_id_of(a, k, r) for a, k, r in keyed.select("article_id", "_key", "_repeat").iter_rows()]
    new_of = dict(zip(keyed["comment_id"].to_list(), made, strict=True))
    return keyed.drop("_key", "_repeat").with_columns(
        pl.col("comment_id").replace(new_of), pl.col("quotes_comment_id").replace(new_of)
    )


def check_comment_ids(comments: pl.DataFrame) -> None:
    """The ids `_comment_ids` makes are those the run made: else renaming would break what points at them."""
    again = _comment_ids(comments).sort("comment_id")
    if again["comment_id"].to_list() != comments.sort("comment_id")["comment_id"].to_list():
        raise RuntimeError("the rebuilt comments' ids cannot be made again from their text: nothing was changed")


def rebuilt_rows(
    rebuilt: Path, rebuilt_manifest: Manifest, ids: Mapping[str, str], buckets: set[int]
) -> dict[str, pl.DataFrame]:
    """Every table's rows of `buckets` as the rebuild holds them, under the ids the archive gave its articles."""
    final = pl.col("article_id").replace(dict(ids))
    sources = read_buckets(rebuilt, rebuilt_manifest, "sources")
    wanted = set(sources.filter(final.pipe(bucket_expr).is_in(sorted(buckets)))["article_id"].drop_nulls())
    where = {bucket_of(a) for a in wanted} | buckets  # `buckets` too: quarantined captures, authors
    rows = {}
    for table in sorted(rebuilt_manifest.tables):
        frame = read_buckets(rebuilt, rebuilt_manifest, table, where)
        if table == "comments":
            check_comment_ids(frame)
        frame = renamed(table, frame, ids).with_columns(BUCKET_KEY[table].pipe(bucket_expr).alias(BUCKET))
        rows[table] = frame.filter(pl.col(BUCKET).is_in(sorted(buckets)))
    return rows


def cannot_rebuild(
    root: Path | str, manifest: Manifest, rows: Mapping[str, pl.DataFrame], damaged: Damaged
) -> list[str]:
    """The archived articles of the damaged buckets that the rebuilt rows lack or hold with fewer captures, each
    with why; empty when every one can be rebuilt. What the damaged files held is known from the other tables'
    rows of the same buckets."""
    buckets = spoiled(damaged)
    stored: set[str] = set()
    for table in [*(t for t in TABLES if t != "authors"), "_anchors"]:
        stored |= set(_readable(root, manifest, table, buckets, damaged, ["article_id"])["article_id"].drop_nulls())
    captures = _readable(root, manifest, "sources", buckets, damaged, ["source_id", "uri", "status", "article_id"])
    empty = pl.DataFrame(schema={"source_id": pl.String, "article_id": pl.String})
    gone = captures.filter(
        (pl.col("status") == "archived") & ~pl.col("source_id").is_in(rows.get("sources", empty)["source_id"].implode())
    )
    rebuilt = set(rows.get("articles", empty)["article_id"].to_list())
    lost = sorted((stored - rebuilt) | set(gone["article_id"].drop_nulls().to_list()))
    titles = _readable(root, manifest, "articles", buckets, damaged, ["article_id", "title"])
    title_of = dict(zip(titles["article_id"].to_list(), titles["title"].to_list(), strict=True))
    found = []
    for article in lost:
        uris = sorted(gone.filter(pl.col("article_id") == article)["uri"].to_list())
        named = f"article {article}" + (f" ({title_of[article]!r})" if title_of.get(article) else "")
        why = (
            f"its captures {', '.join(uris)} are no longer in the raw folder as they were archived"
            if uris
            else "the raw folder's captures no longer make it"
        )
        found.append(f"{named}: {why}")
    return found


def rebuilt_changes(
    root: Path | str, manifest: Manifest, rows: Mapping[str, pl.DataFrame], damaged: Damaged
) -> Changes:
    """The new content of every table's damaged buckets; each capture keeps the time it was first archived
    where the archive still says it (and each article its first and last seen)."""
    buckets = spoiled(damaged)
    tables = sorted(set(rows) | set(manifest.tables))
    frames = {
        table: bucket_frames_of(rows.get(table), table, buckets)
        for table in tables
        if table in manifest.tables or rows[table].height
    }  # a table the archive lacks is created only for rows, as a clean run creates it
    stored = _readable(root, manifest, "sources", buckets, damaged, ["source_id", "ingested_at"])
    return _with_first_archived(frames, stored)


def bucket_frames_of(rows: pl.DataFrame | None, table: str, buckets: set[int]) -> dict[int, pl.DataFrame]:
    """Rows that carry their bucket, split into `buckets` (an empty frame for an empty one), in the table's order."""
    if rows is None:
        return {bucket: pl.DataFrame(schema=all_tables()[table]) for bucket in sorted(buckets)}
    rows = conform(table, rows, carry=(BUCKET,)) if table in TABLES else rows.sort(rows.columns)
    parts = rows.partition_by(BUCKET, as_dict=True, include_key=False, maintain_order=True)
    return {bucket: parts.get((bucket,), rows.clear().drop(BUCKET)) for bucket in sorted(buckets)}


def _with_first_archived(changes: Changes, stored: pl.DataFrame) -> Changes:
    """Captures keep the `ingested_at` the archive gave them; articles' first and last seen follow."""
    if "sources" not in changes:
        return changes
    at = dict(zip(stored["source_id"].to_list(), stored["ingested_at"].to_list(), strict=True))
    ingested = pl.col("source_id").replace_strict(
        at, default=pl.col("ingested_at"), return_dtype=TABLES["sources"]["ingested_at"]
    )
    sources = {
        bucket: frame.with_columns(ingested.alias("ingested_at")) for bucket, frame in changes["sources"].items()
    }
    seen = (
        pl.concat(sources.values())
        .filter(pl.col("article_id").is_not_null() & (pl.col("status") == "archived"))
        .group_by("article_id")
        .agg(pl.col("ingested_at").min().alias("first"), pl.col("ingested_at").max().alias("last"))
    )
    articles = {
        bucket: frame.join(seen, on="article_id", how="left")
        .with_columns(
            pl.coalesce("first", "first_seen_at").alias("first_seen_at"),
            pl.coalesce("last", "last_seen_at").alias("last_seen_at"),
        )
        .drop("first", "last")
        for bucket, frame in changes.get("articles", {}).items()
    }
    return changes | {"sources": sources} | ({"articles": articles} if articles else {})
