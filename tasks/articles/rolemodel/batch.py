"""The learned model over a batch of labeled articles: the rule labeler's reading in, the model's roles out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl

from tasks.articles.align import line_coverage
from tasks.articles.cues import MAX_HEADLINE_WORDS, byline_name
from tasks.articles.rolemodel.features import FEATURE_NAMES, ROLE_CODES, LineTable, feature_matrix, in_first_person
from tasks.articles.rolemodel.model import (
    ARTICLE_CLASSES,
    BODY,
    BOILERPLATE,
    COARSE,
    COARSE_OF_ROLE,
    COMMENT,
    SUPPLEMENT,
    TITLE,
    LineRoleModel,
    viterbi,
)
from tasks.articles.roles import LabeledCapture, LabeledGroup, Role
from tasks.core.capture import BLANK_SEPARATED_SHARE
from tasks.core.ids import STORED_PREFIX

# Hard-wrapped text has lines of at most this many characters (as tasks/articles/roles.py reads it).
WRAP_WIDTH = 100
# A wrapped line breaks where the next word does not fit: it fills its width but for a word (two thirds
# of 66 columns leave 22 characters for the word).
FULL_LINE = 2 / 3
_BLANK_BEFORE = FEATURE_NAMES.index("blank_before")
_BLANK_SHARE = FEATURE_NAMES.index("blank_share")
_FROM_START = FEATURE_NAMES.index("log_from_start")
_LOG_CHARS = FEATURE_NAMES.index("log_chars")
_SIGNATURE = FEATURE_NAMES.index("signature")
_RULE = FEATURE_NAMES.index("rule")
_CLASS_OF_RULE = np.asarray([COARSE_OF_ROLE[role] for role in ROLE_CODES], dtype=np.int64)
# How much the rules' class is added to the model's probabilities before they are normalized again: 0.2
# keeps the seeds' quoting comments comments when a later copy of their capture comes (0.1 did not), and
# dev's figures cross-validated by site (line accuracy 0.9605 at 0.1, see BENCHMARKS.md at 0.2, 0.9595 at 0.3).
RULES_WEIGHT = 0.2
_MARKER = FEATURE_NAMES.index("comments_marker")
_WORDS = FEATURE_NAMES.index("words")
_ENDS_SENTENCE = FEATURE_NAMES.index("ends_sentence")
_DATED = FEATURE_NAMES.index("dated")
_ENDS_COLON = FEATURE_NAMES.index("ends_colon")
_REPEATS = FEATURE_NAMES.index("repeats")
_DIGIT_SHARE = FEATURE_NAMES.index("digit_share")
_NUMBERED = FEATURE_NAMES.index("numbered")
_STARTS_LOWER = FEATURE_NAMES.index("starts_lower")
_LINK_MARKS = FEATURE_NAMES.index("link_marks")
# A thread's furniture around each comment: a date of at most CHROME_WORDS words with no closing stop; a
# name, `jo wrote:`, a button or a count of at most NAME_WORDS words; a button said this often in the capture.
CHROME_WORDS = 8
NAME_WORDS = 3
BUTTON_REPEATS = 3
# A short line with this many bars or bullets between its words is a row of controls ("Newest | Oldest | Best").
CHROME_BARS = 2
_RUN_LENGTH = FEATURE_NAMES.index("run_length")
# A list of links read as a thread: at least this many link items one under another, each of so many words. The
# hand-written pages' comment F1 (aggregate) and dev cross-validated by site (commit body): runs of 3 found no
# list on either; asking for capitalized words (half of them or more) found fewer lists on the pages.
LINK_LIST_RUN = 2
LINK_ITEM_WORDS = (2, 12)
# A comment form: at least this many fields one under another ("Name:", "E-mail *:", "Website:"); a field alone is
# a reader's `Jo:`. Its fields are looked for this close to a comment line (a form's text stands next to them).
# Dev cross-validated by site (commit body): taking two lines above and below the fields as the form's text, not
# one, found no more.
FORM_FIELDS = 2
FORM_REACH = 3
# A thread needs some evidence: a signature, a heading that is no menu item (a run of at most this many short
# lines), or readers who say "I" (on this share of its lines at least, and on one line of a short thread: the
# seeds' and synthetic threads have it on a fifth or more). Dev cross-validated by site and the synthetic corpus
# (commit bodies): a higher share doubted synthetic threads too; a lower share kept the article read as a
# thread; sparing threads of fewer than 10 (or 2, 3, 4) lines kept lists and forms below articles as threads.
HEADING_RUN = 8
THREAD_FIRST_PERSON = 0.1
# A quotation opening a line (keys have one form of double quotes).
_LEADING_QUOTE = r'^"[^"]*("|$)'
# Reported speech ("he said", "said she"): a line in an article's voice, quoting someone who says "I".
_REPORTED = r"(?-u:\b)(he|she|they) (said|says|added|told)(?-u:\b)|(?-u:\b)(said|says|added|told) (he|she)(?-u:\b)"
# A thread whose unsigned lines end cut short ("...") on at least this share (and on two lines) is a list of
# teasers (a headline, its date, the first words of its story), signed or not: readers finish what they write.
# Dev's threads have it on a seventh of their lines at most; a fourth or a half found the same lists.
TEASER_SHARE = 1 / 3
# How far above a thread's first comment its signature or heading may stand.
THREAD_REACH = 3
# Comment lines more than this many lines apart are two threads, each to show its own evidence: a list of dated
# headlines far below a page's real thread read as a second thread, and the real one's signatures vouched for it.
# Dev cross-validated by site (commit body): 8 to 20 found the same; 30 kept some.
THREAD_GAP = 12
# Lines between two signatures of one thread at most: a comment of a few lines, its name and date.
THREAD_SIGNATURE_GAP = 6
# How far above an untitled article's first body line its headline is looked for, and how likely it must be:
# dev cross-validated by site (title F1 by reach 6/12/30 and floor 0.02 to 0.3, commit body).
TITLE_REACH = 12
TITLE_AT_LEAST = 0.05
_LEADS = [FEATURE_NAMES.index("lead_words"), FEATURE_NAMES.index("main_lead")]
_ROLE_CODE = {role: code for code, role in enumerate(ROLE_CODES)}
# A line whose words another capture of the article holds at least this much among its article
# text is article text (as RolesConfig.shared_coverage counts a line shared).
PARTNER_ARTICLE_SHARE = 0.5
# A name alone on its line, in capitals or not: "JANE DOE", "By JANE DOE", "Jane van Doe".
_BARE_NAME = re.compile(r"^(?:by\s+)?[A-Z][\w.'\u2019\-]+(?:\s+(?:[a-z]{1,3}\s+)?[A-Z][\w.'\u2019\-]+){1,3}$", re.I)
# A name in capitals ("JANE DOE", "BY JANE VAN DOE"): two to four words of capitals, no digits.
_CAPITAL_NAME = r"^(BY\s+)?[A-Z][A-Z.'\u2019\-]+(\s+([A-Z]{1,3}\s+)?[A-Z][A-Z.'\u2019\-]+){1,3}$"
# How likely the model must find a capital name a supplement for it to be the byline (dev cross-validated).
CAPITAL_NAME_AT_LEAST = 0.2
_SUPPLEMENT_ROLES: frozenset[Role] = frozenset(("subtitle", "byline", "author_bio", "caption"))
# The article's classes (title, body, supplement) are the lowest numbers.
assert tuple(range(SUPPLEMENT + 1)) == ARTICLE_CLASSES
# Each class's role, by class number; a supplement line's is decided by fine_roles().
_ROLES: dict[int, Role] = {TITLE: "title", BODY: "body", SUPPLEMENT: "caption", COMMENT: "comment",
                           BOILERPLATE: "boilerplate"}  # fmt: skip
_ROLE_OF_CLASS: tuple[Role, ...] = tuple(_ROLES[c] for c in range(len(COARSE)))


def line_table(groups: Sequence[LabeledGroup], furniture: frozenset[str]) -> LineTable:
    """Every line of the batch's captures, group by group, with the rule labeler's role and the coverage."""
    captures = [lc for group in groups for lc in group]
    sizes = [len(lc.roles) for lc in captures]
    lines = [line for lc in captures for line in lc.capture.lines]
    keys = [line.key for line in lines]
    return LineTable(
        capture=np.repeat(np.arange(len(captures), dtype=np.int64), sizes),
        line_no=np.fromiter((line.line_no for line in lines), dtype=np.int64, count=len(lines)),
        text=[line.text for line in lines],
        key=keys,
        rule=np.fromiter((_ROLE_CODE[r] for lc in captures for r in lc.roles), dtype=np.int64, count=len(lines)),
        coverage=np.concatenate([*(cov for group in groups for cov in group.coverage), np.zeros(0)]),
        furniture=np.fromiter(map(furniture.__contains__, keys), dtype=bool, count=len(lines)),
        partners=np.repeat(np.asarray([len(group) - 1 for group in groups for _ in group], dtype=np.int64), sizes),
        words=np.concatenate([*(lc.capture.line_word_counts for lc in captures), np.zeros(0, dtype=np.int64)]),
    )


def capture_starts(groups: Sequence[LabeledGroup]) -> npt.NDArray[np.int64]:
    """Where each capture's lines begin in the batch's line table, then the number of lines."""
    return np.concatenate([[0], np.cumsum([len(lc.roles) for group in groups for lc in group])]).astype(np.int64)


def batch_features(groups: Sequence[LabeledGroup], furniture: frozenset[str]) -> np.ndarray:
    return feature_matrix(line_table(groups, furniture))


def relabel(
    groups: Sequence[LabeledGroup], furniture: frozenset[str], model: LineRoleModel, *, threads: int = 1
) -> list[LabeledGroup]:
    """The model's roles for every line of the batch's articles, with the probability of each.

    `threads`: how many the model may use (a batch alone in its run may have every core).
    """
    table = line_table(groups, furniture)
    features = feature_matrix(table)
    probabilities = wrapped_as_one(lean_on_rules(model.predict(features, threads=threads), features), features)
    starts = capture_starts(groups)
    walked = viterbi(probabilities, starts, model)
    walked = held_as_article(groups, doubt_unsigned_threads(walked, probabilities, features, table.key, starts, model))
    walked = choose_titles(
        give_a_title(walked, probabilities, features, starts), probabilities, features, starts, model
    )
    walked = whole_wrapped_headlines(walked, features, starts)
    walked = name_under_headline(walked, probabilities, table.text, starts)
    coarse = file_thread_furniture(follow_signatures(walked, features, starts), features, starts)
    coarse = file_comment_forms(file_link_lists(coarse, features, table.key, starts), features, table.key, starts)
    confidence = probabilities[np.arange(len(coarse)), coarse] if len(coarse) else np.zeros(0)
    relabeled: list[LabeledGroup] = []
    k = 0
    for group in groups:
        captures = []
        for lc in group:
            span = slice(starts[k], starts[k + 1])
            # A stand-in for a capture that is gone holds the archive's own facts in their roles: kept as they are.
            stand_in = lc.capture.source_id.startswith(STORED_PREFIX)
            captures.append(lc if stand_in else fine_roles(lc, coarse[span].tolist(), confidence[span].tolist()))
            k += 1
        relabeled.append(_regroup(captures, group))
    return relabeled


def lean_on_rules(probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Where the model hesitates between two classes, the rules' reading tips it: their class gets RULES_WEIGHT more."""
    rule_class = _CLASS_OF_RULE[features[:, _RULE].astype(np.int64)]
    leaned = probabilities.copy()
    leaned[np.arange(len(leaned)), rule_class] += RULES_WEIGHT
    normalized: np.ndarray = leaned / leaned.sum(axis=1, keepdims=True)
    return normalized


