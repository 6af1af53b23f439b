"""Stage 1: the captures under the raw directory; reading and hashing them (decoding reads the new ones)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.execution import Sealed

# Captures up to this size are read at once to be hashed (hashing 100,187 took 2.9 s streamed, 2.5 s so).
_READ_WHOLE_BYTES = 1 << 20


class RawCapture(NamedTuple):
    """A file found under the raw directory; `error` says why it cannot be read.

    A named tuple: 100,187 of them go to the decoding workers and come back read, and a
    frozen dataclass took 0.57 s to unpickle them in the flow process, a tuple 0.16 s.
    """

    uri: str  # path relative to the raw directory, with '/' separators
    path: str  # a str, not a Path: 100,187 Paths cost 0.4 s to make and 1.5 s to pickle to the workers and back
    size_bytes: int
    sha256: str | None  # None with no error: listed, not read yet
    error: str | None
    modified_at: datetime | None = None

    @property
    def unread(self) -> bool:
        return self.sha256 is None and self.error is None


def list_capture_paths(raw_dir: Path) -> list[tuple[str, str, str | None]]:
    """Every file below raw_dir as (uri, path, problem), sorted by uri; hidden names are skipped.

    Links are not followed out of raw_dir, nor into a loop. Directory entries say what they
    are without a system call per file (os.walk plus Path.is_symlink took 1.5 s for 100,000).
    """
    root = raw_dir.resolve()
    prefix = len(str(root)) + 1  # uri: the entry's path after "root/" (POSIX separators)
    found: list[tuple[str, str, str | None]] = []
    folders = [root]
    while folders:
        folder = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                    continue
                problem = _link_problem(Path(entry.path), root) if entry.is_symlink() else None
                found.append((entry.path[prefix:], entry.path, problem))
    return sorted(found)


def count_files(raw_dir: str) -> int:
    """How many files lie below raw_dir, hidden ones aside: a first guess at a run's size (0.1 s for 100,000)."""
    count = 0
    for _, dirs, files in os.walk(raw_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for name in files if not name.startswith("."))
    return count


def _link_problem(path: Path, root: Path) -> str | None:
    if not path.is_symlink():
        return None
    try:
        target = path.resolve(strict=True)
    except (RuntimeError, OSError) as err:
        loop = isinstance(err, RuntimeError) or "loop" in str(err).lower()
        return "symbolic link loop" if loop else "symbolic link to a missing file"
    if not target.is_relative_to(root):
        return "symbolic link leads outside the raw directory; not followed"
    if target.is_dir():
        return "symbolic link to a directory; not followed"
    return None


def fingerprint(path: str) -> tuple[int, datetime] | None:
    """Size and modification time; None when the file is gone."""
    try:
        stat = os.stat(path)  # noqa: PTH116 - a Path per file costs more than the call
    except OSError:
        return None
    return stat.st_size, _modified_at(stat.st_mtime_ns)


def _modified_at(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns // 1000 / 1e6, UTC)


def hash_capture(uri: str, path: str, problem: str | None) -> RawCapture:
    """Read one capture and hash it, or record why it cannot be read."""
    return read_capture(RawCapture(uri, path, 0, None, problem), max_bytes=_READ_WHOLE_BYTES)[0]


def read_capture(item: RawCapture, *, max_bytes: int) -> tuple[RawCapture, bytes | None]:
    """A listed capture read and hashed: its record (size, sha256, time, or why it cannot be read), and its bytes.

    A file larger than `max_bytes` is hashed as a stream and not held (no bytes): a 50 MB
    capture is not held twice.
    """
    if item.error is not None:
        return item, None
    data: bytes | None = None
    try:
        with open(item.path, "rb") as handle:  # noqa: PTH123 - paths are str (see RawCapture)
            stat = os.fstat(handle.fileno())  # the file read, not a second look at its name
            if stat.st_size <= max_bytes:  # one read, not file_digest's loop and 256 KiB buffer
                data = handle.read()
                digest, size = hashlib.sha256(data).hexdigest(), len(data)
            else:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
                size = handle.tell()
    except OSError as err:
        return RawCapture(item.uri, item.path, 0, None, _read_problem(err)), None
    return RawCapture(item.uri, item.path, size, digest, None, _modified_at(stat.st_mtime_ns)), data


def _read_problem(err: OSError) -> str:
    if isinstance(err, IsADirectoryError):
        return "a directory, not a capture file"
    if isinstance(err, FileNotFoundError):
        return "the file disappeared between listing and reading"
    if isinstance(err, PermissionError):
        return "no permission to read the file"
    return f"cannot read the file: {err.strerror or err}"


def new_captures(raw_dir: Path, known: Mapping[str, tuple[int, datetime]]) -> tuple[list[RawCapture], int]:
    """Captures to read this run, and how many were skipped as unchanged.

    `known` maps uri to the (size, modified time) an earlier run archived it with: such
    a file is neither read nor hashed again. A known file that changed is hashed now, so
    that one only touched is not decoded again. A new file is left unread (no sha256, no
    error): decoding reads it once and hashes it then (tasks/decode.py), on the workers'
    cores. Reading and hashing 100,187 files here took 1.6 s of the run, all of it again
    read by decoding.
    """
    found: list[RawCapture] = []
    unchanged = 0
    for uri, path, problem in list_capture_paths(raw_dir):
        if problem is None and uri in known:
            if fingerprint(path) == known[uri]:
                unchanged += 1
            else:
                found.append(hash_capture(uri, path, problem))
        else:
            found.append(RawCapture(uri, path, 0, None, problem))
    return found, unchanged


@task(name="discover-captures", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def discover_captures(raw_dir: str, known: Mapping[str, tuple[int, datetime]]) -> Sealed[list[RawCapture]]:
    """List the raw directory: the captures not archived unchanged before (changed ones hashed, new ones to read)."""
    root = Path(raw_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"raw directory {raw_dir!r} does not exist or is not a directory")
    found, unchanged = new_captures(root, known)
    unreadable = sum(1 for f in found if f.error)
    get_run_logger().info(
        "%s: %d new or changed captures, %d unchanged since an earlier run, %d unreadable",
        raw_dir, len(found), unchanged, unreadable,
    )  # fmt: skip
    return Sealed(found)
