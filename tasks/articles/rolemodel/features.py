"""Features of every line of a batch of captures, computed at once in polars: what carries across sites.

A line is described by its own shape (length, case, punctuation, dates, `Name:` and `name | date`
shapes), its place in the capture, the shapes of its neighbours, how often it repeats (in the
capture, across the run's articles), and what the alignment says: how much of it another
capture of the same article holds. The rule labeler's role is one more feature.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt
import polars as pl

from tasks.articles.cues import BOILERPLATE, BYLINE, CLOSING, COMMENTS_MARKER

ROLE_CODES = ("title", "subtitle", "byline", "author_bio", "body", "caption", "comment", "boilerplate")

# Patterns read the line's key (lower case, one form of quotes and dashes) with ASCII word
# boundaries where case does not matter: Unicode boundaries and (?i) made them several times slower.
_B = r"(?-u:\b)"
# A generic English stop-word list: prose is full of them, menus and headlines are not.
_STOP = (
    _B + r"(the|a|an|of|to|and|in|on|for|with|that|this|is|was|are|were|be|been|it|its|as|at|by|from|he|she"
    r"|they|we|you|i|his|her|their|our|not|but|or|had|has|have|will|would|said|which|who|there|than|if)" + _B
)
_MONTH = (
    _B + r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?"
    r"|nov(ember)?|dec(ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday)" + _B
)
_TIME = (
    _B
    + r"\d{1,2}[:.]\d{2}"
    + _B
    + "|"
    + _B
    + r"\d{1,2} ?(am|pm|a\.m\.|p\.m\.)|"
    + _B
    + r"(gmt|utc|edt|est|pdt|pst|bst|cet|ist)"
    + _B
)
_YEAR = _B + r"(19|20)\d\d" + _B
_NUMERIC_DATE = _B + r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}" + _B
_AGO = _B + r"\d+ (second|minute|hour|day|week|month|year)s? ago" + _B
_DATED = "|".join((_MONTH, _TIME, _YEAR, _NUMERIC_DATE, _AGO))
_COPYRIGHT = _B + "copyright" + _B + "|all rights reserved"
# Lines longer than this are prose or link lists, not dates, bylines, signatures or headings.
CUE_CHARS = 160
# Between a commenter's name and the date of a signature ("posted by jo on may 3", "jo | 3 may").
_SIGNATURE_SEPARATOR = r" (on|at) |[|,\-]"
_SIGNATURE_WORDS = 16
_NUMBERED = r"^(#?\d{1,3}[.):]|\[\d{1,3}\])\s"
_NAME_COLON = r"^[A-Z][\w.'\-]*( [A-Z][\w.'\-]*){0,3}: "
_CREDIT_END = r"\([^()]{2,40}\)$"
_CAPTION_HINT = _B + r"(photo|photograph|image|picture|credit|getty|reuters|afp|file photo|illustration)" + _B
_LINK_MARKS = "[|\u00bb\u203a\u2022\u00b7>]"  # bars, guillemets, bullets between links
_SENTENCE_END = r"[.!?][\"'\u201d\u2019)]?$"
# Generic words of a comment thread's furniture and of the lines that sign comments.
_THREAD_WORDS = _B + r"(posted|wrote|reply|replies|permalink|report (this|abuse)|recommend(ed)?|comments?|said)" + _B
# Generic words of a page's own furniture: navigation, sharing, accounts.
_PAGE_WORDS = (
    _B + r"(home|news|sports?|business|weather|contact|about us|subscribe|login|log in|sign in|register"
    r"|search|email|print|share|privacy|terms|advertis\w*|more|video|photos?|blogs?|rss|next|previous)" + _B
)

# Readers write in the first person; an article's own words and a page's furniture seldom do.
_FIRST_PERSON = _B + r"(i|me|my|mine|myself|i'm|i've|i'd|i'll)" + _B

# Features shifted onto the neighbours: the shape of the lines around a line.
_NEIGHBOUR_FEATURES = (
    "words", "ends_sentence", "stop_share", "upper_share", "coverage", "furniture", "rule", "signature",
    "page_words", "link_marks", "starts_quote", "capital_share",
)  # fmt: skip
_OFFSETS = (-2, -1, 1, 2)
_WINDOWS = (2, 5, 12)
# A headline's words come back in the article's first sentences: its content words (four letters or
# more, less generic English function words) are looked for in the first characters of the next prose lines.
_CONTENT_WORD = r"[a-z]{4,}"
_FUNCTION_WORDS = (
    "that", "this", "with", "from", "have", "were", "been", "their", "there", "which", "would", "about", "they",
    "them", "than", "what", "when", "will", "said", "into", "more", "also", "after", "over", "your", "some",
)  # fmt: skip
_LEAD_PROSE_LINES = 2
_LEAD_CHARS = 200
# Asking lines whose content words are looked for at the start of their targets at a time.
_ASKS_AT_ONCE = 16_384
_STEM = 5
_FUNCTION_STEMS = frozenset(w[:_STEM] for w in _FUNCTION_WORDS)
# A capture's main prose: prose lines at most this many lines apart are one run.
_MAIN_GAP = 4
# Lines of the main prose have at least this many words.
_MAIN_WORDS = 10
_MAIN_REACH = 60
# Only lines this close above prose are looked up: a headline stands over its article, not pages away.
_LEAD_REACH = 6


@dataclass(frozen=True)
class LineTable:
    """Every line of a batch in capture order, with what the rule labeler and the alignment gave it."""

    capture: npt.NDArray[np.int64]  # index of the capture in the batch
    line_no: npt.NDArray[np.int64]  # 1-based line number in the file
    text: list[str]
    key: list[str]
    rule: npt.NDArray[np.int64]  # index into ROLE_CODES
    coverage: npt.NDArray[np.float64]  # share of the line's words another capture holds
    furniture: npt.NDArray[np.bool_]  # the line recurs in captures of several articles
    partners: npt.NDArray[np.int64]  # other captures of the same article
    words: npt.NDArray[np.int64]  # words of each line, as the capture splits them


def _shape(text: pl.Expr, key: pl.Expr) -> list[pl.Expr]:
    """What every line is read for: its length, case, punctuation and stop words (counts: words come with the line)."""
    chars = text.str.len_chars().cast(pl.Float64)
    return [
        chars.alias("chars"),
        text.str.count_matches(r"[A-Za-z]").alias("_letters"),
        text.str.count_matches(r"[A-Z]").alias("_uppers"),
        text.str.count_matches(r"(?-u:\b)[A-Z]").alias("_capitals"),
        (text.str.count_matches(r"\d") / chars).alias("digit_share"),
        (text.str.count_matches(r"[^\w\s]") / chars).alias("punct_share"),
        key.str.count_matches(_STOP).alias("_stops"),
        text.str.contains(_SENTENCE_END).alias("ends_sentence"),
        text.str.contains(r"^[a-z]").alias("starts_lower"),
        text.str.contains(r"^[\"'\u201c\u2018]").alias("starts_quote"),
        text.str.count_matches(_LINK_MARKS).alias("link_marks"),
    ]


def _cues(text: pl.Expr, key: pl.Expr) -> list[pl.Expr]:
    """What only short lines are read for: dates, signatures, bylines, headings, furniture phrases, credits."""
    dated = key.str.contains(_DATED)
    return [
        dated.alias("dated"),
        (key.str.contains("\u00a9", literal=True) | key.str.contains(_COPYRIGHT)).alias("copyright"),
        text.str.contains(_NAME_COLON).alias("name_colon"),
        (dated & key.str.contains(_SIGNATURE_SEPARATOR) & ~text.str.contains(_SENTENCE_END)).alias("_signed"),
        text.str.contains(BYLINE.pattern).alias("byline"),
        key.str.contains(BOILERPLATE.pattern).alias("boilerplate_phrase"),
        key.str.contains(CLOSING.pattern).alias("closing_phrase"),
        key.str.contains(COMMENTS_MARKER.pattern).alias("comments_marker"),
        text.str.contains(_CREDIT_END).alias("credit_end"),
        key.str.contains(_CAPTION_HINT).alias("caption_hint"),
        key.str.count_matches(_THREAD_WORDS).alias("_thread_words"),
        key.str.count_matches(_PAGE_WORDS).alias("_page_words"),
        text.str.ends_with(":").alias("ends_colon"),
        text.str.contains(_NUMBERED).alias("numbered"),
    ]


_CUE_NAMES = (
    "dated", "copyright", "name_colon", "_signed", "byline", "boilerplate_phrase", "closing_phrase",
    "comments_marker", "credit_end", "caption_hint", "_thread_words", "_page_words", "ends_colon", "numbered",
)  # fmt: skip


def shape_features(texts: list[str], keys: list[str]) -> dict[str, np.ndarray]:
    """The shape of each line (float64), read once per distinct line: the captures of an article repeat most lines.

    The cues of short lines are read on lines of at most CUE_CHARS characters only: prose holds
    most of a batch's characters, and a paragraph is no date line, byline or menu item. Each line
    takes its distinct line's values by index, not by a join on the texts: a frame of every line's
    text held a capture of 130,000 lines twice more.
    """
    number: dict[tuple[str, str], int] = {}
    pairs = zip(texts, keys, strict=True)
    which = np.fromiter((number.setdefault(pair, len(number)) for pair in pairs), dtype=np.int64, count=len(texts))
    distinct = pl.DataFrame(list(number), schema={"text": pl.String, "key": pl.String}, orient="row")
    shapes = distinct.select(_shape(pl.col("text"), pl.col("key")))
    found = {name: shapes[name].cast(pl.Float64).to_numpy()[which] for name in shapes.columns}
    short = distinct.with_row_index("row").filter(pl.col("text").str.len_chars() <= CUE_CHARS)
    cues = short.select("row", *_cues(pl.col("text"), pl.col("key")))
    rows = cues["row"].to_numpy()
    for name in _CUE_NAMES:
        values = np.zeros(distinct.height)
        values[rows] = cues[name].cast(pl.Float64).to_numpy()
        found[name] = values[which]
    return found


class _Spans:
    """Where each line's capture begins and ends in a batch's line arrays (captures are contiguous).

    Windows, shifts and running sums inside captures are taken from whole-batch cumulative sums
    in numpy: polars' `over(capture)` per feature cost most of the features' time.
    """

    def __init__(self, capture: npt.NDArray[np.int64]) -> None:
        n = len(capture)
        change = np.flatnonzero(np.diff(capture)) + 1
        bounds = np.concatenate([[0], change, [n]]).astype(np.int64)
        sizes = np.diff(bounds)
        self.start = np.repeat(bounds[:-1], sizes)
        self.end = np.repeat(bounds[1:], sizes)
        self.index = np.arange(n, dtype=np.int64)
        self.size = (self.end - self.start).astype(np.float64)
        self.position = (self.index - self.start).astype(np.float64)

    def shift(self, values: np.ndarray, offset: int) -> np.ndarray:
        """The value `offset` lines away in the same capture (NaN past its ends)."""
        j = self.index + offset
        inside = (j >= self.start) & (j < self.end)
        return np.where(inside, values[np.clip(j, 0, len(values) - 1)], np.nan)

    def _sum(self, values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Sum of `values` over the lines from `low` to before `high`, for each line."""
        total = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
        found: np.ndarray = total[high] - total[low]
        return found

    def window_mean(self, values: np.ndarray, half: int) -> np.ndarray:
        """Mean over the lines within `half` lines, inside the capture."""
        low = np.maximum(self.index - half, self.start)
        high = np.minimum(self.index + half + 1, self.end)
        mean: np.ndarray = self._sum(values, low, high) / (high - low)
        return mean

    def before(self, values: np.ndarray) -> np.ndarray:
        """Sum over the capture's lines before each line."""
        return self._sum(values, self.start, self.index)

    def after(self, values: np.ndarray) -> np.ndarray:
        """Sum over the capture's lines after each line."""
        return self._sum(values, self.index + 1, self.end)

    def total(self, values: np.ndarray) -> np.ndarray:
        """Sum over each line's whole capture."""
        return self._sum(values, self.start, self.end)

    def maximum(self, values: np.ndarray) -> np.ndarray:
        """The largest value of each line's capture."""
        if not len(values):
            return values.copy()
        firsts = np.flatnonzero(self.index == self.start)
        found: np.ndarray = np.maximum.reduceat(values, firsts)[np.cumsum(self.index == self.start) - 1]
        return found

    def lines_to_next(self, flags: np.ndarray) -> np.ndarray:
        """Lines from each line to the next flagged line of its capture (inclusive), or a large number."""
        nxt = np.where(flags, self.index, len(flags))
        nxt = np.minimum.accumulate(nxt[::-1])[::-1]
        return np.where(nxt < self.end, nxt - self.index, 10_000).astype(np.float64)

    def lines_since(self, flags: np.ndarray) -> np.ndarray:
        last = np.where(flags, self.index, -1)
        last = np.maximum.accumulate(last)
        return np.where(last >= self.start, self.index - last, 10_000).astype(np.float64)

    def run_length(self, flags: np.ndarray) -> np.ndarray:
        """Length of the run of equal flags each line belongs to, inside its capture."""
        new_run = np.ones(len(flags), dtype=bool)
        new_run[1:] = (flags[1:] != flags[:-1]) | (self.start[1:] == self.index[1:])
        run = np.cumsum(new_run) - 1
        lengths: np.ndarray = np.bincount(run)[run].astype(np.float64)
        return lengths


