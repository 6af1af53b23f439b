"""Bytes of a capture to text and numbered lines: decoding's pure part, and the line every stage reads."""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import NamedTuple

import numpy as np

from tasks.core.normalize import keys_of_collapsed, normalize_key

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b")


def _latin1_fallback(err: UnicodeError) -> tuple[str, int]:
    # cp1252 leaves five bytes undefined; those read as Latin-1.
    assert isinstance(err, UnicodeDecodeError)
    return err.object[err.start : err.end].decode("latin-1"), err.end


_LATIN1_FALLBACK = "newsarchive-latin1"
codecs.register_error(_LATIN1_FALLBACK, _latin1_fallback)
# Text has few control characters; binary data read as cp1252 has many. NUL is not counted: it is
# dropped from the text, however many there are (a 4 KB block of them quarantined a good capture).
_MAX_CONTROL_SHARE = 0.05
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f]")
_CONTROL_BYTES = bytes(range(0x01, 0x09)) + bytes(range(0x0E, 0x20))
# UTF-16 without a byte order mark, as text editors tell it: Latin-script text has a NUL byte in
# almost every character, all on one side (odd positions: little-endian). The NULs that UTF-8 text
# holds fall on both sides, and a block of them is left out (units of two NULs are not counted).
_UTF16_SAMPLE_BYTES = 1 << 20
# Units with a NUL on one side, of those not all NUL: 0.997 in the seed as UTF-16, 0.138 in Russian
# news text (its spaces and punctuation), 0.0 in the seed as UTF-8 with a 4 KB block of NULs.
_UTF16_MIN_SHARE = 0.1
_UTF16_MAX_OTHER_SIDE = 0.1  # NULs on the other side, of those on the NUL side: 0.0 in each of those as UTF-16


class CaptureError(ValueError):
    """A capture that cannot be archived; the message is shown in `sources.error`."""


class Line(NamedTuple):
    """A non-blank line of a decoded capture, numbered from 1.

    A named tuple, not a dataclass: building 3 million frozen dataclasses, when a
    100,000-capture run decoded them and each worker received its batch, took 73 of
    its 802 CPU-seconds (py-spy); a tuple is built in C.
    """

    line_no: int
    text: str
    key: str


def decode_capture(data: bytes) -> tuple[str, str]:
    """Return (text, encoding): BOMs first, then UTF-16 by its NUL bytes, then strict UTF-8, then Windows-1252."""
    if any(data.startswith(magic) for magic in _BINARY_MAGIC):
        raise CaptureError("binary data, not text (the file starts like an image or archive)")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding
            except UnicodeDecodeError as err:
                raise CaptureError(f"invalid {encoding} after its byte order mark: {err}") from err
    utf16 = utf16_without_bom(data)
    if utf16 is not None:  # surrogates out of place or an odd last byte become U+FFFD
        text, encoding = data.decode(utf16, errors="replace"), f"{utf16} (no byte order mark)"
        controls = len(_CONTROL.findall(text))
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = _damaged_utf8_or_cp1252(data)
            controls = len(_CONTROL.findall(text))
        else:  # in UTF-8 a control character is its own byte, never inside another character: counted in C
            controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    _reject_binary(text, controls)
    return text, encoding


def utf16_without_bom(data: bytes) -> str | None:
    """The codec, utf-16-le or utf-16-be, when the NUL bytes of the data's start fall as in UTF-16 text."""
    if b"\x00" not in data:
        return None
    sample = data[: min(len(data), _UTF16_SAMPLE_BYTES) & ~1]  # whole units
    units = np.frombuffer(sample, dtype=np.uint8).reshape(-1, 2) == 0
    lone = units[:, 0] != units[:, 1]  # one NUL in the unit, not two
    first, second = int((units[:, 0] & lone).sum()), int((units[:, 1] & lone).sum())
    text_units = len(units) - int((units[:, 0] & units[:, 1]).sum())
    side, other, codec = (second, first, "utf-16-le") if second >= first else (first, second, "utf-16-be")
    if side and side >= _UTF16_MIN_SHARE * text_units and other <= _UTF16_MAX_OTHER_SIDE * side:
        return codec
    return None


def _damaged_utf8_or_cp1252(data: bytes) -> tuple[str, str]:
    """UTF-8 with a few broken bytes keeps its text; anything else reads as Windows-1252."""
    replaced = data.decode("utf-8", errors="replace")
    broken = replaced.count("\ufffd")
    non_ascii = len(replaced) - len(replaced.encode("ascii", errors="ignore"))  # counted in C, not per character
    well_formed = non_ascii - broken
    if well_formed > broken:  # more valid multi-byte characters than invalid bytes: damaged UTF-8
        return replaced, f"utf-8 ({broken} invalid bytes replaced)"
    return data.decode("cp1252", errors=_LATIN1_FALLBACK), "cp1252"


def _reject_binary(text: str, controls: int) -> None:
    characters = len(text) - text.count("\x00")
    if characters and controls / characters > _MAX_CONTROL_SHARE:
        raise CaptureError(f"binary data, not text ({controls} control characters)")


def split_lines(text: str) -> list[str]:
    """Lines of the text; CRLF and CR count as LF, and the text is made NFC."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return text.replace("\x00", "").split("\n")


def numbered_lines(text: str) -> tuple[list[Line], int]:
    """The non-blank lines with their 1-based numbers, and the count of all lines.

    Stored text keeps quotes and case but not runs of white space.
    """
    raw = split_lines(text)
    numbers = [number for number, line in enumerate(raw, start=1) if line and not line.isspace()]
    if not numbers:
        raise CaptureError("no text: the capture is empty or holds only white space")
    texts = collapse_white_space([raw[number - 1] for number in numbers])
    # Keys of the whole capture at once: a third of decoding was calling normalize_key per line.
    keys = [
        normalize_key(raw[number - 1]) if key is None else key
        for number, key in zip(numbers, keys_of_collapsed(texts), strict=True)
    ]
    lines = list(map(Line._make, zip(numbers, texts, keys, strict=True)))
    return lines, len(raw)


def collapse_white_space(lines: list[str]) -> list[str]:
    """Each line with every run of white space one space, and none at its ends: `" ".join(line.split())`.

    Most captures have nothing to collapse, and that is tested on their whole text at
    once: a fifth of decoding was splitting and joining every line again. A printable
    string has no white space but " " (every other kind is a control or a separator).
    """
    # Lines as one text, each LF a space (the lines are not blank: no LF follows another). Then one
    # search for two spaces finds "  ", " LF" and "LF " at once: searching the three took as long
    # as the rest of the check.
    spaced = " ".join(lines)
    if spaced.isprintable() and "  " not in spaced and not spaced.startswith(" ") and not spaced.endswith(" "):
        return lines
    return [" ".join(line.split()) for line in lines]
