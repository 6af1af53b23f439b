"""The load-related-stored-articles stage: stored articles that new captures may belong to, with their earlier captures.

An article touched by a new capture is rebuilt from all its captures, read
again from the raw directory (checked against their sha256), so that a run over
captures in several batches gives what one run over all of them gives. A raw
file that is gone or changed is replaced by the article as stored.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.core.capture import Capture, lines_of, make_capture
from tasks.core.config import MatchConfig
from tasks.core.folders import is_object_store
from tasks.core.ids import STORED_PREFIX
from tasks.core.lines import CaptureError, decode_capture, numbered_lines
from tasks.core.normalize import tokenize
from tasks.discover import capture_problem, read_raw
from tasks.state import ArchiveState
from tasks.storage.store import bucket_of, read_buckets

# Anchors per paragraph kept in the index: two survive a small edit of one.
ANCHORS_PER_PARAGRAPH = 2
# A capture of a stored article holds several of its paragraphs, so several anchors;
# one shared anchor is mostly chance (measured: 27 candidates for 5 new articles).
_MIN_ANCHOR_HITS = 2
_CAPTURES_AT_ONCE = 10_000  # shelved captures whose lines are read together


@dataclass(frozen=True)
class Related:
    """Earlier captures (or stand-ins) of the stored articles new captures may belong to."""

    captures: list[Capture] = field(default_factory=list)
    new: list[Capture] = field(default_factory=list)  # the run's new captures, first in `everything`
    article_of: dict[str, str] = field(default_factory=dict)  # source_id -> stored article_id
    stand_ins: dict[str, str] = field(default_factory=dict)  # stand-in source_id -> article_id


def everything(related: Related) -> list[Capture]:
    """The run's new captures, then the earlier captures read again."""
    return [*related.new, *related.captures]


def line_shingles(key: str, cfg: MatchConfig, words: Sequence[str] | None = None) -> list[str]:
    """Word shingles of a long line (the same features grouping uses); `words`: the key's, when known."""
    words = tokenize(key) if words is None else words
    if len(words) < cfg.min_line_words:
        return []
    k = min(cfg.shingle_words, len(words))
    # The windows of k words, made by zip over k shifted slices: in C, not a slice and a join per window in Python.
    return list(map(" ".join, zip(*(words[i:] for i in range(k)), strict=False)))  # windows end with the shortest


def paragraph_anchors(
    paragraph_keys: Sequence[str], cfg: MatchConfig, words: Sequence[Sequence[str]] | None = None
) -> tuple[str, ...]:
    """The few distinct shingles of each paragraph with the smallest shingle_hash(): the article's index entries.

    `words`: each paragraph's words, when the caller has them.
    """
    return articles_anchors([[tokenize(key) for key in paragraph_keys] if words is None else words], cfg)[0]


# One odd 64-bit multiplier per place in a shingle (shingle_words is at most 12): fixed, so that
# every run chooses the same anchors.
_PLACE = np.array(
    [
        0xC662C4096014F42D, 0x4BCA5588CA558BD1, 0x39672C3B2D39504B, 0xA988A5F4181E68B3,
        0xD7595338A2636393, 0x6719DC1C48AA0F61, 0x8A882D7F14206FAD, 0x2BCF8359B77D369F,
        0x08CE642E816EC535, 0x0C61E452EB50B72F, 0xE49B147905BC45B5, 0x8CD299FC57E1224B,
    ],
    dtype=np.uint64,
)  # fmt: skip


def word_hash(word: str) -> int:
    """A 64-bit hash of a word, the same in every process and run (unlike hash()): CRC-32 and Adler-32."""
    data = word.encode()
    return zlib.crc32(data) << 32 | zlib.adler32(data)


def shingle_hash(words: Sequence[str]) -> int:
    """The hash by which a paragraph's anchors are chosen: its words' hashes, each times its place's multiplier."""
    return sum(word_hash(w) * int(m) for w, m in zip(words, _PLACE, strict=False)) % 2**64


