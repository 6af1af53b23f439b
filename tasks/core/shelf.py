"""Where decoded lines, and the rows of article batches, wait between stages: files in the archive's scratch folder.

A decoding task writes the lines of its batch to one shelf file and hands on only
light captures (names, hashes, line numbers, where their lines lie). The flow process
and the article tasks read lines back when they need them, so no process holds the
text of a whole run: in a 100,000-capture run it was 2.8 GB of the flow process's 5.8.

A capture's lines are stored as UTF-8: its keys joined by LF, then its texts joined by
LF. Neither holds an LF (captures are split on it, keys collapse white space), so
splitting gives them back, about four times faster than unpickling them; and grouping,
which needs only the keys, reads and splits only those (in polars).

An archive in object storage worked on by a Dask cluster of its own (workers on other
machines) keeps its scratch folder in the bucket, beside the archive: the workers write
and read it through the S3 API as the flow does, and need no folder of this machine.
"""

from __future__ import annotations

import contextlib
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

from tasks.core.folders import is_object_store
from tasks.core.rawstore import object_path, s3_filesystem

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
    path = _in(folder, f"lines-{uuid.uuid4().hex}.shelf")
    refs, offset = [], 0
    for entry, keys_length in entries:
        refs.append(ShelfRef(path, offset, len(entry), keys_length))
        offset += len(entry)
    _write_file(path, b"".join(entry for entry, _ in entries))
    return refs


def _in(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if is_object_store(folder) else str(Path(folder) / name)


def _write_file(path: str, data: bytes) -> None:
    if is_object_store(path):
        with s3_filesystem().open_output_stream(object_path(path)) as out:
            out.write(data)
    else:
        with Path(path).open("wb") as out:
            out.write(data)


def shelve_frames(folder: str, frames: Mapping[str, pl.DataFrame]) -> dict[str, str]:
    """Write each frame to an Arrow IPC file of its own in `folder`; the file of each name."""
    stem = uuid.uuid4().hex
    files = {name: _in(folder, f"rows-{stem}-{name}.arrow") for name in frames}
    for name, frame in frames.items():
        if is_object_store(folder):
            _write_file(files[name], frame.write_ipc(None, compression="uncompressed").getvalue())
        else:
            frame.write_ipc(files[name], compression="uncompressed")  # read back once, at once: no use compressing
    return files


def read_frame(path: str) -> pl.DataFrame:
    """A frame shelve_frames() wrote, memory-mapped rather than copied: its buffers are the file's pages.

    The mapping outlives the file's handle, and its name (the scratch folder may go
    meanwhile). Gathering the rows of 100,187 captures' article batches took 0.66 s copied.
    """
    opened = s3_filesystem().open_input_file(object_path(path)) if is_object_store(path) else pa.memory_map(path)
    with opened as source:
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
        read_span = _ObjectSpans(path) if is_object_store(path) else _FileSpans(path)
        try:
            first = 0
            while first < len(indices):
                start = refs[indices[first]].offset
                end = start + sizes[indices[first]]
                last = first + 1
                while last < len(indices) and refs[indices[last]].offset - end <= _READ_GAP:
                    end = max(end, refs[indices[last]].offset + sizes[indices[last]])
                    last += 1
                span = memoryview(read_span(start, end - start))
                for i in indices[first:last]:
                    offset = refs[i].offset - start
                    found[i] = bytes(span[offset : offset + sizes[i]])
                first = last
        finally:
            read_span.close()
    return found


class _FileSpans:
    """Byte spans of a local shelf file (pread returns at most about 2 GB a call)."""

    def __init__(self, path: str) -> None:
        self.path, self.fd = path, os.open(path, os.O_RDONLY)

    def __call__(self, start: int, size: int) -> bytes:
        parts: list[bytes] = []
        while size > 0:
            part = os.pread(self.fd, size, start)
            if not part:
                raise ValueError(f"shelf file {Path(self.path).name} ends before an entry written to it")
            parts.append(part)
            start += len(part)
            size -= len(part)
        return b"".join(parts)  # one part: that part itself, not a copy

    def close(self) -> None:
        os.close(self.fd)


class _ObjectSpans:
    """Byte spans of a shelf object: one ranged GET each."""

    def __init__(self, path: str) -> None:
        self.path, self.source = path, s3_filesystem().open_input_file(object_path(path))

    def __call__(self, start: int, size: int) -> bytes:
        data: bytes = self.source.read_at(size, start)
        if len(data) < size:
            raise ValueError(f"shelf object {self.path} ends before an entry written to it")
        return data

    def close(self) -> None:
        self.source.close()


class ScratchFolder:
    """This run's folder (`path`) of shelf and rows files: removed when the run ends, or earlier by release()."""

    def __init__(self, root: str) -> None:
        self.path = _in(root, uuid.uuid4().hex)
        self._removing: threading.Thread | None = None

    def release(self) -> None:
        """Remove the folder while the run goes on: nothing will read its files again.

        After 100,187 captures it holds 1.7 GB of files, 0.5 s to remove; the tables are
        planned on one core meanwhile.
        """
        if self._removing is None:
            self._removing = threading.Thread(target=_remove, args=(self.path,), name="scratch-removal")
            self._removing.start()

    def wait(self) -> None:
        if self._removing is not None:
            self._removing.join()


def _remove(folder: str) -> None:
    """The folder and what it holds, if it is there."""
    if not is_object_store(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    fs = s3_filesystem()
    with contextlib.suppress(FileNotFoundError):
        fs.delete_dir_contents(object_path(folder), missing_dir_ok=True)
        fs.delete_dir(object_path(folder))


@contextmanager
def scratch_folder(archive_dir: str, *, beside_the_archive: bool = False) -> Iterator[ScratchFolder]:
    """A fresh folder for this run's shelf files, removed when the run ends.

    Call it holding the archive's lock: whatever else is in the scratch folder then
    was left by a run that was killed, and is removed first. An archive in object storage
    has its scratch folder in this machine's temporary folder (its workers share the machine),
    or, `beside_the_archive` (workers on other machines), in the bucket under the archive.
    """
    if is_object_store(archive_dir) and not beside_the_archive:
        with tempfile.TemporaryDirectory(prefix="newsarchive-scratch-") as local, scratch_folder(local) as folder:
            yield folder
        return
    # Absolute: its files are named to workers, and a Dask worker started elsewhere has another working folder.
    scratch = _in(archive_dir, SCRATCH) if is_object_store(archive_dir) else str(Path(archive_dir).absolute() / SCRATCH)
    _remove(scratch)
    folder = ScratchFolder(scratch)
    if not is_object_store(scratch):
        Path(folder.path).mkdir(parents=True)
    try:
        yield folder
    finally:
        folder.wait()
        _remove(scratch)
