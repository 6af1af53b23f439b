"""The captures of an article as different scrapers saved them, with the gold role of every line."""

from __future__ import annotations

import codecs
import hashlib
import random
from dataclasses import dataclass, replace
from typing import Literal

from tasks.synth.article import Article, QuoteTarget
from tasks.synth.text import Vocabulary, straighten, wrap

Role = Literal["title", "subtitle", "byline", "author_bio", "body", "caption", "comment", "boilerplate"]
ROLES: tuple[Role, ...] = ("title", "subtitle", "byline", "author_bio", "body", "caption", "comment", "boilerplate")
Kind = Literal["metadata", "thread", "thread_later"]
Encoding = Literal["utf-8", "utf-8-sig", "utf-16", "cp1252"]
ENCODINGS: tuple[Encoding, ...] = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
_ENCODING_WEIGHTS = (55, 10, 10, 25)
_CAPTURE_COUNTS = (1, 2, 3, 4)
_CAPTURE_COUNT_WEIGHTS = (10, 25, 30, 35)
# 2.9: how many captures an article has on average (sizes a corpus by its number of captures).
CAPTURES_PER_ARTICLE = sum(n * w for n, w in zip(_CAPTURE_COUNTS, _CAPTURE_COUNT_WEIGHTS, strict=True)) / sum(
    _CAPTURE_COUNT_WEIGHTS
)
_Row = tuple[str, Role | None, QuoteTarget | None]  # text ("" for a blank line), role, what the line shows
_BLANK: _Row = ("", None, None)


@dataclass(frozen=True)
class CaptureSpec:
    """How one scraper saved the article; the defaults are the plainest capture."""

    kind: Kind
    n_comments: int = 0
    quotes: Literal["curly", "straight"] = "curly"
    encoding: Encoding = "utf-8"
    crlf: bool = False
    final_newline: bool = False
    wrap: int | None = None  # hard-wrap width of the paragraphs (metadata captures)
    edited: int | None = None  # paragraph with a few words changed
    truncated: int = 0  # paragraphs missing at the end (threads)
    inline_boilerplate: tuple[int, ...] = ()  # paragraphs followed by an outlet line such as "Advertisement"
    closing_boilerplate: bool = False  # the outlet's lines after the body ("Share this article")
    comments_heading: bool = False
    caption_slot: Literal["caption", "blank", "none"] = "caption"
    title_line: bool = False  # threads: the headline above the body

    def variations(self) -> str:
        """The departures from the plainest capture, for captures.tsv."""
        flags = [f"wrap={self.wrap}" if self.wrap else "", f"edited={self.edited}" if self.edited is not None else ""]
        flags += [f"truncated={self.truncated}" if self.truncated else "", f"comments={self.n_comments}"]
        flags += ["boilerplate" if self.inline_boilerplate or self.closing_boilerplate else ""]
        flags += ["heading" if self.comments_heading else "", "title" if self.title_line else ""]
        flags += [f"caption={self.caption_slot}" if self.kind != "metadata" else ""]
        return ",".join(f for f in flags if f)


@dataclass(frozen=True)
class GoldLine:
    """A non-blank line of the decoded capture (numbered from 1) and its role."""

    line_no: int
    role: Role
    text: str


@dataclass(frozen=True)
class RenderedCapture:
    """A capture's bytes, its gold roles and the quotes among its lines (comment line, quoted line, role)."""

    name: str
    data: bytes
    spec: CaptureSpec
    lines: tuple[GoldLine, ...]
    quotes: tuple[tuple[int, int, Role], ...]


def _dress(rng: random.Random, article: Article, spec: CaptureSpec) -> CaptureSpec:
    """What any scraper varies: quote style, encoding, line endings, the outlet's boilerplate lines."""
    inline = article.outlet.inline_boilerplate and rng.random() < 0.7
    gaps = range(len(article.paragraphs) - 1)
    return replace(
        spec,
        quotes="straight" if rng.random() < 0.4 else "curly",
        encoding=rng.choices(ENCODINGS, weights=_ENCODING_WEIGHTS)[0],
        crlf=rng.random() < 0.3,
        final_newline=rng.random() < 0.5,
        inline_boilerplate=tuple(sorted(rng.sample(gaps, rng.randint(1, 2)))) if inline else (),
        closing_boilerplate=bool(article.outlet.closing_boilerplate) and rng.random() < 0.7,
    )


