"""Stage 3: captures of the same article, found by blocking then batched fuzzy matching.

Candidate line pairs come from an inverted index of word shingles (rare ones
only); rapidfuzz scores just those pairs; two captures are one article when the
larger holds most of the smaller's long lines (containment, not Jaccard, so a
truncated capture or one with 200 comments appended still matches).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from rapidfuzz import fuzz, process

from tasks.capture import Capture
from tasks.config import MatchConfig

Unit = tuple[str, tuple[str, ...]]  # the matching key of a line or paragraph, and its words


# A hard-wrapped line is at most this long (wrap widths are 60-80), and every
# line of a wrapped paragraph but its last is at least half of that.
_MAX_WRAPPED_CHARS = 100
_MIN_WRAPPED_CHARS = 50


def grouping_units(capture: Capture) -> list[Unit]:
    """Lines, with each hard-wrapped paragraph of a blank-separated capture joined into one.

    Two captures wrapped at different widths share no line, but they share paragraphs.
    Only runs that look wrapped are joined: joining other runs let a short unit of one
    article be found inside a long one of another (grouping precision 0.98 instead of 1.0).
    """
    lines = [(line.line_no, line.key, words) for line, words in zip(capture.lines, capture.line_tokens(), strict=True)]
    runs: list[list[tuple[int, str, tuple[str, ...]]]] = []
    for item in lines:
        if runs and item[0] == runs[-1][-1][0] + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    joinable = capture.blank_separated()
    units: list[Unit] = []
    for run in runs:
        wrapped = joinable and len(run) > 1 and all(
            len(key) <= _MAX_WRAPPED_CHARS and (i == len(run) - 1 or len(key) >= _MIN_WRAPPED_CHARS)
            for i, (_, key, _) in enumerate(run)
        )  # fmt: skip
        if wrapped:
            units.append((" ".join(k for _, k, _ in run), tuple(w for _, _, ws in run for w in ws)))
        else:
            units.extend((key, words) for _, key, words in run)
    return units


def shingle_frame(units: Sequence[Sequence[Unit]], cfg: MatchConfig) -> pl.DataFrame:
    """One row per (capture, long unit, shingle), built with polars (a Python loop cost 0.85 s per 1,000 captures)."""
    rows = [
        (ci, li, list(words))
        for ci, capture_units in enumerate(units)
        for li, (_, words) in enumerate(capture_units)
        if len(words) >= cfg.min_line_words
    ]
    frame = pl.DataFrame(
        rows, schema={"capture": pl.Int32, "line": pl.Int32, "words": pl.List(pl.String)}, orient="row"
    )
    k = cfg.shingle_words
    words = frame.with_columns(pl.col("words").list.len().alias("n")).explode("words")
    # Rows of one unit are contiguous, so plain shifts build each shingle; positions past n-k are dropped.
    words = words.with_columns(pl.int_range(pl.len()).over("capture", "line").alias("pos"))
    shingle = pl.concat_str([pl.col("words").shift(-i) for i in range(k)], separator=" ")
    whole = pl.col("words").implode().over("capture", "line").list.join(" ")  # units shorter than k
    return (
        words.with_columns(pl.when(pl.col("n") >= k).then(shingle).otherwise(whole).alias("shingle"))
        .filter(pl.col("pos") <= (pl.col("n") - k).clip(lower_bound=0))
        .select("capture", "line", pl.col("shingle").hash())
    )


# Two lines of one text share every shingle; unrelated lines share one by chance
# (31,133 candidate pairs on 1,009 synthetic captures with one, far fewer with two).
_MIN_SHARED_SHINGLES = 2


def candidate_line_pairs(shingles: pl.DataFrame, cfg: MatchConfig) -> pl.DataFrame:
    """Line pairs of different captures that share a shingle no more than max_shingle_captures hold."""
    rare = (
        shingles.unique(["capture", "line", "shingle"])
        .with_columns(pl.col("capture").n_unique().over("shingle").alias("df"))
        .filter((pl.col("df") > 1) & (pl.col("df") <= cfg.max_shingle_captures))
        .drop("df")
    )
    return (
        rare.join(rare, on="shingle", suffix="_b")
        .filter(pl.col("capture") < pl.col("capture_b"))
        .group_by(pl.col("capture").alias("capture_a"), pl.col("line").alias("line_a"), "capture_b", "line_b")
        .len()
        .filter(pl.col("len") >= _MIN_SHARED_SHINGLES)
        .drop("len")
        .sort("capture_a", "line_a", "capture_b", "line_b")
    )


# Lines whose lengths differ more than this were reflowed (joined or split):
# only they need partial_ratio, which costs ~170x what ratio does (measured on
# 1,944 candidate pairs: 0.34 s against 0.002 s).
_REFLOWED_LENGTH_RATIO = 0.8


def score_line_pairs(units: Sequence[Sequence[Unit]], pairs: pl.DataFrame, cutoff: float) -> np.ndarray:
    """Score candidate unit pairs in two batched rapidfuzz calls: ratio, or partial_ratio where reflowed."""
    keys_a = [units[c][i][0] for c, i in zip(pairs["capture_a"], pairs["line_a"], strict=True)]
    keys_b = [units[c][i][0] for c, i in zip(pairs["capture_b"], pairs["line_b"], strict=True)]
    scores = np.zeros(len(keys_a), dtype=np.float64)
    lengths = np.array([[len(a), len(b)] for a, b in zip(keys_a, keys_b, strict=True)]).reshape(-1, 2)
    reflowed = lengths.min(axis=1) < _REFLOWED_LENGTH_RATIO * lengths.max(axis=1)
    for scorer, chosen in ((fuzz.ratio, ~reflowed), (fuzz.partial_ratio, reflowed)):
        index = np.flatnonzero(chosen)
        if len(index):
            scores[index] = process.cpdist(
                [keys_a[i] for i in index], [keys_b[i] for i in index],
                scorer=scorer, processor=None, score_cutoff=cutoff, workers=-1,
            )  # fmt: skip
    return scores


def containment_pairs(captures: Sequence[Capture], cfg: MatchConfig) -> pl.DataFrame:
    """Capture pairs with the share of the smaller one's long-line text that the other holds."""
    units = [grouping_units(c) for c in captures]
    pairs = candidate_line_pairs(shingle_frame(units, cfg), cfg)
    scored = pairs.with_columns(pl.Series("score", score_line_pairs(units, pairs, cfg.line_score_cutoff))).filter(
        pl.col("score") >= cfg.line_score_cutoff
    )
    long_chars = _long_line_chars(units, cfg)
    held_a = _held_chars(units, scored, "a")
    held_b = _held_chars(units, scored, "b")
    both = held_a.join(held_b, on=["capture_a", "capture_b"], how="full", coalesce=True).fill_null(0)
    chars_a = pl.col("capture_a").replace_strict(long_chars, return_dtype=pl.Int64)
    chars_b = pl.col("capture_b").replace_strict(long_chars, return_dtype=pl.Int64)
    return both.with_columns(
        pl.when(chars_a <= chars_b)
        .then(pl.col("held_a") / chars_a)
        .otherwise(pl.col("held_b") / chars_b)
        .alias("containment")
    ).select("capture_a", "capture_b", "containment")


