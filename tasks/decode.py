"""The decode-and-split-lines stage: new captures read, decoded to numbered lines, checked against the limits."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.core.config import ReadConfig
from tasks.core.lines import CaptureError, Line, decode_capture, numbered_lines
from tasks.runtime.execution import Sealed, gc_paused, split_evenly

if TYPE_CHECKING:
    from tasks.core.capture import Capture
    from tasks.discover import RawCapture


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
    from tasks.core.ids import source_id_of

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
    from tasks.core.capture import make_capture
    from tasks.core.ids import source_id_of
    from tasks.core.rawstore import GONE as OBJECT_GONE
    from tasks.discover import GONE, check_raw_folder, read_capture, read_raw

    batch = DecodedBatch([], {}, {}, {})
    max_bytes = int(limits.max_capture_mb * 1_000_000)
    for item in raw:
        record, data = item, None
        if item.unread:
            record, data = read_capture(item, max_bytes=max_bytes)
            batch.read[item.uri] = record
            if record.error in (GONE, OBJECT_GONE):
                check_raw_folder(item)  # every file is gone where the raw folder cannot be seen (a worker elsewhere)
            if record.error is not None:
                batch.quarantined[item.uri] = record.error
                continue
        assert record.sha256 is not None
        try:
            check_limits(record.size_bytes, [], limits)
            if data is None:  # hashed at listing: read now, and checked to be what was hashed
                data = read_raw(item.path)  # not blocked by a named pipe put in the file's place
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
    """The batch with its captures' lines written to one shelf file in `shelf_dir` (see tasks/core/shelf.py)."""
    from tasks.core.shelf import write_shelf

    refs = write_shelf(shelf_dir, [c.shelf_entry() for c in batch.captures])
    shelved = [c.shelve(ref) for c, ref in zip(batch.captures, refs, strict=True)]
    return DecodedBatch(shelved, batch.quarantined, batch.duplicate_of, batch.encodings, batch.read)


def check_raw_folders(raw: Sequence[RawCapture]) -> None:
    """Fail where the raw folder the captures were listed in is missing or empty, rather than quarantine them all.

    A Dask worker on a machine that did not see the folder (not there, or not mounted: an
    empty folder) found every capture "disappeared between listing and reading", and the
    run ended well with nothing archived.
    """
    from tasks.core.folders import is_object_store
    from tasks.discover import check_raw_folder

    in_buckets = {item.path.split("/", 3)[2]: item for item in raw if is_object_store(item.path)}
    for item in in_buckets.values():  # one request a bucket: no credentials here would quarantine every object
        check_raw_folder(item)
    local = [item for item in raw if not is_object_store(item.path)]
    roots = {Path(item.path[: -len(item.uri)]) for item in local if item.uri and item.path.endswith(item.uri)}
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
