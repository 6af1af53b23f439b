"""Stage 4b: the role of every line of the captures of one article."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.align import MatchedRun, align_tokens, line_coverage
from tasks.capture import Capture
from tasks.config import RolesConfig
from tasks.layout import (
    CAPTION_HINT,
    byline_name,
    is_boilerplate,
    is_comments_marker,
    is_credited_caption,
    looks_like_caption,
    looks_like_subtitle,
    looks_like_title,
    mentions,
)

# Short lines found in captures of this many different articles of one run are
# site furniture ("Story continues below", a site's name), whatever the regex knows.
FURNITURE_ARTICLES = 3
FURNITURE_MAX_WORDS = 8
_FURNITURE: ContextVar[frozenset[str]] = ContextVar("furniture", default=frozenset())

# A byline this far down a capture with no partner closes its article rather
# than opening it under the title.
_MIN_LINES_BEFORE_BYLINE = 3

Role = Literal["title", "subtitle", "byline", "author_bio", "body", "caption", "comment", "boilerplate"]


@dataclass(frozen=True)
class LabeledCapture:
    """A capture with the role of each of its lines and its author, if it names one."""

    capture: Capture
    roles: tuple[Role, ...]
    author: str | None
    has_metadata: bool


@dataclass(frozen=True)
class GroupAlignment:
    """Word runs shared by each pair of captures of a group (i < j)."""

    runs: dict[tuple[int, int], list[MatchedRun]]

    def covered(self, i: int, j: int, n_tokens: int, partner_mask: np.ndarray | None = None) -> np.ndarray:
        """Tokens of capture i that capture j holds (only where j's tokens are in partner_mask)."""
        a_side = i < j
        runs = self.runs[(i, j) if a_side else (j, i)]
        mask = np.zeros(n_tokens, dtype=bool)
        for run in runs:
            mine, theirs = (run.a_start, run.b_start) if a_side else (run.b_start, run.a_start)
            if partner_mask is None:
                mask[mine : mine + run.size] = True
            else:
                mask[mine : mine + run.size] |= partner_mask[theirs : theirs + run.size]
        return mask


def align_group(captures: Sequence[Capture], *, min_run: int) -> GroupAlignment:
    """Align every pair of the group's captures (groups hold a handful)."""
    return GroupAlignment(
        {(i, j): align_tokens(captures[i], captures[j], min_run=min_run)
         for i, j in combinations(range(len(captures)), 2)}
    )  # fmt: skip


def _is_furniture(key: str) -> bool:
    return is_boilerplate(key) or key in _FURNITURE.get()


def site_furniture(captures: Sequence[Capture], groups: Sequence[Sequence[int]]) -> frozenset[str]:
    """Short lines that recur in captures of several articles."""
    articles_with: dict[str, int] = {}
    for members in groups:
        keys = {
            line.key
            for i in members
            for line, n in zip(captures[i].lines, captures[i].line_token_counts(), strict=True)
            if n <= FURNITURE_MAX_WORDS
        }
        for key in keys:
            articles_with[key] = articles_with.get(key, 0) + 1
    return frozenset(k for k, n in articles_with.items() if n >= FURNITURE_ARTICLES)


def label_all(
    captures: Sequence[Capture], groups: Sequence[Sequence[int]], cfg: RolesConfig
) -> list[list[LabeledCapture]]:
    """Roles for every capture of every group, with the run's site furniture known."""
    token = _FURNITURE.set(site_furniture(captures, groups))
    try:
        return [label_group([captures[i] for i in members], cfg) for members in groups]
    finally:
        _FURNITURE.reset(token)


def label_group(captures: Sequence[Capture], cfg: RolesConfig) -> list[LabeledCapture]:
    """Roles for every line of every capture of one article.

    Captures with a byline after shared text ("metadata captures") fix where the
    body ends; the other captures' body is what they share with that body.
    """
    alignment = align_group(captures, min_run=cfg.min_run_words)
    n = len(captures)
    shared_any = [
        _shared(captures[i], [alignment.covered(i, j, len(captures[i].tokens)) for j in range(n) if j != i], cfg)
        for i in range(n)
    ]
    bylines = [_find_byline(c) for c in captures]
    meta = [i for i in range(n) if _closes_article(bylines[i], shared_any[i])]
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
        if meta:
            masks = [alignment.covered(i, m, len(captures[i].tokens), _body_token_mask(labeled[m])) for m in meta]
            shared = _shared(captures[i], masks, cfg)
        else:
            shared = shared_any[i]
        labeled[i] = _label_plain_capture(captures[i], shared, cfg)
    return [labeled[i] for i in range(n)]


def _closes_article(byline: tuple[int, str] | None, shared: np.ndarray) -> bool:
    """A byline after shared text, or after a few lines of a capture that shares none, ends the body."""
    if byline is None:
        return False
    before = shared[: byline[0]]
    return bool(before.any()) or (not shared.any() and byline[0] >= _MIN_LINES_BEFORE_BYLINE)


def _shared(capture: Capture, masks: list[np.ndarray], cfg: RolesConfig) -> np.ndarray:
    covered = np.zeros(len(capture.tokens), dtype=bool)
    for mask in masks:
        covered |= mask
    return line_coverage(capture, covered) >= cfg.shared_coverage


def _body_token_mask(labeled: LabeledCapture) -> np.ndarray:
    body = np.array([role == "body" for role in labeled.roles], dtype=bool)
    return body[np.asarray(labeled.capture.token_line, dtype=np.int64)] if len(body) else body


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

    Without any shared line (a lone capture), only lines that name a photo or
    credit are captions.
    """
    shared_at = np.flatnonzero(shared[span.start : span.stop]) + span.start
    for index in span:
        line = capture.lines[index]
        if _is_furniture(line.key):
            roles[index] = "boilerplate"
        elif shared[index]:
            roles[index] = "caption" if is_credited_caption(line.text, line.key) else "body"
        elif len(shared_at) == 0:
            roles[index] = "caption" if CAPTION_HINT.search(line.key) else "body"
        else:
            slot = int(np.searchsorted(shared_at, index))
            inside = 0 < slot < len(shared_at)
            gap = shared_at[slot] - shared_at[slot - 1] - 1 if inside else cfg.max_caption_gap + 1
            caption = gap <= cfg.max_caption_gap and looks_like_caption(line.text, line.key)
            roles[index] = "caption" if caption else "body"


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


def _label_plain_capture(capture: Capture, shared: np.ndarray, cfg: RolesConfig) -> LabeledCapture:
    """A capture without closing byline: body is its best run of shared lines, comments follow."""
    roles: list[Role] = ["body"] * len(capture.lines)
    marker = next((i for i, line in enumerate(capture.lines) if is_comments_marker(line.key)), None)
    if marker is not None:  # a "12 Comments" heading ends the article, whatever else is shared
        shared = shared.copy()
        shared[marker:] = False
    span = _best_cluster(capture, shared, cfg.max_caption_gap)
    if span is None:
        return _label_lone_capture(capture, roles, cfg)
    start, end = span
    author = _label_header(capture, start, roles, np.zeros(len(capture.lines), dtype=bool))
    _label_body(capture, range(start, end + 1), shared, roles, cfg)
    _label_tail(capture, end + 1, roles, author=None)
    return LabeledCapture(capture, tuple(roles), author, False)


def _best_cluster(capture: Capture, shared: np.ndarray, max_gap: int) -> tuple[int, int] | None:
    """The run of shared lines (gaps of at most max_gap) holding the most words."""
    counts = capture.line_token_counts()
    best: tuple[int, int] | None = None
    best_words = 0
    start = last = -1
    words = 0
    for index in [*np.flatnonzero(shared).tolist(), None]:
        if index is not None and last >= 0 and index - last - 1 <= max_gap:
            words += counts[index]
            last = index
            continue
        if last >= 0 and words > best_words:
            best, best_words = (start, last), words
        if index is not None:
            start = last = index
            words = counts[index]
    return best


def _label_lone_capture(capture: Capture, roles: list[Role], cfg: RolesConfig) -> LabeledCapture:
    """No partner and no closing byline: title and dek if blank-separated, body up to a comments heading."""
    nothing = np.zeros(len(capture.lines), dtype=bool)
    marker = next((i for i, line in enumerate(capture.lines) if is_comments_marker(line.key)), None)
    body_end = len(capture.lines) if marker is None else marker
    header_end = 0
    author = None
    if capture.blank_separated() and body_end > 2:
        header_end = _header_end(capture, body_end, nothing)
        author = _label_header(capture, header_end, roles, nothing)
    _label_body(capture, range(header_end, body_end), nothing, roles, cfg)
    _label_tail(capture, body_end, roles, author=None)
    return LabeledCapture(capture, tuple(roles), author, False)


@task(name="align-and-label-lines", cache_policy=NO_CACHE)
def label_articles(captures: list[Capture], groups: list[list[int]], cfg: RolesConfig) -> list[list[LabeledCapture]]:
    """Align the captures of each article and give every line its role."""
    labeled = label_all(captures, groups, cfg)
    lines = sum(len(lc.roles) for group in labeled for lc in group)
    get_run_logger().info("labeled %d lines of %d articles", lines, len(labeled))
    return labeled
