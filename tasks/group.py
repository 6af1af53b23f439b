"""The group-captures-by-article stage: captures of the same article, found by blocking then batched fuzzy matching.

Candidate unit pairs come from an inverted index of word shingles (rare ones
only); rapidfuzz scores just those pairs; two captures are one article when the
larger holds most of the smaller's long units (containment, not Jaccard, so a
truncated capture or one with 200 comments appended still matches). Two pages of
one site share their menus, related links and footer, often more than half of a page
with a short article: they stay apart when, between two long lines both hold, each has
an article of its own (framed_apart).

Captures of one article are captures of one page. Two pages that carry one text (a wire
story on two sites) each show a frame of their own, short lines outside the text (masthead,
menus, footer links), and their frames differ: they are two articles (framed_twice), and an
article-only capture that matches both joins the page it matches best, not both
(keep_pages_apart). A page and its article-only capture (no frame), captures with reader
comments after the text, and one page captured twice (one frame) stay one article.

The captures of one article repeat most of their text, so each distinct unit text
is tokenized, shingled and scored once however many captures hold it (136,871
distinct long texts for 244,741 long units on 9,917 synthetic captures).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from tasks.core.capture import BLANK_SEPARATED_SHARE, Capture, joined_keys
from tasks.core.config import MatchConfig
from tasks.runtime.execution import Sealed, hand_back_freed_memory

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Number = TypeVar("Number", bound=np.generic)

# A hard-wrapped line is at most this long (wrap widths are 60-80), and every
# line of a wrapped paragraph but its last is at least half of that.
_MAX_WRAPPED_CHARS = 100
_MIN_WRAPPED_CHARS = 50

# tasks.core.normalize.tokenize's `\w+` in the Rust regex syntax polars runs: Python's str
# `\w` is letters, digits and "_", Rust's adds combining marks. The two agree on every
# code point Python 3.11's Unicode 14 assigns (checked over all 1.1 million).
_WORD = r"[\p{L}\p{N}_]+"

# Captures turned into units at a time: bounds the copy of their text polars holds
# (a large run's line keys are hundreds of MB); only numbers are kept.
_CAPTURE_BATCH = 10_000

# Shingle rows are split by the top bits of their hash and each part is sorted on its
# own: faster than one sort of all rows, and the scratch memory of a sort is a sixteenth.
_PART_BITS = 4

# Keys tokenized at a time: bounds their words and shingles in memory.
_TEXT_BATCH = 25_000

_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so no word's bits are lost


@dataclass(frozen=True)
class Texts:
    """The distinct unit texts of a run: their keys and lengths, and the captures that hold the long ones."""

    chars: I64  # characters of the text
    words: I64  # words of the text
    keys: pl.Series  # the keys of the units tokenized (a text's first unit, as a rule): what scoring compares
    key_at: I64  # where each text's key is in `keys`
    occurrences: pl.DataFrame  # text, capture, count: how many units of each capture are each long text; by text
    unit_text: U32  # the text of each unit, numbered as unit_texts read them
    unit_capture: U32  # the capture of each unit, numbered alike
    unit_line: U32  # where each unit starts in its capture's lines: units in reading order


@dataclass(frozen=True)
class ShingleBatch:
    """(unit, shingle hash) rows of long texts tokenized together, ordered by part: the hash's top bits."""

    unit: U32
    shingle: U64
    bounds: I64  # part p is rows bounds[p] to bounds[p + 1]


def line_frame(captures: Sequence[Capture], first: int) -> pl.DataFrame:
    """One row per non-blank line: capture, index in its lines, line number, key, blank-separated capture."""
    counts = np.fromiter((len(c.line_numbers) for c in captures), dtype=np.int64, count=len(captures))
    total = int(counts.sum())
    line_no = _concat([np.frombuffer(c.line_numbers, dtype=np.int64) for c in captures], np.int64)
    return pl.DataFrame(
        {
            "capture": np.repeat(np.arange(first, first + len(captures), dtype=np.uint32), counts),
            "line": (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.uint32),
            "line_no": line_no,
            "key": _split_keys(captures),
            "joinable": np.repeat(blank_separated(line_no, counts), counts),
        }
    )


def blank_separated(line_no: I64, counts: I64) -> Bools:
    """Capture.blank_separated() of each capture, from their line numbers laid end to end (counts of each).

    At once, in numpy: asking each of 100,187 captures took 0.5 s of grouping's one Python thread.
    """
    ends = np.cumsum(counts)
    alone = np.ones(len(line_no), np.bool_)  # a capture's last line is followed by no line
    alone[:-1] = line_no[1:] - line_no[:-1] > 1
    alone[ends[counts > 0] - 1] = True
    some = counts > 0  # a capture without lines is not blank-separated (and has no index to reduce at)
    held = np.zeros(len(counts), np.int64)
    held[some] = np.add.reduceat(alone, (ends - counts)[some])
    return some & (held >= BLANK_SEPARATED_SHARE * counts)


def grouping_units(lines: pl.DataFrame) -> pl.DataFrame:
    """capture, line, lines, key of each unit: a line, or a hard-wrapped paragraph of a blank-separated capture.

    Two captures wrapped at different widths share no line, but they share paragraphs.
    Only runs that look wrapped are joined: joining other runs let a short unit of one
    article be found inside a long one of another (grouping precision 0.98 instead of 1.0).
    """
    capture, line_no = lines["capture"].to_numpy(), lines["line_no"].to_numpy()
    chars = lines["key"].str.len_chars().to_numpy()
    total = len(capture)
    # Runs of consecutive line numbers, in numpy: faster than polars' over("run").
    starts_run = np.ones(total, np.bool_)
    starts_run[1:] = (capture[1:] != capture[:-1]) | (line_no[1:] != line_no[:-1] + 1)
    first = np.flatnonzero(starts_run)
    size = np.diff(np.append(first, total))
    last = np.append(starts_run[1:], True)[:total]
    fits = (chars <= _MAX_WRAPPED_CHARS) & (last | (chars >= _MIN_WRAPPED_CHARS))
    all_fit = np.logical_and.reduceat(fits, first) if total else np.zeros(0, np.bool_)
    wrapped = np.repeat(lines["joinable"].to_numpy()[first] & (size > 1) & all_fit, size)
    single = lines.filter(~wrapped).select("capture", "line", pl.lit(1, pl.UInt32).alias("lines"), "key")
    joined = (
        lines.with_columns(pl.Series("run", np.repeat(np.arange(len(first)), size)))
        .filter(wrapped)
        .group_by("run", maintain_order=True)
        .agg(
            pl.col("capture").first(), pl.col("line").first(),
            pl.len().cast(pl.UInt32).alias("lines"), pl.col("key").str.join(" "),
        )
        .drop("run")
    )  # fmt: skip
    return pl.concat([single, joined])


