"""Stable string ids from content: the same input gives the same ids on every run."""

from __future__ import annotations

import hashlib

from tasks.core.normalize import normalize_key


def stable_id(*parts: str) -> str:
    """16 hex digits of the sha256 of the parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def source_id_of(uri: str, sha256: str) -> str:
    """The same file with the same content keeps its id."""
    return stable_id("source", uri, sha256)


def article_id_of(first_sha256: str) -> str:
    """An article is named after the smallest sha256 of its first captures."""
    return stable_id("article", first_sha256)


def author_id_of(name: str) -> str:
    return stable_id("author", normalize_key(name))


def comment_id_of(article_id: str, key: str, occurrence: int) -> str:
    """The n-th comment with the same normalized text in a thread gets its own id."""
    return stable_id("comment", article_id, key, str(occurrence))


STORED_PREFIX = "stored-"