def metadata_spec(rng: random.Random, article: Article, *, first: bool) -> CaptureSpec:
    """Title, dek, blank-separated paragraphs, caption, byline, bio; now and then reflowed or edited."""
    width = rng.randint(60, 80) if rng.random() < 0.3 else None
    n_comments = len(article.comments) if width is None and rng.random() < 0.1 else 0
    edited = rng.randrange(len(article.paragraphs)) if not first and rng.random() < 0.2 else None
    heading = n_comments > 0 and article.outlet.comments_heading is not None
    return _dress(
        rng, article, CaptureSpec("metadata", n_comments, wrap=width, edited=edited, comments_heading=heading)
    )


def thread_spec(rng: random.Random, article: Article, n_comments: int, *, first: bool, later: bool) -> CaptureSpec:
    """Paragraphs one per line, then the thread one comment per line; later snapshots hold more comments."""
    spec = CaptureSpec(
        "thread_later" if later else "thread", n_comments,
        edited=rng.randrange(len(article.paragraphs)) if not first and rng.random() < 0.2 else None,
        truncated=rng.randint(1, 2) if rng.random() < 0.2 else 0,
        comments_heading=article.outlet.comments_heading is not None and rng.random() < 0.9,
        caption_slot=rng.choice(("blank", "blank", "caption", "none", "none", "none")),
        title_line=rng.random() < 0.2,
    )  # fmt: skip
    return _dress(rng, article, spec)


def snapshot_counts(rng: random.Random, total: int, snapshots: int) -> list[int]:
    """Comments seen by each snapshot of the thread, growing; the last sees them all."""
    if snapshots == 0:
        return []
    if total >= snapshots - 1:
        return [*sorted(rng.sample(range(total), snapshots - 1)), total]
    return [*sorted(rng.choices(range(total + 1), k=snapshots - 1)), total]


def plan_captures(rng: random.Random, article: Article) -> list[CaptureSpec]:
    """One to four captures: metadata pages and snapshots of the comment thread."""
    n = rng.choices(_CAPTURE_COUNTS, weights=_CAPTURE_COUNT_WEIGHTS)[0]
    n_meta = sum(rng.random() < 0.5 for _ in range(n))
    specs = [metadata_spec(rng, article, first=i == 0) for i in range(n_meta)]
    for j, count in enumerate(snapshot_counts(rng, len(article.comments), n - n_meta)):
        specs.append(thread_spec(rng, article, count, first=n_meta == 0 and j == 0, later=j > 0))
    return specs


def edit_paragraph(rng: random.Random, text: str, vocab: Vocabulary) -> str:
    """A few plain words replaced, as a later update of the page would."""
    words = text.split(" ")
    plain = [i for i, w in enumerate(words) if w.isalpha() and w.islower()]
    for index in rng.sample(plain, min(len(plain), rng.randint(2, 4))):
        words[index] = rng.choice(vocab.content)
    return " ".join(words)


def _body_rows(
    article: Article, spec: CaptureSpec, paragraphs: tuple[str, ...], *, blank_separated: bool
) -> list[_Row]:
    rows: list[_Row] = []

    def put(row: _Row) -> None:
        rows.extend([row, _BLANK] if blank_separated else [row])

    kept = len(paragraphs) - spec.truncated
    inline = article.outlet.inline_boilerplate
    for index in range(kept):
        put((paragraphs[index], "body", ("paragraph", index)))
        if index == article.caption_after and index < kept - 1:
            if spec.caption_slot == "caption":
                put((article.caption, "caption", None))
            elif spec.caption_slot == "blank" and not blank_separated:
                rows.append(_BLANK)  # the seed thread keeps an empty line where the photo was
        if index in spec.inline_boilerplate and index < kept - 1:
            put((inline[index % len(inline)], "boilerplate", None))
    for line in article.outlet.closing_boilerplate if spec.closing_boilerplate else ():
        put((line, "boilerplate", None))
    return rows


def _thread_rows(article: Article, spec: CaptureSpec) -> list[_Row]:
    rows: list[_Row] = []
    heading = article.outlet.comments_heading
    if spec.comments_heading and heading is not None:
        rows.append((heading.format(n=spec.n_comments), "boilerplate", None))
    rows += [(article.comments[i].text, "comment", ("comment", i)) for i in range(spec.n_comments)]
    return rows