def _expand(first: I64, count: I64) -> I64:
    """first[i], first[i] + 1, ... count[i] numbers from each first, laid end to end."""
    return np.repeat(first - (np.cumsum(count) - count), count) + np.arange(count.sum(), dtype=np.int64)


def shingle_hashes(words: U64, lengths: I64, k: int) -> tuple[I64, U64]:
    """How many k-word shingles each of the word-hash sequences laid end to end has, and their hashes.

    A sequence shorter than k words is one shingle. Numeric, in numpy: joining the words
    of 7 million shingles as strings took 9 s on 9,917 captures.
    """
    total = len(words)
    padded = np.concatenate([words, np.zeros(k, np.uint64)])
    rolled = padded[:total].copy()
    for j in range(1, k):
        rolled *= _SHINGLE_MULTIPLIER
        rolled += padded[j : j + total]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    count = np.maximum(lengths - k + 1, 1)
    # No shingle starts at a sequence's last k - 1 words (nor after the first word of a shorter one).
    edges = np.bincount(starts + count, minlength=total + 1) - np.bincount(ends, minlength=total + 1)
    hashes = rolled[np.cumsum(edges[:total]) == 0]
    short = np.flatnonzero(lengths < k)  # only when min_line_words < shingle_words
    if len(short):  # rolled ran on into the next sequence; zeros take its words' place
        whole = np.zeros(len(short), np.uint64)
        for j in range(k):
            whole *= _SHINGLE_MULTIPLIER
            whole += np.where(j < lengths[short], padded[starts[short] + j], np.uint64(0))
        hashes[(np.cumsum(count) - count)[short]] = whole
    return count, hashes


def _by_part(unit: U32, shingle: U64) -> ShingleBatch:
    part = (shingle >> np.uint64(64 - _PART_BITS)).astype(np.uint8)
    order = np.argsort(part, kind="stable")  # a radix sort on 8-bit keys
    bounds = np.concatenate([np.zeros(1, np.int64), np.cumsum(np.bincount(part, minlength=1 << _PART_BITS))])
    return ShingleBatch(unit[order], shingle[order], bounds)


def part_rows(batches: Sequence[ShingleBatch], part: int, unit_text: U32) -> tuple[U32, U64]:
    """(text, shingle) rows of one part, gathered from every batch."""
    units = _concat([b.unit[b.bounds[part] : b.bounds[part + 1]] for b in batches], np.uint32)
    shingles = _concat([b.shingle[b.bounds[part] : b.bounds[part + 1]] for b in batches], np.uint64)
    return unit_text[units], shingles


def _split_keys(captures: Sequence[Capture]) -> pl.Series:
    """The key of every line of the captures, in order: split in polars, no Python string per line."""
    with_lines = [c for c in captures if len(c.line_numbers)]  # "" would split into one empty key
    joined = pl.Series("key", joined_keys(with_lines), dtype=pl.String)
    return joined.str.split("\n").explode()


def text_keys(captures: Sequence[Capture], capture: U32, line: U32, lines: U32) -> list[str]:
    """The keys of units given by capture, first line and line count, read from the captures.

    _CAPTURE_BATCH captures at a time: the keys of shelved captures are read again for
    this, and all of them at once would be most of the run's text.
    """
    units = pl.DataFrame({"row": np.arange(len(capture), dtype=np.int64), "capture": capture, "line": line})
    units = units.with_columns(pl.Series("lines", lines))
    needed, _ = _runs(capture)
    parts = []
    for low in range(0, len(needed), _CAPTURE_BATCH):
        chunk = needed[low : low + _CAPTURE_BATCH]
        held = [captures[c] for c in chunk.tolist()]
        counts = np.fromiter((len(c.line_numbers) for c in held), dtype=np.int64, count=len(held))
        keys = pl.DataFrame(
            {
                "capture": np.repeat(chunk, counts),
                "line": (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.uint32),
                "key": _split_keys(held),
            }
        )
        wanted = units.filter(pl.col("capture").is_between(chunk[0], chunk[-1]))
        parts.append(
            wanted.with_columns(pl.int_ranges("line", pl.col("line") + pl.col("lines"), dtype=pl.UInt32).alias("line"))
            .explode("line")
            .join(keys, on=["capture", "line"], how="left", maintain_order="left")
            .group_by("row", maintain_order=True)
            .agg(pl.col("key").str.join(" "))
        )
    found = pl.concat([pl.DataFrame(schema={"row": pl.Int64, "key": pl.String}), *parts]).sort("row")
    return found["key"].to_list()


def _shingle_keys(keys: pl.Series, units: U32, cfg: MatchConfig) -> tuple[I64, ShingleBatch]:
    """Words in each key, and the (unit, shingle hash) rows of those with min_line_words or more."""
    words = keys.str.extract_all(_WORD)
    n_words = words.list.len().cast(pl.Int64).to_numpy()
    long = n_words >= cfg.min_line_words
    hashes = words.explode(empty_as_null=False).hash().to_numpy()[np.repeat(long, n_words)]
    count, shingles = shingle_hashes(hashes, n_words[long], cfg.shingle_words)
    return n_words, _by_part(np.repeat(units[long], count), shingles)


_UNITS = {
    "capture": pl.UInt32, "line": pl.UInt32, "lines": pl.UInt32, "chars": pl.UInt32,
    "h1": pl.UInt64, "h2": pl.UInt64,
}  # fmt: skip


def _concat(pieces: Sequence[npt.NDArray[Number]], dtype: type[Number]) -> npt.NDArray[Number]:
    return np.concatenate([np.zeros(0, dtype), *pieces])


