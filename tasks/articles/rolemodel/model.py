"""The line-role model: a boosted classifier over line features, then a Viterbi pass over page regions.

The classifier reads each line with its neighbours and its capture; the Viterbi pass then reads
the whole capture as a walk through page regions: above the article, title, article, below it,
comments, footer.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

COARSE = ("title", "body", "supplement", "comment", "boilerplate")
TITLE, BODY, SUPPLEMENT, COMMENT, BOILERPLATE = range(len(COARSE))
COARSE_OF_ROLE = {
    "title": TITLE, "subtitle": SUPPLEMENT, "byline": SUPPLEMENT, "author_bio": SUPPLEMENT,
    "caption": SUPPLEMENT, "body": BODY, "comment": COMMENT, "boilerplate": BOILERPLATE,
}  # fmt: skip
# Page regions, each emitting one coarse class: boilerplate before the article, in it, after it,
# among the comments and below them are different regions of the same class.
REGIONS = ("head", "title", "body", "supplement", "inner", "tail", "comment", "chrome", "foot")
REGION_CLASS = np.array([BOILERPLATE, TITLE, BODY, SUPPLEMENT, BOILERPLATE, BOILERPLATE, COMMENT, BOILERPLATE,
                         BOILERPLATE], dtype=np.int64)  # fmt: skip
HEAD, TITLE_REGION, BODY_REGION, _, INNER, TAIL, REGION_COMMENT, CHROME, FOOT = range(len(REGIONS))
_AFTER_THE_BODY = [BODY_REGION, INNER, TAIL, REGION_COMMENT, CHROME, FOOT]
_NEVER = -500.0  # the log probability of a move no training page makes (before damping)
# A move at most this likely (log) is rare: the shipped walk's usual moves are above -1, its rare ones -50.
_RARE_MOVE = -10.0
ARTICLE_CLASSES = (TITLE, BODY, SUPPLEMENT)
MODEL_FILE = Path(__file__).with_name("line_roles.json.gz")
# A line stops going through trees once one class leads by this raw margin (checked every few rounds): most
# lines are plain menus or prose. On 155,962 synthetic lines it took prediction from about 8 to 3.4 us a line
# with no line's class changed (its probability is then that of the trees read).
_EARLY_STOP_EVERY = 10
_EARLY_STOP_MARGIN = 4.0


@dataclass(frozen=True)
class LineRoleModel:
    """The boosted classifier, the region walk's log probabilities, and the headline chooser (batch.choose_titles)."""

    booster: lgb.Booster
    log_start: npt.NDArray[np.float64]  # per region, damped (see walk_tables)
    log_transition: npt.NDArray[np.float64]  # from region (rows) to region (columns), damped
    meta: dict[str, object]
    title_booster: lgb.Booster | None = None

    def save(self, path: Path) -> None:
        """One gzip'd JSON file: the boosters as LightGBM's text, the walk's tables, how it was trained."""
        body = {
            "booster": self.booster.model_to_string(),
            "title_booster": None if self.title_booster is None else self.title_booster.model_to_string(),
            "log_start": self.log_start.tolist(), "log_transition": self.log_transition.tolist(), "meta": self.meta,
        }  # fmt: skip
        # mtime 0: the same model gives the same bytes.
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as out:
            out.write(json.dumps(body, sort_keys=True).encode())

    @classmethod
    def load(cls, path: Path) -> LineRoleModel:
        body = json.loads(gzip.decompress(path.read_bytes()))
        return cls(
            booster=lgb.Booster(model_str=body["booster"]),
            log_start=np.asarray(body["log_start"]), log_transition=np.asarray(body["log_transition"]),
            meta=body["meta"],
            title_booster=None if body.get("title_booster") is None else lgb.Booster(model_str=body["title_booster"]),
        )  # fmt: skip

    def predict(self, features: np.ndarray, *, threads: int = 1) -> np.ndarray:
        """The probability of each coarse class, per line.

        `threads`: 1 where the batch stages run a process per core; the same probabilities however many.
        """
        if not len(features):
            return np.zeros((0, len(COARSE)))
        return np.asarray(
            self.booster.predict(
                features, num_threads=threads, pred_early_stop=True,
                pred_early_stop_freq=_EARLY_STOP_EVERY, pred_early_stop_margin=_EARLY_STOP_MARGIN,
            )
        )  # fmt: skip


