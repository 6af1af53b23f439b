"""The find-site-furniture and label-merge-and-link-articles stages: align and label, merge, link quotes.

Each article depends only on its own captures (and on the run's site furniture,
computed once), so batches of articles run apart: on both cores, or on a Dask cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.articles.assemble import assemble_all
from tasks.articles.quotes import link_article_quotes
from tasks.articles.rolemodel.batch import relabel
from tasks.articles.rolemodel.model import shipped_model
from tasks.articles.roles import LabeledGroup, label_all, site_furniture
from tasks.articles.rows import ArticleRows, ShelvedRows, article_rows
from tasks.core.capture import Capture, keep_words_of, release_words_of
from tasks.core.config import MatchConfig, QuoteConfig, RolesConfig
from tasks.related import articles_anchors
from tasks.runtime.execution import (
    Sealed,
    batch_count,
    cores_for_this_batch,
    gc_paused,
    hand_back_freed_memory,
    large_blocks_from_the_heap,
)


class ArticleBatch:
    """The captures of some articles, and which of them form each article.

    A plain class, not a dataclass or tuple: Prefect and Dask pass it to a task as one
    object instead of walking (or, for Dask, rebuilding) every capture inside it.
    """

    __slots__ = ("captures", "groups")

    def __init__(self, captures: tuple[Capture, ...], groups: tuple[tuple[int, ...], ...]) -> None:
        self.captures = captures
        self.groups = groups  # indices into `captures`


def batch_articles(
    captures: Sequence[Capture], groups: Sequence[Sequence[int]], max_captures: int, *, parts_multiple_of: int = 1
) -> list[ArticleBatch]:
    """Consecutive groups packed into batches of about `max_captures` captures (an article is never split).

    Several batches come as even as whole articles allow, and as many as a multiple of
    `parts_multiple_of` (the workers): no worker is left with a last batch alone.
    """
    total = sum(map(len, groups))
    parts = batch_count(total, max_captures, parts_multiple_of=parts_multiple_of)
    target = -(-total // parts) if parts else max_captures
    batches: list[ArticleBatch] = []
    members: list[Capture] = []
    local: list[tuple[int, ...]] = []
    for group in groups:
        local.append(tuple(range(len(members), len(members) + len(group))))
        members.extend(captures[i] for i in group)
        if len(members) >= target:
            batches.append(ArticleBatch(tuple(members), tuple(local)))
            members, local = [], []
    if local:
        batches.append(ArticleBatch(tuple(members), tuple(local)))
    return batches


def build_batch(
    batch: ArticleBatch, furniture: frozenset[str], roles: RolesConfig, quotes: QuoteConfig, match: MatchConfig,
    stored_article_of: dict[str, str], *, threads: int = 1,
) -> ArticleRows:  # fmt: skip
    """The rows of the batch's articles, with the anchors that will find them again.

    `threads`: how many the model may use (cores_for_this_batch()).
    """
    keep_words_of(batch.captures)  # roles, alignment and assembly ask for them again and again
    try:
        assembled = assemble_all(_labeled(batch, furniture, roles, threads), roles, stored_article_of)
    finally:
        # Freed now, not walked by the cycle collector when gc_paused() ends: the first collection after a
        # pause visits every object made during it that is still alive, every capture's words included.
        # An article keeps the words of its own lines (ArticleKeys), and so quote linking needs no more.
        release_words_of(batch.captures)
    hand_back_freed_memory()  # the labeling's arrays and lists leave the heap in pieces
    with large_blocks_from_the_heap():
        articles = [link_article_quotes(a, quotes) for a in assembled]
        del assembled
    anchors = articles_anchors([a.keys.paragraph_words for a in articles], match)
    return article_rows([replace(a, anchors=found) for a, found in zip(articles, anchors, strict=True)])


def _labeled(batch: ArticleBatch, furniture: frozenset[str], roles: RolesConfig, threads: int) -> list[LabeledGroup]:
    """Every line of the batch's captures in its role: by the rules, then by the model where it is chosen."""
    labeled = label_all(batch.captures, batch.groups, roles, furniture)
    if roles.line_model == "learned":
        hand_back_freed_memory()
        with large_blocks_from_the_heap():
            labeled = relabel(labeled, furniture, shipped_model(), threads=threads)
    return labeled


@task(name="find-site-furniture", cache_policy=NO_CACHE)
def find_site_furniture(captures: list[Capture], groups: list[list[int]]) -> frozenset[str]:
    """Short lines that recur across the run's articles (a site's name, "Story continues below")."""
    furniture = site_furniture(captures, groups)
    get_run_logger().info("%d lines recur in captures of several articles: site furniture", len(furniture))
    return furniture


@task(name="label-merge-and-link-articles", cache_policy=NO_CACHE)
def build_articles(
    batch: ArticleBatch, furniture: frozenset[str], roles: RolesConfig, quotes: QuoteConfig, match: MatchConfig,
    stored_article_of: dict[str, str], shelf_dir: str,
) -> Sealed[ShelvedRows]:  # fmt: skip
    """Give every line of a batch of articles its role, merge each article's captures, link quoting comments.

    The rows are left in the scratch folder `shelf_dir` for the flow to gather (tasks/plan.py).
    """
    with gc_paused():
        rows = build_batch(batch, furniture, roles, quotes, match, stored_article_of, threads=cores_for_this_batch())
    get_run_logger().info(
        "%d articles from %d captures: %d paragraphs, %d comments",
        rows.articles.height, len(batch.captures), rows.paragraphs.height, rows.comments.height,
    )  # fmt: skip
    return Sealed(ShelvedRows(rows, shelf_dir))