def _runs(values: npt.NDArray[Number]) -> tuple[npt.NDArray[Number], I64]:
    """The distinct values, sorted, and how often each occurs.

    By sorting: np.unique hashes integers, which took 1.7 s where this takes 0.1 s (1.8 million, 100,187 captures).
    """
    ordered = np.sort(values)
    first = np.ones(len(ordered), np.bool_)
    first[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(np.append(starts, len(ordered)))


def _batch_units(captures: Sequence[Capture], first: int) -> pl.DataFrame:
    """The units of _CAPTURE_BATCH captures from `first`, with their length and two hashes of their key."""
    key = pl.col("key")
    return grouping_units(line_frame(captures[first : first + _CAPTURE_BATCH], first)).with_columns(
        key.str.len_chars().cast(pl.UInt32).alias("chars"), key.hash(1).alias("h1"), key.hash(2).alias("h2")
    )


def _shingle_rows(keys: pl.Series, rows: pl.Series, cfg: MatchConfig) -> tuple[U32, I64, ShingleBatch]:
    unit_rows = rows.to_numpy().astype(np.uint32)
    n_words, shingled = _shingle_keys(keys, unit_rows, cfg)
    return unit_rows, n_words, shingled


def unit_texts(captures: Sequence[Capture], cfg: MatchConfig) -> tuple[Texts, list[ShingleBatch]]:
    """Every distinct unit text, tokenized and shingled once, and which captures hold it; the shingles.

    Units are told apart by two 64-bit hashes of their key (odds that two texts pass for
    one: about 10^-26 at a million texts); a batch's text is tokenized where its first
    hash is new, then dropped.
    """
    seen = pl.Series("h1", [], dtype=pl.UInt64)
    batches: list[pl.DataFrame] = []
    shingling: list[Future[tuple[U32, I64, ShingleBatch]]] = []  # unit rows tokenized, their words and shingles
    shingled_keys: list[pl.Series] = []  # the keys of those rows, kept for scoring
    firsts = range(0, len(captures), _CAPTURE_BATCH)
    # Polars and numpy let go of the GIL: the next batches' units are found, and earlier batches'
    # new texts shingled, while this thread sorts out which texts are new (the same groups).
    threads = len(os.sched_getaffinity(0))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        coming = deque(pool.submit(_batch_units, captures, first) for first in firsts[:threads])
        for at in range(len(firsts)):
            units = coming.popleft().result()
            if at + threads < len(firsts):
                coming.append(pool.submit(_batch_units, captures, firsts[at + threads]))
            offset = sum(b.height for b in batches)
            fresh = units.with_row_index("row", offset).filter(
                pl.col("h1").is_first_distinct() & ~pl.col("h1").is_in(seen.implode())
            )
            seen = pl.concat([seen, fresh["h1"]])
            for low in range(0, fresh.height, _TEXT_BATCH):
                some = fresh.slice(low, _TEXT_BATCH)
                shingling.append(pool.submit(_shingle_rows, some["key"], some["row"], cfg))
                shingled_keys.append(some["key"])
            batches.append(units.drop("key"))
        done = [future.result() for future in shingling]
    tokenized = [(rows, n_words) for rows, n_words, _ in done]
    shingled = [rows_shingled for _, _, rows_shingled in done]
    # The keys stay, as the batches' slices, for scoring: reading them back from the shelves was slower,
    # and they hold less than the run's peak, which comes later.
    keys_read = pl.concat([pl.Series(dtype=pl.String), *shingled_keys], rechunk=False)
    units = pl.concat([pl.DataFrame(schema=_UNITS), *batches])
    del batches
    # Units by text, then capture (faster than np.lexsort).
    order = units.select(pl.arg_sort_by("h1", "h2", "capture", maintain_order=True)).to_series().to_numpy()
    h1, h2 = units["h1"].to_numpy()[order], units["h2"].to_numpy()[order]
    starts = np.ones(len(order), dtype=np.bool_)
    starts[1:] = (h1[1:] != h1[:-1]) | (h2[1:] != h2[:-1])
    del h1, h2
    text = np.empty(len(order), dtype=np.uint32)
    text[order] = np.cumsum(starts) - 1
    first_unit = order[starts]
    capture, line, lines = (units[c].to_numpy() for c in ("capture", "line", "lines"))
    words_of = np.full(len(order), -1, np.int64)
    key_at = np.full(len(order), -1, np.int64)  # where each tokenized unit's key lies in keys_read
    at = 0
    for rows, n_words in tokenized:
        words_of[rows] = n_words
        key_at[rows] = np.arange(at, at + len(rows))
        at += len(rows)
    missed = first_unit[words_of[first_unit] < 0]  # a second text whose first hash was seen: never, or nearly
    if len(missed):
        keys = pl.Series(text_keys(captures, capture[missed], line[missed], lines[missed]), dtype=pl.String)
        words_of[missed], rows_shingled = _shingle_keys(keys, missed.astype(np.uint32), cfg)
        shingled.append(rows_shingled)
        keys_read = pl.concat([keys_read, keys], rechunk=False)
        key_at[missed] = np.arange(at, at + len(missed))
    long = words_of[first_unit] >= cfg.min_line_words
    # Count each run of one text in one capture.
    sorted_text, sorted_capture = text[order], capture[order]
    runs = np.flatnonzero(starts | np.concatenate([[True], sorted_capture[1:] != sorted_capture[:-1]]))
    count = np.diff(np.append(runs, len(order))).astype(np.uint32)
    kept = long[sorted_text[runs]]
    occurrences = pl.DataFrame(
        {"text": sorted_text[runs][kept], "capture": sorted_capture[runs][kept], "count": count[kept]}
    )
    texts = Texts(
        chars=units["chars"].to_numpy()[first_unit].astype(np.int64),
        words=words_of[first_unit],
        keys=keys_read,
        key_at=key_at[first_unit],
        occurrences=occurrences,
        unit_text=text,
        unit_capture=capture,
        unit_line=line,
    )
    return texts, shingled


# Two units of one text share every shingle; unrelated units share one by chance
# (31,133 candidate pairs on 1,009 synthetic captures with one, far fewer with two).
_MIN_SHARED_SHINGLES = 2


def _captures_of(texts: Texts) -> tuple[I64, I64, U32]:
    """How many captures hold each text, and those captures (CSR: offsets into a flat array)."""
    occurrences = texts.occurrences  # sorted by text
    held = np.bincount(occurrences["text"].to_numpy(), minlength=len(texts.chars)).astype(np.int64)
    return held, np.concatenate([np.zeros(1, np.int64), np.cumsum(held)]), occurrences["capture"].to_numpy()


def _distinct_captures(group: I64, text: U32, offsets: I64, flat: U32, groups: int) -> I64:
    """How many distinct captures hold the texts of each group of rows (row i: group[i], text[i])."""
    counts = offsets[text + 1] - offsets[text]
    at = _expand(offsets[text], counts)
    packed, _ = _runs((np.repeat(group, counts).astype(np.uint64) << np.uint64(32)) | flat[at])
    return np.bincount((packed >> np.uint64(32)).astype(np.int64), minlength=groups)


def _part_pairs(
    text: U32, shingle: U64, held: I64, offsets: I64, flat: U32, limit: int, rare_alone: Bools
) -> tuple[U64, U32]:
    """Text pairs (packed a << 32 | b, a < b) sharing each rare shingle of one part, and the texts of its rare rows."""
    # Most shingles are in one row: as many captures hold them as hold its text. Those are found by
    # sorting the hashes alone; only the other rows are sorted with their texts.
    values = pl.Series(shingle).sort().to_numpy()
    twice = values[1:][values[1:] == values[:-1]]
    shared = pl.Series(shingle).is_in(pl.Series(twice).implode()).to_numpy()
    alone = text[~shared]
    alone = alone[rare_alone[alone]]
    rows = pl.DataFrame({"shingle": shingle[shared], "text": text[shared]}).sort("shingle", "text")
    s, t = rows["shingle"].to_numpy(), rows["text"].to_numpy()
    repeated = np.zeros(len(s), np.bool_)  # a shingle twice in one text counts once
    repeated[1:] = (s[1:] == s[:-1]) & (t[1:] == t[:-1])
    s, t = s[~repeated], t[~repeated]
    starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]])) if len(s) else np.zeros(0, np.int64)
    sizes = np.diff(np.append(starts, len(s)))
    holders = held[t]
    df = np.add.reduceat(holders, starts) if len(s) else np.zeros(0, np.int64)
    # That sum counts a capture holding two texts with the shingle twice: count captures where it matters.
    top = np.maximum.reduceat(holders, starts) if len(s) else np.zeros(0, np.int64)
    unsure = (df > limit) & (top <= limit)
    if unsure.any():
        in_unsure = np.repeat(unsure, sizes)
        group = np.repeat(np.arange(len(starts)), sizes)[in_unsure]
        df[unsure] = _distinct_captures(group, t[in_unsure], offsets, flat, len(starts))[unsure]
    rare = (df >= 2) & (df <= limit)
    keep = np.repeat(rare, sizes)
    s, t, size = s[keep], t[keep], np.repeat(sizes[rare], sizes[rare])
    rare_texts = np.concatenate([alone, t])
    found = [np.zeros(0, np.uint64)]
    gap = 1
    while len(s) > gap:
        same = s[gap:] == s[:-gap]
        found.append((t[:-gap][same].astype(np.uint64) << np.uint64(32)) | t[gap:][same])
        gap += 1
        wide = size > gap  # only groups larger than the gap have pairs that far apart
        s, t, size = s[wide], t[wide], size[wide]
    return np.concatenate(found), rare_texts