def line_features(table: LineTable) -> pl.DataFrame:
    """One row of numeric features per line of the batch, in the order of `table`."""
    return pl.DataFrame({name: values.astype(np.float32) for name, values in _feature_columns(table).items()})


def feature_matrix(table: LineTable) -> npt.NDArray[np.float32]:
    """line_features() as one float32 matrix, each column written as it is computed: no frame, no columns held.

    A capture of 130,000 lines held its 129 columns (float64 where computed so) beside the matrix at
    the labeling stage's peak of memory; now only the columns later features read are held.
    """
    # Column-major: each feature is written in one run (a row-major column is a write every 516 bytes), the
    # passes after the model read features a column at a time, and LightGBM reads either layout as it is.
    matrix = np.empty((len(table.capture), len(FEATURE_NAMES)), dtype=np.float32, order="F")
    columns = _MatrixColumns(matrix)
    _feature_columns(table, columns)
    assert columns.names == FEATURE_NAMES, "features out of order"
    return matrix


# The features that later features are computed from: held (as computed) while the rest are computed.
_READ_AGAIN = frozenset(
    {"signature", "blank_before", "lead_words", *_NEIGHBOUR_FEATURES}
    | {"words", "prose_words", "short", "held", "furniture", "starts_quote"}
)


# The line shapes that later features read (the rest are features as they are, or read once above).
_SHAPES_READ_AGAIN = ("chars", "ends_sentence", "comments_marker", "dated", "byline", "copyright")


