"""Where decoded lines, and the rows of article batches, wait between stages: files in the archive's scratch folder.

A decoding task writes the lines of its batch to one shelf file and hands on only
light captures (names, hashes, line numbers, where their lines lie). The flow process
and the article tasks read lines back when they need them, so no process holds the
text of a whole run: in a 100,000-capture run it was 2.8 GB of the flow process's 5.8.

A capture's lines are stored as UTF-8: its keys joined by LF, then its texts joined by
LF. Neither holds an LF (captures are split on it, keys collapse white space), so
splitting gives them back, about four times faster than unpickling them; and grouping,
which needs only the keys, reads and splits only those (in polars).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.ipc

SCRATCH = ".scratch"  # in the archive's folder; only the run holding the archive's lock uses it
_ENCODING, _ERRORS = "utf-8", "surrogatepass"  # text decoded with a fallback may hold lone surrogates


class ShelfRef(NamedTuple):
    """Where one capture's lines lie: a shelf file, a byte range in it, and how much of it is keys."""

    path: str
    offset: int
    length: int
    keys_length: int


def pack(texts: Sequence[str], keys: Sequence[str]) -> tuple[bytes, int]:
    """One capture's lines as shelf bytes, and how many of them are its keys."""
    keys_part = "\n".join(keys).encode(_ENCODING, _ERRORS)
    return keys_part + "\n".join(texts).encode(_ENCODING, _ERRORS), len(keys_part)


def unpack(data: bytes, keys_length: int, n: int) -> tuple[list[str], list[str]]:
    """Texts and keys of a capture of `n` non-blank lines, from its shelf bytes."""
    texts = data[keys_length:].decode(_ENCODING, _ERRORS).split("\n")
    keys = data[:keys_length].decode(_ENCODING, _ERRORS).split("\n")
    if len(texts) != n or len(keys) != n:
        raise ValueError(f"a shelf entry holds {len(texts)} texts and {len(keys)} keys where {n} were written")
    return texts, keys


def write_shelf(folder: str, entries: Sequence[tuple[bytes, int]]) -> list[ShelfRef]:
    """Write the entries (from `pack`) to a new shelf file in `folder`; where each lies."""
    path = str(Path(folder) / f"lines-{uuid.uuid4().hex}.shelf")
    refs, offset = [], 0
    for entry, keys_length in entries:
        refs.append(ShelfRef(path, offset, len(entry), keys_length))
        offset += len(entry)
    with Path(path).open("wb") as out:
        out.write(b"".join(entry for entry, _ in entries))
    return refs


def shelve_frames(folder: str, frames: Mapping[str, pl.DataFrame]) -> dict[str, str]:
    """Write each frame to an Arrow IPC file of its own in `folder`; the file of each name."""
    stem = uuid.uuid4().hex
    files = {name: str(Path(folder) / f"rows-{stem}-{name}.arrow") for name in frames}
    for name, frame in frames.items():
        frame.write_ipc(files[name], compression="uncompressed")  # read back once, at once: no use compressing
    return files


def read_frame(path: str) -> pl.DataFrame:
    """A frame shelve_frames() wrote, memory-mapped rather than copied: its buffers are the file's pages.

    The mapping outlives the file's handle, and its name (the scratch folder may go
    meanwhile). Gathering the rows of 100,187 captures' article batches took 0.66 s copied.
    """
    with pa.memory_map(path) as source:
        frame = pl.from_arrow(pa.ipc.open_file(source).read_all(), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame


# Entries closer than this in a shelf file are read in one call (the bytes between them read for nothing).
_READ_GAP = 1 << 16


def read_entries(refs: Sequence[ShelfRef], *, keys_only: bool = False) -> list[bytes]:
    """The bytes of each ref (or of its keys only), in order; each file is opened once.

    Entries near one another are read together. An article batch wants a few captures
    from every shelf file: reading from its first entry to its last, as this once did,
    read every shelf whole for each batch (10 s of a 100,000-capture run).
    """
    found: list[bytes] = [b""] * len(refs)
    by_path: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        by_path.setdefault(ref.path, []).append(i)
    for path, indices in by_path.items():
        indices.sort(key=lambda i: refs[i].offset)
        sizes = {i: refs[i].keys_length if keys_only else refs[i].length for i in indices}
        fd = os.open(path, os.O_RDONLY)
        try:
            first = 0
            while first < len(indices):
                start = refs[indices[first]].offset
                end = start + sizes[indices[first]]
                last = first + 1
                while last < len(indices) and refs[indices[last]].offset - end <= _READ_GAP:
                    end = max(end, refs[indices[last]].offset + sizes[indices[last]])
                    last += 1
                span = memoryview(_read_span(fd, start, end - start, path))
                for i in indices[first:last]:
                    offset = refs[i].offset - start
                    found[i] = bytes(span[offset : offset + sizes[i]])
                first = last
        finally:
            os.close(fd)
    return found


def _read_span(fd: int, start: int, size: int, path: str) -> bytes:
    """`size` bytes at `start` (pread returns at most about 2 GB a call)."""
    parts: list[bytes] = []
    while size > 0:
        part = os.pread(fd, size, start)
        if not part:
            raise ValueError(f"shelf file {Path(path).name} ends before an entry written to it")
        parts.append(part)
        start += len(part)
        size -= len(part)
    return b"".join(parts)  # one part: that part itself, not a copy


class ScratchFolder:
    """This run's folder (`path`) of shelf and rows files: removed when the run ends, or earlier by release()."""

    def __init__(self, root: Path) -> None:
        self.path = str(root / uuid.uuid4().hex)
        self._removing: threading.Thread | None = None

    def release(self) -> None:
        """Remove the folder while the run goes on: nothing will read its files again.

        After 100,187 captures it holds 1.7 GB of files, 0.5 s to remove; the tables are
        planned on one core meanwhile.
        """
        if self._removing is None:
            self._removing = threading.Thread(
                target=shutil.rmtree, args=(self.path,), kwargs={"ignore_errors": True}, name="scratch-removal"
            )
            self._removing.start()

    def wait(self) -> None:
        if self._removing is not None:
            self._removing.join()


@contextmanager
def scratch_folder(archive_dir: str) -> Iterator[ScratchFolder]:
    """A fresh folder for this run's shelf files, removed when the run ends.

    Call it holding the archive's lock: whatever else is in the scratch folder then
    was left by a run that was killed, and is removed first. An archive in object storage
    has its scratch folder in this machine's temporary folder (its workers share the machine).
    """
    if archive_dir.startswith(("s3://", "s3a://")):
        with tempfile.TemporaryDirectory(prefix="newsarchive-scratch-") as local, scratch_folder(local) as folder:
            yield folder
        return
    # Absolute: its files are named to workers, and a Dask worker started elsewhere has another working folder.
    scratch = Path(archive_dir).absolute() / SCRATCH
    shutil.rmtree(scratch, ignore_errors=True)
    folder = ScratchFolder(scratch)
    Path(folder.path).mkdir(parents=True)
    try:
        yield folder
    finally:
        folder.wait()
        shutil.rmtree(scratch, ignore_errors=True)