def capture_rows(article: Article, spec: CaptureSpec, paragraphs: tuple[str, ...]) -> list[_Row]:
    """The lines of the capture before typography, wrapping and encoding."""
    if spec.kind != "metadata":
        head: list[_Row] = [(article.title, "title", None)] if spec.title_line else []
        return head + _body_rows(article, spec, paragraphs, blank_separated=False) + _thread_rows(article, spec)
    byline = article.outlet.byline.format(name=article.author, outlet=article.outlet.name)
    rows: list[_Row] = [(article.title, "title", None), _BLANK, (article.subtitle, "subtitle", None), _BLANK]
    rows += _body_rows(article, spec, paragraphs, blank_separated=True)
    rows += [(byline, "byline", None), _BLANK, (article.bio, "author_bio", None)]
    return rows + ([_BLANK, *_thread_rows(article, spec)] if spec.n_comments else [])


def lay_out(
    article: Article, spec: CaptureSpec, rows: list[_Row]
) -> tuple[list[str], list[GoldLine], list[tuple[int, int, Role]]]:
    """Text lines, gold lines and gold quotes, after quote style and wrapping."""
    lines: list[str] = []
    gold: list[GoldLine] = []
    first_line: dict[QuoteTarget, int] = {}
    for text, role, shows in rows:
        styled = straighten(text) if spec.quotes == "straight" else text
        reflow = spec.wrap is not None and role == "body" and len(styled) > spec.wrap
        pieces = wrap(styled, spec.wrap) if reflow and spec.wrap else [styled]
        if shows is not None:
            first_line[shows] = len(lines) + 1
        for piece in pieces:
            lines.append(piece)
            if role is not None:
                gold.append(GoldLine(len(lines), role, piece))
    quotes: list[tuple[int, int, Role]] = []
    for index in range(spec.n_comments if spec.wrap is None else 0):
        target = article.comments[index].quotes
        if target is not None and target in first_line:
            quotes.append(
                (first_line[("comment", index)], first_line[target], "body" if target[0] == "paragraph" else "comment")
            )
    return lines, gold, quotes


def encode(lines: list[str], spec: CaptureSpec) -> bytes:
    newline = "\r\n" if spec.crlf else "\n"
    text = newline.join(lines) + (newline if spec.final_newline else "")
    if spec.encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(spec.encoding)


def render_capture(
    name: str, article: Article, spec: CaptureSpec, vocab: Vocabulary, rng: random.Random
) -> RenderedCapture:
    paragraphs = article.paragraphs
    if spec.edited is not None:
        edited = edit_paragraph(rng, paragraphs[spec.edited], vocab)
        paragraphs = (*paragraphs[: spec.edited], edited, *paragraphs[spec.edited + 1 :])
    lines, gold, quotes = lay_out(article, spec, capture_rows(article, spec, paragraphs))
    return RenderedCapture(name, encode(lines, spec), spec, tuple(gold), tuple(quotes))


def capture_name(seed: int, article_no: int, index: int) -> str:
    """16 hex digits: file names say nothing of which article a capture holds."""
    return hashlib.blake2b(f"{seed}:{article_no}:{index}".encode(), digest_size=8).hexdigest()


def render_article(article: Article, vocab: Vocabulary, *, seed: int, article_no: int) -> list[RenderedCapture]:
    """Every capture of the article; no two are byte-identical (that would be a duplicate file, not a capture)."""
    rng = random.Random(f"newsarchive-synth-captures:{seed}:{article_no}")
    rendered: list[RenderedCapture] = []
    seen: set[bytes] = set()
    for index, spec in enumerate(plan_captures(rng, article)):
        name = capture_name(seed, article_no, index)
        # Two snapshots that saw the same comments differ in line endings: else one would be a duplicate file.
        for crlf, final in ((spec.crlf, spec.final_newline), (not spec.crlf, spec.final_newline),
                            (spec.crlf, not spec.final_newline), (not spec.crlf, not spec.final_newline)):  # fmt: skip
            capture = render_capture(name, article, replace(spec, crlf=crlf, final_newline=final), vocab, rng)
            if capture.data not in seen:
                break
        seen.add(capture.data)
        rendered.append(capture)
    return rendered


def roles_tsv(capture: RenderedCapture) -> str:
    """The gold file of a capture, in the format of tests/fixtures/seeds/gold/*.roles.tsv."""
    rows = "".join(f"{g.line_no}\t{g.role}\t{g.text[:40]}\n" for g in capture.lines)
    return "line\trole\ttext_start\n" + rows