def articles_anchors(paragraph_words: Sequence[Sequence[Sequence[str]]], cfg: MatchConfig) -> list[tuple[str, ...]]:
    """paragraph_anchors() of each article, given the words of its paragraphs, for a batch of articles at once.

    Every window of words of the batch is hashed in a few numpy operations, and only the
    chosen ones are joined into text: making and CRC-ing every shingle's text, paragraph by
    paragraph, took 0.55 s of 9,917 captures' articles.
    """
    k = cfg.shingle_words
    anchors: list[set[str]] = [set() for _ in paragraph_words]
    owner: list[int] = []  # the article of each paragraph with k words or more
    flat: list[Sequence[str]] = []
    for article, paragraphs in enumerate(paragraph_words):
        for words in paragraphs:
            if len(words) >= max(k, cfg.min_line_words):
                owner.append(article)
                flat.append(words)
            elif len(words) >= cfg.min_line_words:  # one shingle, shorter than k: the whole paragraph
                anchors[article].add(" ".join(words))
    if flat:
        for paragraph, start in _lowest_windows(flat, k):
            anchors[owner[paragraph]].add(" ".join(flat[paragraph][start : start + k]))
    return [tuple(sorted(found)) for found in anchors]


def _lowest_windows(paragraphs: list[Sequence[str]], k: int) -> list[tuple[int, int]]:
    """(paragraph, first word) of the ANCHORS_PER_PARAGRAPH windows of k words of each paragraph with the
    smallest shingle_hash(), a window of the same words counted once. Every paragraph has k words or more."""
    words = list(chain.from_iterable(paragraphs))
    hash_of = {word: word_hash(word) for word in dict.fromkeys(words)}
    codes = np.fromiter(map(hash_of.__getitem__, words), dtype=np.uint64, count=len(words))
    lengths = np.fromiter(map(len, paragraphs), dtype=np.int64, count=len(paragraphs))
    windows = lengths - k + 1  # of each paragraph
    first_word = np.repeat(np.cumsum(lengths) - lengths, windows)  # of the window's paragraph
    start = first_word + np.arange(len(first_word)) - np.repeat(np.cumsum(windows) - windows, windows)
    hashes = np.zeros(len(start), dtype=np.uint64)
    for place in range(k):  # uint64 arithmetic wraps, as shingle_hash() takes it modulo 2**64
        hashes += codes[start + place] * _PLACE[place]
    paragraph = np.repeat(np.arange(len(paragraphs)), windows)
    bounds = np.cumsum(windows) - windows
    chosen: list[tuple[int, int]] = []
    left = np.ones(len(hashes), dtype=np.bool_)  # windows not chosen yet, nor equal to a chosen one
    none = np.uint64(2**64 - 1)
    for _ in range(ANCHORS_PER_PARAGRAPH):
        lowest = np.minimum.reduceat(np.where(left, hashes, none), bounds)
        hit = left & (hashes == lowest[paragraph])  # the lowest, and windows of the same words
        at = np.flatnonzero(hit)
        if not len(at):  # every paragraph has fewer distinct windows
            break
        first = at[np.r_[True, paragraph[at][1:] != paragraph[at][:-1]]]  # the first of each paragraph
        chosen.extend(zip(paragraph[first].tolist(), (start[first] - first_word[first]).tolist(), strict=True))
        left &= ~hit
    return chosen


def candidate_articles(captures: Sequence[Capture], anchors: pl.DataFrame, cfg: MatchConfig) -> set[str]:
    """Stored articles sharing an anchor with a new capture; anchors of many articles (stock phrases,
    wire copy) are skipped as grouping skips such shingles."""
    if anchors.height == 0 or not captures:
        return set()
    shingles: set[str] = set()
    for low in range(0, len(captures), _CAPTURES_AT_ONCE):
        for lines in lines_of(captures[low : low + _CAPTURES_AT_ONCE]):
            shingles.update(s for line in lines for s in line_shingles(line.key, cfg))
    hits = anchors.filter(pl.col("anchor").is_in(list(shingles)))
    rare = hits.filter(pl.col("article_id").n_unique().over("anchor") <= cfg.max_shingle_captures)
    counts = rare.group_by("article_id").len()
    return set(counts.filter(pl.col("len") >= _MIN_ANCHOR_HITS)["article_id"].to_list())


def reread_capture(raw_dir: Path | str, row: dict[str, object]) -> Capture | None:
    """An earlier capture read again, or None when its file is gone or changed, or the listing would no
    longer read it (its name now a link out of raw_dir, say): paths never leave the raw directory."""
    uri, sha = str(row["uri"]), str(row["sha256"])
    path = _raw_path(str(raw_dir), uri)
    if path is None:
        return None
    try:
        data = read_raw(path)
        if hashlib.sha256(data).hexdigest() != sha:
            return None
        lines, n_lines = numbered_lines(decode_capture(data)[0])
    except (OSError, CaptureError):
        return None
    return make_capture(str(row["source_id"]), uri, sha, lines, n_lines)


