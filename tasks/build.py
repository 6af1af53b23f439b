"""Stage 6b: the normalized tables from the run's sources and articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.assemble import Article
from tasks.decode import DecodedBatch
from tasks.discover import RawCapture
from tasks.ids import author_id_of, source_id_of
from tasks.schema import conform


@dataclass(frozen=True)
class SourceRow:
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


def source_rows(raw: Sequence[RawCapture], batch: DecodedBatch, articles: Sequence[Article]) -> list[SourceRow]:
    """One row per file found: archived, duplicate of another file, or quarantined with its reason."""
    article_of = {sid: a.article_id for a in articles for sid in a.source_ids}
    captures = {c.uri: c for c in batch.captures}
    rows = []
    for item in raw:
        source_id = source_id_of(item.uri, item.sha256 or "")
        if item.uri in captures:
            capture = captures[item.uri]
            rows.append(SourceRow(
                source_id, item.uri, item.sha256, item.size_bytes, capture.n_lines, "archived",
                None, article_of[source_id], batch.encodings[item.uri],
            ))  # fmt: skip
        elif item.uri in batch.duplicate_of:
            twin = batch.duplicate_of[item.uri]
            rows.append(SourceRow(
                source_id, item.uri, item.sha256, item.size_bytes, None, "duplicate",
                None, article_of.get(twin), None,
            ))  # fmt: skip
        else:
            rows.append(SourceRow(
                source_id, item.uri, item.sha256, item.size_bytes, None, "quarantined",
                batch.quarantined.get(item.uri, "not archived"), None, None,
            ))  # fmt: skip
    return rows


def build_tables(
    sources: Sequence[SourceRow], articles: Sequence[Article], *,
    run_at: datetime, known_ingested: dict[str, datetime],
) -> dict[str, pl.DataFrame]:  # fmt: skip
    """All seven tables; a source seen by an earlier run keeps its `ingested_at`."""
    source_frame = pl.DataFrame(
        [s.__dict__ for s in sources],
        schema=dict.fromkeys(SourceRow.__dataclass_fields__, pl.String) | {"size_bytes": pl.Int64, "n_lines": pl.Int64},
    ).with_columns(
        pl.col("source_id")
        .replace_strict(known_ingested, default=run_at, return_dtype=pl.Datetime("us", "UTC"))
        .alias("ingested_at")
    )
    seen = (
        source_frame.filter(pl.col("article_id").is_not_null())
        .group_by("article_id")
        .agg(
            pl.len().alias("n_sources"),
            pl.col("ingested_at").min().alias("first_seen_at"),
            pl.col("ingested_at").max().alias("last_seen_at"),
        )
    )
    article_rows = [
        {
            "article_id": a.article_id, "title": a.title, "subtitle": a.subtitle,
            "author_id": author_id_of(a.author) if a.author else None,
            "n_paragraphs": len(a.paragraphs), "n_comments": len(a.comments),
        }
        for a in articles
    ]  # fmt: skip
    articles_frame = pl.DataFrame(
        article_rows,
        schema={"article_id": pl.String, "title": pl.String, "subtitle": pl.String,
                "author_id": pl.String, "n_paragraphs": pl.Int64, "n_comments": pl.Int64},
    ).join(seen, on="article_id", how="left")  # fmt: skip
    return {
        "sources": conform("sources", source_frame),
        "articles": conform("articles", articles_frame),
        "authors": conform("authors", _authors(articles)),
        "paragraphs": conform("paragraphs", _rows(articles, "paragraphs")),
        "captions": conform("captions", _rows(articles, "captions")),
        "comments": conform("comments", _rows(articles, "comments")),
        "segments": conform("segments", _rows(articles, "segments")),
    }


def run_summary(tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """The counts a person wants after a run."""
    status = tables["sources"]["status"]
    return {
        "captures": tables["sources"].height,
        "archived": int((status == "archived").sum()),
        "duplicates": int((status == "duplicate").sum()),
        "quarantined": int((status == "quarantined").sum()),
        "articles": tables["articles"].height,
        "paragraphs": tables["paragraphs"].height,
        "captions": tables["captions"].height,
        "comments": tables["comments"].height,
    }


def _authors(articles: Sequence[Article]) -> pl.DataFrame:
    """One row per author; the longest bio any article gave wins."""
    best: dict[str, tuple[str, str | None]] = {}
    for a in articles:
        if a.author is None:
            continue
        author_id = author_id_of(a.author)
        _, bio = best.get(author_id, (a.author, None))
        if a.author_bio and (bio is None or len(a.author_bio) > len(bio)):
            bio = a.author_bio
        best[author_id] = (a.author, bio)
    return pl.DataFrame(
        [{"author_id": k, "name": n, "bio": b} for k, (n, b) in best.items()],
        schema={"author_id": pl.String, "name": pl.String, "bio": pl.String},
    )


def _rows(articles: Sequence[Article], table: str) -> pl.DataFrame:
    rows: list[dict[str, object]] = []
    for a in articles:
        if table == "paragraphs":
            rows += [{"article_id": a.article_id, "paragraph_no": n, "text": t} for n, t in enumerate(a.paragraphs)]
        elif table == "captions":
            rows += [{"article_id": a.article_id, "after_paragraph_no": n, "text": t} for n, t in a.captions]
        elif table == "comments":
            rows += [{"article_id": a.article_id, **c.__dict__} for c in a.comments]
        else:
            rows += [{"article_id": a.article_id, **s.__dict__} for s in a.segments]
    from tasks.schema import TABLES

    return pl.DataFrame(rows, schema=TABLES[table]) if rows else pl.DataFrame(schema=TABLES[table])


@task(name="build-tables", cache_policy=NO_CACHE)
def build_archive_tables(
    raw: list[RawCapture], batch: DecodedBatch, articles: list[Article],
    previous_sources: pl.DataFrame | None, run_at: datetime,
) -> dict[str, pl.DataFrame]:  # fmt: skip
    """The seven tables of the archive, each fact once."""
    known = (
        {}
        if previous_sources is None
        else dict(zip(previous_sources["source_id"], previous_sources["ingested_at"], strict=True))
    )
    tables = build_tables(source_rows(raw, batch, articles), articles, run_at=run_at, known_ingested=known)
    get_run_logger().info("built %s", ", ".join(f"{t} {f.height}" for t, f in tables.items()))
    return tables
