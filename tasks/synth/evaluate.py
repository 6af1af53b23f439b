"""Scores against a synthetic corpus's gold: pairwise grouping precision/recall, line-role accuracy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class PairScores:
    """Pairwise scores of a clustering: a pair is right when both captures hold the same article."""

    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    gold_pairs: int


def read_captures(gold_dir: Path) -> pl.DataFrame:
    """gold/captures.tsv: capture, article and how the capture was made."""
    return pl.read_csv(gold_dir / "captures.tsv", separator="\t", quote_char=None, infer_schema=False)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pair_scores(clusters: Iterable[Sequence[str]], article_of: Mapping[str, str]) -> PairScores:
    """Scores of clusters of capture names; every evaluated capture must be in exactly one cluster."""
    true_pairs = predicted = 0
    articles: Counter[str] = Counter()
    for cluster in clusters:
        held = Counter(article_of[name] for name in cluster)
        articles.update(held)
        true_pairs += sum(_pairs(n) for n in held.values())
        predicted += _pairs(len(cluster))
    gold = sum(_pairs(n) for n in articles.values())
    precision = true_pairs / predicted if predicted else 1.0
    recall = true_pairs / gold if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(precision, recall, f1, true_pairs, predicted, gold)


def read_gold_roles(gold_dir: Path, names: Iterable[str]) -> pl.DataFrame:
    """capture, line, role of every non-blank line of the named captures (plain parsing: 100,000 files)."""
    captures: list[str] = []
    lines: list[int] = []
    roles: list[str] = []
    for name in names:
        rows = (gold_dir / f"{name}.roles.tsv").read_text(encoding="utf-8").splitlines()[1:]
        for row in rows:
            number, role, _ = row.split("\t", 2)
            lines.append(int(number))
            roles.append(role)
        captures += [name] * len(rows)
    return pl.DataFrame(
        {"capture": captures, "line": lines, "role": roles},
        schema={"capture": pl.String, "line": pl.Int64, "role": pl.String},
    )


def predicted_roles(segments: pl.DataFrame, sources: pl.DataFrame) -> pl.DataFrame:
    """capture, line, role from the archive's `segments` (capture = file name without .txt)."""
    names = sources.select("source_id", pl.col("uri").str.replace(r"\.txt$", "").alias("capture"))
    return (
        segments.join(names, on="source_id")
        .with_columns(pl.int_ranges("line_start", pl.col("line_end") + 1).alias("line"))
        .explode("line")
        .select("capture", pl.col("line").cast(pl.Int64), pl.col("role").cast(pl.String).alias("predicted"))
    )


def role_table(gold: pl.DataFrame, predicted: pl.DataFrame) -> pl.DataFrame:
    """Gold lines with the predicted role ("missing" where the archive has none)."""
    return gold.join(predicted, on=["capture", "line"], how="left").with_columns(
        pl.col("predicted").fill_null("missing")
    )


def role_accuracy(table: pl.DataFrame) -> float:
    """Share of gold lines whose predicted role is the gold role."""
    return table.select((pl.col("role") == pl.col("predicted")).mean()).item() if len(table) else 0.0


def role_confusion(table: pl.DataFrame) -> pl.DataFrame:
    """gold role, predicted role, lines; wrong pairs only, most frequent first."""
    return (
        table.filter(pl.col("role") != pl.col("predicted"))
        .group_by("role", "predicted")
        .len("lines")
        .sort("lines", "role", "predicted", descending=[True, False, False])
    )


def accuracy_by(table: pl.DataFrame, captures: pl.DataFrame, column: str) -> pl.DataFrame:
    """Role accuracy per value of a captures.tsv column (kind, encoding, ...)."""
    return (
        table.join(captures.select("capture", column), on="capture")
        .group_by(column)
        .agg(pl.len().alias("lines"), (pl.col("role") == pl.col("predicted")).mean().alias("accuracy"))
        .sort(column)
    )


def mark_metadata_articles(captures: pl.DataFrame) -> pl.DataFrame:
    """captures.tsv plus `article_has_metadata` ("yes"/"no"): threads alone cannot show where the body ends."""
    with_metadata = captures.filter(pl.col("kind") == "metadata")["article"].unique().implode()
    return captures.with_columns(
        pl.when(pl.col("article").is_in(with_metadata))
        .then(pl.lit("yes"))
        .otherwise(pl.lit("no"))
        .alias("article_has_metadata")
    )
