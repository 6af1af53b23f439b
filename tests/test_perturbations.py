"""The same archive when the seeds are perturbed the ways real captures differ."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tasks.core.normalize import normalize_key
from tests.helpers import SEED_NAMES, TITLE, GoldLine, archive_tables, gold_lines, roles_by_line, write_capture

Lines = list[GoldLine]
Change = Callable[[Lines], Lines]
COMMENTS, META = SEED_NAMES  # META, with the byline, is the pivot: its paragraphs are the ones stored

STRAIGHT = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
EDITED_FROM = "The president said he hopes the war ends soon, but it\u2019s unclear how that might happen."
EDITED_TO = "The president said he wishes the war ends soon, but it is not clear how that might happen."
SPLIT_AT = "The president said he"  # the paragraph split in two at its first sentence, edited or not


def straight_quotes(lines: Lines) -> Lines:
    return [GoldLine(g.text.translate(STRAIGHT), g.role) for g in lines]


def doubled_spaces(lines: Lines) -> Lines:
    return [GoldLine(g.text.replace(" ", "  "), g.role) for g in lines]


def edit(text: str) -> str:
    return text.replace(EDITED_FROM, EDITED_TO)


def edit_one_paragraph(lines: Lines) -> Lines:
    """A few words of one body paragraph changed (a comment quoting it would keep its words)."""
    return [GoldLine(edit(g.text), g.role) if g.role == "body" else g for g in lines]


def first_sentence_apart(text: str) -> list[str]:
    first, rest = text.split(". ", 1)
    return [first + ".", rest]


def join_and_split(paragraphs: list[str]) -> list[str]:
    """Paragraphs 1 and 2 as one; the paragraph SPLIT_AT as two, at its first sentence."""
    out = [f"{paragraphs[0]} {paragraphs[1]}"]
    for text in paragraphs[2:]:
        out += first_sentence_apart(text) if text.startswith(SPLIT_AT) else [text]
    return out


def join_and_split_paragraphs(lines: Lines) -> Lines:
    """join_and_split() in the comments capture: one paragraph a line, its first two lines the first two."""
    out = [GoldLine(f"{lines[0].text} {lines[1].text}", "body")]
    for g in lines[2:]:
        split = g.role == "body" and g.text.startswith(SPLIT_AT)
        out += [GoldLine(part, "body") for part in first_sentence_apart(g.text)] if split else [g]
    return out


def join_and_split_blank_separated(lines: Lines) -> Lines:
    """join_and_split() in the metadata capture, whose paragraphs stand between blank lines."""
    first, second = [g.text for g in lines if g.role == "body"][:2]
    out: Lines = []
    for g in lines:
        if g.text == first:
            out.append(GoldLine(f"{first} {second}", "body"))
        elif g.text == second:
            out.pop()  # the blank line between the two
        elif g.role == "body" and g.text.startswith(SPLIT_AT):
            head, rest = first_sentence_apart(g.text)
            out += [GoldLine(head, "body"), GoldLine("", None), GoldLine(rest, "body")]
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


def same_paragraphs(paragraphs: list[str]) -> list[str]:
    return paragraphs


@dataclass(frozen=True)
class Perturbation:
    comments: Change = same  # to the comments capture
    meta: Change = same  # to the metadata capture
    encoding: str = "utf-8"  # written in
    newline: str = "\n"
    detected: str = "utf-8"  # sources.encoding of both captures
    # The stored paragraphs, from the baseline's: they come from the metadata capture, so change with it.
    paragraphs: Callable[[list[str]], list[str]] = same_paragraphs


def edited(paragraphs: list[str]) -> list[str]:
    return [edit(p) for p in paragraphs]


def everything_to_comments(lines: Lines) -> Lines:
    return doubled_spaces(join_and_split_paragraphs(straight_quotes(lines)))


def everything_to_meta(lines: Lines) -> Lines:
    return wrap_paragraphs(join_and_split_blank_separated(edit_one_paragraph(lines)))


# Every case renames the files too (see the test); "renamed only" does nothing else.
CASES: dict[str, Perturbation] = {
    "renamed only": Perturbation(),
    "straight quotes": Perturbation(straight_quotes, straight_quotes),
    "CRLF line endings": Perturbation(newline="\r\n"),
    "CR line endings": Perturbation(newline="\r"),
    "Windows-1252": Perturbation(encoding="cp1252", detected="cp1252"),
    # decode_capture names a UTF-8 file with a BOM "utf-8": sources.encoding does not tell the BOM.
    "UTF-8 BOM": Perturbation(encoding="utf-8-sig", detected="utf-8"),
    "UTF-16 with BOM": Perturbation(encoding="utf-16", detected="utf-16-le"),  # Python writes the BOM and LE here
    "doubled spaces": Perturbation(doubled_spaces, doubled_spaces),
    "one paragraph edited in the metadata capture": Perturbation(meta=edit_one_paragraph, paragraphs=edited),
    "one paragraph edited in the comments capture": Perturbation(comments=edit_one_paragraph),
    "paragraphs joined and split in the comments capture": Perturbation(comments=join_and_split_paragraphs),
    # Paragraph boundaries come from the metadata capture (README): the stored paragraphs follow it.
    "paragraphs joined and split in the metadata capture": Perturbation(
        meta=join_and_split_blank_separated, paragraphs=join_and_split
    ),
    "paragraphs hard-wrapped": Perturbation(meta=wrap_paragraphs),
    "everything at once": Perturbation(
        everything_to_comments, everything_to_meta, "cp1252", "\r\n", "cp1252",
        lambda ps: join_and_split(edited(ps)),
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


def keys(tables: dict[str, pl.DataFrame], table: str, order: str) -> list[str]:
    return [normalize_key(text) for text in tables[table].sort(order)["text"]]


def heads(tables: dict[str, pl.DataFrame]) -> tuple[object, ...]:
    """Title, subtitle, author and bio. They hold no curly quotes and no runs of spaces, so every
    perturbation must give them back exactly."""
    article = tables["articles"].row(0, named=True)
    author = tables["authors"].row(0, named=True)
    return article["title"], article["subtitle"], author["name"], author["bio"], article["author_id"]


def segments_by_capture(tables: dict[str, pl.DataFrame], seed_of: dict[str, str]) -> pl.DataFrame:
    """`segments` with each capture named by its seed instead of its source_id (which hashes the name)."""
    name = dict(zip(tables["sources"]["source_id"], tables["sources"]["uri"].replace_strict(seed_of), strict=True))
    return tables["segments"].with_columns(pl.col("source_id").replace_strict(name)).sort(pl.all())


@pytest.mark.parametrize("case", list(CASES))
def test_perturbed_captures_give_the_same_archive(tmp_path: Path, case: str, baseline: dict[str, pl.DataFrame]) -> None:
    perturb = CASES[case]
    # Renamed files, the metadata capture listed first: names say nothing about which capture is which.
    captures = {"zz-later.txt": perturb.comments(gold_lines(COMMENTS)), "aa-first.txt": perturb.meta(gold_lines(META))}
    for uri, lines in captures.items():
        assert all(g.role for g in lines if g.text.strip()), "every non-blank line keeps a gold role"
        write_capture(tmp_path / uri, lines, encoding=perturb.encoding, newline=perturb.newline)
    tables = archive_tables(tmp_path)

    # Line numbers follow the perturbation: each line carries the gold role of the line it came from.
    for uri, lines in captures.items():
        expected = {no: g.role for no, g in enumerate(lines, start=1) if g.role}
        assert roles_by_line(tables, uri) == expected, uri
    sources = tables["sources"].sort("uri")
    assert sources.select("uri", "status", "encoding").rows() == [
        ("aa-first.txt", "archived", perturb.detected), ("zz-later.txt", "archived", perturb.detected)
    ]  # fmt: skip
    assert tables["articles"].height == tables["authors"].height == 1
    assert heads(tables) == heads(baseline)
    assert heads(tables)[0] == TITLE

    paragraphs = [normalize_key(p) for p in perturb.paragraphs(baseline["paragraphs"].sort("paragraph_no")["text"])]
    assert keys(tables, "paragraphs", "paragraph_no") == paragraphs
    assert keys(tables, "comments", "comment_no") == keys(baseline, "comments", "comment_no")
    assert keys(tables, "captions", "after_paragraph_no") == keys(baseline, "captions", "after_paragraph_no")
    # The caption follows the paragraph it followed, wherever paragraphs were joined or split.
    before = normalize_key(baseline["paragraphs"]["text"][baseline["captions"]["after_paragraph_no"].item()])
    after = tables["captions"]["after_paragraph_no"].item()
    assert paragraphs[after].endswith(before)
    article = tables["articles"].row(0, named=True)
    assert (article["n_paragraphs"], article["n_comments"]) == (len(paragraphs), 123)
    assert quote_links(tables) == quote_links(baseline)


def test_renamed_files_give_the_archive_of_the_seeds(tmp_path: Path, baseline: dict[str, pl.DataFrame]) -> None:
    """Only the names changed: every table but `sources` is the baseline's, row for row."""
    for uri, name in (("zz-later.txt", COMMENTS), ("aa-first.txt", META)):
        write_capture(tmp_path / uri, gold_lines(name))
    tables = archive_tables(tmp_path)
    for table in ("articles", "authors", "paragraphs", "captions", "comments"):
        assert_frame_equal(tables[table], baseline[table])
    renamed = {"zz-later.txt": COMMENTS, "aa-first.txt": META}
    seeds = {f"{name}.txt": name for name in SEED_NAMES}
    assert_frame_equal(segments_by_capture(tables, renamed), segments_by_capture(baseline, seeds))
