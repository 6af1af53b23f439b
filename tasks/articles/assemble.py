"""One article from its labeled captures, each fact once, with the lineage of every line."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from tasks.articles.align import MatchedRun, align_tokens, line_coverage
from tasks.articles.roles import GroupAlignment, LabeledCapture, Role
from tasks.core.config import RolesConfig
from tasks.core.ids import article_id_of, comment_id_of


class Unit(NamedTuple):
    """A stretch of lines of one capture with one role: a paragraph, or a single line.

    Named tuples, this and the rows below: an article batch builds one per line, and a
    tuple is built in C (a frozen dataclass sets each field through object.__setattr__).
    """

    source_id: str
    line_start: int
    line_end: int
    role: Role
    text: str
    key: str
    first: int  # index of its first line in the capture
    last: int
    confidence: float | None  # the mean probability of its lines' role (None: the rules labeled them)


class SegmentRow(NamedTuple):
    source_id: str
    line_start: int
    line_end: int
    role: Role
    score: float | None
    duplicate: bool
    confidence: float | None


def segment_of(unit: Unit, score: float | None = None, *, duplicate: bool = False) -> SegmentRow:
    """The lineage row of a unit, with its confidence as it is (`segments` rounds it, all at once)."""
    return SegmentRow(unit.source_id, unit.line_start, unit.line_end, unit.role, score, duplicate, unit.confidence)


class CommentRow(NamedTuple):
    comment_no: int
    comment_id: str
    text: str
    quotes_paragraph_no: int | None
    quotes_comment_id: str | None


@dataclass(frozen=True)
class Article:
    """Everything the archive stores about one article."""

    article_id: str
    title: str | None
    subtitle: str | None
    author: str | None
    author_bio: str | None
    paragraphs: tuple[str, ...]
    captions: tuple[tuple[int | None, str], ...]  # (after_paragraph_no, text)
    comments: tuple[CommentRow, ...]
    segments: tuple[SegmentRow, ...]
    source_ids: tuple[str, ...]
    keys: ArticleKeys  # for quote linking and anchors; never stored
    anchors: tuple[str, ...] = ()  # the index entries that find it again (tasks/related.py)


class ArticleKeys(NamedTuple):
    """The matching keys of an article's paragraphs and comments, with their words.

    Kept from its captures' lines, not derived again from the texts: quote linking
    and anchors would otherwise normalize and tokenize every paragraph and comment twice more.
    """

    paragraph_keys: tuple[str, ...]
    paragraph_words: tuple[tuple[str, ...], ...]
    comment_keys: tuple[str, ...]
    comment_words: tuple[tuple[str, ...], ...]


def units_of(labeled: LabeledCapture) -> list[Unit]:
    """Body lines of a blank-separated capture with no blank between them are one paragraph."""
    capture, roles, confidence = labeled.capture, labeled.roles, labeled.confidence
    source_id = capture.source_id
    wrapped_body = capture.blank_separated([i for i, r in enumerate(roles) if r == "body"])
    units: list[Unit] = []
    follows_body = False  # the line before was body, and the last unit ends with it
    for index, (line, role) in enumerate(zip(capture.lines, roles, strict=True)):
        line_no = line.line_no
        if follows_body and role == "body" and wrapped_body and units[-1].line_end + 1 == line_no:
            prev = units[-1]
            units[-1] = Unit(
                source_id, prev.line_start, line_no, role, f"{prev.text} {line.text}", f"{prev.key} {line.key}",
                prev.first, index, _mean_of(confidence, prev.first, index),
            )  # fmt: skip
        else:
            units.append(Unit(
                source_id, line_no, line_no, role, line.text, line.key, index, index,
                None if confidence is None else confidence[index],
            ))  # fmt: skip
        follows_body = role == "body"
    return units


def _mean_of(confidence: tuple[float, ...] | None, first: int, last: int) -> float | None:
    return None if confidence is None else sum(confidence[first : last + 1]) / (last - first + 1)


def choose_pivot(group: Sequence[LabeledCapture]) -> int:
    """The capture whose body is stored: metadata first, then the most body words."""

    def weight(i: int) -> tuple[bool, int]:
        lc = group[i]
        counts = lc.capture.line_word_counts.tolist()
        return lc.has_metadata, sum(c for c, r in zip(counts, lc.roles, strict=True) if r == "body")

    return max(range(len(group)), key=weight)


def assemble_article(
    group: Sequence[LabeledCapture], roles_cfg: RolesConfig, *, stored_ids: Sequence[str] = ()
) -> Article:
    """Merge the captures of one article: the pivot's body, then what only others add.

    An article already stored keeps its id (the smallest, if a capture joined several).
    """
    article_id = min(stored_ids) if stored_ids else article_id_of(min(lc.capture.sha256 for lc in group))
    pivot = choose_pivot(group)
    order = [pivot, *[i for i in range(len(group)) if i != pivot]]
    units = {i: units_of(group[i]) for i in order}
    segments: list[SegmentRow] = []
    paragraphs = _merge_paragraphs(group, order, units, roles_cfg, segments)
    singles = _merge_single_facts(group, order, units, segments)
    captions = _merge_captions(order, units, paragraphs, segments)
    comment_units = _merge_comments(order, units, segments)
    comments = _comment_rows(article_id, comment_units)
    capture_of = {lc.capture.source_id: lc.capture for lc in group}
    keys = ArticleKeys(
        tuple(key for _, key, _ in paragraphs.texts), tuple(words for _, _, words in paragraphs.texts),
        tuple(u.key for u in comment_units),
        tuple(capture_of[u.source_id].words_of_lines(u.first, u.last) for u in comment_units),
    )  # fmt: skip
    return Article(
        article_id=article_id,
        title=singles.get("title"),
        subtitle=singles.get("subtitle"),
        author=next((lc.author for lc in (group[i] for i in order) if lc.author), None),
        author_bio=singles.get("author_bio"),
        paragraphs=tuple(text for text, _, _ in paragraphs.texts),
        captions=tuple(captions),
        comments=tuple(comments),
        segments=tuple(sorted(segments, key=lambda s: (s.source_id, s.line_start))),
        source_ids=tuple(group[i].capture.source_id for i in order),
        keys=keys,
    )


@dataclass
class _Paragraphs:
    texts: list[tuple[str, str, tuple[str, ...]]]  # (text, key, words) in reading order
    where: dict[tuple[str, int], int]  # (source_id, unit first line index) -> paragraph slot


def _merge_paragraphs(
    group: Sequence[LabeledCapture], order: list[int], units: dict[int, list[Unit]],
    cfg: RolesConfig, segments: list[SegmentRow],
) -> _Paragraphs:  # fmt: skip
    """The pivot's paragraphs; another capture's body unit the pivot lacks is inserted in order."""
    pivot = order[0]
    pivot_cap = group[pivot].capture
    slots: list[tuple[float, str, str, tuple[str, ...]]] = []  # (position, text, key, words)
    where: dict[tuple[str, int], float] = {}
    for unit in units[pivot]:
        if unit.role == "body":
            where[(unit.source_id, unit.first)] = float(len(slots))
            slots.append((float(len(slots)), unit.text, unit.key, pivot_cap.words_of_lines(unit.first, unit.last)))
            segments.append(segment_of(unit))
    pivot_body = np.array([r == "body" for r in group[pivot].roles], dtype=bool)
    pivot_line_slot = _line_slots(group[pivot], units[pivot], where)
    for i in order[1:]:
        cap = group[i].capture
        runs = _runs_against_pivot(group, i, pivot, cfg.min_run_words)
        pivot_tokens = np.asarray(pivot_cap.token_line, dtype=np.int64)
        held = np.zeros(len(cap.tokens), dtype=bool)
        slot_of_token = np.full(len(cap.tokens), -1.0)
        for run in runs:
            theirs = pivot_tokens[run.b_start : run.b_start + run.size]
            held[run.a_start : run.a_start + run.size] = pivot_body[theirs]
            slot_of_token[run.a_start : run.a_start + run.size] = pivot_line_slot[theirs]
        coverage = line_coverage(cap, held)
        last_slot = -1.0
        # A line's words are consecutive in token order: a unit's words are one slice.
        word_start = np.searchsorted(cap.token_line, np.arange(len(cap.lines) + 1)).tolist()
        for unit in units[i]:
            if unit.role != "body":
                continue
            # A lone line's share as it is; a wrapped paragraph's mean (sum / count is what mean() does).
            if unit.first == unit.last:
                score = float(coverage[unit.first])
            else:
                score = float(coverage[unit.first : unit.last + 1].sum()) / (unit.last - unit.first + 1)
            if score >= cfg.shared_coverage:
                mapped = slot_of_token[word_start[unit.first] : word_start[unit.last + 1]]
                mapped = mapped[mapped >= 0]
                last_slot = float(mapped.max()) if len(mapped) else last_slot
                where[(unit.source_id, unit.first)] = last_slot
                segments.append(segment_of(unit, round(100 * score, 1), duplicate=True))
            else:
                last_slot += 1e-3  # after the last shared paragraph, before the next
                where[(unit.source_id, unit.first)] = last_slot
                slots.append((last_slot, unit.text, unit.key, cap.words_of_lines(unit.first, unit.last)))
                segments.append(segment_of(unit))
    ordered = sorted(slots, key=lambda s: s[0])
    positions = [position for position, _, _, _ in ordered]
    # The paragraph at each place, or the last one before it (-1: none); equal places give the last.
    final_where = {k: bisect_right(positions, v) - 1 for k, v in where.items()}
    return _Paragraphs([(t, k, w) for _, t, k, w in ordered], final_where)


def _runs_against_pivot(group: Sequence[LabeledCapture], i: int, pivot: int, min_run: int) -> list[MatchedRun]:
    """Word runs capture i shares with the pivot: labeling's alignment of the two when it has i first
    (when i comes after the pivot in the group, see GroupAlignment).

    Not the other way round: an alignment of (pivot, i) pairs equal words differently where
    several pairings tie, and mirrored it kept a reflowed paragraph twice (1 article in 3,456).
    """
    alignment: GroupAlignment | None = getattr(group, "alignment", None)
    if alignment is not None and i > pivot:
        return alignment.runs[(pivot, i)]
    return align_tokens(group[i].capture, group[pivot].capture, min_run=min_run)


def _line_slots(labeled: LabeledCapture, units: list[Unit], where: dict[tuple[str, int], float]) -> np.ndarray:
    slots = np.full(len(labeled.capture.lines), -1.0)
    for unit in units:
        if (unit.source_id, unit.first) in where:
            slots[unit.first : unit.last + 1] = where[(unit.source_id, unit.first)]
    return slots


_SINGLE_ROLES: tuple[Role, ...] = ("title", "subtitle", "byline", "author_bio")


def _merge_single_facts(
    group: Sequence[LabeledCapture], order: list[int], units: dict[int, list[Unit]],
    segments: list[SegmentRow],
) -> dict[str, str]:  # fmt: skip
    """Title, subtitle, byline and bio: the first capture's copy is stored, later ones are duplicates."""
    stored: dict[str, Unit] = {}
    for i in order:
        for unit in units[i]:
            if unit.role not in _SINGLE_ROLES and unit.role != "boilerplate":
                continue
            if unit.role == "boilerplate":
                segments.append(segment_of(unit))
            elif unit.role in stored:
                segments.append(segment_of(unit, float(fuzz.ratio(unit.key, stored[unit.role].key)), duplicate=True))
            else:
                stored[unit.role] = unit
                segments.append(segment_of(unit))
    return {role: unit.text for role, unit in stored.items()}