def candidate_text_pairs(texts: Texts, shingled: Sequence[ShingleBatch], cfg: MatchConfig) -> pl.DataFrame:
    """text_a <= text_b pairs sharing two shingles that 2 to max_shingle_captures captures hold.

    A text paired with itself stands for the captures that hold that same unit.
    """
    held, offsets, flat = _captures_of(texts)
    limit = cfg.max_shingle_captures
    rare_alone = (held >= 2) & (held <= limit)  # a shingle of this text alone: rare or not

    def pairs_of_part(part: int) -> tuple[U64, I64]:
        text, shingle = part_rows(shingled, part, texts.unit_text)
        pairs, rare_texts = _part_pairs(text, shingle, held, offsets, flat, limit, rare_alone)
        return pairs, np.bincount(rare_texts, minlength=len(texts.chars))

    # Parts apart on both cores: their sorts let go of the GIL.
    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        found, rare_counts = zip(*pool.map(pairs_of_part, range(1 << _PART_BITS)), strict=True)
    rare_count = np.sum(rare_counts, axis=0)
    packed, shared = _runs(_concat(found, np.uint64))
    packed = packed[shared >= _MIN_SHARED_SHINGLES]
    selves = np.flatnonzero((rare_count >= _MIN_SHARED_SHINGLES) & (held >= 2))
    a = np.concatenate([(packed >> np.uint64(32)).astype(np.int64), selves])
    b = np.concatenate([(packed & np.uint64(0xFFFFFFFF)).astype(np.int64), selves])
    alone = np.full(len(held), -1, np.int64)  # the one capture holding a text, where only one does
    alone[held == 1] = flat[offsets[:-1][held == 1]]
    useful = (alone[a] < 0) | (alone[a] != alone[b])  # two texts of one capture alone pair no captures
    return pl.DataFrame({"text_a": a[useful].astype(np.uint32), "text_b": b[useful].astype(np.uint32)})


# Units whose lengths differ more than this were reflowed (joined or split):
# only they need partial_ratio, which costs two orders of magnitude more than ratio.
_REFLOWED_LENGTH_RATIO = 0.8


def score_text_pairs(texts: Texts, pairs: pl.DataFrame, cutoff: float) -> npt.NDArray[np.float64]:
    """Score candidate text pairs in batched rapidfuzz calls: ratio, or partial_ratio where reflowed.

    A text paired with itself scores 100 without being compared. partial_ratio is the
    best ratio of the shorter text (m characters) to a part of the longer, so it is at
    most 200 L / (m + L) where L is their longest common subsequence. A bit-parallel
    LCS rules out most reflowed pairs first: 7,850 of 12,410 on 9,917 captures, and
    partial_ratio on the rest took 0.03 s where all of them took 0.53 s.
    """
    a, b = pairs["text_a"].to_numpy(), pairs["text_b"].to_numpy()
    scores = np.full(len(a), 100.0)
    shorter = np.minimum(texts.chars[a], texts.chars[b])
    reflowed = shorter < _REFLOWED_LENGTH_RATIO * np.maximum(texts.chars[a], texts.chars[b])
    differ = a != b
    ids, _ = _runs(np.concatenate([a[differ], b[differ]]))
    keys = texts.keys.gather(texts.key_at[ids]).to_list()

    def keys_of(index: I64) -> tuple[list[str], list[str]]:
        return [keys[i] for i in np.searchsorted(ids, a[index])], [keys[i] for i in np.searchsorted(ids, b[index])]

    plain = np.flatnonzero(differ & ~reflowed)
    scores[plain] = process.cpdist(*keys_of(plain), scorer=fuzz.ratio, processor=None, score_cutoff=cutoff, workers=-1)
    partial = np.flatnonzero(differ & reflowed)
    common = process.cpdist(*keys_of(partial), scorer=LCSseq.similarity, processor=None, workers=-1)
    # Float32 scores: a bound just under the cutoff may still round up to it.
    hopeful = partial[200 * common / (shorter[partial] + common) >= cutoff - 0.01]
    scores[partial] = 0.0
    scores[hopeful] = process.cpdist(
        *keys_of(hopeful), scorer=fuzz.partial_ratio, processor=None, score_cutoff=cutoff, workers=-1
    )
    return scores


