"""The matching key of a line: one form of text for comparison, never stored alone."""

from __future__ import annotations

import re
import unicodedata

# Quote and dash variants folded to one form so captures that differ only in
# typography compare equal (the seeds differ in “ ” vs ").
_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u00b4": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-",
        "\u00a0": " ", "\u200b": "",  "\ufeff": "",
    }
)  # fmt: skip
_WORD = re.compile(r"\w+")


# str.translate looks every character up in the table: 80 % of decoding's key time on
# synthetic captures. Replacing only the few characters present is faster, and gives the
# same key: no replacement is itself replaced.
_FOLD_PAIRS = tuple((chr(code), str(to or "")) for code, to in _FOLD.items())


# The folds that NFKC leaves alone and that give a character, not white space or nothing: curly
# quotes and most dashes. A line whose only non-ASCII characters are these has as its key the
# line with them folded, lowered (see keys_of_collapsed).
_PLAIN_FOLDS = tuple(
    (variant, form) for variant, form in _FOLD_PAIRS
    if not variant.isascii() and form.strip() and unicodedata.normalize("NFKC", variant) == variant
)  # fmt: skip


def keys_of_collapsed(texts: list[str]) -> list[str | None]:
    """normalize_key() of lines whose white space is already collapsed, each line that is ASCII once its
    curly quotes and dashes are folded; None for the others (accents, other scripts: normalize_key them)."""
    folded = "\n".join(texts).replace("`", "'")
    for variant, form in _PLAIN_FOLDS:
        if variant in folded:
            folded = folded.replace(variant, form)
    keys: list[str | None] = list(folded.lower().split("\n"))
    if not folded.isascii():  # lower() would make some letters ASCII (the Kelvin sign): test before it
        for i, line in enumerate(folded.split("\n")):
            if not line.isascii():
                keys[i] = None
    return keys


def normalize_key(text: str) -> str:
    """NFKC, casefold, one form of quotes and dashes, collapsed white space."""
    if text.isascii():  # NFKC changes no ASCII, casefold is lower(), and "`" is the only ASCII to fold
        return " ".join(text.replace("`", "'").lower().split())
    folded = unicodedata.normalize("NFKC", text)
    for variant, form in _FOLD_PAIRS:
        if variant in folded:
            folded = folded.replace(variant, form)
    return " ".join(folded.casefold().split())


def tokenize(key: str) -> list[str]:
    """Words of a key; punctuation is dropped so reflowed text still lines up."""
    return _WORD.findall(key)


# `\w` over ASCII is letters, digits and "_": every other ASCII byte becomes a space,
# except the "\n" that separates keys (never inside one).
_ASCII_NON_WORD_TO_SPACE = bytes(c if chr(c).isalnum() or chr(c) in "_\n" else 32 for c in range(256))


def _ascii_words(keys: list[str]) -> list[str]:
    """Each key with every non-word character a space; "" for a key that is not ASCII."""
    if not keys:
        return []
    joined = "\n".join(key if key.isascii() else "" for key in keys)
    return joined.encode().translate(_ASCII_NON_WORD_TO_SPACE).decode().split("\n")


# From this many lines on, a word that recurs is one string, not a copy per use: the words of a capture of
# 130,000 lines held 100 MB of copies. Below it a dictionary lookup per word costs more than the copies.
SHARED_WORDS_LINES = 20_000


# Lines split at a time when words are shared: the copies of one slice are freed before the next is split, so
# they never pile up (split whole, the copies left the memory they took fragmented and held).
SHARED_WORDS_SLICE = 4_096


def tokenize_lines(keys: list[str]) -> list[tuple[str, ...]]:
    """tokenize() of each key, as tuples. ASCII keys are split at once with a byte table:
    half the time of one regex per line (about 60 lines a capture); the regex is left
    to the few keys that are not ASCII (their quotes and dashes folded, one key in forty in the synthetic corpora)."""
    if len(keys) < SHARED_WORDS_LINES:
        return _split_keys(keys)
    one: dict[str, str] = {}
    words: list[tuple[str, ...]] = []
    for first in range(0, len(keys), SHARED_WORDS_SLICE):
        split = _split_keys(keys[first : first + SHARED_WORDS_SLICE])
        words += [tuple(map(one.setdefault, line, line)) for line in split]
    return words


def _split_keys(keys: list[str]) -> list[tuple[str, ...]]:
    words = [tuple(line.split()) for line in _ascii_words(keys)]
    for i, key in enumerate(keys):
        if not key.isascii():
            words[i] = tuple(_WORD.findall(key))
    return words


def at_most_words(keys: list[str], limit: int) -> list[bool]:
    """For each key, whether tokenize() finds at most `limit` words in it (without tokenizing what it need not)."""
    longer = re.compile(rf"(?:\W*\w+\b){{{limit + 1}}}")  # `\b` keeps a run whole; compiled once, then cached
    return [
        len(spaced.split(None, limit)) <= limit if key.isascii() else not longer.match(key)
        for key, spaced in zip(keys, _ascii_words(keys), strict=True)
    ]