@cache
def shipped_model() -> LineRoleModel:
    """The model file in the repository, loaded once per process."""
    return LineRoleModel.load(MODEL_FILE)


def region_path(coarse: Sequence[int]) -> list[int]:
    """The page region of each line of a capture whose coarse classes are known (to count transitions)."""
    article = [i for i, c in enumerate(coarse) if c in ARTICLE_CLASSES]
    first_article, last_article = (article[0], article[-1]) if article else (len(coarse), -1)
    comments = [i for i, c in enumerate(coarse) if c == COMMENT and i > last_article]
    first_comment, last_comment = (comments[0], comments[-1]) if comments else (len(coarse), -1)
    regions = []
    for i, c in enumerate(coarse):
        if c != BOILERPLATE:
            regions.append({TITLE: 1, BODY: 2, SUPPLEMENT: 3, COMMENT: REGION_COMMENT}[c])
        elif i < first_article:
            regions.append(HEAD)
        elif i < last_article:
            regions.append(INNER)
        elif first_comment < i < last_comment:
            regions.append(CHROME)
        elif i > last_comment >= 0:
            regions.append(FOOT)
        else:
            regions.append(TAIL)
    return regions


# The walk's log probabilities are damped by this factor against the lines' own: at full weight the walk
# overrode right lines (dev, cross-validated by site, with the walk then in use: line accuracy 0.9567 at 1,
# 0.9602 at 0.25, 0.9609 at 0.1).
WALK_WEIGHT = 0.1


