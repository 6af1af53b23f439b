"""The plan-table-changes stage: the rows a run changes, bucket by bucket, each fact once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.articles.rows import ArticleRows, column_lists
from tasks.core.ids import source_id_of
from tasks.core.schema import TABLES, conform
from tasks.decode import DecodedBatch
from tasks.discover import RawCapture
from tasks.related import Related
from tasks.state import ArchiveState
from tasks.storage.store import BUCKET_KEY, bucket_expr, bucket_of, read_buckets

Changes = dict[str, dict[int, pl.DataFrame]]


class SourceRow(NamedTuple):
    """What `sources` says of one capture."""

    source_id: str
    uri: str
    sha256: str | None
    size_bytes: int
    n_lines: int | None
    status: str
    error: str | None
    article_id: str | None
    encoding: str | None
    modified_at: datetime | None


def source_rows(
    raw: Sequence[RawCapture], batch: DecodedBatch, rows: ArticleRows, known_article: dict[str, str]
) -> list[SourceRow]:
    """One row per file read this run: archived, duplicate of another capture, or quarantined with its reason.

    `known_article` maps source ids of earlier runs to their article.
    """
    article_of = known_article | rows.article_of()
    captures = {c.uri: c for c in batch.captures}
    found: list[SourceRow] = []
    for item in raw:
        capture = captures.get(item.uri)
        # An archived capture's id was made when it was read: not hashed again (100,187 of them).
        source_id = capture.source_id if capture is not None else source_id_of(item.uri, item.sha256 or "")
        common = (source_id, item.uri, item.sha256, item.size_bytes)
        if capture is not None:
            n_lines, encoding = capture.n_lines, batch.encodings[item.uri]
            found.append(
                SourceRow(*common, n_lines, "archived", None, article_of[source_id], encoding, item.modified_at)
            )
        elif item.uri in batch.duplicate_of:
            twin = batch.duplicate_of[item.uri]
            if twin != source_id:  # the very file archived before, only touched: nothing new
                found.append(SourceRow(*common, None, "duplicate", None, article_of.get(twin), None, item.modified_at))
        else:
            reason = batch.quarantined.get(item.uri, "not archived")
            found.append(SourceRow(*common, None, "quarantined", reason, None, None, item.modified_at))
    return found


def article_tables(sources: pl.DataFrame, rows: ArticleRows) -> dict[str, pl.DataFrame]:
    """Rows of the given articles in every table; `sources` holds all their sources with `ingested_at`."""
    # Only captures count and date an article: a duplicate (the same bytes under another
    # name) adds nothing, and counting it would make n_sources depend on which run saw it.
    seen = (
        sources.filter(pl.col("article_id").is_not_null() & (pl.col("status") == "archived"))
        .group_by("article_id")
        .agg(
            pl.len().alias("n_sources"),
            pl.col("ingested_at").min().alias("first_seen_at"),
            pl.col("ingested_at").max().alias("last_seen_at"),
        )
    )
    articles = rows.articles.drop("author", "author_bio").join(seen, on="article_id", how="left")
    return {
        "articles": conform("articles", articles),
        "authors": conform("authors", _authors(rows.articles)),
        "paragraphs": rows.paragraphs,
        "captions": rows.captions,
        "comments": rows.comments,
        "segments": rows.segments,
    }


def _authors(articles: pl.DataFrame) -> pl.DataFrame:
    """One row per author: the name as the first article gives it, the longest bio (the first of equals)."""
    authored = articles.filter(pl.col("author").is_not_null())
    names = authored.group_by("author_id", maintain_order=True).agg(pl.col("author").first().alias("name"))
    length = pl.col("author_bio").str.len_chars()
    bios = (
        authored.filter(length > 0)
        .group_by("author_id")
        .agg(pl.col("author_bio").sort_by(length, descending=True, maintain_order=True).first().alias("bio"))
    )
    return names.join(bios, on="author_id", how="left")


def plan_changes(
    state: ArchiveState, raw: Sequence[RawCapture], batch: DecodedBatch, rows: ArticleRows,
    related: Related, *, run_at: datetime,
) -> Changes:  # fmt: skip
    """The new content of every bucket this run touches; untouched buckets are not read."""
    # The stored articles rebuilt with new captures (or merged into another article): only these
    # are rewritten. A related article no new capture joined stays as it is (rewriting it from
    # the rows, which do not hold it, lost its rows while its sources stayed).
    article_of = rows.article_of()
    rebuilt = {stored for sid, stored in related.article_of.items() if sid in article_of}
    touched = rows.article_ids | rebuilt
    known_article = dict(zip(state.known["source_id"].to_list(), state.known["article_id"].to_list(), strict=True))
    found = _new_source_frame(source_rows(raw, batch, rows, known_article), run_at)
    new_sources = _without_unchanged_quarantine(found, state.known)
    superseded = _superseded_quarantine(found, state.known)
    refreshed = _touched_sources(state, raw, batch)
    rewritten = pl.concat([new_sources["source_id"], refreshed["source_id"]])
    old_sources = read_buckets(state.root, state.manifest, "sources", _buckets_of(touched)).filter(
        pl.col("article_id").is_in(list(touched)) & ~pl.col("source_id").is_in(rewritten.implode())
    )
    moved = {sid: article for sid, article in article_of.items() if sid in related.article_of}
    sources = pl.concat([old_sources, refreshed, new_sources], how="diagonal_relaxed").with_columns(
        pl.col("source_id")
        .replace_strict(moved, default=pl.col("article_id"), return_dtype=pl.String)
        .alias("article_id")
    )  # captures of stored articles merged into another keep their rows, under its id
    fresh = article_tables(sources, rows)
    fresh["sources"] = conform("sources", sources)
    fresh["segments"] = _keep_stand_in_segments(state, fresh["segments"], related, rows, touched)
    fresh["_anchors"] = rows.anchors
    replaced_sources = set(fresh["sources"]["source_id"].to_list()) | superseded
    touched_buckets = {table: _buckets_of(touched) for table in fresh}
    touched_buckets["sources"] |= _buckets_of(superseded)
    return {
        table: _merge_buckets(state, table, frame, touched, touched_buckets[table], replaced_sources)
        for table, frame in fresh.items()
    }


def _without_unchanged_quarantine(found: pl.DataFrame, known: pl.DataFrame) -> pl.DataFrame:
    """The sources rows found this run, less the quarantined captures that failed as before.

    A quarantined file is tried again every run; while it fails the same way, its stored
    row stands (with the time it was first quarantined), so a rerun writes nothing.
    """
    stored = known.filter(pl.col("status") == "quarantined").select("source_id", "error")
    return found.join(stored, on=["source_id", "error"], how="anti", nulls_equal=True)


def _superseded_quarantine(found: pl.DataFrame, known: pl.DataFrame) -> set[str]:
    """Stored quarantine rows of files that were read again this run and came out otherwise.

    A fixed file gets a new source_id (its sha256 is now known or has changed): without
    this its old row would still list it as quarantined beside its archived one.
    """
    stale = known.filter(
        (pl.col("status") == "quarantined")
        & pl.col("uri").is_in(found["uri"].implode())
        & ~pl.col("source_id").is_in(found["source_id"].implode())
    )
    return set(stale["source_id"].to_list())


def _touched_sources(state: ArchiveState, raw: Sequence[RawCapture], batch: DecodedBatch) -> pl.DataFrame:
    """Stored rows of archived files found again with the same bytes but a new time, with that time.

    Recording it lets the next run skip them unread; otherwise a file only touched was hashed on every run.
    """
    time_of: dict[str, datetime | None] = {}
    for item in raw:
        twin = batch.duplicate_of.get(item.uri)
        if twin is not None and twin == source_id_of(item.uri, item.sha256 or ""):
            time_of[twin] = item.modified_at
    if not time_of:
        return pl.DataFrame(schema=TABLES["sources"])
    articles = state.known.filter(pl.col("source_id").is_in(list(time_of)))["article_id"].drop_nulls()
    stored = read_buckets(state.root, state.manifest, "sources", _buckets_of(articles.to_list()))
    stored = stored.filter(pl.col("source_id").is_in(list(time_of)))
    new_time = pl.col("source_id").replace_strict(time_of, return_dtype=TABLES["sources"]["modified_at"])
    return stored.with_columns(new_time.alias("modified_at"))


def _new_source_frame(rows: list[SourceRow], run_at: datetime) -> pl.DataFrame:
    schema = {k: v for k, v in TABLES["sources"].items() if k != "ingested_at"}
    frame = pl.DataFrame(column_lists(SourceRow._fields, rows), schema=schema)  # a dict per row took seconds at 100,000
    return frame.with_columns(pl.lit(run_at, dtype=TABLES["sources"]["ingested_at"]).alias("ingested_at"))


def _keep_stand_in_segments(
    state: ArchiveState, segments: pl.DataFrame, related: Related, rows: ArticleRows, touched: set[str]
) -> pl.DataFrame:
    """Lines of captures whose raw file is gone keep the roles they were given when it was there."""
    gone_articles = set(related.stand_ins.values()) & touched  # the others are not rewritten
    if not gone_articles:
        return segments
    article_of = rows.article_of()
    stored = read_buckets(state.root, state.manifest, "segments", _buckets_of(gone_articles))
    final_id = {related.article_of[sid]: article for sid, article in article_of.items() if sid in related.article_of}
    kept = stored.filter(pl.col("article_id").is_in(list(gone_articles)) & ~pl.col("source_id").is_in(list(article_of)))
    kept = kept.with_columns(pl.col("article_id").replace(final_id))
    return conform("segments", pl.concat([segments, kept]))


def _buckets_of(ids: Iterable[str]) -> set[int]:
    return {bucket_of(i) for i in ids}


def _merge_buckets(
    state: ArchiveState, table: str, fresh: pl.DataFrame, touched: set[str], touched_buckets: set[int],
    replaced_sources: set[str],
) -> dict[int, pl.DataFrame]:  # fmt: skip
    """Each changed bucket: its stored rows without the touched ones, plus the fresh rows."""
    fresh = fresh.with_columns(BUCKET_KEY[table].pipe(bucket_expr).alias("_bucket"))
    buckets = set(fresh["_bucket"].unique().to_list()) | (touched_buckets if table != "authors" else set())
    stored = read_buckets(state.root, state.manifest, table, buckets)
    if table == "sources":
        stale = pl.col("source_id").is_in(list(replaced_sources))
    elif table == "authors":
        stale = pl.col("author_id").is_in(fresh["author_id"].implode())
        fresh = _longer_bio(stored, fresh)
    else:
        stale = pl.col("article_id").is_in(list(touched))
    kept = stored.filter(~stale).with_columns(BUCKET_KEY[table].pipe(bucket_expr).alias("_bucket"))
    merged = pl.concat([kept, fresh], how="vertical_relaxed")
    # Conformed and sorted once, then split: conforming each of the buckets apart was slower.
    if table in TABLES:
        merged = conform(table, merged, carry=("_bucket",))
    parts = merged.partition_by("_bucket", as_dict=True, include_key=False, maintain_order=True)
    empty = merged.clear().drop("_bucket")
    out = {}
    for bucket in sorted(buckets):
        part = parts.get((bucket,), empty)
        out[bucket] = part if table in TABLES else part.sort(part.columns)
    return out


def _longer_bio(stored: pl.DataFrame, fresh: pl.DataFrame) -> pl.DataFrame:
    """An author's stored bio stays unless the new one is longer."""
    old = stored.select("author_id", pl.col("bio").alias("old_bio"))
    return (
        fresh.join(old, on="author_id", how="left")
        .with_columns(
            pl.when(pl.col("old_bio").str.len_chars().fill_null(0) > pl.col("bio").str.len_chars().fill_null(0))
            .then(pl.col("old_bio"))
            .otherwise(pl.col("bio"))
            .alias("bio")
        )
        .drop("old_bio")
    )


@task(name="plan-table-changes", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def build_changes(
    state: ArchiveState, raw: list[RawCapture], batch: DecodedBatch, rows: ArticleRows,
    related: Related, run_at: datetime,
) -> Changes:  # fmt: skip
    """The new rows of every touched bucket of every table."""
    changes = plan_changes(state, raw, batch, rows, related, run_at=run_at)
    n_rows = {t: sum(f.height for f in bs.values()) for t, bs in changes.items()}
    get_run_logger().info(
        "rewriting %s", ", ".join(f"{t}: {len(changes[t])} buckets, {n} rows" for t, n in n_rows.items())
    )
    return changes
