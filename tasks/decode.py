"""Stage 2: bytes of a capture to text and numbered lines."""

from __future__ import annotations

import codecs
import hashlib
import re
import socket
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.config import ReadConfig
from tasks.execution import Sealed, gc_paused, split_evenly
from tasks.normalize import keys_of_collapsed, normalize_key

if TYPE_CHECKING:
    from tasks.capture import Capture
    from tasks.discover import RawCapture

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
    # search for two spaces finds "  ", " LF" and "LF " at once: searching the three took 0.17 s of
    # 9,917 captures, as long as the rest of the check.
    spaced = " ".join(lines)
    if spaced.isprintable() and "  " not in spaced and not spaced.startswith(" ") and not spaced.endswith(" "):
        return lines
    return [" ".join(line.split()) for line in lines]


@dataclass(frozen=True)
class DecodedBatch:
    """Captures ready to group, and what became of the others."""

    captures: list[Capture]
    quarantined: dict[str, str]  # uri -> reason
    duplicate_of: dict[str, str]  # uri -> source_id of the capture with the same sha256
    encodings: dict[str, str]  # uri -> encoding
    read: dict[str, RawCapture] = field(default_factory=dict)  # uri -> record of a file listed unread, now read


def check_limits(size_bytes: int, lines: Sequence[Line], limits: ReadConfig) -> None:
    """Quarantine what is too big to be a page capture, saying which limit and how to raise it."""
    if size_bytes > limits.max_capture_mb * 1_000_000:
        raise CaptureError(
            f"capture of {size_bytes / 1e6:.1f} MB is larger than the limit of {limits.max_capture_mb:g} MB "
            "(read.max_capture_mb)"
        )
    longest = max((len(line.text) for line in lines), default=0)
    if longest > limits.max_line_chars:
        raise CaptureError(
            f"a line of {longest:,} characters is longer than the limit of {limits.max_line_chars:,} "
            "(read.max_line_chars): not a page capture"
        )


def settle_before_reading(
    raw: Sequence[RawCapture], archived: Mapping[str, str] | None = None
) -> tuple[list[RawCapture], DecodedBatch]:
    """The captures to decode, and what is known without decoding: unreadable files, archived texts.

    `archived` maps the sha256 of captures an earlier run archived to their source_id. A
    file hashed at listing (a known name that changed) whose text was archived is not read
    again. Duplicates within the run are settled once every file is read (settle_after_reading).
    """
    settled = DecodedBatch([], {}, {}, {})
    to_decode = []
    for item in raw:
        if item.error is not None:
            settled.quarantined[item.uri] = item.error
        elif item.sha256 is not None and archived and item.sha256 in archived:
            settled.duplicate_of[item.uri] = archived[item.sha256]
        else:
            to_decode.append(item)
    return to_decode, settled


def settle_after_reading(
    raw: Sequence[RawCapture], decoded: DecodedBatch, archived: Mapping[str, str] | None = None
) -> tuple[list[RawCapture], DecodedBatch]:
    """Every file's record as read, and the batch with identical files settled: the first one (in listing
    order) is the capture, the others its duplicates, so batches decoded apart never store one text twice.

    A text an earlier run archived is a duplicate of that capture.
    """
    from tasks.ids import source_id_of

    records = [decoded.read.get(item.uri, item) for item in raw]
    first_with: dict[str, str] = dict(archived or {})
    duplicate_of = dict(decoded.duplicate_of)
    quarantined = dict(decoded.quarantined)
    for item in records:
        if item.sha256 is None or item.uri in decoded.duplicate_of:  # unreadable, or settled before reading
            continue
        if item.sha256 in first_with:
            duplicate_of[item.uri] = first_with[item.sha256]
            quarantined.pop(item.uri, None)
        else:
            first_with[item.sha256] = source_id_of(item.uri, item.sha256)
    captures = [c for c in decoded.captures if c.uri not in duplicate_of]
    encodings = {uri: e for uri, e in decoded.encodings.items() if uri not in duplicate_of}
    return records, DecodedBatch(captures, quarantined, duplicate_of, encodings)


class ReadingBatch:
    """Captures one task decodes (a plain class: Prefect and Dask pass it whole, see ArticleBatch)."""

    __slots__ = ("captures",)

    def __init__(self, captures: list[RawCapture]) -> None:
        self.captures = captures


def reading_batches(
    raw: Sequence[RawCapture], archived: Mapping[str, str], size: int, *, workers: int = 1
) -> tuple[list[ReadingBatch], DecodedBatch]:
    """Batches of at most `size` captures to decode (as many per worker), and the files settled without decoding."""
    to_decode, settled = settle_before_reading(raw, archived)
    return [ReadingBatch(part) for part in split_evenly(to_decode, size, parts_multiple_of=workers)], settled


