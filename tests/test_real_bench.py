"""bench/real.py's scoring on tiny invented captures (nothing from realdev: the tests stand alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from bench import real
from tests import pages

# Two invented captures: "aa" a page with a comment section, "bb" an article-only capture of the same article.
GOLD: dict[str, dict[str, Any]] = {
    "aa.txt": {
        "article": "A", "split": "dev", "capture": "page", "comment_chrome": [5, 7],
        "roles": {"1": "boilerplate", "2": "title", "3": "caption", "4": "body",
                  "5": "comment", "6": "comment", "7": "comment", "8": "comment"},
    },
    "bb.txt": {
        "article": "A", "split": "dev", "capture": "article-only", "comment_chrome": [],
        "roles": {"1": "title", "3": "body", "4": "body"},
    },
    "cc.txt": {
        "article": "C", "split": "holdout", "capture": "page", "comment_chrome": [], "roles": {"1": "body"},
    },
}  # fmt: skip


def predicted(rows: list[tuple[str, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"capture": pl.String, "line": pl.Int64, "predicted": pl.String}, orient="row")


def scored(rows: list[tuple[str, int, str]], splits: tuple[str, ...] = ("dev",)) -> pl.DataFrame:
    return real.scored_lines(real.gold_frame(GOLD, splits), predicted(rows))


PERFECT = [
    ("aa", 1, "boilerplate"), ("aa", 2, "title"), ("aa", 3, "caption"), ("aa", 4, "body"),
    ("aa", 5, "comment"), ("aa", 6, "comment"), ("aa", 7, "comment"), ("aa", 8, "comment"),
    ("bb", 1, "title"), ("bb", 3, "body"), ("bb", 4, "body"),
]  # fmt: skip


def test_gold_frame_keeps_only_the_chosen_splits_and_flags_chrome_lines() -> None:
    gold = real.gold_frame(GOLD, ["dev"])
    assert sorted(gold["capture"].unique()) == ["aa", "bb"]
    assert gold.filter(pl.col("chrome"))["line"].sort().to_list() == [5, 7]
    assert real.gold_frame(GOLD, ["holdout"])["capture"].to_list() == ["cc"]


def test_the_gold_labels_themselves_score_one() -> None:
    table = scored(PERFECT)
    assert real.line_accuracy(table) == 1.0
    assert real.article_accuracy(table) == 1.0
    assert real.comment_detection(table).f1 == 1.0


@pytest.mark.parametrize("role", ["subtitle", "byline", "author_bio"])
def test_subtitle_byline_and_author_bio_count_as_caption(role: str) -> None:
    rows = [(c, n, role if (c, n) == ("aa", 3) else r) for c, n, r in PERFECT]
    table = scored(rows)
    assert table.filter(pl.col("capture") == "aa", pl.col("line") == 3)["predicted"].item() == "caption"
    assert real.line_accuracy(table) == 1.0


def test_a_chrome_line_is_right_as_comment_or_boilerplate_and_wrong_as_anything_else() -> None:
    swaps = {("aa", 5): "boilerplate", ("aa", 7): "body"}
    table = scored([(c, n, swaps.get((c, n), r)) for c, n, r in PERFECT])
    assert real.line_accuracy(table) == 10 / 11  # line 7 alone is wrong
    wrong = table.filter(~pl.col("right"))
    assert wrong.select("row", "predicted", "credited").row(0) == (real.CHROME, "body", "boilerplate")
    assert real.confusion(table)[real.CHROME] == {"title": 0, "body": 1, "caption": 0, "comment": 0,
                                                  "boilerplate": 1, real.LOST: 0}  # fmt: skip


def test_a_line_without_a_segment_is_lost_and_wrong() -> None:
    table = scored([row for row in PERFECT if row[:2] != ("bb", 4)])
    assert table.filter(pl.col("predicted") == real.LOST).height == 1
    assert real.line_accuracy(table) == 10 / 11
    assert real.article_accuracy(table) == 10 / 11


def test_per_role_true_lines_add_up_to_the_right_lines() -> None:
    swaps = {("aa", 1): "body", ("aa", 7): "title", ("bb", 1): "body"}
    table = scored([(c, n, swaps.get((c, n), r)) for c, n, r in PERFECT])
    detections = real.role_detections(table)
    assert sum(d.true for d in detections.values()) == table["right"].sum() == 8
    assert (detections["title"].precision, detections["title"].recall) == (1 / 2, 1 / 2)


def test_comment_f1_leaves_chrome_out_and_scores_reader_text_only() -> None:
    # Both chrome lines predicted body, one of the two reader lines predicted boilerplate.
    swaps = {("aa", 5): "body", ("aa", 7): "body", ("aa", 8): "boilerplate"}
    table = scored([(c, n, swaps.get((c, n), r)) for c, n, r in PERFECT])
    comment = real.comment_detection(table)
    assert (comment.gold, comment.predicted, comment.true) == (2, 1, 1)
    assert comment.f1 == pytest.approx(2 / 3)
    # A chrome line predicted comment is not counted as a predicted reader comment either.
    comment = real.comment_detection(scored(PERFECT))
    assert (comment.gold, comment.predicted) == (2, 2)


def test_title_f1_is_per_line() -> None:
    swaps = {("bb", 1): "body", ("bb", 3): "title"}
    title = real.title_detection(scored([(c, n, swaps.get((c, n), r)) for c, n, r in PERFECT]))
    assert (title.gold, title.predicted, title.true, title.f1) == (2, 2, 1, 0.5)


def test_article_vs_rest_forgives_confusions_inside_the_article() -> None:
    swaps = {("aa", 2): "body", ("aa", 3): "body", ("aa", 4): "comment"}
    table = scored([(c, n, swaps.get((c, n), r)) for c, n, r in PERFECT])
    assert real.line_accuracy(table) == 8 / 11
    assert real.article_accuracy(table) == 10 / 11


def test_worst_captures_come_least_accurate_first_with_their_most_common_confusion() -> None:
    swaps = {("bb", 1): "boilerplate", ("bb", 3): "boilerplate", ("bb", 4): "boilerplate", ("aa", 4): "caption"}
    worst = real.worst_captures(scored([(c, n, swaps.get((c, n), r)) for c, n, r in PERFECT]), n=1)
    assert worst.to_dicts() == [
        {"capture": "bb", "kind": "article-only", "lines": 3, "accuracy": 0.0,
         "confusion": "body -> boilerplate", "confusion_lines": 2},
    ]  # fmt: skip
    everything = real.worst_captures(scored(PERFECT))
    assert everything["confusion"].to_list() == [None, None]
    assert everything["confusion_lines"].to_list() == [0, 0]


def test_captures_without_an_article_are_clusters_alone() -> None:
    sources = pl.DataFrame({"uri": ["aa.txt", "bb.txt", "cc.txt"], "article_id": ["x", "x", None]})
    assert sorted(real.archive_clusters(sources, ["aa", "bb", "cc", "dd"])) == [["aa", "bb"], ["cc"], ["dd"]]


def test_score_reads_segments_as_the_archive_writes_them() -> None:
    sources = pl.DataFrame({"source_id": ["s1", "s2"], "uri": ["aa.txt", "bb.txt"], "article_id": ["x", "y"]})
    segments = pl.DataFrame({
        "source_id": ["s1", "s1", "s1", "s1", "s2", "s2"], "line_start": [1, 2, 3, 4, 1, 3],
        "line_end": [1, 2, 3, 8, 1, 4], "role": ["boilerplate", "title", "byline", "body", "title", "body"],
    })  # fmt: skip
    figures = real.score(real.gold_frame(GOLD, ["dev"]), sources, segments)
    assert figures["lines"] == 11
    assert figures["lost_lines"] == 0
    assert figures["line_accuracy"] == 7 / 11  # lines 5-8 of aa predicted body; 5 and 7 chrome
    assert figures["pairs"]["recall"] == 0.0  # aa and bb hold one article but went apart
    assert figures["captures_by_kind"] == {"page": 1, "article-only": 1}


def test_a_wrong_pair_of_two_pages_with_one_body_text_is_counted_apart() -> None:
    story = "the ferry will run twice a day from the north quay to the island until the end of the summer season"
    gold = pl.DataFrame(
        {"capture": ["p", "q", "r", "q"], "line": [1, 1, 1, 2], "gold": ["body", "body", "body", "boilerplate"]}
    )
    texts = {"p": story, "q": story.upper() + "\nSite menu", "r": "a different story about the old library, " * 3}
    shingles = real.body_shingles(gold, texts)
    article_of = {"p": "P", "q": "Q", "r": "R"}
    assert real.same_text_pairs([["p", "q", "r"]], article_of, shingles) == (3, 1)
    assert real.same_text_pairs([["p"], ["q"], ["r"]], article_of, shingles) == (0, 0)


def test_wrong_pairs_come_with_what_grouping_saw_of_them() -> None:
    shapes = pl.DataFrame(
        {"a": ["q", "p"], "b": ["p", "s"], "containment": [0.9, 1.0], "frame_a": [12, 0], "frame_b": [30, 3],
         "frame_match": [0.25, 0.0]}
    )  # fmt: skip
    article_of, kind_of = {"p": "P", "q": "Q", "r": "R", "s": "P"}, {"p": "page", "q": "page", "r": "article-only"}
    kind_of["s"] = "article-only"
    found = real.wrong_pair_shapes([["p", "q", "r", "s"]], article_of, kind_of, shapes)
    # p and s are one article: no wrong pair. q-p was measured with q first; r was joined through the others.
    assert [(w["a"], w["b"]) for w in found] == [("p", "q"), ("p", "r"), ("q", "r"), ("q", "s"), ("r", "s")]
    assert found[0] == {"a": "p", "b": "q", "kinds": "page / page", "containment": 0.9, "frame_a": 30, "frame_b": 12,
                        "frame_match": 0.25}  # fmt: skip
    assert found[1]["frame_a"] is None
    sources = pl.DataFrame({"source_id": ["s1", "s2"], "uri": ["aa.txt", "bb.txt"], "article_id": ["x", "x"]})
    segments = pl.DataFrame({"source_id": ["s1", "s2"], "line_start": [1, 1], "line_end": [8, 4], "role": "body"})
    figures = real.score(real.gold_frame(GOLD, ["dev"]), sources, segments)
    section = real.split_section("dev", {**figures, "wrong_pair_shapes": found[:2]})
    assert "| `p` | `q` | page / page | 0.90 | 30 | 12 | 0.25 |" in section
    assert "| `p` | `r` | page / article-only | - | - | - | - |" in section


def test_capture_shapes_measure_the_raw_captures_by_name(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "full.txt").write_text(pages.page(), encoding="utf-8")
    (tmp_path / "raw" / "print.txt").write_text(pages.article_only(), encoding="utf-8")
    shapes = real.capture_shapes(tmp_path)
    assert shapes.select("a", "b").rows() == [("full", "print")]
    assert shapes["frame_a"][0] > 0
    assert shapes["frame_b"][0] == 0


def test_holdout_looks_are_appended_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "looks.log"
    assert real.count_holdout_looks(log) == 0
    assert real.log_holdout_look("abc1234", log) == 1
    assert real.log_holdout_look("abc1234", log) == 2
    assert log.read_text(encoding="utf-8").splitlines()[0].endswith("\tabc1234")