def _long_line_chars(units: Sequence[Sequence[Unit]], cfg: MatchConfig) -> dict[int, int]:
    return {
        ci: max(1, sum(len(key) for key, words in capture_units if len(words) >= cfg.min_line_words))
        for ci, capture_units in enumerate(units)
    }


def _held_chars(units: Sequence[Sequence[Unit]], scored: pl.DataFrame, side: str) -> pl.DataFrame:
    """Characters of side's units that matched some unit of the other capture."""
    lines = scored.select("capture_a", "capture_b", pl.col(f"line_{side}").alias("line")).unique()
    chars = [len(units[c][i][0]) for c, i in zip(lines[f"capture_{side}"], lines["line"], strict=True)]
    return (
        lines.with_columns(pl.Series("chars", chars, dtype=pl.Int64))
        .group_by("capture_a", "capture_b")
        .agg(pl.col("chars").sum().alias(f"held_{side}"))
    )


def group_captures(
    captures: Sequence[Capture], cfg: MatchConfig, *, together: Sequence[Sequence[int]] = ()
) -> list[list[int]]:
    """Indices of the captures of each article, each group sorted by sha256, groups by their first.

    `together` lists captures known to be one article (the earlier captures of a stored one).
    """
    parent = list(range(len(captures)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    matched = containment_pairs(captures, cfg).filter(pl.col("containment") >= cfg.min_containment)
    for a, b in zip(matched["capture_a"], matched["capture_b"], strict=True):
        parent[find(a)] = find(b)
    for members in together:
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    groups: dict[int, list[int]] = {}
    for index in range(len(captures)):
        groups.setdefault(find(index), []).append(index)
    ordered = [sorted(members, key=lambda i: captures[i].sha256) for members in groups.values()]
    return sorted(ordered, key=lambda members: captures[members[0]].sha256)


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
def group_articles(captures: list[Capture], cfg: MatchConfig, stored_article_of: dict[str, str]) -> list[list[int]]:
    """Find which captures hold the same article; earlier captures of a stored article stay together."""
    groups = group_new_captures(captures, cfg, stored_article_of)
    get_run_logger().info("%d captures form %d articles", len(captures), len(groups))
    return groups
