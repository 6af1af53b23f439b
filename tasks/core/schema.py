"""The archive's tables (ARCHIVE_SPEC.md): names, columns and dtypes in one place."""

from __future__ import annotations

import polars as pl

UTC_TIME = pl.Datetime("us", "UTC")

TABLES: dict[str, dict[str, pl.DataType]] = {
    "sources": {
        "source_id": pl.String(), "uri": pl.String(), "sha256": pl.String(),
        "size_bytes": pl.Int64(), "n_lines": pl.Int64(), "status": pl.String(),
        "error": pl.String(), "article_id": pl.String(), "ingested_at": UTC_TIME,
        "encoding": pl.String(), "modified_at": UTC_TIME,
    },
    "articles": {
        "article_id": pl.String(), "title": pl.String(), "subtitle": pl.String(),
        "author_id": pl.String(), "published_at": UTC_TIME, "n_paragraphs": pl.Int64(),
        "n_comments": pl.Int64(), "n_sources": pl.Int64(), "first_seen_at": UTC_TIME,
        "last_seen_at": UTC_TIME,
    },
    "authors": {"author_id": pl.String(), "name": pl.String(), "bio": pl.String()},
    "paragraphs": {"article_id": pl.String(), "paragraph_no": pl.Int64(), "text": pl.String()},
    "captions": {"article_id": pl.String(), "after_paragraph_no": pl.Int64(), "text": pl.String()},
    "comments": {
        "comment_id": pl.String(), "article_id": pl.String(), "comment_no": pl.Int64(),
        "text": pl.String(), "quotes_paragraph_no": pl.Int64(), "quotes_comment_id": pl.String(),
    },
    "segments": {
        "source_id": pl.String(), "line_start": pl.Int64(), "line_end": pl.Int64(),
        "role": pl.String(), "article_id": pl.String(), "score": pl.Float64(),
        "duplicate": pl.Boolean(), "confidence": pl.Float64(),
    },
}  # fmt: skip

# Rows are written in this order so reruns produce identical files.
SORT_KEYS: dict[str, list[str]] = {
    "sources": ["uri", "source_id"],
    "articles": ["article_id"],
    "authors": ["author_id"],
    "paragraphs": ["article_id", "paragraph_no"],
    "captions": ["article_id", "after_paragraph_no", "text"],
    "comments": ["article_id", "comment_no"],
    "segments": ["source_id", "line_start"],
}

ROLES = ("title", "subtitle", "byline", "author_bio", "body", "caption", "comment", "boilerplate")


def conform(table: str, frame: pl.DataFrame, *, carry: tuple[str, ...] = ()) -> pl.DataFrame:
    """Cast to the declared schema and order (inferred schemas drift); `carry` columns stay, at the end."""
    schema = TABLES[table]
    missing = [c for c in schema if c not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=schema[c]).alias(c) for c in missing)
    return frame.select(*(pl.col(c).cast(dtype) for c, dtype in schema.items()), *carry).sort(SORT_KEYS[table])
