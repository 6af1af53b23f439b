"""What a single line looks like on its own: bylines, boilerplate, captions, titles."""

from __future__ import annotations

import re

from tasks.core.normalize import normalize_key

# "Author: Dave DeCamp", "By Jane Doe, Reuters": a prefix, then a capitalized name
# of one to four words. "By promising to finish the war..." is no byline.
BYLINE = re.compile(
    r"^(?i:by|author|authors|written by|posted by|words by|reporting by)\s*[:\-\u2013\u2014]?\s*"
    r"(?P<name>[A-Z][\w.'\u2019\-]*(?:\s+[A-Z][\w.'\u2019\-]*){0,3})\s*(?:[,|\u00b7\u2022].*)?$"
)
# Site furniture, matched on the normalized key. A copyright line has its sign or a year:
# a reader's "Copyright law says..." is no furniture.
BOILERPLATE = re.compile(
    r"^(advertisement|sponsored|share( this( article| story)?)?:?|read more:?.*|subscribe( now)?"
    r"|related( articles| stories)?:?|sign up for .*newsletter.*|click here.*|follow us.*"
    r"|©.*|(\(c\)|copyright)( ©| \(c\))? (19|20)\d\d\b.*|.*all rights reserved\.?|print|email|tweet"
    r"|story continues (below|after) (the )?(advertisement|ad)|get our .*newsletter.*|support independent .*"
    r"|(subscribe|sign up) (to|for) .*|(read|see) (also|more):? .*)$"
)
# Furniture below an article, never inside it: share and follow buttons, subscription
# pleas, print and email links ("Advertisement" or "Recommended" interrupt the body).
CLOSING = re.compile(
    r"^(share( this( article| story)?)?:?|subscribe( now)?|(subscribe|sign up) (to|for) .*|sign up for .*newsletter.*"
    r"|follow us.*|get our .*newsletter.*|support independent .*|print|email|tweet"
    r"|©.*|(\(c\)|copyright)( ©| \(c\))? (19|20)\d\d\b.*|.*all rights reserved\.?)$"
)
# Lines that open a page's comment thread; what follows them is comments.
COMMENTS_MARKER = re.compile(
    r"^(\d+ )?(comments?|responses?|replies|reader comments|leave a (reply|comment)"
    r"|join the discussion|show comments|discussion)( \(\d+\))?:?$"
)
CAPTION_HINT = re.compile(r"\b(photo|photograph|image|picture|credit|getty|reuters|afp|ap photo|file photo)\b")
# A caption's closing credit: "(AP)", "(Photo: Staff photo)", "(official White House photo)".
_CREDIT = re.compile(r"\([^()]{2,40}\)$")
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]?$|[\"\u201d]$")
# Both match only the last characters of a line (`$` may stand before a final newline, hence
# one more): searching those alone spares scanning the line whole.
_SENTENCE_END_CHARS = 3
_CREDIT_CHARS = 43
_OPEN_ENDED = ("?", "!", "...", "\u2026")

MAX_BYLINE_CHARS = 120
MAX_TITLE_CHARS = 200  # headlines of the seeds and common sites are under 120
MAX_SUBTITLE_CHARS = 300
# Furniture is a few words ("Share this article", "Sign up for our newsletter"); a longer
# line that starts "Read more ..." or "Follow us ..." is someone's sentence.
MAX_BOILERPLATE_CHARS = 80
# A headline above the body has at most this many words (the seed's has 13, synthetic ones 4-12).
MAX_HEADLINE_WORDS = 20
# Reader comments are shorter than article paragraphs: the seed's body paragraphs have
# 21-58 words, half of its comments (and about half of synthetic ones) fewer than 20.
SHORT_COMMENT_WORDS = 20
# Paragraphs of 30+ words ending in a full stop read as article prose: every synthetic
# paragraph has 30-80 words, three in four synthetic comments fewer than 30.
PARAGRAPH_WORDS = 30


def byline_name(text: str) -> str | None:
    """The author's name if the line is a byline."""
    if len(text) > MAX_BYLINE_CHARS:
        return None
    match = BYLINE.match(text)
    return match.group("name").strip() if match else None


def is_boilerplate(key: str) -> bool:
    """Site furniture such as "Advertisement" or "Share this"."""
    if len(key) > MAX_BOILERPLATE_CHARS:
        return False
    return bool(BOILERPLATE.match(key)) or is_comments_marker(key)


def is_closing_furniture(key: str) -> bool:
    """Furniture that stands below an article: "Share this article", "Subscribe now", "Print"."""
    return len(key) <= MAX_BOILERPLATE_CHARS and bool(CLOSING.match(key))


def is_comments_marker(key: str) -> bool:
    """A heading such as "Comments" or "12 Comments" that opens the thread."""
    return bool(COMMENTS_MARKER.match(key))


def ends_sentence(text: str) -> bool:
    """Ends with a full stop, question or exclamation mark (a closing quote or parenthesis may follow)."""
    return _SENTENCE_END.search(text[-_SENTENCE_END_CHARS:]) is not None


def looks_like_caption(text: str, key: str) -> bool:
    """A photo caption: names a photo or credit, or does not end like a sentence."""
    return not ends_sentence(text) or bool(CAPTION_HINT.search(key))


def is_credited_caption(text: str, key: str) -> bool:
    """A caption even when several captures have it: names a photo or ends with a credit, and is no sentence."""
    if ends_sentence(text):  # most lines, and the cheapest test
        return False
    return bool(_CREDIT.search(text[-_CREDIT_CHARS:]) or CAPTION_HINT.search(key))


def looks_like_headline(text: str, key: str) -> bool:
    """A line above the body that is no paragraph: short, and no sentence (nor a photo caption)."""
    return (
        len(text.split()) <= MAX_HEADLINE_WORDS
        and looks_like_title(text)
        and not ends_sentence(text)
        and not is_credited_caption(text, key)
    )


def comment_form(text: str) -> int:
    """+1 for a line shaped like a reader comment, -1 for one shaped like article prose, 0 when unsure.

    Comments are short, may start in lower case and end in a question, an exclamation
    or nothing at all; paragraphs are long sentences that end in a full stop.
    """
    n_words = len(text.split())
    closed = ends_sentence(text) and not text.endswith(_OPEN_ENDED)
    if n_words < SHORT_COMMENT_WORDS or text[:1].islower() or not closed:
        return 1
    return -1 if n_words >= PARAGRAPH_WORDS else 0


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