def decode_new(raw: Sequence[RawCapture], limits: ReadConfig) -> DecodedBatch:
    """Read, hash and decode captures known to be readable; quarantine what turns out not to be text.

    A file listed unread is read once, and hashed as it is read; its record is in `read`.
    """
    from tasks.capture import make_capture
    from tasks.discover import GONE, check_raw_folder, read_capture, read_regular
    from tasks.ids import source_id_of

    batch = DecodedBatch([], {}, {}, {})
    max_bytes = int(limits.max_capture_mb * 1_000_000)
    for item in raw:
        record, data = item, None
        if item.unread:
            record, data = read_capture(item, max_bytes=max_bytes)
            batch.read[item.uri] = record
            if record.error == GONE:
                check_raw_folder(item)  # every file is gone where the raw folder cannot be seen (a worker elsewhere)
            if record.error is not None:
                batch.quarantined[item.uri] = record.error
                continue
        assert record.sha256 is not None
        try:
            check_limits(record.size_bytes, [], limits)
            if data is None:  # hashed at listing: read now, and checked to be what was hashed
                data = read_regular(item.path)  # not blocked by a named pipe put in the file's place
                if hashlib.sha256(data).hexdigest() != record.sha256:
                    raise CaptureError("the file changed while it was being read; it will be read on the next run")
            text, encoding = decode_capture(data)
            lines, n_lines = numbered_lines(text)
            check_limits(record.size_bytes, lines, limits)
        except CaptureError as err:
            batch.quarantined[item.uri] = str(err)
            continue
        except OSError as err:
            batch.quarantined[item.uri] = f"cannot read the file: {err.strerror or err}"
            continue
        batch.encodings[item.uri] = encoding
        batch.captures.append(
            make_capture(source_id_of(item.uri, record.sha256), item.uri, record.sha256, lines, n_lines)
        )
    return batch


def merge_decoded(parts: Sequence[DecodedBatch]) -> DecodedBatch:
    """One batch from several, in order."""
    merged = DecodedBatch([], {}, {}, {})
    for part in parts:
        merged.captures.extend(part.captures)
        merged.quarantined.update(part.quarantined)
        merged.duplicate_of.update(part.duplicate_of)
        merged.encodings.update(part.encodings)
        merged.read.update(part.read)
    return merged


def decode_batch(
    raw: Sequence[RawCapture], archived: Mapping[str, str] | None = None, limits: ReadConfig | None = None
) -> DecodedBatch:
    """Decode each readable capture once; an identical file under another name is a duplicate."""
    return read_all(raw, archived, limits)[1]


def read_all(
    raw: Sequence[RawCapture], archived: Mapping[str, str] | None = None, limits: ReadConfig | None = None
) -> tuple[list[RawCapture], DecodedBatch]:
    """decode_batch() in one go, with every file's record as read."""
    to_decode, settled = settle_before_reading(raw, archived)
    return settle_after_reading(raw, merge_decoded([settled, decode_new(to_decode, limits or ReadConfig())]), archived)


def shelve_decoded(batch: DecodedBatch, shelf_dir: str) -> DecodedBatch:
    """The batch with its captures' lines written to one shelf file in `shelf_dir` (see tasks/shelf.py)."""
    from tasks.shelf import write_shelf

    refs = write_shelf(shelf_dir, [c.shelf_entry() for c in batch.captures])
    shelved = [c.shelve(ref) for c, ref in zip(batch.captures, refs, strict=True)]
    return DecodedBatch(shelved, batch.quarantined, batch.duplicate_of, batch.encodings, batch.read)


def check_raw_folders(raw: Sequence[RawCapture]) -> None:
    """Fail where the raw folder the captures were listed in is missing or empty, rather than quarantine them all.

    A Dask worker on a machine that did not see the folder (not there, or not mounted: an
    empty folder) found every capture "disappeared between listing and reading", and the
    run ended well with nothing archived.
    """
    roots = {Path(item.path[: -len(item.uri)]) for item in raw if item.uri and item.path.endswith(item.uri)}
    for root in sorted(roots):
        if not root.is_dir() or next(root.iterdir(), None) is None:
            host = socket.gethostname()
            raise FileNotFoundError(f"{host} does not see the raw folder {root}: missing or empty there")


@task(name="decode-and-split-lines", cache_policy=NO_CACHE)
def decode_captures(batch: ReadingBatch, limits: ReadConfig, shelf_dir: str) -> Sealed[DecodedBatch]:
    """Read, hash and decode a batch of captures to numbered lines with matching keys; quarantine what cannot be read.

    The lines go to a shelf file; the flow process receives light captures that read them back when needed.
    """
    check_raw_folders(batch.captures)
    with gc_paused():
        decoded = shelve_decoded(decode_new(batch.captures, limits), shelf_dir)
    get_run_logger().info(
        "decoded %d captures (%d lines); %d quarantined",
        len(decoded.captures), sum(len(c.line_numbers) for c in decoded.captures), len(decoded.quarantined),
    )  # fmt: skip
    return Sealed(decoded)
