"""The same archive when the seeds are perturbed the ways real captures differ."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from tests.helpers import SEED_NAMES, TITLE, GoldLine, archive_tables, gold_lines, roles_by_line, write_capture

Lines = list[GoldLine]
COMMENTS, META = SEED_NAMES

STRAIGHT = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def straight_quotes(lines: Lines) -> Lines:
    return [GoldLine(g.text.translate(STRAIGHT), g.role) for g in lines]


def doubled_spaces(lines: Lines) -> Lines:
    return [GoldLine(g.text.replace(" ", "  "), g.role) for g in lines]


def edit_one_paragraph(lines: Lines) -> Lines:
    edited = "The president said he wishes the war ends soon, but it is not clear how that might happen."
    return [
        GoldLine(
            g.text.replace(
                "The president said he hopes the war ends soon, but it\u2019s unclear how that might happen.", edited
            ),
            g.role,
        )
        for g in lines
    ]


def join_and_split_paragraphs(lines: Lines) -> Lines:
    """Paragraphs 1 and 2 on one line; paragraph 5 split in two lines at its first sentence."""
    out = [GoldLine(f"{lines[0].text} {lines[1].text}", "body")]
    for g in lines[2:]:
        if g.text.startswith("The president said he hopes"):
            first, rest = g.text.split(". ", 1)
            out += [GoldLine(first + ".", "body"), GoldLine(rest, "body")]
        else:
            out.append(g)
    return out


def wrap_paragraphs(lines: Lines) -> Lines:
    """Hard-wrapped at 72 columns, as a text-mode browser saves a page."""
    out: Lines = []
    for g in lines:
        if g.role == "body":
            out += [GoldLine(part, "body") for part in textwrap.wrap(g.text, 72)]
        else:
            out.append(g)
    return out


def same(lines: Lines) -> Lines:
    return lines


# name: (change to the comments capture, change to the metadata capture, encoding, newline)
CASES: dict[str, tuple[Callable[[Lines], Lines], Callable[[Lines], Lines], str, str]] = {
    "straight quotes": (straight_quotes, straight_quotes, "utf-8", "\n"),
    "CRLF line endings": (same, same, "utf-8", "\r\n"),
    "Windows-1252": (same, same, "cp1252", "\n"),
    "UTF-8 BOM": (same, same, "utf-8-sig", "\n"),
    "UTF-16 with BOM": (same, same, "utf-16", "\n"),
    "CR line endings": (same, same, "utf-8", "\r"),
    "doubled spaces": (doubled_spaces, doubled_spaces, "utf-8", "\n"),
    "one paragraph edited": (same, edit_one_paragraph, "utf-8", "\n"),
    "paragraphs joined and split": (join_and_split_paragraphs, same, "utf-8", "\n"),
    "paragraphs hard-wrapped": (same, wrap_paragraphs, "utf-8", "\n"),
    "everything at once": (
        lambda ls: doubled_spaces(join_and_split_paragraphs(straight_quotes(ls))),
        lambda ls: wrap_paragraphs(edit_one_paragraph(ls)), "cp1252", "\r\n",
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    raw = tmp_path_factory.mktemp("raw")
    for name in SEED_NAMES:
        write_capture(raw / f"{name}.txt", gold_lines(name))
    return archive_tables(raw)


def quote_links(tables: dict[str, pl.DataFrame]) -> list[tuple[int, int | None, int | None]]:
    comments = tables["comments"]
    number = dict(zip(comments["comment_id"], comments["comment_no"], strict=True))
    return [
        (no, par, number.get(quoted) if quoted else None)
        for no, par, quoted in comments.select("comment_no", "quotes_paragraph_no", "quotes_comment_id").iter_rows()
        if par is not None or quoted is not None
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_perturbed_captures_give_the_same_archive(tmp_path: Path, case: str, baseline: dict[str, pl.DataFrame]) -> None:
    change_comments, change_meta, encoding, newline = CASES[case]
    # Renamed files, too: names say nothing about which capture is which.
    captures = {"zz-later.txt": change_comments(gold_lines(COMMENTS)), "aa-first.txt": change_meta(gold_lines(META))}
    for uri, lines in captures.items():
        write_capture(tmp_path / uri, lines, encoding=encoding, newline=newline)
    tables = archive_tables(tmp_path)

    for uri, lines in captures.items():
        expected = {no: g.role for no, g in enumerate(lines, start=1) if g.role}
        assert roles_by_line(tables, uri) == expected, uri
    article = tables["articles"].row(0, named=True)
    assert tables["articles"].height == 1
    assert article["title"] == TITLE
    assert (article["n_paragraphs"], article["n_comments"]) == (9, 123)
    assert tables["captions"]["after_paragraph_no"].to_list() == [2]
    assert tables["authors"]["name"].to_list() == ["Dave DeCamp"]
    assert quote_links(tables) == quote_links(baseline)
    assert set(tables["sources"]["status"]) == {"archived"}