def walk_tables(
    paths: Sequence[Sequence[int]], weights: Sequence[float], *, smoothing: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Damped log start and transition probabilities of the regions, counted over weighted region paths.

    Only moves some training page makes are allowed (each smoothed by `smoothing`): the regions come in
    page order, so a walk cannot go back above the article, nor put a headline inside the body, nor go from
    a thread back into the body.
    """
    n = len(REGIONS)
    start = np.zeros(n)
    moves = np.zeros((n, n))
    for path, weight in zip(paths, weights, strict=True):
        if path:
            start[path[0]] += weight
            np.add.at(moves, (path[:-1], path[1:]), weight)
    moves[np.arange(n), np.arange(n)] += 1  # every region may go on
    moves[_AFTER_THE_BODY, TITLE_REGION] = 0  # a page's headline stands above its body
    # Readers write under the article: a thread does not go back into its body. A few short lines inside an
    # article (an exchange quoted line by line, a row of separators) read like a thread and were cut out of it.
    moves[[REGION_COMMENT, CHROME], BODY_REGION] = 0
    start, moves = np.where(start > 0, start + smoothing, 0), np.where(moves > 0, moves + smoothing, 0)
    with np.errstate(divide="ignore"):
        log_start = np.maximum(np.log(start / start.sum()), _NEVER)
        log_moves = np.maximum(np.log(moves / moves.sum(axis=1, keepdims=True)), _NEVER)
    return WALK_WEIGHT * log_start, WALK_WEIGHT * log_moves


_WALK_SLICE = 8_192


def _walk_alone(score: np.ndarray, emit: np.ndarray, log_transition: np.ndarray) -> tuple[np.ndarray, int]:
    """The rest of one capture's walk from `score`: each line's best previous region, and the last region.

    Each step tries the usual moves only; a region that a rare move (one no training page makes)
    could still reach as well or better is tried again with all its moves (only that region: a region
    left far behind, as the body is below a long thread, asked for every move of every region at each
    line). Either way the same sums and the same choices as numpy's argmax over all moves: the first
    of equals wins.
    """
    moves = log_transition.T.tolist()  # moves[to][from]
    usual = [[(i, move) for i, move in enumerate(into) if move > _RARE_MOVE] for into in moves]
    rare = max((move for into in moves for move in into if move <= _RARE_MOVE), default=-math.inf)
    current = score.tolist()
    back = np.zeros(emit.shape, dtype=np.int8)
    # A slice of lines at a time: the Python lists of a whole long capture's steps took 70 MB.
    for first in range(0, len(emit), _WALK_SLICE):
        steps, current = _walk_lines(current, emit[first : first + _WALK_SLICE].tolist(), moves, usual, rare)
        back[first : first + len(steps)] = np.asarray(steps, dtype=np.int8).reshape(-1, emit.shape[1])
    return back, max(range(len(moves)), key=current.__getitem__)


def _walk_lines(
    current: list[float], emit: list[list[float]], moves: list[list[float]], usual: list[list[tuple[int, float]]],
    rare: float,
) -> tuple[list[list[int]], list[float]]:  # fmt: skip
    """_walk_alone's steps over some lines: each line's best previous region, and the scores after the last."""
    back: list[list[int]] = []
    for line in emit:
        best, scores = [], []
        reach = max(current) + rare  # the best a rare move can reach
        for into, every, gain in zip(usual, moves, line, strict=True):
            b, top = -1, -math.inf
            for i, move in into:
                reached = current[i] + move
                if reached > top:
                    b, top = i, reached
            if top <= reach:  # a rare move may win or tie here: every move into this region
                b, top = _best_of_all(current, every)
            best.append(b)
            scores.append(top + gain)
        back.append(best)
        current = scores
    return back, current


def _best_of_all(current: list[float], into: list[float]) -> tuple[int, float]:
    """The best previous region over every move into one region, and its sum: the first of equals wins, as in numpy."""
    b, top = 0, current[0] + into[0]
    for i in range(1, len(into)):
        if current[i] + into[i] > top:
            b, top = i, current[i] + into[i]
    return b, top


def _back_alone(back: np.ndarray, last: int, regions: np.ndarray) -> int:
    """One capture's walk back from its last region, written into `regions`; the region before the first line.

    In plain Python: numpy's calls for each line of a capture of a hundred thousand lines cost seconds.
    """
    state = last
    path = []
    for row in reversed(back.tolist()):
        path.append(state)
        state = row[state]
    regions[: len(path)] = path[::-1]
    return state


def viterbi(
    probabilities: np.ndarray, starts: npt.NDArray[np.int64], model: LineRoleModel, *, floor: float = 1e-6
) -> npt.NDArray[np.int64]:
    """The most likely region walk of every capture at once; the coarse class of each line.

    `starts` holds where each capture's lines begin in `probabilities`, then the total. The
    captures advance together, line by line: a batch costs as many steps as its longest capture.
    """
    emit = np.log(np.maximum(probabilities, floor))[:, REGION_CLASS]
    lengths = np.diff(starts)
    order = np.argsort(-lengths, kind="stable")  # the captures still walking are always the first ones
    begin, lengths = starts[:-1][order], lengths[order]
    back = np.zeros(emit.shape, dtype=np.int8)
    last = np.zeros(len(lengths), dtype=np.int64)
    score = model.log_start + emit[begin]
    steps = int(lengths.max(initial=0))
    for t in range(steps):
        live = int(np.searchsorted(-lengths, -t, side="left"))  # captures longer than t
        if live == 1 and t:  # one capture walks on alone: plain Python steps cost less than numpy's calls
            rest = slice(int(begin[0]) + t, int(begin[0]) + int(lengths[0]))
            back[rest], last[0] = _walk_alone(score[0], emit[rest], model.log_transition)
            break
        if t:
            step = score[:live, :, None] + model.log_transition  # from (rows) to (columns)
            best = step.argmax(axis=1)
            rows = begin[:live] + t
            back[rows] = best
            score = np.take_along_axis(step, best[:, None, :], axis=1)[:, 0, :] + emit[rows]
        ending = np.flatnonzero(lengths[:live] == t + 1)
        last[ending] = score[ending].argmax(axis=1)
    regions = np.zeros(len(emit), dtype=np.int64)
    state = last.copy()
    alone = int(lengths[1]) if len(lengths) > 1 else 0  # from this step on, the longest capture walks alone
    if steps > alone:
        state[0] = _back_alone(back[begin[0] + alone : begin[0] + steps], int(last[0]), regions[begin[0] + alone :])
    for t in range(alone - 1, -1, -1):
        live = int(np.searchsorted(-lengths, -t, side="left"))
        rows = begin[:live] + t
        current = np.where(lengths[:live] == t + 1, last[:live], state[:live])
        regions[rows] = current
        state[:live] = back[rows, current]
    return REGION_CLASS[regions]