def wrapped_as_one(probabilities: np.ndarray, features: np.ndarray) -> np.ndarray:
    """The lines of a hard-wrapped paragraph share one reading: the mean of theirs.

    A wrapped paragraph is a block of lines between blank lines, in a capture that sets its
    paragraphs off so, whose lines but the last fit a wrap width (as the rules read them).
    """
    if not len(probabilities):
        return probabilities
    blocks = _blocks(features)
    mean = np.add.reduceat(probabilities, blocks.starts, axis=0) / blocks.sizes[:, None]
    return np.where(blocks.wrapped[blocks.of_line][:, None], mean[blocks.of_line], probabilities)


def whole_wrapped_headlines(
    coarse: npt.NDArray[np.int64], features: np.ndarray, starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """A hard-wrapped paragraph of a headline's few words whose first line is the title is title on every line.

    Wrapping leaves the end of a headline on a line of its own (a word or two, a name): apart, it reads
    as a caption or a date. The first line must fill the capture's width but for a word (FULL_LINE of
    its widest line that a wrap could make): a short headline over its byline or date, no blank line
    between them, is no wrapped paragraph.
    """
    found = coarse.copy()
    if not len(coarse):
        return found
    blocks = _blocks(features)
    words = np.bincount(blocks.of_line, weights=features[:, _WORDS])
    chars = np.expm1(features[:, _LOG_CHARS])
    capture = np.searchsorted(starts, np.arange(len(coarse)), side="right") - 1
    width = np.zeros(len(starts) - 1)
    np.maximum.at(width, capture, np.where(chars <= WRAP_WIDTH, chars, 0.0))
    full = chars[blocks.starts] >= FULL_LINE * width[capture[blocks.starts]]
    headline = blocks.wrapped & full & (coarse[blocks.starts] == TITLE) & (words <= MAX_HEADLINE_WORDS)
    found[headline[blocks.of_line]] = TITLE
    return found


class _Blocks(NamedTuple):
    """The batch's blocks of lines between blank lines (a capture's first line opens one), and which are wrapped."""

    starts: npt.NDArray[np.int64]
    sizes: npt.NDArray[np.int64]
    of_line: npt.NDArray[np.int64]  # each line's block
    wrapped: npt.NDArray[np.bool_]  # a hard-wrapped paragraph


def _blocks(features: np.ndarray) -> _Blocks:
    """Blocks as wrapped_as_one reads them: wrapped when of several lines, all but the last within the wrap
    width, in a capture that sets its paragraphs off by blank lines."""
    blank_before = features[:, _BLANK_BEFORE] > 0
    starts = np.flatnonzero(blank_before | (features[:, _FROM_START] == 0))
    sizes = np.diff(np.append(starts, len(features)))
    block = np.repeat(np.arange(len(starts)), sizes)
    wide = np.expm1(features[:, _LOG_CHARS]) > WRAP_WIDTH
    last = np.append(starts[1:] - 1, len(features) - 1)  # each block's last line may be short or long
    wide_inside = np.bincount(block, weights=wide) - wide[last]
    wrapped = (sizes > 1) & (wide_inside == 0) & (features[starts, _BLANK_SHARE] >= BLANK_SEPARATED_SHARE)
    return _Blocks(starts, sizes, block, wrapped)


def doubt_unsigned_threads(
    coarse: npt.NDArray[np.int64],
    probabilities: np.ndarray,
    features: np.ndarray,
    keys: list[str],
    starts: npt.NDArray[np.int64],
    model: LineRoleModel,
) -> npt.NDArray[np.int64]:
    """A thread with no signature next to a comment, no heading (a menu's "Comment" item is none) and hardly a
    reader saying "I" (outside a quotation opening the line, on a line reporting no speech) is no thread,
    nor is a thread of teasers (its lines cut short, signed or not): such a capture is walked again with
    comments ruled out on the thread's lines. Comment lines more than THREAD_GAP lines apart are two threads.

    An article under a menu naming a "Comment" section, its subheadings said again and again between its
    paragraphs, reads like a thread line by line; so do a comment form's policy text, an article's last
    paragraphs quoting someone, a few related links below the article, and a list of other stories, each a
    dated headline over its first words, under their "signatures".
    """
    signed = features[:, _SIGNATURE] > 0
    # A signature signs a comment above or below it: one standing among links or teasers signs none.
    comment = coarse == COMMENT
    signing = signed & (comment | np.append(comment[1:], False) | np.insert(comment[:-1], 0, False))
    evidence = signing | ((features[:, _MARKER] > 0) & (np.expm1(features[:, _RUN_LENGTH]) < HEADING_RUN + 0.5))
    # Every capture's comment lines, read at once: a call per capture cost more than the walk.
    lines = np.flatnonzero(comment)
    if not len(lines):
        return coarse.copy()
    capture = np.searchsorted(starts, lines, side="right") - 1
    # A new thread where a capture begins, or after THREAD_GAP lines with no comment.
    firsts = np.flatnonzero((np.diff(capture, prepend=-1) != 0) | (np.diff(lines, prepend=-1) > THREAD_GAP))
    lasts = np.append(firsts[1:], len(lines)) - 1
    thread = np.repeat(np.arange(len(firsts)), lasts - firsts + 1)
    begin = starts[capture[firsts]]
    so_far = np.concatenate([[0], np.cumsum(evidence)])
    shown = so_far[lines[lasts] + 1] > so_far[np.maximum(begin, lines[firsts] - THREAD_REACH)]
    series = pl.Series([keys[i] for i in lines.tolist()], dtype=pl.String)
    unsigned = ~signed[lines]
    cut = (series.str.ends_with("...") | series.str.ends_with("\u2026")).to_numpy().astype(bool)
    teasers = np.bincount(thread, weights=cut & unsigned, minlength=len(firsts))
    plain = np.bincount(thread, weights=unsigned, minlength=len(firsts))
    # Readers' voices are looked for only in threads that show no other evidence.
    asked = ~shown[thread]
    heard = series.filter(pl.Series(asked))
    # The words of a quotation opening a line are someone else's: a reader's "I" is in what follows it. A line
    # opening with a single quote (whose end an apostrophe hides) or reporting speech quotes someone.
    rest = heard.str.replace(_LEADING_QUOTE, "")
    quoted = (rest.str.starts_with("'") | heard.str.contains(_REPORTED)).to_numpy().astype(bool)
    voice = in_first_person(rest) & ~quoted
    voiced = np.bincount(thread[asked], weights=voice, minlength=len(firsts))
    unvoiced = (voiced < THREAD_FIRST_PERSON * (lasts - firsts + 1)) & ~shown
    teasing = (teasers > 1) & (teasers >= TEASER_SHARE * plain)
    doubted_threads = np.flatnonzero(unvoiced | teasing)
    doubted = [(int(starts[k]), int(starts[k + 1])) for k in np.unique(capture[firsts[doubted_threads]]).tolist()]
    found = coarse.copy()
    if doubted:
        # Comments are ruled out from a doubted thread's first line to its last: a thread above it that showed
        # its evidence stays a thread.
        ruled = np.zeros(len(coarse) + 1, dtype=np.int64)
        np.add.at(ruled, lines[firsts[doubted_threads]], 1)
        np.add.at(ruled, lines[lasts[doubted_threads]] + 1, -1)
        rows = np.concatenate([np.arange(a, b) for a, b in doubted])
        again = probabilities[rows].copy()
        # Nor does the walk find a new thread elsewhere in the capture: one that has shown no evidence.
        again[(np.cumsum(ruled)[rows] > 0) | ~comment[rows], COMMENT] = 0.0
        local = np.cumsum([0, *(b - a for a, b in doubted)]).astype(np.int64)
        found[rows] = viterbi(again / again.sum(axis=1, keepdims=True), local, model)
    return found


def give_a_title(
    coarse: npt.NDArray[np.int64], probabilities: np.ndarray, features: np.ndarray, starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """An article has a headline: where the walk found body but no title, the line likeliest to be the title
    among the TITLE_REACH lines above the body's first line (and that line) is the title, if it is at all likely.

    A headline standing under a long menu reads like the menu's items, line by line; the page still has one.
    """
    found = coarse.copy()
    titled = np.concatenate([[0], np.cumsum(coarse == TITLE)])
    bodied = np.concatenate([[0], np.cumsum(coarse == BODY)])
    lacking = (titled[starts[1:]] == titled[starts[:-1]]) & (bodied[starts[1:]] > bodied[starts[:-1]])
    for k in np.flatnonzero(lacking).tolist():
        a, b = int(starts[k]), int(starts[k + 1])
        first_body = a + int(np.argmax(coarse[a:b] == BODY))
        low = max(a, first_body - TITLE_REACH)
        echoed = (features[low : first_body + 1, _LEADS] > 0).any(axis=1)
        if not echoed.any():
            continue
        best = low + int(np.argmax(np.where(echoed, probabilities[low : first_body + 1, TITLE], -1.0)))
        if probabilities[best, TITLE] >= TITLE_AT_LEAST:
            found[best] = TITLE
    return found


def name_under_headline(
    coarse: npt.NDArray[np.int64], probabilities: np.ndarray, texts: Sequence[str], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """A name in capitals alone on its line between the headline and the text is the byline ("JANE DOE"), where
    the model found it at all likely to be a supplement: a page's furniture says its words in capitals too.
    """
    found = coarse.copy()
    asked = np.flatnonzero((coarse == BOILERPLATE) & (probabilities[:, SUPPLEMENT] >= CAPITAL_NAME_AT_LEAST))
    if not len(asked):
        return found
    named = pl.Series([texts[i] for i in asked.tolist()], dtype=pl.String).str.contains(_CAPITAL_NAME).to_numpy()
    lines = asked[named]
    # Under the capture's headline, with no body between them, and over its text: the last title and body lines
    # before each line, and the first body line after it, found for every line at once.
    index = np.arange(len(coarse))
    last_title = np.maximum.accumulate(np.where(coarse == TITLE, index, -1))[lines]
    last_body = np.maximum.accumulate(np.where(coarse == BODY, index, -1))[lines]
    next_body = np.minimum.accumulate(np.where(coarse == BODY, index, len(coarse))[::-1])[::-1][lines]
    capture = np.searchsorted(starts, lines, side="right") - 1
    under = (last_title >= starts[capture]) & (last_body < last_title) & (next_body < starts[capture + 1])
    found[lines[under]] = SUPPLEMENT
    return found


# The headline is looked for among the lines up to this many above the article's first body line (and that line),
# and the lines the walk found title. Dev cross-validated by site (commit body): 30 found the headlines the walk
# had missed under a menu, and lost no title a nearer reach kept.
CHOICE_REACH = 30
# The chooser's score a capture's best candidate needs to be its headline, and the score any other candidate
# needs to be a title line too (a headline in two lines, a headline over its deck).
CHOSEN_AT_LEAST = 0.3
ALSO_TITLE_AT_LEAST = 0.6
# The line's own shape, as the chooser reads it beside the capture's other candidates.
_CHOICE_SHAPE = [
    FEATURE_NAMES.index(name)
    for name in (
        "words", "upper_share", "capital_share", "ends_sentence", "dated", "byline", "link_marks", "main_lead",
        "lead_words", "best_main_lead", "position", "stop_share", "log_chars", "free_lines_to_prose",
        "to_next_prose", "starts_lower", "digit_share", "punct_share", "run_length", "repeats", "furniture",
        "coverage",
    )
]  # fmt: skip
_MAIN_LEAD = FEATURE_NAMES.index("main_lead")
CHOICE_FEATURES = (
    *(FEATURE_NAMES[i] for i in _CHOICE_SHAPE), "to_body", "title_rank", "title_gap", "lead_gap", "class",
    "titles_so_far", *(f"p_{name}" for name in COARSE), "titles", "title_above", "title_below", "class_above",
    "class_below",
)  # fmt: skip


def title_candidates(
    coarse: npt.NDArray[np.int64], probabilities: np.ndarray, features: np.ndarray, starts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], np.ndarray]:
    """The lines that may be a capture's headline, and what the chooser reads of each (CHOICE_FEATURES).

    They are the CHOICE_REACH lines above the first body line (or above the line after the last title) and that
    line, and every line the walk found title; read beside each other: how likely each is the title next to the
    likeliest, how much of the lead it holds next to the line that holds most, how many titles stand above it.
    """
    n_captures = len(starts) - 1
    if not len(coarse):
        return np.zeros(0, dtype=np.int64), np.zeros((0, len(CHOICE_FEATURES)))
    capture_of = np.searchsorted(starts, np.arange(len(coarse)), side="right") - 1
    title, body = coarse == TITLE, coarse == BODY
    first_body = np.full(n_captures, -1, dtype=np.int64)
    at = np.flatnonzero(body)
    first_body[capture_of[at][::-1]] = at[::-1]  # the first body line of each capture wins
    after_title = np.full(n_captures, -1, dtype=np.int64)
    at = np.flatnonzero(title)
    after_title[capture_of[at]] = at + 1  # the last title line of each capture wins
    anchor = np.where(first_body >= 0, first_body, after_title)
    asked = np.flatnonzero(anchor >= 0)  # the captures with a body or a title
    low = np.maximum(starts[asked], anchor[asked] - CHOICE_REACH)
    sizes = np.minimum(anchor[asked] + 1, starts[asked + 1]) - low
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    near = np.repeat(low - offsets, sizes) + np.arange(int(sizes.sum()), dtype=np.int64)
    lines = np.unique(np.concatenate([near, np.flatnonzero(title)])).astype(np.int64)
    if not len(lines):
        return lines, np.zeros((0, len(CHOICE_FEATURES)))
    capture = capture_of[lines]
    first = np.flatnonzero(np.diff(capture, prepend=-1))
    group = np.cumsum(np.diff(capture, prepend=-1) != 0) - 1
    p_title = probabilities[lines, TITLE]
    lead = features[lines, _MAIN_LEAD].astype(np.float64)
    order = np.lexsort((lines, -p_title, group))  # by capture, then the likeliest title first
    rank = np.empty(len(lines), dtype=np.int64)
    rank[order] = np.arange(len(lines)) - np.repeat(first, np.diff(np.append(first, len(lines))))
    titled = title[lines].astype(np.int64)
    so_far = np.cumsum(titled) - np.repeat(
        np.cumsum(titled)[first] - titled[first], np.diff(np.append(first, len(lines)))
    )
    above, below = lines - 1, lines + 1
    has_above, has_below = above >= starts[capture], below < starts[capture + 1]
    above, below = np.clip(above, 0, len(coarse) - 1), np.clip(below, 0, len(coarse) - 1)
    matrix = np.column_stack([
        features[lines][:, _CHOICE_SHAPE],
        anchor[capture] - lines, rank,
        p_title - np.maximum.reduceat(p_title, first)[group], lead - np.maximum.reduceat(lead, first)[group],
        coarse[lines], so_far, probabilities[lines], np.add.reduceat(titled, first)[group],
        np.where(has_above, probabilities[above, TITLE], 0.0), np.where(has_below, probabilities[below, TITLE], 0.0),
        np.where(has_above, coarse[above], -1), np.where(has_below, coarse[below], -1),
    ])  # fmt: skip
    return lines, matrix.astype(np.float64)


def choose_titles_by(
    coarse: npt.NDArray[np.int64],
    probabilities: np.ndarray,
    lines: npt.NDArray[np.int64],
    scores: np.ndarray,
    starts: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Each capture's candidate the chooser scores highest is its headline (if it scores CHOSEN_AT_LEAST), and so is
    any candidate scoring ALSO_TITLE_AT_LEAST; a candidate the walk found title and the chooser did not choose takes
    its likeliest class of the article or boilerplate (a reader's comment stands under the article, not among its
    headline's lines)."""
    found = coarse.copy()
    if not len(lines):
        return found
    capture = np.searchsorted(starts, lines, side="right") - 1
    first = np.flatnonzero(np.diff(capture, prepend=-1))
    group = np.cumsum(np.diff(capture, prepend=-1) != 0) - 1
    order = np.lexsort((lines, -scores, group))
    best = np.zeros(len(lines), dtype=bool)
    best[order[first]] = True
    chosen = (best & (scores >= CHOSEN_AT_LEAST)) | (scores >= ALSO_TITLE_AT_LEAST)
    other = probabilities[lines].copy()
    other[:, [TITLE, COMMENT]] = -1.0
    dropped = (coarse[lines] == TITLE) & ~chosen
    found[lines[dropped]] = other[dropped].argmax(axis=1)
    found[lines[chosen]] = TITLE
    return found


def choose_titles(
    coarse: npt.NDArray[np.int64],
    probabilities: np.ndarray,
    features: np.ndarray,
    starts: npt.NDArray[np.int64],
    model: LineRoleModel,
) -> npt.NDArray[np.int64]:
    """A page has one headline: the chooser reads the lines that may be it beside each other, and picks.

    Line by line, a byline under the headline, a date over it or a deck under it reads like a headline too, and
    a headline far above its text under a menu does not; side by side, the one that holds the lead's words,
    likeliest and nearest above the text, stands out.
    """
    if model.title_booster is None:
        return coarse.copy()
    lines, matrix = title_candidates(coarse, probabilities, features, starts)
    scores = model.title_booster.predict(matrix, num_threads=1) if len(lines) else np.zeros(0)
    return choose_titles_by(coarse, probabilities, lines, np.asarray(scores), starts)


def follow_signatures(
    coarse: npt.NDArray[np.int64], features: np.ndarray, starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """A thread goes on while its comments go on being signed: the lines between two signatures of one
    thread are comments (what follows the last signature is left to the model: a footer may start there).

    The model reads each line with a window around it, and a thread's last comments, near the page's
    footer, can read as the footer; the signatures' rhythm says where the thread really ends.
    """
    found = coarse.copy()
    signed = features[:, _SIGNATURE] > 0
    comments_so_far = np.concatenate([[0], np.cumsum(coarse == COMMENT)])
    for k in np.flatnonzero(comments_so_far[starts[1:]] > comments_so_far[starts[:-1]]):
        a, b = int(starts[k]), int(starts[k + 1])
        mine = found[a:b]
        first = int(np.flatnonzero(mine == COMMENT)[0])
        signatures = np.flatnonzero(signed[a:b])
        signatures = signatures[signatures >= first - 1]
        if len(signatures) < 2 or signatures[0] > first + THREAD_SIGNATURE_GAP:
            continue
        gaps = np.diff(signatures)
        # Signatures one under another are a list of dated links, not a thread: a comment stands between two.
        broken = (gaps < 2) | (gaps > THREAD_SIGNATURE_GAP)
        chained = int(np.argmax(broken)) if np.any(broken) else len(gaps)
        if chained:
            span = mine[int(signatures[0]) : int(signatures[chained]) + 1]
            span[span == BOILERPLATE] = COMMENT
    return found


def file_thread_furniture(
    coarse: npt.NDArray[np.int64], features: np.ndarray, starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """A thread's furniture is no comment: its headings and signatures ("posted by jo | 3 May 2008 10:12"), and
    the short lines around each comment: a date alone ("2 hours ago"), `jo wrote:`,
    buttons said again and again (`Reply`, `Report`), counts (`Recommend 14`, `3 likes`), a name over its date,
    a row of controls (`Sort by: Newest | Oldest`).

    The model reads a thread as one region, its furniture included; the archive keeps only what readers wrote.
    """
    words = features[:, _WORDS]
    short = (words <= CHROME_WORDS) & (features[:, _ENDS_SENTENCE] == 0)
    dated = short & (features[:, _DATED] > 0)
    # A name stands over its comment's date, in the same capture (a short comment under a date is no name).
    last = np.zeros(len(coarse), dtype=bool)
    last[starts[1:][starts[1:] > 0] - 1] = True
    over_date = np.append(dated[1:], False) & ~last
    # A comment may open with its number and whom it answers ("9. Jo,"): that is the reader's own text.
    few = short & (words <= NAME_WORDS) & (features[:, _NUMBERED] == 0)
    chrome = (
        (features[:, _SIGNATURE] > 0) | (features[:, _MARKER] > 0) | dated
        | (few & over_date)
        | (few & (features[:, _ENDS_COLON] > 0))
        | (few & (features[:, _REPEATS] >= BUTTON_REPEATS))
        | (few & (features[:, _DIGIT_SHARE] > 0))
        | (short & (features[:, _LINK_MARKS] >= CHROME_BARS))
    )  # fmt: skip
    return np.where((coarse == COMMENT) & chrome, BOILERPLATE, coarse)


def file_link_lists(
    coarse: npt.NDArray[np.int64], features: np.ndarray, keys: list[str], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """A run of LINK_LIST_RUN comment lines or more, one under another, each a link item, is a list of links (other
    stories, a site's sections), not a thread: readers write sentences, not a column of headlines.

    A link item has LINK_ITEM_WORDS words, no lower-case letter first (a reader may start so, a headline not), no
    closing stop, no number opening it (a numbered comment's `9. Jo,`), no reader's "I", and no open end
    (`Hi Jo,`). A thread's names and dates between its comments are filed as furniture before: two short
    comments of two readers are no run.
    """
    words = features[:, _WORDS]
    item = (
        (coarse == COMMENT) & (words >= LINK_ITEM_WORDS[0]) & (words <= LINK_ITEM_WORDS[1])
        & (features[:, _ENDS_SENTENCE] == 0) & (features[:, _NUMBERED] == 0) & (features[:, _STARTS_LOWER] == 0)
    )  # fmt: skip
    asked = np.flatnonzero(item)
    asked_keys = [keys[i] for i in asked.tolist()]
    # A reader's line may end open, to go on below ("Hi Jo," "as I said:"): a link item does not.
    open_end = np.asarray([k.endswith((",", ":", ";")) for k in asked_keys], dtype=bool)
    item[asked[in_first_person(asked_keys) | open_end]] = False
    if not item.any():
        return coarse.copy()
    first_line = np.zeros(len(coarse), dtype=bool)
    first_line[starts[:-1][starts[:-1] < len(coarse)]] = True
    new_run = np.ones(len(coarse), dtype=bool)
    new_run[1:] = (item[1:] != item[:-1]) | first_line[1:]
    run = np.cumsum(new_run) - 1
    long_run = np.bincount(run)[run] >= LINK_LIST_RUN
    return np.where(item & long_run, BOILERPLATE, coarse)


def file_comment_forms(
    coarse: npt.NDArray[np.int64], features: np.ndarray, keys: list[str], starts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """A comment line next to a comment form's fields is the form's own text, not a reader's: its rules ("Keep it
    short and civil"), its terms ("By sending it you accept ..."), a note that the address is never shown.

    A form is FORM_FIELDS fields or more one under another (a field: a few words ending with a colon, no number
    opening it, as a numbered comment's `2. Jo:` does); the line right above its fields and the line right below
    them are its text. A form below a thread, or alone under an article, reads like a thread's last lines; its
    fields are filed as the thread's furniture, and what stands beside them is filed here.
    """
    comment = coarse == COMMENT
    n = len(coarse)
    if not comment.any():
        return coarse.copy()
    near = comment.copy()
    for step in range(1, FORM_REACH + 1):
        near[step:] |= comment[:-step]
        near[:-step] |= comment[step:]
    asked = np.flatnonzero(near & (features[:, _WORDS] <= NAME_WORDS) & (features[:, _NUMBERED] == 0))
    field = np.zeros(n, dtype=bool)
    # "E-mail *:" and "Email: *" both mark a field to fill in.
    field[asked] = np.asarray([keys[i].rstrip(" *").endswith(":") for i in asked.tolist()], dtype=bool)
    first_line = np.zeros(n, dtype=bool)
    first_line[starts[:-1][starts[:-1] < n]] = True
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (field[1:] != field[:-1]) | first_line[1:]
    run = np.cumsum(new_run) - 1
    form = field & (np.bincount(run)[run] >= FORM_FIELDS)
    beside = form.copy()
    beside[1:] |= form[:-1] & ~first_line[1:]
    beside[:-1] |= form[1:] & ~first_line[1:]
    return np.where(comment & beside, BOILERPLATE, coarse)


def held_as_article(groups: Sequence[LabeledGroup], coarse: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Lines a partner holds among its article text are article text, up to where this capture's thread begins.

    That outweighs a heading or counter above the article ("Comments: 408") that made the whole
    page read as a thread. The thread begins at the first comment line no partner holds as article:
    a later line a partner holds is a comment quoting the article, and stays one.
    """
    found = coarse.copy()
    starts = capture_starts(groups)
    k = 0
    for group in groups:
        if len(group) > 1 and group.alignment is not None:
            span = slice(starts[k], starts[k + len(group)])
            found[span] = _group_held(group, coarse[span])
        k += len(group)
    return found


def _group_held(group: LabeledGroup, coarse: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    assert group.alignment is not None
    offsets = np.concatenate([[0], np.cumsum([len(lc.roles) for lc in group])])
    found = coarse.copy()
    article: dict[int, np.ndarray] = {}
    for i, lc in enumerate(group):
        mine = found[offsets[i] : offsets[i + 1]]
        if not _may_be_held(mine, group.coverage[i]):
            continue
        n_tokens = len(lc.capture.tokens)
        covered = np.zeros(n_tokens, dtype=bool)
        for j in range(len(group)):
            if j != i:
                if j not in article:  # the tokens of capture j's article lines
                    partner = group[j].capture
                    article[j] = (coarse[offsets[j] : offsets[j + 1]] <= SUPPLEMENT)[partner.token_line]
                covered |= group.alignment.covered(i, j, n_tokens, article[j])
        held = line_coverage(lc.capture, covered) >= PARTNER_ARTICLE_SHARE
        thread = np.flatnonzero((mine == COMMENT) & ~held)
        held[thread[0] if len(thread) else len(held) :] = False
        mine[held & (mine > SUPPLEMENT)] = BODY
    return found


def _may_be_held(classes: npt.NDArray[np.int64], coverage: np.ndarray) -> bool:
    """Whether any line could change: one some partner holds (`coverage`, by any of its lines), not read as
    article, before the first comment no partner holds at all. Most captures have none, and are not aligned again."""
    shared = coverage >= PARTNER_ARTICLE_SHARE
    thread = np.flatnonzero((classes == COMMENT) & ~shared)
    end = thread[0] if len(thread) else len(classes)
    return bool(np.any(shared[:end] & (classes[:end] > SUPPLEMENT)))


def _regroup(captures: list[LabeledCapture], like: LabeledGroup) -> LabeledGroup:
    group = LabeledGroup(captures)
    group.alignment, group.coverage = like.alignment, like.coverage
    return group


def fine_roles(ruled: LabeledCapture, coarse: Sequence[int], confidence: Sequence[float]) -> LabeledCapture:
    """Archive roles from the model's classes: a supplement line is what the rules called it, else a byline, a
    standfirst (the subtitle: a sentence right under the title) or a caption."""
    roles: list[Role] = [_ROLE_OF_CLASS[c] for c in coarse]
    author: str | None = None
    lines = ruled.capture.lines
    for index in [i for i, c in enumerate(coarse) if c == SUPPLEMENT]:  # a few lines a capture
        role: Role = ruled.roles[index] if ruled.roles[index] in _SUPPLEMENT_ROLES else "caption"
        if role == "caption" and _is_byline(lines[index].text, roles[:index]):
            role = "byline"
        elif role == "caption" and _under(roles[:index]) == ["title"] and len(lines[index].text.split()) >= 6:
            role = "subtitle"
        roles[index] = role
        if role == "byline" and author is None:
            author = byline_name(lines[index].text) or _bare_name(lines[index].text)
    if author is None and ruled.author is not None and "byline" in roles:
        author = ruled.author
    return LabeledCapture(ruled.capture, tuple(roles), author, ruled.has_metadata, tuple(confidence))


def _under(before: Sequence[Role]) -> list[Role]:
    """The roles of the article's lines above a line, nearest first, up to and including the title (if any)."""
    found: list[Role] = []
    for role in reversed(before):
        if role != "boilerplate":
            found.append(role)
            if role == "title" or len(found) > 2:
                break
    return found


def _is_byline(text: str, before: Sequence[Role]) -> bool:
    """ "By Jane Doe, Reuters", or a name alone on its line right under the title or its standfirst."""
    if byline_name(text) is not None:
        return True
    above = _under(before)
    return bool(above) and above[0] in ("title", "subtitle") and _bare_name(text) is not None


def _bare_name(text: str) -> str | None:
    if _BARE_NAME.match(text) is None:
        return None
    words = text.split()
    if words[0].lower() == "by":
        words = words[1:]
    return " ".join(w.capitalize() if w.isupper() else w for w in words)