# A caption another capture already gave scores this much or more against it.
_SAME_CAPTION = 90.0


def _merge_captions(
    order: list[int], units: dict[int, list[Unit]], paragraphs: _Paragraphs,
    segments: list[SegmentRow],
) -> list[tuple[int | None, str]]:  # fmt: skip
    """Captions in reading order, each placed after the paragraph that precedes it."""
    stored: list[tuple[int | None, str, str]] = []
    for i in order:
        last_paragraph: int | None = None
        for unit in units[i]:
            if unit.role == "body":
                no = paragraphs.where.get((unit.source_id, unit.first), -1)
                last_paragraph = no if no >= 0 else None
            if unit.role != "caption":
                continue
            scores = [fuzz.ratio(unit.key, key) for _, _, key in stored]
            best = max(scores, default=0.0)
            duplicate = best >= _SAME_CAPTION
            if not duplicate:
                stored.append((last_paragraph, unit.text, unit.key))
            segments.append(segment_of(unit, float(best) if duplicate else None, duplicate=duplicate))
    return [(after, text) for after, text, _ in sorted(stored, key=lambda c: (c[0] is not None, c[0] or 0))]


def align_sequences(base: Sequence[str], other: Sequence[str]) -> list[int | None]:
    """For each item of `other`, the index of the equal item of `base` in an order-preserving alignment."""
    mapped: list[int | None] = [None] * len(other)
    for op in Indel.opcodes(list(base), list(other)):
        if op.tag == "equal":
            for k in range(op.src_end - op.src_start):
                mapped[op.dest_start + k] = op.src_start + k
    return mapped


