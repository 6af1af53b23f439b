"""A synthetic corpus on disk: raw captures and their gold labels, written as they are made."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from multiprocessing import get_context
from pathlib import Path

from tasks.synth.article import make_article
from tasks.synth.render import RenderedCapture, render_article, roles_tsv
from tasks.synth.world import World, make_world

CAPTURES_HEADER = "capture\tarticle\tkind\toutlet\tstory\tencoding\tnewline\tquotes\tvariations\n"
QUOTES_HEADER = "capture\tcomment_line\tquoted_line\tquoted_role\n"
# Articles per unit of work: big enough to keep workers busy, small enough to keep memory flat.
_CHUNK = 250


@dataclass(frozen=True)
class CorpusSummary:
    """What was written."""

    articles: int
    captures: int
    raw_bytes: int
    lines: int


@dataclass(frozen=True)
class _Chunk:
    captures_rows: str
    quotes_rows: str
    captures: int
    raw_bytes: int
    lines: int


@lru_cache(maxsize=1)
def _world(seed: int, n_articles: int) -> World:
    return make_world(seed, n_articles)


def captures_row(capture: RenderedCapture, article_id: str, outlet: str, story_no: int) -> str:
    spec = capture.spec
    newline = "crlf" if spec.crlf else "lf"
    fields = (capture.name, article_id, spec.kind, outlet, str(story_no), spec.encoding, newline, spec.quotes)
    return "\t".join((*fields, spec.variations())) + "\n"


def _write_chunk(out_dir: Path, seed: int, n_articles: int, numbers: range) -> _Chunk:
    """Make and write the captures of some articles; return their rows of the corpus-wide gold files."""
    world = _world(seed, n_articles)
    rows: list[str] = []
    quote_rows: list[str] = []
    n_captures = n_bytes = n_lines = 0
    for number in numbers:
        article = make_article(world, seed, number)
        for capture in render_article(article, world.vocab, seed=seed, article_no=number):
            (out_dir / "raw" / f"{capture.name}.txt").write_bytes(capture.data)
            (out_dir / "gold" / f"{capture.name}.roles.tsv").write_text(roles_tsv(capture), encoding="utf-8")
            rows.append(captures_row(capture, article.article_id, article.outlet.name, article.story_no))
            quote_rows += [f"{capture.name}\t{c}\t{q}\t{role}\n" for c, q, role in capture.quotes]
            n_captures, n_bytes, n_lines = n_captures + 1, n_bytes + len(capture.data), n_lines + len(capture.lines)
    return _Chunk("".join(rows), "".join(quote_rows), n_captures, n_bytes, n_lines)


def _chunks(out_dir: Path, seed: int, n_articles: int, workers: int, chunk: int) -> Iterator[_Chunk]:
    spans = [range(s, min(s + chunk, n_articles)) for s in range(0, n_articles, chunk)]
    work = partial(_write_chunk, out_dir, seed, n_articles)
    if workers <= 1 or len(spans) <= 1:
        yield from map(work, spans)
        return
    _world(seed, n_articles)  # built once, inherited by the forked workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        yield from pool.map(work, spans)


def write_corpus(
    out_dir: Path, *, articles: int, seed: int, workers: int | None = None, chunk: int = _CHUNK
) -> CorpusSummary:
    """Write DIR/raw/<name>.txt, DIR/gold/<name>.roles.tsv, captures.tsv and quotes.tsv.

    The bytes depend only on (articles, seed), not on workers or chunk: every article has its own random stream.
    """
    raw, gold = out_dir / "raw", out_dir / "gold"
    if raw.is_dir() and any(raw.iterdir()):
        raise FileExistsError(f"{raw} already holds captures; choose an empty --out directory")
    raw.mkdir(parents=True, exist_ok=True)
    gold.mkdir(parents=True, exist_ok=True)
    totals = [0, 0, 0]
    with (
        (gold / "captures.tsv").open("w", encoding="utf-8") as cap,
        (gold / "quotes.tsv").open("w", encoding="utf-8") as quo,
    ):
        cap.write(CAPTURES_HEADER)
        quo.write(QUOTES_HEADER)
        for part in _chunks(out_dir, seed, articles, workers or os.cpu_count() or 1, chunk):
            cap.write(part.captures_rows)
            quo.write(part.quotes_rows)
            totals = [totals[0] + part.captures, totals[1] + part.raw_bytes, totals[2] + part.lines]
    summary = CorpusSummary(articles, *totals)
    (gold / "corpus.json").write_text(json.dumps({"seed": seed, **summary.__dict__}, indent=2) + "\n", encoding="utf-8")
    return summary