def matched_reach(texts: Texts, matched: pl.DataFrame) -> U64:
    """text << 32 | capture, sorted, once each: every text with each capture holding a text it matched."""
    held, offsets, flat = _captures_of(texts)
    a, b = matched["text_a"].to_numpy().astype(np.int64), matched["text_b"].to_numpy().astype(np.int64)
    differ = a != b
    text, other_text = np.concatenate([a, b[differ]]), np.concatenate([b, a[differ]])  # text matched other_text
    n = held[other_text]
    reach, _ = _runs((np.repeat(text, n).astype(np.uint64) << np.uint64(32)) | flat[_expand(offsets[other_text], n)])
    return reach


def held_chars(texts: Texts, reach: U64) -> pl.DataFrame:
    """holder, other, chars: characters of the holder's long units that match a unit of the other capture.

    A unit counts once however many units of the other it matches (`reach` holds each text and capture once).
    """
    held, offsets, flat = _captures_of(texts)
    occurrences = texts.occurrences
    chars = texts.chars[occurrences["text"].to_numpy()] * occurrences["count"].to_numpy()  # in CSR order
    text = (reach >> np.uint64(32)).astype(np.int64)
    m = held[text]
    at = _expand(offsets[text], m)  # every capture holding the text, against each of those
    holder, other = flat[at], np.repeat((reach & np.uint64(0xFFFFFFFF)).astype(np.uint32), m)
    apart = holder != other
    pair = (holder[apart].astype(np.uint64) << np.uint64(32)) | other[apart]  # one key: twice as fast to group
    sums = pl.DataFrame({"pair": pair, "chars": chars[at][apart]}).group_by("pair").agg(pl.col("chars").sum())
    pair = sums["pair"].to_numpy()
    return pl.DataFrame(
        {
            "holder": (pair >> np.uint64(32)).astype(np.uint32),
            "other": (pair & np.uint64(0xFFFFFFFF)).astype(np.uint32),
            "chars": sums["chars"].to_numpy(),
        }
    )


@dataclass(frozen=True)
class Framing:
    """Where each capture's long units are and which texts they are, once the keys are gone."""

    units: Texts  # its keys dropped
    holds: U64  # text << 32 | capture of each long text and each capture holding it
    once: U64  # those of a text the capture holds once
    repeats: pl.DataFrame  # key, count: the others, and how many units of the capture are the text
    reach: U64  # text << 32 | capture of each text and each capture holding a text it matched
    long_chars: F64  # characters of each capture's long units (at least 1)


def _containment(captures: Sequence[Capture], cfg: MatchConfig) -> tuple[pl.DataFrame, Framing]:
    """capture_a < capture_b, containment, own_a, own_b (long-unit characters of each the other does not hold)."""
    texts, shingled = unit_texts(captures, cfg)
    pairs = candidate_text_pairs(texts, shingled, cfg)
    del shingled  # the largest arrays: 34 million rows at 100,187 captures
    scores = score_text_pairs(texts, pairs, cfg.line_score_cutoff)
    reach = matched_reach(texts, pairs.filter(pl.Series(scores >= cfg.line_score_cutoff)))
    held = held_chars(texts, reach)
    occ = texts.occurrences
    occ_text, occ_capture = occ["text"].to_numpy(), occ["capture"].to_numpy()
    long_chars = np.bincount(
        occ_capture, weights=texts.chars[occ_text] * occ["count"].to_numpy(), minlength=len(captures)
    ).clip(min=1)
    forward = held.filter(pl.col("holder") < pl.col("other")).rename({"holder": "capture_a", "other": "capture_b"})
    backward = held.filter(pl.col("holder") > pl.col("other")).rename({"holder": "capture_b", "other": "capture_a"})
    both = forward.join(backward, on=["capture_a", "capture_b"], suffix="_b")
    a, b = both["capture_a"].to_numpy(), both["capture_b"].to_numpy()
    held_a, held_b = both["chars"].to_numpy(), both["chars_b"].to_numpy()
    smaller_a = long_chars[a] <= long_chars[b]
    found = pl.DataFrame(
        {
            "capture_a": a.astype(np.int64),
            "capture_b": b.astype(np.int64),
            "containment": np.where(smaller_a, held_a / long_chars[a], held_b / long_chars[b]),
            "own_a": long_chars[a] - held_a,
            "own_b": long_chars[b] - held_b,
        }
    )
    holds = (occ_text.astype(np.uint64) << np.uint64(32)) | occ_capture
    count = occ["count"].to_numpy()
    repeats = pl.DataFrame({"key": holds[count > 1], "count": count[count > 1]})
    framing = Framing(
        replace(texts, keys=pl.Series(dtype=pl.String)), holds, holds[count == 1], repeats, reach, long_chars
    )
    return found.sort("capture_a", "capture_b"), framing


def containment_pairs(captures: Sequence[Capture], cfg: MatchConfig) -> pl.DataFrame:
    """Capture pairs with the share of the smaller one's long-unit text that the other holds."""
    return _containment(captures, cfg)[0].select("capture_a", "capture_b", "containment")


@dataclass(frozen=True)
class Side:
    """The long units of one capture of each pair, in reading order, as the pair's other capture sees them."""

    pair: I64
    text: I64
    rank: I64  # which of the capture's units of this text it is, from 0
    anchor: Bools  # a text both captures hold as often: its n-th unit in one is where the other has its n-th
    own: Bools  # the other capture holds neither it nor a text matching it
    chars: I64
    paragraph: Bools  # its own and has min_own_paragraph_words or more


def _reading_order(framing: Framing, wanted: Bools) -> tuple[I64, I64, I64]:
    """first, count (per capture) and text of the wanted captures' long units, each capture's in reading order."""
    units = framing.units
    is_long = np.bincount((framing.holds >> np.uint64(32)).astype(np.int64), minlength=len(units.chars)) > 0
    keep = np.flatnonzero(is_long[units.unit_text] & wanted[units.unit_capture])
    capture = units.unit_capture[keep]
    order = np.argsort((capture.astype(np.uint64) << np.uint64(32)) | units.unit_line[keep])
    count = np.bincount(capture, minlength=len(wanted)).astype(np.int64)
    return np.cumsum(count) - count, count, units.unit_text[keep][order].astype(np.int64)


def _repeated(framing: Framing, side: I64, text: I64, mine: U64, theirs: U64) -> tuple[I64, Bools]:
    """Rank among the side's units of the same text, and whether both captures hold the text as often."""
    rows = pl.DataFrame({"side": side, "text": text, "mine": mine, "theirs": theirs})
    found = (
        rows.join(framing.repeats, left_on="mine", right_on="key", how="left", maintain_order="left")
        .join(framing.repeats, left_on="theirs", right_on="key", how="left", maintain_order="left")
        .select(
            (pl.col("text").cum_count().over("side", "text") - 1).alias("rank"),
            (pl.col("count").fill_null(1) == pl.col("count_right").fill_null(1)).alias("anchor"),
        )
    )
    return found["rank"].to_numpy().astype(np.int64), found["anchor"].to_numpy()