def _merge_comments(order: list[int], units: dict[int, list[Unit]], segments: list[SegmentRow]) -> list[Unit]:
    """The thread: the fullest capture's comments, with comments only others have put in order."""
    threads = {i: [u for u in units[i] if u.role == "comment"] for i in order}
    base = max(order, key=lambda i: (len(threads[i]), -order.index(i)))
    merged: list[tuple[float, Unit]] = [(float(k), u) for k, u in enumerate(threads[base])]
    segments.extend(segment_of(u) for u in threads[base])
    for i in order:
        if i == base:
            continue
        mapped = align_sequences([u.key for u in threads[base]], [u.key for u in threads[i]])
        position = -1.0
        for unit, match in zip(threads[i], mapped, strict=True):
            if match is not None:
                position = float(match)
                segments.append(segment_of(unit, 100.0, duplicate=True))
            else:
                position += 1e-3
                merged.append((position, unit))
                segments.append(segment_of(unit))
    return [u for _, u in sorted(merged, key=lambda m: m[0])]


def _comment_rows(article_id: str, comments: list[Unit]) -> list[CommentRow]:
    """Comment ids from content; quotes are linked by the next stage."""
    seen: dict[str, int] = {}
    rows = []
    for no, unit in enumerate(comments):
        seen[unit.key] = seen.get(unit.key, -1) + 1
        rows.append(CommentRow(no, comment_id_of(article_id, unit.key, seen[unit.key]), unit.text, None, None))
    return rows


def assemble_all(
    groups: Sequence[Sequence[LabeledCapture]], cfg: RolesConfig, stored_article_of: dict[str, str]
) -> list[Article]:
    """Every group's article; a group holding captures of stored articles keeps the smallest stored id."""
    return [
        assemble_article(
            group, cfg,
            stored_ids=sorted({stored_article_of[lc.capture.source_id] for lc in group
                               if lc.capture.source_id in stored_article_of}),
        )
        for group in groups
    ]  # fmt: skip
