"""The seeds against their gold: every line's role, the article's facts, the quote links."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tasks.core.config import ArchiveParams, RolesConfig
from tasks.core.schema import conform
from tests.helpers import (
    REPO,
    SEED_NAMES,
    SEEDS,
    TITLE,
    archive_tables,
    gold_lines,
    gold_quotes,
    quote_links,
    roles_by_line,
    run_stages,
)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    raw = tmp_path_factory.mktemp("raw")
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")
    return archive_tables(raw)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_line_has_its_gold_role(tables: dict[str, pl.DataFrame], name: str) -> None:
    expected = {no: g.role for no, g in enumerate(gold_lines(name), start=1) if g.role}
    assert roles_by_line(tables, f"{name}.txt") == expected


def test_one_article_with_title_subtitle_and_author(tables: dict[str, pl.DataFrame]) -> None:
    article = tables["articles"].row(0, named=True)
    assert tables["articles"].height == 1
    assert article["title"] == TITLE
    assert article["subtitle"] == "The Kremlin said it couldn't confirm or deny Trump's claim"
    assert (article["n_paragraphs"], article["n_comments"], article["n_sources"]) == (9, 123, 2)
    author = tables["authors"].row(0, named=True)
    assert author["name"] == "Dave DeCamp"
    assert author["bio"].startswith("Dave DeCamp is the news editor of Antiwar.com")
    assert article["author_id"] == author["author_id"]


def test_paragraphs_are_the_nine_body_paragraphs_in_order(tables: dict[str, pl.DataFrame]) -> None:
    gold = [g.text for g in gold_lines(SEED_NAMES[1]) if g.role == "body"]
    assert tables["paragraphs"]["paragraph_no"].to_list() == list(range(9))
    assert tables["paragraphs"]["text"].to_list() == gold


def test_one_caption_after_paragraph_2(tables: dict[str, pl.DataFrame]) -> None:
    caption = [g.text for g in gold_lines(SEED_NAMES[1]) if g.role == "caption"]
    assert tables["captions"].select("after_paragraph_no", "text").rows() == [(2, caption[0])]


def test_no_comment_text_in_paragraphs_and_every_comment_stored_once(tables: dict[str, pl.DataFrame]) -> None:
    comments = [g.text for g in gold_lines(SEED_NAMES[0]) if g.role == "comment"]
    assert tables["comments"]["text"].to_list() == comments
    assert tables["comments"]["comment_no"].to_list() == list(range(len(comments)))
    paragraphs = set(tables["paragraphs"]["text"])
    # Line 123 repeats paragraph 5 word for word, yet it is a comment and no paragraph twice.
    assert tables["paragraphs"]["text"].n_unique() == 9
    assert not paragraphs & (set(comments) - {comments[112]})


def test_quotes_are_linked_as_in_the_gold(tables: dict[str, pl.DataFrame]) -> None:
    assert quote_links(tables, SEED_NAMES[0]) == gold_quotes(SEED_NAMES[0])


def test_the_second_copy_of_each_paragraph_is_a_duplicate_segment(tables: dict[str, pl.DataFrame]) -> None:
    segments = tables["segments"].join(tables["sources"].select("source_id", "uri"), on="source_id")
    body = segments.filter(pl.col("role") == "body")
    assert body.filter(~pl.col("duplicate"))["uri"].unique().to_list() == [f"{SEED_NAMES[1]}.txt"]
    duplicates = body.filter(pl.col("duplicate"))
    assert duplicates.height == 9
    assert duplicates["score"].min() >= 90  # type: ignore[operator]


def test_every_non_blank_line_is_in_exactly_one_segment(tables: dict[str, pl.DataFrame]) -> None:
    for name in SEED_NAMES:
        lines = gold_lines(name)
        roles = roles_by_line(tables, f"{name}.txt")
        covered = (
            tables["segments"]
            .join(tables["sources"].filter(pl.col("uri") == f"{name}.txt"), on="source_id")
            .select((pl.col("line_end") - pl.col("line_start") + 1).sum())
            .item()
        )
        non_blank = [no for no, g in enumerate(lines, start=1) if g.text.strip()]
        assert sorted(roles) == non_blank
        assert covered == len(non_blank)


def test_every_segment_has_the_confidence_of_its_lines_between_0_and_1(tables: dict[str, pl.DataFrame]) -> None:
    confidence = tables["segments"]["confidence"]
    assert confidence.dtype == pl.Float64
    assert confidence.null_count() == 0  # the learned model labels every line of the seeds
    assert 0 <= confidence.min() <= confidence.max() <= 1  # type: ignore[operator]
    assert (confidence.round(3) == confidence).all()


def test_segments_have_no_confidence_when_the_rules_alone_label_the_lines() -> None:
    rules = ArchiveParams(raw_dir="/unused", out_dir="/unused", roles=RolesConfig(line_model="rules"))
    segments = archive_tables(REPO / "data" / "raw", rules)["segments"]
    assert segments.height > 0
    assert segments["confidence"].null_count() == segments.height


def test_tables_read_back_as_delta_tables_with_polars_and_duckdb(
    tmp_path: Path, tables: dict[str, pl.DataFrame]
) -> None:
    import duckdb
    from deltalake import DeltaTable

    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")
    run_stages(raw, out)
    for name, frame in tables.items():
        back = pl.scan_delta(str(out / name)).collect()
        # The copies in this test's raw folder are younger than the fixture's.
        assert_frame_equal(
            conform(name, back.drop("bucket")).drop("modified_at", strict=False),
            frame.drop("modified_at", strict=False),
        )
        dataset = DeltaTable(str(out / name)).to_pyarrow_dataset()  # noqa: F841 (DuckDB reads it by its name)
        assert duckdb.sql("SELECT count(*) FROM dataset").fetchall() == [(frame.height,)]