def _sides(framing: Framing, order: tuple[I64, I64, I64], a: I64, b: I64, paragraph_words: int) -> tuple[Side, Side]:
    """The Side of a's units as b sees them, and of b's as a sees them."""
    first, count, text_in_order = order
    of, other = np.concatenate([a, b]), np.concatenate([b, a])
    n = count[of]
    text = text_in_order[_expand(first[of], n)]
    side = np.repeat(np.arange(len(of)), n)
    theirs = (text.astype(np.uint64) << np.uint64(32)) | np.repeat(other, n).astype(np.uint64)
    mine = (text.astype(np.uint64) << np.uint64(32)) | np.repeat(of, n).astype(np.uint64)

    def known(keys: U64, known: U64) -> Bools:  # hashed: a binary search took 4 times as long (10,000 captures)
        return pl.Series(keys).is_in(pl.Series(known).implode()).to_numpy()

    once = known(np.concatenate([theirs, mine]), framing.once)  # one hashing of the largest array
    anchor = once[: len(text)] & once[len(text) :]
    held = once[: len(text)] | known(theirs, framing.repeats["key"].to_numpy())
    own = ~held & ~known(theirs, framing.reach)
    rank = np.zeros(len(text), np.int64)
    # A text more than once in a capture (a comment quoting a paragraph word for word) is an anchor where both
    # hold it as often: its n-th unit in one is where the other has its n-th.
    again = np.flatnonzero(held & ~anchor)
    if len(again):
        rank[again], anchor[again] = _repeated(framing, side[again], text[again], mine[again], theirs[again])
    pair = side % len(a)
    chars, paragraph = framing.units.chars[text], own & (framing.units.words[text] >= paragraph_words)
    cut = int(n[: len(a)].sum())
    return (
        Side(pair[:cut], text[:cut], rank[:cut], anchor[:cut], own[:cut], chars[:cut], paragraph[:cut]),
        Side(pair[cut:], text[cut:], rank[cut:], anchor[cut:], own[cut:], chars[cut:], paragraph[cut:]),
    )


def _own_runs(side: Side, floor: F64, lines: int) -> pl.DataFrame:
    """pair and the anchors (text, rank) before and after each run of own units as large as an article."""
    anchors = np.flatnonzero(side.anchor)
    rows = np.flatnonzero(side.own)
    after = np.searchsorted(anchors, rows)  # the anchor after each own unit
    inside = (after > 0) & (after < len(anchors))
    rows, after = rows[inside], after[inside]
    framed = (side.pair[anchors[after - 1]] == side.pair[rows]) & (side.pair[anchors[after]] == side.pair[rows])
    rows, after = rows[framed], after[framed]
    runs = (
        pl.DataFrame({"run": after, "chars": side.chars[rows], "paragraph": side.paragraph[rows]})
        .group_by("run")
        .agg(pl.len().alias("lines"), pl.col("chars").sum(), pl.col("paragraph").any())
    )
    run = runs["run"].to_numpy()
    pair = side.pair[anchors[run]]
    big = (runs["lines"].to_numpy() >= lines) & (runs["chars"].to_numpy() >= floor[pair]) & runs["paragraph"].to_numpy()
    before, after = anchors[run[big] - 1], anchors[run[big]]
    return pl.DataFrame(
        {
            "pair": pair[big],
            "before": side.text[before],
            "before_rank": side.rank[before],
            "after": side.text[after],
            "after_rank": side.rank[after],
        }
    )


def _facing_runs(runs: pl.DataFrame, facing: Side, floor: F64, lines: int) -> I64:
    """The pairs whose run faces as large a run of the other capture's own units, between the same anchors."""
    own_lines, own_chars = np.cumsum(facing.own), np.cumsum(np.where(facing.own, facing.chars, 0))
    paragraphs = np.cumsum(facing.paragraph)
    anchors = pl.DataFrame(
        {"pair": facing.pair, "text": facing.text, "rank": facing.rank, "row": np.arange(len(facing.pair))}
    ).filter(pl.Series(facing.anchor))
    slots = (
        runs.join(anchors, left_on=["pair", "before", "before_rank"], right_on=["pair", "text", "rank"])
        .rename({"row": "low"})
        .join(anchors, left_on=["pair", "after", "after_rank"], right_on=["pair", "text", "rank"])
        .filter(pl.col("row") > pl.col("low"))  # the anchors in the same order in both
    )
    pair, lo, hi = (slots[c].to_numpy() for c in ("pair", "low", "row"))
    big = (own_lines[hi - 1] - own_lines[lo] >= lines) & (own_chars[hi - 1] - own_chars[lo] >= floor[pair])
    return np.asarray(pair[big & (paragraphs[hi - 1] > paragraphs[lo])], np.int64)


def framed_apart(framing: Framing, pairs: pl.DataFrame, cfg: MatchConfig) -> Bools:
    """Which capture pairs (of _containment) are two articles in the frame of one site's furniture.

    Two pages of one site share their menus, related links and footer: more than half
    of the smaller one's long-line text, when its article is short. Where their articles
    sit, between two long lines both hold, each has long lines the other lacks: at least
    min_own_lines, min_own_share of the smaller capture's long-line text and a paragraph
    (min_own_paragraph_words). Captures of one article differ there by a line or two (an
    edited paragraph, a caption), a page captured again by a box of new headlines, and
    captures ending differently (a truncated body, more comments) have nothing facing it.
    """
    a, b = pairs["capture_a"].to_numpy(), pairs["capture_b"].to_numpy()
    floor = cfg.min_own_share * np.minimum(framing.long_chars[a], framing.long_chars[b])
    # Only pairs where both have that much text of their own: about half of the pairs, whose runs are slow to find.
    maybe = np.flatnonzero((pairs["own_a"].to_numpy() >= floor) & (pairs["own_b"].to_numpy() >= floor))
    apart = np.zeros(len(a), np.bool_)
    if not len(maybe):
        return apart
    a, b, floor = a[maybe], b[maybe], floor[maybe]
    wanted = np.zeros(len(framing.long_chars), np.bool_)
    wanted[a] = wanted[b] = True
    sides = _sides(framing, _reading_order(framing, wanted), a, b, cfg.min_own_paragraph_words)
    for this, that in (sides, sides[::-1]):  # a run of either capture's own lines, facing one of the other's
        runs = _own_runs(this, floor, cfg.min_own_lines)
        apart[maybe[_facing_runs(runs, that, floor, cfg.min_own_lines)]] = True
    return apart


