"""The rules: the role of every line of the captures of one article."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np

from tasks.articles.align import Echoes, MatchedRun, align_tokens, line_coverage
from tasks.articles.cues import (
    byline_name,
    comment_form,
    is_boilerplate,
    is_closing_furniture,
    is_comments_marker,
    is_credited_caption,
    looks_like_caption,
    looks_like_headline,
    looks_like_subtitle,
    looks_like_title,
    mentions,
)
from tasks.core.capture import Capture
from tasks.core.config import RolesConfig
from tasks.core.lines import Line

# Short lines found in captures of this many different articles of one run are
# site furniture ("Story continues below", a site's name), whatever the regex knows.
FURNITURE_ARTICLES = 3  # of lines no longer than tasks.core.capture.FURNITURE_MAX_WORDS
_FURNITURE: ContextVar[frozenset[str]] = ContextVar("furniture", default=frozenset())

# A byline this far down a capture with no partner closes its article rather
# than opening it under the title.
_MIN_LINES_BEFORE_BYLINE = 3
# A line repeating this many consecutive words of an earlier line quotes it, so it is a
# comment: synthetic quotes have 7-14 words, the seed's 8-18. Articles repeat long names
# ("the Democratic Republic of the Congo"), so a line shaped like a paragraph must repeat
# more to count: the seed's long comment quoting the article repeats 18 words.
_QUOTE_WORDS = 7
_PARAGRAPH_QUOTE_WORDS = 12
# Lines searched for a quote at first: a page's, whole; of a capture of a long thread, its first stretch.
_FIRST_QUOTE_LINES = 4_096
# Hard-wrapped text has lines of at most this many characters: text-mode browsers and
# mail wrap at 72-80 columns (the perturbation test at 72, synthetic captures at 60-80).
_WRAP_WIDTH = 100

Role = Literal["title", "subtitle", "byline", "author_bio", "body", "caption", "comment", "boilerplate"]


@dataclass(frozen=True)
class LabeledCapture:
    """A capture with the role of each of its lines and its author, if it names one."""

    capture: Capture
    roles: tuple[Role, ...]
    author: str | None
    has_metadata: bool
    confidence: tuple[float, ...] | None = None  # the probability of each line's role, where a model gave it


@dataclass(frozen=True)
class GroupAlignment:
    """Word runs shared by each pair of captures of a group: `runs[(i, j)]`, i < j, aligns capture j
    (the `a` side of each run) with capture i.

    The later capture first: assembly wants each capture aligned with the article's pivot, the pivot
    second, and the pivot is most often the group's first capture (4,831 alignments of 6,461 that
    assembly wanted at 9,917 synthetic captures were these, and not made again: 3 % of labeling's time).
    """

    runs: dict[tuple[int, int], list[MatchedRun]]

    def covered(self, i: int, j: int, n_tokens: int, partner_mask: np.ndarray | None = None) -> np.ndarray:
        """Tokens of capture i that capture j holds (only where j's tokens are in partner_mask)."""
        a_side = i > j
        runs = self.runs[(j, i) if a_side else (i, j)]
        mask = np.zeros(n_tokens, dtype=bool)
        for run in runs:
            mine, theirs = (run.a_start, run.b_start) if a_side else (run.b_start, run.a_start)
            if partner_mask is None:
                mask[mine : mine + run.size] = True
            else:
                mask[mine : mine + run.size] |= partner_mask[theirs : theirs + run.size]
        return mask


class LabeledGroup(list["LabeledCapture"]):
    """The labeled captures of one article, with the alignment that labeled them: assembly uses it again.

    `coverage` holds, per capture, the share of each line's words another capture of the group holds.
    """

    alignment: GroupAlignment | None = None
    coverage: tuple[np.ndarray, ...] = ()


def _labeled_group(
    labeled: list[LabeledCapture], alignment: GroupAlignment, coverage: Sequence[np.ndarray]
) -> LabeledGroup:
    group = LabeledGroup(labeled)
    group.alignment = alignment
    group.coverage = tuple(coverage)
    return group


def align_group(captures: Sequence[Capture], *, min_run: int) -> GroupAlignment:
    """Align every pair of the group's captures (groups hold a handful)."""
    return GroupAlignment(
        {(i, j): align_tokens(captures[j], captures[i], min_run=min_run)
         for i, j in combinations(range(len(captures)), 2)}
    )  # fmt: skip


def _is_furniture(key: str) -> bool:
    return is_boilerplate(key) or key in _FURNITURE.get()


def site_furniture(captures: Sequence[Capture], groups: Sequence[Sequence[int]]) -> frozenset[str]:
    """Short lines that recur in captures of several articles."""
    articles_with: dict[str, int] = {}
    for members in groups:
        # Found when the capture was decoded, in the decoding task: no line is read again here.
        keys = set().union(*(captures[i].short_keys() for i in members))
        for key in keys:
            articles_with[key] = articles_with.get(key, 0) + 1
    return frozenset(k for k, n in articles_with.items() if n >= FURNITURE_ARTICLES)


def label_all(
    captures: Sequence[Capture],
    groups: Sequence[Sequence[int]],
    cfg: RolesConfig,
    furniture: frozenset[str] | None = None,
) -> list[LabeledGroup]:
    """Roles for every capture of every group, with the run's site furniture known.

    `furniture` is given when the groups are one batch of a run: then it is the whole run's.
    """
    token = _FURNITURE.set(site_furniture(captures, groups) if furniture is None else furniture)
    try:
        return [label_group([captures[i] for i in members], cfg) for members in groups]
    finally:
        _FURNITURE.reset(token)


def label_group(captures: Sequence[Capture], cfg: RolesConfig) -> LabeledGroup:
    """Roles for every line of every capture of one article.

    Captures with a byline after shared text ("metadata captures") fix where the
    body ends; the other captures' body is what they share with that body. Without
    one, the captures are snapshots of a comment page and show where its thread starts.
    """
    alignment = align_group(captures, min_run=cfg.min_run_words)
    n = len(captures)
    coverage = [
        _coverage(captures[i], [alignment.covered(i, j, len(captures[i].tokens)) for j in range(n) if j != i])
        for i in range(n)
    ]
    shared_any = [c >= cfg.shared_coverage for c in coverage]
    bylines = [_find_byline(c) for c in captures]
    meta = [i for i in range(n) if _closes_article(bylines[i], shared_any[i])]
    if not meta:
        return _labeled_group(_label_threads(captures, alignment, shared_any, cfg), alignment, coverage)
    labeled: dict[int, LabeledCapture] = {}
    for i in meta:
        others = [j for j in range(n) if j != i and j not in meta]
        shared_plain = _shared(captures[i], [alignment.covered(i, j, len(captures[i].tokens)) for j in others], cfg)
        byline = bylines[i]
        assert byline is not None  # every metadata capture has one
        labeled[i] = _label_metadata_capture(captures[i], shared_any[i], shared_plain, byline, cfg)
    for i in range(n):
        if i in labeled:
            continue
        masks = [alignment.covered(i, m, len(captures[i].tokens), _role_token_mask(labeled[m], "body")) for m in meta]
        labeled[i] = _label_plain_capture(captures[i], _shared(captures[i], masks, cfg), cfg)
    return _labeled_group([labeled[i] for i in range(n)], alignment, coverage)


def _label_threads(
    captures: Sequence[Capture], alignment: GroupAlignment, shared_any: list[np.ndarray], cfg: RolesConfig
) -> list[LabeledCapture]:
    """No capture closes the article: one finds where its comments start, the others follow it.

    Snapshots of a thread share their body and the earlier snapshot's comments, so
    sharing alone cannot tell the two apart. The capture that shows best where the
    thread starts decides: one with a heading or closing furniture, else the latest
    snapshot (the most comments that no other capture has yet).
    """
    anchor = max(range(len(captures)), key=lambda i: _thread_evidence(captures[i], shared_any[i]))
    labeled = {anchor: _label_plain_capture(captures[anchor], shared_any[anchor], cfg, find_thread=True)}
    body = _role_token_mask(labeled[anchor], "body")
    thread = _role_token_mask(labeled[anchor], "comment")
    for i in range(len(captures)):
        if i != anchor:
            size = len(captures[i].tokens)
            shared = _shared(captures[i], [alignment.covered(i, anchor, size, body)], cfg)
            in_thread = _shared(captures[i], [alignment.covered(i, anchor, size, thread)], cfg)
            labeled[i] = _label_plain_capture(captures[i], shared, cfg, thread=in_thread if thread.any() else None)
    return [labeled[i] for i in range(len(captures))]


def _thread_evidence(capture: Capture, shared: np.ndarray) -> tuple[bool, bool, int, int, str]:
    """How well a capture shows where its thread starts: a heading, closing furniture, new comments.

    New comments are the lines after all it shares: a later snapshot holds the earlier's
    comments and more. Then the longest capture, then any fixed order (input order must not matter).
    """
    tail = int(np.flatnonzero(shared)[-1]) + 1 if shared.any() else len(capture.lines)
    new = sum(not _is_furniture(line.key) for line in capture.lines[tail:])
    heading = _comments_marker(capture) is not None
    closing = _after_closing(capture, int(np.argmax(shared))) is not None
    return heading, closing, new, len(capture.lines), capture.sha256


def _closes_article(byline: tuple[int, str] | None, shared: np.ndarray) -> bool:
    """A byline after shared text, or after a few lines of a capture that shares none, ends the body."""
    if byline is None:
        return False
    before = shared[: byline[0]]
    return bool(before.any()) or (not shared.any() and byline[0] >= _MIN_LINES_BEFORE_BYLINE)


def _coverage(capture: Capture, masks: list[np.ndarray]) -> np.ndarray:
    """Share of each line's words that any of the masks covers."""
    covered = np.zeros(len(capture.tokens), dtype=bool)
    for mask in masks:
        covered |= mask
    return line_coverage(capture, covered)


def _shared(capture: Capture, masks: list[np.ndarray], cfg: RolesConfig) -> np.ndarray:
    return _coverage(capture, masks) >= cfg.shared_coverage


def _role_token_mask(labeled: LabeledCapture, role: Role) -> np.ndarray:
    """Tokens of the capture's lines that have the role."""
    chosen = np.array([r == role for r in labeled.roles], dtype=bool)
    return chosen[np.asarray(labeled.capture.token_line, dtype=np.int64)] if len(chosen) else chosen


def _comments_marker(capture: Capture) -> int | None:
    return next((i for i, line in enumerate(capture.lines) if is_comments_marker(line.key)), None)


def _find_byline(capture: Capture) -> tuple[int, str] | None:
    for index, line in enumerate(capture.lines):
        name = byline_name(line.text)
        if name is not None and index > 0:
            return index, name
    return None


def _label_header(capture: Capture, end: int, roles: list[Role], shared_plain: np.ndarray) -> str | None:
    """Title, then subtitle, among the lines before `end`; returns a byline's name found there."""
    wanted: list[Role] = ["title", "subtitle"]
    author = None
    for index in range(end):
        line = capture.lines[index]
        name = byline_name(line.text)
        if name is not None:
            roles[index], author = "byline", name
        elif _is_furniture(line.key) or not wanted:
            roles[index] = "boilerplate"
        elif _fits(wanted[0], line.text, bool(shared_plain[index])):
            roles[index] = wanted.pop(0)
        else:
            roles[index] = "boilerplate"
    return author


def _fits(role: Role, text: str, shared_with_plain: bool) -> bool:
    """A title is short; a subtitle is short too and not a paragraph another capture has as body."""
    if role == "title":
        return looks_like_title(text)
    return looks_like_subtitle(text) and not shared_with_plain


def _label_metadata_capture(
    capture: Capture, shared: np.ndarray, shared_plain: np.ndarray,
    byline: tuple[int, str], cfg: RolesConfig,
) -> LabeledCapture:  # fmt: skip
    """Header, body up to the byline (captions inside), then byline, bio and comments."""
    at, name = byline
    roles: list[Role] = ["body"] * len(capture.lines)
    header_end = _header_end(capture, at, shared_plain)
    _label_header(capture, header_end, roles, shared_plain)
    # With a thread capture in the group, body is what the thread capture shares: a caption
    # that two metadata captures both have is still a caption.
    evidence = shared_plain if shared_plain[header_end:at].any() else shared
    _label_body(capture, range(header_end, at), evidence, roles, cfg)
    roles[at] = "byline"
    _label_tail(capture, at + 1, roles, author=name)
    return LabeledCapture(capture, tuple(roles), name, True)


def _header_end(capture: Capture, limit: int, shared_plain: np.ndarray) -> int:
    """Index of the first line after title, subtitle and a byline under them."""
    end = 0
    titles = 0
    for index in range(limit):
        line = capture.lines[index]
        if _is_furniture(line.key) or byline_name(line.text) is not None:
            end = index + 1
            continue
        fits = looks_like_title(line.text) if titles == 0 else looks_like_subtitle(line.text)
        if titles >= 2 or not fits or (titles > 0 and shared_plain[index]):
            break
        titles += 1
        end = index + 1
    return end


def _label_body(capture: Capture, span: range, shared: np.ndarray, roles: list[Role], cfg: RolesConfig) -> None:
    """Shared lines are body; a short unshared run between them that reads like a caption is one.

    Without shared lines around it (a lone capture, a paragraph that others lack),
    only a line that names a photo or credit is a caption. A hard-wrapped paragraph
    is body as a whole: one of its lines may end like a caption ("... photo"), or be
    "said." like site furniture.
    """
    wrapped, block = _wrapped_paragraphs(capture, cfg)
    if wrapped.any():  # an edited paragraph is shared when any of its lines is
        shared = shared | (wrapped & (np.bincount(block, weights=shared)[block] > 0))
    shared_at = np.flatnonzero(shared[span.start : span.stop]) + span.start
    for index in span:
        line = capture.lines[index]
        if wrapped[index]:
            roles[index] = "body"
        elif _is_furniture(line.key):
            roles[index] = "boilerplate"
        elif shared[index] or len(shared_at) == 0:
            roles[index] = "caption" if is_credited_caption(line.text, line.key) else "body"
        else:
            slot = int(np.searchsorted(shared_at, index))
            if 0 < slot < len(shared_at):
                gap = shared_at[slot] - shared_at[slot - 1] - 1
                caption = gap <= cfg.max_caption_gap and looks_like_caption(line.text, line.key)
            else:  # before or after everything shared: only a credit shows a caption
                caption = is_credited_caption(line.text, line.key)
            roles[index] = "caption" if caption else "body"


def _wrapped_paragraphs(capture: Capture, cfg: RolesConfig) -> tuple[np.ndarray, np.ndarray]:
    """Lines of hard-wrapped paragraphs, and the block (lines between blank lines) of every line.

    In a capture whose paragraphs stand between blank lines, a block longer than a
    caption with its credit, all of whose lines but the last fit a wrap width, is a
    paragraph (unless all of it is site furniture).
    """
    n, span = len(capture.lines), cfg.max_caption_gap
    nothing = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
    if n <= span or capture.lines[-1].line_no - capture.lines[0].line_no + 1 == n:  # not one blank line
        return nothing
    numbers = np.array([line.line_no for line in capture.lines], dtype=np.int64)
    # Lines `span` apart in the capture and in the file: a block longer than a caption (quick to rule out).
    if not np.any(numbers[span:] - numbers[: n - span] == span) or not capture.blank_separated():
        return nothing
    block = np.cumsum(np.diff(numbers, prepend=-1) > 1) - 1
    sizes = np.bincount(block)
    starts = np.cumsum(sizes) - sizes
    wrapped = np.zeros(len(sizes), dtype=bool)
    for b in np.flatnonzero(sizes > span).tolist():  # the few long blocks
        members = capture.lines[starts[b] : starts[b] + sizes[b]]
        narrow = all(len(line.text) <= _WRAP_WIDTH for line in members[:-1])
        wrapped[b] = narrow and not all(_is_furniture(line.key) for line in members)
    return wrapped[block], block


def _label_tail(capture: Capture, start: int, roles: list[Role], *, author: str | None) -> None:
    """After the article: author bio right after the byline, then comments.

    Learned furniture is not applied here: short comments ("Agreed.") recur across threads.
    """
    for index in range(start, len(capture.lines)):
        line = capture.lines[index]
        if index == start and author is not None and mentions(line.key, author):
            roles[index] = "author_bio"
        elif is_boilerplate(line.key):
            roles[index] = "boilerplate"
        else:
            roles[index] = "comment"


def _label_plain_capture(
    capture: Capture, shared: np.ndarray, cfg: RolesConfig,
    *, find_thread: bool = False, thread: np.ndarray | None = None,
) -> LabeledCapture:  # fmt: skip
    """A capture without closing byline: body is its best run of shared lines, comments follow.

    Comments start at a "12 Comments" heading. Else they start at the first line the
    article's deciding capture has as a comment (`thread`, given when it has any): a
    snapshot holding none of them has no comments yet. Else, when this is that
    capture (`find_thread`), where quotes, closing furniture, comments no other
    capture has and the form of lines show.
    """
    roles: list[Role] = ["body"] * len(capture.lines)
    marker = _comments_marker(capture)
    echoes = Echoes(capture)  # quotes are looked for here, and again in a lone capture
    quote = _first_quote(capture, echoes, after=int(np.argmax(shared))) if find_thread and marker is None else None
    cut = marker if marker is not None else quote
    if cut is not None:  # a heading or a quoting comment ends the article, whatever else is shared
        shared = shared.copy()
        shared[cut:] = False
    span = _best_cluster(capture, shared, cfg.max_caption_gap)
    if span is None:
        return _label_lone_capture(capture, roles, cfg, find_thread=find_thread, echoes=echoes)
    start, end = span
    if marker is not None:  # all before the heading is the article, what others lack too
        end = marker - 1
    elif thread is not None:
        # Up to the deciding capture's first comment: that takes in paragraphs it lacks (it was truncated).
        end = start + int(np.argmax(thread[start + 1 :])) if thread[start + 1 :].any() else len(capture.lines) - 1
    elif find_thread:
        end = _thread_start(capture, start, end) - 1
    line = capture.lines[start]
    if start < end and looks_like_headline(line.text, line.key):
        start += 1  # a headline that other captures have too
    author = _label_header(capture, start, roles, np.zeros(len(capture.lines), dtype=bool))
    _label_body(capture, range(start, end + 1), shared, roles, cfg)
    _label_tail(capture, end + 1, roles, author=None)
    return LabeledCapture(capture, tuple(roles), author, False)


def _form_score(line: Line) -> int:
    """+1 for a comment-shaped line, -1 for article material, 0 for furniture and the undecided."""
    if _is_furniture(line.key):
        return 0
    if is_credited_caption(line.text, line.key):
        return -1
    return comment_form(line.text)


def _first_quote(capture: Capture, echoes: Echoes, *, after: int) -> int | None:
    """The first line after `after` that quotes an earlier line: the thread has begun by then.

    The lines are searched a stretch at a time, each longer than the last: a line's echoes need
    only the lines above it, and the first quote of a long thread comes early.
    """
    first = after + 1
    upto = first
    while upto < len(capture.lines):
        upto = min(len(capture.lines), first + max(_FIRST_QUOTE_LINES, 3 * (upto - after)))
        echoed = np.flatnonzero(echoes.lines(_QUOTE_WORDS, upto)[first:]) + first
        long: np.ndarray | None = None
        for index in echoed.tolist():  # a few lines: the form of the others is never needed
            if _form_score(capture.lines[index]) >= 0:
                return index
            long = echoes.lines(_PARAGRAPH_QUOTE_WORDS, upto) if long is None else long
            if long[index]:
                return index
        first = upto
    return None


def _after_closing(capture: Capture, first: int) -> int | None:
    """The first line after the furniture that closes an article ("Share this article") below line `first`."""
    lines = capture.lines
    closing = next((i for i in range(first + 1, len(lines)) if is_closing_furniture(lines[i].key)), None)
    return None if closing is None else _next_prose(capture, closing + 1)


def _thread_start(capture: Capture, first: int, last: int) -> int:
    """Where the comments start in a capture whose body runs from `first` to `last` at most.

    Sure signs of the thread are lines after closing furniture and lines after `last`
    (comments no other snapshot has yet, or one quoting an earlier line). From the
    first sure sign the thread reaches back over the lines shaped like comments: the
    split that leaves most comment-shaped lines after it and most paragraph-shaped
    ones before it. Without a sure sign, all is article.
    """
    lines = capture.lines
    closed = _after_closing(capture, first)
    sure = min(len(lines) if closed is None else closed, _next_prose(capture, last + 1))
    if sure == len(lines):  # nothing shows a thread: all of it is the article
        return last + 1
    scores = np.array([_form_score(lines[i]) for i in range(first + 1, sure)], dtype=np.int64)
    gains = np.cumsum(scores[::-1])[::-1]  # what starting the thread at each line gains
    best = int(np.argmax(gains)) if len(gains) else 0  # the first best: no paragraph-shaped line opens it
    if not len(gains) or gains[best] <= 0:
        return sure
    return _next_prose(capture, first + 1 + best)  # furniture below the body is no comment


def _next_prose(capture: Capture, start: int) -> int:
    """The first line from `start` on that is no site furniture (or the end)."""
    lines = capture.lines
    return next((i for i in range(start, len(lines)) if not _is_furniture(lines[i].key)), len(lines))


def _best_cluster(capture: Capture, shared: np.ndarray, max_gap: int) -> tuple[int, int] | None:
    """The run of shared lines (gaps of at most max_gap lines, furniture aside) holding the most words."""
    counts = capture.line_word_counts
    best: tuple[int, int] | None = None
    best_words = 0
    start = last = -1
    words = 0
    for index in [*np.flatnonzero(shared).tolist(), None]:
        if index is not None and last >= 0 and (index - last - 1 <= max_gap or _gap(capture, last, index) <= max_gap):
            words += counts[index]
            last = index
            continue
        if last >= 0 and words > best_words:
            best, best_words = (start, last), words
        if index is not None:
            start = last = index
            words = counts[index]
    return best


def _gap(capture: Capture, before: int, after: int) -> int:
    """Lines between two lines, furniture aside (an "Advertisement" does not part a body)."""
    return sum(not _is_furniture(capture.lines[i].key) for i in range(before + 1, after))


def _label_lone_capture(
    capture: Capture, roles: list[Role], cfg: RolesConfig, *, find_thread: bool = False, echoes: Echoes | None = None
) -> LabeledCapture:
    """No partner and no closing byline: title and dek if blank-separated, body up to the comments.

    Comments start at a heading, or (`find_thread`) where quotes, closing furniture
    and the form of lines show them.
    """
    nothing = np.zeros(len(capture.lines), dtype=bool)
    marker = _comments_marker(capture)
    body_end = len(capture.lines) if marker is None else marker
    header_end = 0
    if capture.blank_separated() and body_end > 2:
        header_end = _header_end(capture, body_end, nothing)
    elif body_end > 1:
        first = capture.lines[0]
        header_end = int(looks_like_headline(first.text, first.key))
    author = _label_header(capture, header_end, roles, nothing)
    if marker is None and find_thread and header_end < body_end:
        quote = _first_quote(capture, echoes or Echoes(capture), after=header_end)
        body_end = _thread_start(capture, header_end, (body_end if quote is None else quote) - 1)
    _label_body(capture, range(header_end, body_end), nothing, roles, cfg)
    _label_tail(capture, body_end, roles, author=None)
    return LabeledCapture(capture, tuple(roles), author, False)
