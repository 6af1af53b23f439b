"""Test helpers: the seeds with their gold roles, and the pipeline without Prefect."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from tasks.assemble import assemble_article
from tasks.build import build_tables, source_rows
from tasks.config import ArchiveParams
from tasks.decode import decode_batch
from tasks.discover import hash_capture, list_capture_paths
from tasks.group import group_captures
from tasks.quotes import link_article_quotes
from tasks.roles import label_group

REPO = Path(__file__).resolve().parents[1]
SEEDS = Path(os.environ.get("NEWSARCHIVE_SEEDS", REPO.parent / "shared" / "seeds"))
SEED_NAMES = ("000_a1bb77ff0534570e", "002_e23ddddf5298c3e8")
TITLE = "Trump Says He Has Spoken With Putin by Phone About Ending Ukraine War"


@dataclass(frozen=True)
class GoldLine:
    """A line of a seed as decoded, with its gold role (None for blank lines)."""

    text: str
    role: str | None


def gold_lines(name: str) -> list[GoldLine]:
    roles = {}
    for row in (SEEDS / "gold" / f"{name}.roles.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        number, role, _ = row.split("\t", 2)
        roles[int(number)] = role
    text = (SEEDS / f"{name}.txt").read_text(encoding="utf-8")
    return [GoldLine(line, roles.get(no)) for no, line in enumerate(text.split("\n"), start=1)]


def gold_quotes(name: str) -> list[tuple[int, int]]:
    """(comment line, quoted line) pairs of the gold."""
    rows = (SEEDS / "gold" / f"{name}.quotes.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [(int(r.split("\t")[0]), int(r.split("\t")[1])) for r in rows]


def write_capture(path: Path, lines: list[GoldLine], *, encoding: str = "utf-8", newline: str = "\n") -> None:
    path.write_bytes(newline.join(line.text for line in lines).encode(encoding))


def archive_tables(raw_dir: Path, params: ArchiveParams | None = None) -> dict[str, pl.DataFrame]:
    """The archive flow's stages, called as plain functions."""
    params = params or ArchiveParams()
    raw = [hash_capture(uri, path, problem) for uri, path, problem in list_capture_paths(raw_dir)]
    batch = decode_batch(raw)
    groups = group_captures(batch.captures, params.match)
    articles = [
        link_article_quotes(
            assemble_article(label_group([batch.captures[i] for i in g], params.roles), params.roles),
            params.quotes,
        )
        for g in groups
    ]
    return build_tables(
        source_rows(raw, batch, articles), articles,
        run_at=datetime(2026, 1, 1, tzinfo=UTC), known_ingested={},
    )  # fmt: skip


def roles_by_line(tables: dict[str, pl.DataFrame], uri: str) -> dict[int, str]:
    """Role of every line of one capture, from `segments`."""
    source_id = tables["sources"].filter(pl.col("uri") == uri)["source_id"].item()
    segments = tables["segments"].filter(pl.col("source_id") == source_id)
    return {
        line: role
        for start, end, role in segments.select("line_start", "line_end", "role").iter_rows()
        for line in range(start, end + 1)
    }