def _units_in_order(framing: Framing, wanted: Bools, long: bool, min_words: int) -> tuple[U64, I64]:
    """(capture << 32 | line, sorted) and text of the wanted captures' long units, or of their short ones."""
    units = framing.units
    rows = np.flatnonzero(wanted[units.unit_capture] & ((units.words[units.unit_text] >= min_words) == long))
    at = (units.unit_capture[rows].astype(np.uint64) << np.uint64(32)) | units.unit_line[rows]
    order = np.argsort(at)
    return at[order], units.unit_text[rows][order].astype(np.int64)


def _of_each(at: U64, of: I64) -> tuple[I64, I64]:
    """Where each capture's rows start in `at` (sorted by capture << 32 | line), and how many it has."""
    ours = of.astype(np.uint64) << np.uint64(32)
    first = np.searchsorted(at, ours)
    return first, np.searchsorted(at, ours | np.uint64(0xFFFFFFFF), side="right") - first


def shared_span(framing: Framing, of: I64, other: I64, min_words: int) -> tuple[I64, I64]:
    """First and last line of each capture `of`'s long units that `other` holds or matched (0, -1: none)."""
    wanted = np.zeros(len(framing.long_chars), np.bool_)
    wanted[of] = True
    at, text = _units_in_order(framing, wanted, True, min_words)
    first, count = _of_each(at, of)
    rows = _expand(first, count)
    keys = pl.Series((text[rows].astype(np.uint64) << np.uint64(32)) | np.repeat(other, count).astype(np.uint64))
    held = keys.is_in(pl.Series(framing.holds).implode()) | keys.is_in(pl.Series(framing.reach).implode())
    shared = held.to_numpy()
    side = np.repeat(np.arange(len(of)), count)[shared]
    line = (at[rows[shared]] & np.uint64(0xFFFFFFFF)).astype(np.int64)
    low, high = np.zeros(len(of), np.int64), np.full(len(of), -1, np.int64)
    ends = np.ones(len(side), np.bool_)  # each side's rows are in reading order
    ends[1:] = side[1:] != side[:-1]
    low[side[ends]] = line[ends]
    ends = np.roll(ends, -1)
    high[side[ends]] = line[ends]
    return low, high


def frame_lines(framing: Framing, of: I64, other: I64, min_words: int) -> pl.DataFrame:
    """side, text: the short units of each capture `of` before and after the long units `other` shares with it."""
    low, high = shared_span(framing, of, other, min_words)
    wanted = np.zeros(len(framing.long_chars), np.bool_)
    wanted[of] = True
    at, text = _units_in_order(framing, wanted, False, min_words)
    first, count = _of_each(at, of)
    rows = _expand(first, count)
    side = np.repeat(np.arange(len(of)), count)
    line = (at[rows] & np.uint64(0xFFFFFFFF)).astype(np.int64)
    outside = (line < low[side]) | (line > high[side])
    return pl.DataFrame({"side": side[outside], "text": text[rows[outside]]})


def _short_units(framing: Framing, min_words: int) -> I64:
    units = framing.units
    short = units.words[units.unit_text] < min_words
    return np.bincount(units.unit_capture[short], minlength=len(framing.long_chars))


def frames(framing: Framing, a: I64, b: I64, min_words: int) -> tuple[I64, I64, F64]:
    """Short lines each of a and b shows outside the long lines they share, and how well those frames match.

    The match is the share of the smaller frame's characters (each distinct line once) in the other's.
    """
    n = len(a)
    found = frame_lines(framing, np.concatenate([a, b]), np.concatenate([b, a]), min_words)
    size = np.bincount(found["side"].to_numpy(), minlength=2 * n)
    distinct = found.unique().with_columns((pl.col("side") % max(n, 1)).alias("pair"))
    chars = framing.units.chars[distinct["text"].to_numpy()].astype(np.float64)
    shown = np.bincount(distinct["side"].to_numpy(), weights=chars, minlength=2 * n)
    common = distinct.with_columns(pl.Series("chars", chars)).filter(
        pl.col("text").is_duplicated().over("pair") & (pl.col("side") < n)
    )
    both = np.bincount(common["pair"].to_numpy(), weights=common["chars"].to_numpy(), minlength=n)
    return size[:n], size[n:], both / np.maximum(np.minimum(shown[:n], shown[n:]), 1)


def framed_twice(framing: Framing, pairs: pl.DataFrame, cfg: MatchConfig) -> Bools:
    """Which capture pairs (of _containment) are one text on two pages, each in a frame of its own.

    A page frames its article with its site: masthead, menus, section links, a footer, in short
    lines. Two captures that both show min_frame_lines short lines or more outside the long lines
    they share, less than min_frame_match of the smaller frame's characters being in the other's,
    are two pages: a wire story on two sites. An article-only capture shows its title at most, reader
    comments are mostly long lines, and one page captured twice shows one frame.
    """
    a, b = pairs["capture_a"].to_numpy(), pairs["capture_b"].to_numpy()
    lines = cfg.min_frame_lines
    short = _short_units(framing, cfg.min_line_words)
    maybe = np.flatnonzero((short[a] >= lines) & (short[b] >= lines))  # cheap, and most pairs end here
    apart = np.zeros(len(a), np.bool_)
    if not len(maybe):
        return apart
    frame_a, frame_b, match = frames(framing, a[maybe], b[maybe], cfg.min_line_words)
    apart[maybe] = (frame_a >= lines) & (frame_b >= lines) & (match < cfg.min_frame_match)
    return apart


def frame_pairs(captures: Sequence[Capture], cfg: MatchConfig) -> pl.DataFrame:
    """Capture pairs of one text (min_containment) with frame_a, frame_b and frame_match, as framed_twice reads them."""
    found, framing = _containment(captures, cfg)
    matched = found.filter(pl.col("containment") >= cfg.min_containment)
    frame_a, frame_b, match = frames(
        framing, matched["capture_a"].to_numpy(), matched["capture_b"].to_numpy(), cfg.min_line_words
    )
    return matched.select("capture_a", "capture_b", "containment").with_columns(
        pl.Series("frame_a", frame_a), pl.Series("frame_b", frame_b), pl.Series("frame_match", match)
    )