def _raw_path(raw_dir: str, uri: str) -> str | None:
    """Where the capture listed as `uri` is read, or None when this raw folder's listing would not find it there.

    In object storage `uri` is the object's URI: one under another prefix (an earlier run's raw folder) is not read.
    """
    if is_object_store(raw_dir):
        return uri if uri.startswith(f"{raw_dir}/") else None
    if is_object_store(uri) or capture_problem(Path(raw_dir), uri) is not None:
        return None
    return str(Path(raw_dir) / uri)


def stand_in_capture(state: ArchiveState, article_id: str) -> Capture:
    """The stored article laid out like a metadata capture followed by its thread.

    Title and subtitle, paragraphs with their captions, byline and bio, then the
    comments: laid out so, it gives every role back to the article it is rebuilt into
    (without the byline the article lost its author when its metadata capture was gone).
    """
    bucket = {bucket_of(article_id)}

    def stored(table: str) -> pl.DataFrame:
        return read_buckets(state.root, state.manifest, table, bucket).filter(pl.col("article_id") == article_id)

    article = stored("articles")
    under: dict[int | None, list[str]] = {}  # paragraph_no -> the captions after it (None: before the first)
    for after, caption in stored("captions").select("after_paragraph_no", "text").iter_rows():
        under.setdefault(after, []).append(caption)
    blocks = [t for t in (article["title"].to_list() + article["subtitle"].to_list()) if t] + under.get(None, [])
    for number, paragraph in stored("paragraphs").sort("paragraph_no").select("paragraph_no", "text").iter_rows():
        blocks += [paragraph, *under.get(number, [])]
    blocks += _byline_and_bio(state, article["author_id"].to_list())
    comments = stored("comments").sort("comment_no")["text"].to_list()
    text = "\n\n".join(blocks) + "\n\n" + "\n".join(comments)
    lines, n_lines = numbered_lines(text)
    sha = hashlib.sha256(text.encode()).hexdigest()
    return make_capture(f"{STORED_PREFIX}{article_id}", f"{STORED_PREFIX}{article_id}", sha, lines, n_lines)


def _byline_and_bio(state: ArchiveState, author_ids: list[str | None]) -> list[str]:
    author_id = next((a for a in author_ids if a is not None), None)
    if author_id is None:
        return []
    authors = read_buckets(state.root, state.manifest, "authors", {bucket_of(author_id)})
    author = authors.filter(pl.col("author_id") == author_id)
    if author.height == 0:
        return []
    name, bio = author.row(0, named=True)["name"], author.row(0, named=True)["bio"]
    return [f"Author: {name}", *([bio] if bio else [])]


def find_related(raw_dir: Path | str, state: ArchiveState, captures: Sequence[Capture], cfg: MatchConfig) -> Related:
    """Earlier captures of every stored article a new capture may belong to."""
    candidates = candidate_articles(captures, state.anchors, cfg)
    related = Related(new=list(captures))
    if not candidates:
        return related
    buckets = {bucket_of(a) for a in candidates}
    sources = read_buckets(state.root, state.manifest, "sources", buckets).filter(
        pl.col("article_id").is_in(list(candidates)) & (pl.col("status") == "archived")
    )
    for row in sources.sort("sha256").iter_rows(named=True):
        capture = reread_capture(raw_dir, row)
        if capture is None:
            related.stand_ins.setdefault(f"{STORED_PREFIX}{row['article_id']}", str(row["article_id"]))
            continue
        related.captures.append(capture)
        related.article_of[capture.source_id] = str(row["article_id"])
    for stand_in, article_id in sorted(related.stand_ins.items()):
        capture = stand_in_capture(state, article_id)
        related.captures.append(capture)
        related.article_of[stand_in] = article_id
    return related


@task(name="load-related-stored-articles", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def load_related(raw_dir: str, state: ArchiveState, captures: list[Capture], cfg: MatchConfig) -> Related:
    """Find stored articles the new captures may extend, and read their earlier captures again."""
    related = find_related(raw_dir, state, captures, cfg)
    get_run_logger().info(
        "%d stored articles may take new captures (%d earlier captures read again, %d stand-ins)",
        len(set(related.article_of.values())), len(related.captures) - len(related.stand_ins), len(related.stand_ins),
    )  # fmt: skip
    return related