class _MatrixColumns(dict[str, np.ndarray]):
    """Each feature set here goes into the next column of `matrix` at once; only those in _READ_AGAIN stay here."""

    def __init__(self, matrix: npt.NDArray[np.float32]) -> None:
        super().__init__()
        self.matrix = matrix
        self.names: list[str] = []

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        assert name not in self.names, f"feature {name} set twice"
        self.matrix[:, len(self.names)] = values  # cast to float32 as the model reads it
        self.names.append(name)
        if name in _READ_AGAIN:
            super().__setitem__(name, values)

    def __ior__(self, other: dict[str, np.ndarray]) -> Self:  # type: ignore[override,misc]  # dict's | unused
        for name, values in other.items():
            self[name] = values
        return self


def _feature_columns(table: LineTable, f: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Each feature's values, float64 where other features are computed from them, else float32 already.

    `f`: where to set them (feature_matrix's columns), else a new dict.
    """
    f = {} if f is None else f
    column = shape_features(table.text, table.key)
    spans = _Spans(table.capture)
    words = table.words.astype(np.float64)
    per_word = 1.0 / np.maximum(words, 1.0)
    f |= {name: values for name, values in column.items() if not name.startswith("_")}
    f |= {
        "log_chars": np.log1p(column["chars"]), "words": words, "chars_per_word": column["chars"] * per_word,
        "upper_share": column["_uppers"] / np.maximum(column["_letters"], 1.0),
        "capital_share": column["_capitals"] * per_word, "stop_share": column["_stops"] * per_word,
        "thread_words": column["_thread_words"] * per_word, "page_words": column["_page_words"] * per_word,
        "signature": column["_signed"] * (words <= _SIGNATURE_WORDS),
    }  # fmt: skip
    column = {name: column[name] for name in _SHAPES_READ_AGAIN}  # the rest are in `f` already, or spent
    f |= {
        "rule": table.rule.astype(np.float64), "coverage": table.coverage.astype(np.float64),
        "furniture": table.furniture.astype(np.float64),
        "partners": table.partners.astype(np.float64),
    }  # fmt: skip
    prose = ((words >= 12) & (column["ends_sentence"] > 0)) * words
    shared = (table.coverage >= 0.5).astype(np.float64)
    short = (words <= 4).astype(np.float64)
    line_no = table.line_no
    f |= {
        "log_lines": np.log1p(spans.size), "position": spans.position / spans.size,
        "log_from_end": np.log1p(spans.size - spans.position - 1), "log_from_start": np.log1p(spans.position),
        "blank_before": _gap_over_one(line_no - spans.shift(line_no.astype(np.float64), -1)),
        "blank_after": _gap_over_one(spans.shift(line_no.astype(np.float64), 1) - line_no),
        "repeats": _repeats(table.capture, table.key), "prose_words": prose, "short": short, "held": shared,
        "markers_before": spans.before(column["comments_marker"]),
        "signatures_before": np.log1p(spans.before(f["signature"])),
        "signatures_after": np.log1p(spans.after(f["signature"])),
        "prose_before": spans.before(prose) / np.maximum(spans.total(prose), 1.0),
        "words_before": spans.before(words) / np.maximum(spans.total(words), 1.0),
        "shared_before": spans.before(words * shared) / np.maximum(spans.total(words * shared), 1.0),
        "prose_line_share": spans.total(prose > 0) / spans.size, "shared_line_share": spans.total(shared) / spans.size,
        "mean_words": spans.total(words) / spans.size,
        "to_next_prose": np.log1p(spans.lines_to_next(prose > 0)),
        "from_last_prose": np.log1p(spans.lines_since(prose > 0)),
        "run_length": np.log1p(spans.run_length(short > 0)),
        "free_lines_to_prose": _free_lines_to_prose(spans, prose > 0, column, words),
        "lead_words": _lead_words(spans, table.key, prose > 0, column["chars"]),
    }  # fmt: skip
    # Hard-wrapped paragraphs end a sentence on their last line only: any long line is main prose.
    main = _main_block_start(spans, (words >= _MAIN_WORDS) * words)
    f |= _main_lead(spans, table.key, main, column["chars"], prose > 0)
    # blank_before is NaN-free now: its share over the capture.
    f["blank_share"] = spans.total(f["blank_before"]) / spans.size
    # The neighbours' and windows' features are read from no other: float32 at once, as the model reads them.
    for name in _NEIGHBOUR_FEATURES:
        for offset in _OFFSETS:
            f[f"{name}@{offset:+d}"] = spans.shift(f[name], offset).astype(np.float32)
    for offset in (-1, 1):
        f[f"lead_words@{offset:+d}"] = spans.shift(f["lead_words"], offset).astype(np.float32)
    for name, label in (("words", "words"), ("prose_words", "prose"), ("short", "short"), ("held", "held"),
                        ("furniture", "furniture"), ("starts_quote", "quote"), ("signature", "signature")):  # fmt: skip
        for half in _WINDOWS:
            f[f"{label}~{half}"] = spans.window_mean(f[name], half).astype(np.float32)
    return f


def _gap_over_one(gaps: np.ndarray) -> np.ndarray:
    """1 where a blank line (or the capture's edge) lies between two lines."""
    return np.where(np.isnan(gaps) | (gaps > 1), 1.0, 0.0)


def _free_lines_to_prose(
    spans: _Spans, prose: npt.NDArray[np.bool_], column: dict[str, np.ndarray], words: np.ndarray
) -> np.ndarray:
    """Lines between each line and the next prose line that are neither prose nor dates, bylines,
    copyright or a few words: 0 for a headline over its dateline and byline (log scale, -1 on prose)."""
    cue = (column["dated"] > 0) | (column["byline"] > 0) | (column["copyright"] > 0) | (words <= 3)
    free = np.concatenate([[0.0], np.cumsum(~cue & ~prose, dtype=np.float64)])
    to_next = spans.lines_to_next(prose)
    reached = to_next < 10_000
    nxt = np.where(reached, spans.index + to_next, spans.index).astype(np.int64)
    between = free[nxt] - free[np.minimum(spans.index + 1, nxt)]
    found: np.ndarray = np.where(prose, -1.0, np.where(reached, np.log1p(between), np.log1p(10_000.0)))
    return found


def _lead_words(spans: _Spans, keys: list[str], prose: npt.NDArray[np.bool_], chars: np.ndarray) -> np.ndarray:
    """Share of a short line's content words found at the start of the next prose lines of its capture."""
    n = len(keys)
    found = np.zeros(n)
    to_next = spans.lines_to_next(prose)
    asks = np.flatnonzero((chars <= CUE_CHARS) & ~prose & (to_next <= _LEAD_REACH))
    if not len(asks):
        return found
    prose_at = np.flatnonzero(prose)
    rank = np.searchsorted(prose_at, asks, side="right")  # the first prose line after each asking line
    line_parts, target_parts = [], []
    for k in range(_LEAD_PROSE_LINES):
        at = np.minimum(rank + k, len(prose_at) - 1)
        inside = (rank + k < len(prose_at)) & (prose_at[at] < spans.end[asks])
        line_parts.append(asks[inside])
        target_parts.append(prose_at[at][inside])
    return _word_share(found, keys, asks, np.concatenate(line_parts), np.concatenate(target_parts), stem=None)


def _words(lines: npt.NDArray[np.int64], keys: list[str], *, chars: int | None, stem: int | None) -> pl.DataFrame:
    """The distinct content words of some lines (their first `chars` characters), cut to `stem` letters."""
    frame = pl.DataFrame({"line": lines, "key": [keys[i][:chars] for i in lines.tolist()]})
    word = pl.col("key").str.extract_all(_CONTENT_WORD)
    word = word if stem is None else word.list.eval(pl.element().str.slice(0, stem))
    function_words = list(_FUNCTION_WORDS) if stem is None else sorted(_FUNCTION_STEMS)
    return (
        frame.select("line", word.list.unique().alias("word"))
        .explode("word")
        .filter(pl.col("word").is_not_null() & ~pl.col("word").is_in(function_words))
    )


def _word_share(
    found: np.ndarray,
    keys: list[str],
    asks: npt.NDArray[np.int64],
    line: np.ndarray,
    target: np.ndarray,
    *,
    stem: int | None,
) -> np.ndarray:
    """Into `found`: the share of each asking line's content words that the start of one of its targets holds.

    `asks` ascending; a slice of them at a time, with their pairs: the words of every asking line of a long
    capture at once were a frame of millions of rows.
    """
    for first in range(0, len(asks), _ASKS_AT_ONCE):
        some = asks[first : first + _ASKS_AT_ONCE]
        inside = (line >= some[0]) & (line <= some[-1])
        _slice_word_share(found, keys, some, line[inside], target[inside], stem=stem)
    return found


def _slice_word_share(
    found: np.ndarray, keys: list[str], asks: npt.NDArray[np.int64], line: np.ndarray, target: np.ndarray,
    *, stem: int | None,
) -> None:  # fmt: skip
    pairs = pl.DataFrame({"line": line, "target": target}, schema={"line": pl.Int64, "target": pl.Int64})
    if not pairs.height:
        return
    asked = _words(asks, keys, chars=None, stem=stem)
    wanted = pairs["target"].unique().sort().to_numpy()
    leads = _words(wanted, keys, chars=_LEAD_CHARS, stem=stem).rename({"line": "target"})
    hits = (
        asked.join(pairs, on="line")
        .join(leads, on=["target", "word"], how="semi")
        .unique(["line", "word"])
        .group_by("line")
        .len("hits")
    )
    shares = asked.group_by("line").len("asked").join(hits, on="line", how="left")
    found[shares["line"].to_numpy()] = shares["hits"].fill_null(0).to_numpy() / shares["asked"].to_numpy()


def _main_block_start(spans: _Spans, prose: np.ndarray) -> np.ndarray:
    """Where each capture's main run of prose begins (the run with the most prose words), or -1 without prose.

    Prose lines at most _MAIN_GAP lines apart make one run: a photo, a byline or an ad may stand inside an article.
    """
    n = len(prose)
    found = np.full(n, -1, dtype=np.int64)
    at = np.flatnonzero(prose > 0)
    if not len(at):
        return found
    new_run = np.ones(len(at), dtype=bool)
    new_run[1:] = (np.diff(at) > _MAIN_GAP) | (spans.start[at[1:]] != spans.start[at[:-1]])
    run = np.cumsum(new_run) - 1
    run_words = np.bincount(run, weights=prose[at])
    run_first = at[new_run]
    run_capture = spans.start[run_first]
    # the best run of each capture: sorted by capture, then words (the first of equals wins)
    order = np.lexsort((np.arange(len(run_words)), -run_words, run_capture))
    first_of_capture = np.ones(len(order), dtype=bool)
    first_of_capture[1:] = run_capture[order][1:] != run_capture[order][:-1]
    best = order[first_of_capture]
    capture_start = run_capture[best]
    main_start = run_first[best]
    lookup = np.searchsorted(capture_start, spans.start)
    lookup = np.minimum(lookup, len(capture_start) - 1)
    hit = capture_start[lookup] == spans.start
    found[hit] = main_start[lookup[hit]]
    return found


def _main_lead(
    spans: _Spans, keys: list[str], main: np.ndarray, chars: np.ndarray, prose: npt.NDArray[np.bool_]
) -> dict[str, np.ndarray]:
    """A headline's words come back in its article's first lines, however many menus and links stand between:
    the share of a short line's content words (cut to a stem) found at the start of the capture's main prose
    (its first two lines), for lines up to _MAIN_REACH above it; and whether no line of its capture shares more."""
    n = len(keys)
    share = np.zeros(n)
    distance = main - spans.index
    asks = np.flatnonzero((main >= 0) & (chars <= CUE_CHARS) & ~prose & (distance > 0) & (distance <= _MAIN_REACH))
    if len(asks):
        second = np.minimum(main[asks] + 1, n - 1)
        on = (main[asks] + 1 < spans.end[asks]) & prose[second]
        line = np.concatenate([asks, asks[on]])
        target = np.concatenate([main[asks], second[on]])
        share = _word_share(share, keys, asks, line, target, stem=_STEM)
    top = spans.maximum(share)
    return {"main_lead": share, "best_main_lead": ((share >= top) & (share > 0)).astype(np.float64)}


def in_first_person(keys: list[str] | pl.Series) -> npt.NDArray[np.bool_]:
    """Whether each line (its key) has a word of the first person singular: "I", "my", "I've"."""
    found = pl.Series(keys, dtype=pl.String).str.contains(_FIRST_PERSON).fill_null(False)
    return found.to_numpy().astype(bool)


def _repeats(capture: npt.NDArray[np.int64], keys: list[str]) -> np.ndarray:
    """How many lines of its capture have each line's key.

    Counted in Python over the keys as they are: a frame of them was a copy of every line of the batch.
    """
    lines = list(zip(capture.tolist(), keys, strict=True))
    counts = Counter(lines)
    return np.fromiter(map(counts.__getitem__, lines), dtype=np.float64, count=len(lines))


def _feature_names() -> list[str]:
    """The columns line_features() gives, in order (from a capture of one line)."""
    one = LineTable(
        capture=np.zeros(1, dtype=np.int64), line_no=np.ones(1, dtype=np.int64), text=["x"], key=["x"],
        rule=np.zeros(1, dtype=np.int64), coverage=np.zeros(1), furniture=np.zeros(1, dtype=bool),
        partners=np.zeros(1, dtype=np.int64), words=np.ones(1, dtype=np.int64),
    )  # fmt: skip
    return line_features(one).columns


FEATURE_NAMES = _feature_names()