def short_lines_shown(framing: Framing, of: I64, other: I64, min_words: int) -> I64:
    """How many distinct short lines of each capture `of` (its title, a caption) the `other` shows too."""
    wanted = np.zeros(len(framing.long_chars), np.bool_)
    wanted[of] = wanted[other] = True
    at, text = _units_in_order(framing, wanted, False, min_words)
    sides = np.concatenate([of, other])
    first, count = _of_each(at, sides)
    rows = pl.DataFrame(
        {"side": np.repeat(np.arange(len(sides)) % max(len(of), 1), count), "text": text[_expand(first, count)]}
    )
    mine = rows.head(int(count[: len(of)].sum())).unique()
    theirs = rows.slice(int(count[: len(of)].sum())).unique()
    shown = mine.join(theirs, on=["side", "text"])["side"].to_numpy()
    return np.bincount(shown, minlength=len(of)).astype(np.int64)


def keep_pages_apart(framing: Framing, edges: pl.DataFrame, rank: I64, apart: pl.DataFrame, min_words: int) -> Bools:
    """Which edges (capture_a, capture_b, containment) to keep so that no two pages kept apart join through others.

    Where a component holds both of such a pair, each other capture keeps its edge to the page it
    matches best and loses those to the others, and edges between captures that chose two different
    pages go: an article-only capture joins one page, not both. Best is the page holding more of the
    capture's long-line text, then showing more of its short lines (its title), then holding less
    long-line text besides (the other's version of a wire story has a paragraph more), then the lower rank.
    An edge of infinite containment (captures stored as one article) is kept.
    """
    a, b = edges["capture_a"].to_numpy(), edges["capture_b"].to_numpy()
    weight = edges["containment"].to_numpy()
    own = edges["own_a"].to_numpy(), edges["own_b"].to_numpy()
    pages = apart["capture_a"].to_numpy(), apart["capture_b"].to_numpy()
    n = len(rank)
    keep = np.ones(len(a), np.bool_)
    label = components(n, a, b)
    clash = label[pages[0]] == label[pages[1]]
    if not clash.any():
        return keep
    pole = np.zeros(n, np.bool_)
    pole[pages[0][clash]] = pole[pages[1][clash]] = True
    spoilt = np.zeros(n, np.bool_)
    spoilt[label[pages[0][clash]]] = True
    inside = spoilt[label[a]]
    one = inside & (pole[a] != pole[b])
    loose, page = np.where(pole[a], b, a)[one], np.where(pole[a], a, b)[one]
    held = 1 - np.where(pole[a], own[1], own[0])[one] / framing.long_chars[loose]
    shown = short_lines_shown(framing, loose, page, min_words)
    besides = np.where(pole[a], own[0], own[1])[one]
    order = np.lexsort((rank[page], besides, -shown, -held, loose))
    firsts = np.ones(len(order), np.bool_)
    firsts[1:] = loose[order][1:] != loose[order][:-1]
    best = np.full(n, -1, np.int64)
    best[loose[order][firsts]] = page[order][firsts]
    keep[np.flatnonzero(one)] = best[loose] == page
    neither = inside & ~pole[a] & ~pole[b]
    keep[neither] = (best[a[neither]] == best[b[neither]]) | (best[a[neither]] < 0) | (best[b[neither]] < 0)
    keep |= np.isinf(weight)
    return keep


def group_captures(
    captures: Sequence[Capture], cfg: MatchConfig, *, together: Sequence[Sequence[int]] = ()
) -> list[list[int]]:
    """Indices of the captures of each article, each group sorted by sha256, groups by their first.

    `together` lists captures known to be one article (the earlier captures of a stored one).
    """
    found, framing = _containment(captures, cfg)
    matched = found.filter(pl.col("containment") >= cfg.min_containment)
    matched = matched.filter(~pl.Series(framed_apart(framing, matched, cfg)))
    twice = pl.Series(framed_twice(framing, matched, cfg))
    apart, matched = matched.filter(twice), matched.filter(~twice)
    joined = [(members[0], other) for members in together for other in members[1:]]
    stored = pl.DataFrame(
        {"capture_a": [x for x, _ in joined], "capture_b": [y for _, y in joined]},
        schema={"capture_a": pl.Int64, "capture_b": pl.Int64},
    ).with_columns(containment=pl.lit(np.inf), own_a=pl.lit(0.0), own_b=pl.lit(0.0))
    edges = pl.concat([matched.select(stored.columns).cast(stored.schema), stored])
    sha256 = pl.Series("sha256", [c.sha256 for c in captures], dtype=pl.String)
    rank = sha256.rank("ordinal").to_numpy().astype(np.int64)  # a tie between two pages goes the same in any order
    edges = edges.filter(pl.Series(keep_pages_apart(framing, edges, rank, apart, cfg.min_line_words)))
    a, b = edges["capture_a"].to_numpy(), edges["capture_b"].to_numpy()
    frame = pl.DataFrame(
        {"capture": np.arange(len(captures)), "group": components(len(captures), a, b)},
        schema={"capture": pl.Int64, "group": pl.Int64},
    ).with_columns(sha256)
    # In sha256 order, members come sorted and each group first shows at its first sha256.
    ordered = frame.sort("sha256", maintain_order=True).group_by("group", maintain_order=True).agg("capture")
    return [list(members) for members in ordered["capture"].to_list()]


def components(n: int, a: I64, b: I64) -> I64:
    """The smallest node of each node's connected component in the graph of edges a[i]-b[i] over n nodes."""
    label = np.arange(n, dtype=np.int64)
    while True:
        low = np.minimum(label[a], label[b])
        lower = label.copy()
        np.minimum.at(lower, a, low)
        np.minimum.at(lower, b, low)
        lower = lower[lower]  # jump to the label's own label: chains shrink by half each round
        if np.array_equal(lower, label):
            return label
        label = lower


def group_new_captures(
    captures: Sequence[Capture], cfg: MatchConfig, stored_article_of: dict[str, str]
) -> list[list[int]]:
    """Groups that hold at least one new capture; a stored article no new capture joined stays as it is."""
    by_article: dict[str, list[int]] = {}
    for index, capture in enumerate(captures):
        if capture.source_id in stored_article_of:
            by_article.setdefault(stored_article_of[capture.source_id], []).append(index)
    return [
        members
        for members in group_captures(captures, cfg, together=list(by_article.values()))
        if any(captures[i].source_id not in stored_article_of for i in members)
    ]


@task(name="group-captures-by-article", cache_policy=NO_CACHE)
def group_articles(
    captures: list[Capture], cfg: MatchConfig, stored_article_of: dict[str, str]
) -> Sealed[list[list[int]]]:
    """Find which captures hold the same article; earlier captures of a stored article stay together."""
    groups = group_new_captures(captures, cfg, stored_article_of)
    hand_back_freed_memory()  # the keys read back and scored are gone: most of the stage's peak
    get_run_logger().info("%d captures form %d articles", len(captures), len(groups))
    return Sealed(groups)
