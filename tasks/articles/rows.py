"""The rows of assembled articles in every article table, as frames: what an article batch hands back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

import polars as pl

from tasks.articles.assemble import Article, CommentRow, SegmentRow
from tasks.core.ids import STORED_PREFIX, author_id_of
from tasks.core.schema import TABLES, conform
from tasks.core.shelf import read_frame, shelve_frames
from tasks.storage.store import INDEX_TABLES


class ArticleRows:
    """The rows of some articles in every article table, as frames: what a batch task hands back.

    Frames, not Article objects: a 100,000-capture run's articles took more memory in the
    flow process as Python objects than all of its tables, and travelled slower.
    """

    __slots__ = ("anchors", "articles", "captions", "comments", "members", "paragraphs", "segments")

    def __init__(self, frames: Mapping[str, pl.DataFrame]) -> None:
        self.articles = frames["articles"]  # with the author's name and bio, for `authors`
        self.members = frames["members"]  # article_id, source_id: the captures of each article
        self.paragraphs = frames["paragraphs"]
        self.captions = frames["captions"]
        self.comments = frames["comments"]
        self.segments = frames["segments"]
        self.anchors = frames["anchors"]

    def frames(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in self.__slots__}

    @property
    def article_ids(self) -> set[str]:
        return set(self.articles["article_id"].to_list())

    def article_of(self) -> dict[str, str]:
        """source_id -> article_id of every capture of these articles."""
        # Columns as lists first: iterating a polars Series value by value is slow.
        return dict(zip(self.members["source_id"].to_list(), self.members["article_id"].to_list(), strict=True))


_ARTICLE_ROW = {
    "article_id": pl.String, "title": pl.String, "subtitle": pl.String, "author_id": pl.String,
    "author": pl.String, "author_bio": pl.String, "n_paragraphs": pl.Int64, "n_comments": pl.Int64,
}  # fmt: skip


def article_rows(articles: Sequence[Article]) -> ArticleRows:
    """The rows of the articles in every article table (sources and run times are added when planning)."""
    heads = column_lists(
        tuple(_ARTICLE_ROW),
        (
            (a.article_id, a.title, a.subtitle, author_id_of(a.author) if a.author else None, a.author,
             a.author_bio, len(a.paragraphs), len(a.comments))
            for a in articles
        ),
    )  # fmt: skip
    members = column_lists(("article_id", "source_id"), ((a.article_id, s) for a in articles for s in a.source_ids))
    # Column lists, not a dict per row: a large run's segments as dicts took more memory than its tables.
    paragraphs = column_lists(
        ("article_id", "paragraph_no", "text"),
        ((a.article_id, n, t) for a in articles for n, t in enumerate(a.paragraphs)),
    )
    captions = column_lists(
        ("article_id", "after_paragraph_no", "text"), ((a.article_id, n, t) for a in articles for n, t in a.captions)
    )
    comments = column_lists(
        ("article_id", *CommentRow._fields),
        ((a.article_id, *c) for a in articles for c in a.comments),
    )
    segments = column_lists(
        ("article_id", *SegmentRow._fields),
        (  # a stand-in for a capture that is gone has no lines of its own
            (a.article_id, *s) for a in articles for s in a.segments if not s.source_id.startswith(STORED_PREFIX)
        ),
    )
    anchors = column_lists(("article_id", "anchor"), ((a.article_id, anchor) for a in articles for anchor in a.anchors))
    return ArticleRows(
        {
            "articles": pl.DataFrame(heads, schema=_ARTICLE_ROW),
            "members": pl.DataFrame(members, schema={"article_id": pl.String, "source_id": pl.String}),
            "paragraphs": table_frame("paragraphs", paragraphs),
            "captions": table_frame("captions", captions),
            "comments": table_frame("comments", comments),
            # Rounded here, in one pass: round() per segment cost as much as building the row.
            "segments": table_frame("segments", segments).with_columns(pl.col("confidence").round(3)),
            "anchors": pl.DataFrame(anchors, schema=INDEX_TABLES["_anchors"]),
        }
    )


def concat_rows(parts: Sequence[ArticleRows]) -> ArticleRows:
    """The rows of several batches as one."""
    if not parts:
        return article_rows([])
    return ArticleRows({name: pl.concat([p.frames()[name] for p in parts]) for name in ArticleRows.__slots__})


class ShelvedRows:
    """A batch's rows left in the run's scratch folder (Arrow IPC files): what an article batch task hands back.

    The flow reads them once every batch is done and the workers are gone. Handed back
    whole, they came through a pipe pickled, and the flow held each batch's rows while
    the others ran: 1.2 GB more at the end of a 100,187-capture run's article batches.
    """

    __slots__ = ("files",)

    def __init__(self, rows: ArticleRows, folder: str) -> None:
        self.files = shelve_frames(folder, rows.frames())  # table name -> file


def gather_rows(parts: Sequence[ShelvedRows]) -> ArticleRows:
    """The rows of every batch, read back from the scratch folder, as one."""
    if not parts:
        return article_rows([])
    return ArticleRows(
        {
            name: pl.concat([read_frame(part.files[name]) for part in parts], rechunk=False)
            for name in ArticleRows.__slots__
        }
    )


def column_lists(names: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> dict[str, list[object]]:
    listed = list(rows)
    # A column at a time, in C: 3.5 times faster than appending value by value.
    return {name: list(map(itemgetter(i), listed)) for i, name in enumerate(names)}


def table_frame(table: str, columns: Mapping[str, list[object]]) -> pl.DataFrame:
    schema = TABLES[table]
    return conform(
        table, pl.DataFrame({name: pl.Series(name, values, dtype=schema[name]) for name, values in columns.items()})
    )
