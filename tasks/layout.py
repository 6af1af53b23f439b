"""What a single line looks like on its own: bylines, boilerplate, captions, titles."""

from __future__ import annotations

import re

from tasks.normalize import normalize_key

# "Author: Dave DeCamp", "By Jane Doe, Reuters": a prefix, then a capitalized name
# of one to four words. "By promising to finish the war..." is no byline.
BYLINE = re.compile(
    r"^(?i:by|author|authors|written by|posted by|words by|reporting by)\s*[:\-\u2013\u2014]?\s*"
    r"(?P<name>[A-Z][\w.'\u2019\-]*(?:\s+[A-Z][\w.'\u2019\-]*){0,3})\s*(?:[,|\u00b7\u2022].*)?$"
)
# Site furniture, matched on the normalized key.
BOILERPLATE = re.compile(
    r"^(advertisement|sponsored|share( this( article| story)?)?:?|read more:?.*|subscribe( now)?"
    r"|related( articles| stories)?:?|sign up for .*newsletter.*|click here.*|follow us.*"
    r"|(©|\(c\)|copyright) .*|all rights reserved\.?|print|email|tweet"
    r"|story continues (below|after) (the )?(advertisement|ad)|get our .*newsletter.*|support independent .*"
    r"|(subscribe|sign up) (to|for) .*|(read|see) (also|more):? .*)$"
)
# Lines that open a page's comment thread; what follows them is comments.
COMMENTS_MARKER = re.compile(
    r"^(\d+ )?(comments?|responses?|replies|reader comments|leave a (reply|comment)"
    r"|join the discussion|show comments|discussion)( \(\d+\))?:?$"
)
CAPTION_HINT = re.compile(r"\b(photo|photograph|image|picture|credit|getty|reuters|afp|ap photo|file photo)\b")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]?$|[\"\u201d]$")

MAX_BYLINE_CHARS = 120
MAX_TITLE_CHARS = 200  # headlines of the seeds and common sites are under 120
MAX_SUBTITLE_CHARS = 300


def byline_name(text: str) -> str | None:
    """The author's name if the line is a byline."""
    if len(text) > MAX_BYLINE_CHARS:
        return None
    match = BYLINE.match(text)
    return match.group("name").strip() if match else None


def is_boilerplate(key: str) -> bool:
    """Site furniture such as "Advertisement" or "Share this"."""
    return bool(BOILERPLATE.match(key)) or is_comments_marker(key)


def is_comments_marker(key: str) -> bool:
    """A heading such as "Comments" or "12 Comments" that opens the thread."""
    return bool(COMMENTS_MARKER.match(key))


def looks_like_caption(text: str, key: str) -> bool:
    """A photo caption: names a photo or credit, or does not end like a sentence."""
    return bool(CAPTION_HINT.search(key)) or not _SENTENCE_END.search(text)


def is_credited_caption(text: str, key: str) -> bool:
    """A caption even when several captures have it: names a photo or agency and is no sentence."""
    return bool(CAPTION_HINT.search(key)) and not _SENTENCE_END.search(text)


def looks_like_title(text: str) -> bool:
    """Short enough to be a headline."""
    return len(text) <= MAX_TITLE_CHARS and not text.endswith(".")


def looks_like_subtitle(text: str) -> bool:
    """Short enough to be a dek."""
    return len(text) <= MAX_SUBTITLE_CHARS


def mentions(key: str, name: str) -> bool:
    """True when the key names the person (by surname)."""
    surname = normalize_key(name).split()[-1]
    return surname in key
