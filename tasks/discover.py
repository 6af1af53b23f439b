"""The discover-captures stage: the captures under the raw folder, listed, read and hashed."""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from io import BufferedReader
from pathlib import Path, PurePosixPath
from typing import NamedTuple, TypeAlias

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.core.folders import RawFolderError, is_object_store, retry_transient
from tasks.core.rawstore import bucket_problem, list_objects, read_object, read_object_bytes
from tasks.core.rawstore import read_problem as object_read_problem
from tasks.runtime.execution import Sealed

# Captures up to this size are read at once to be hashed: faster than streaming them.
_READ_WHOLE_BYTES = 1 << 20
# What a name that is not a regular file is: reading a named pipe waits for a writer, a device may never end.
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}
# The (size, modified time) of each version of a file archived before (tasks/state.py).
Fingerprints: TypeAlias = frozenset[tuple[int, datetime]]
_NOT_UTF8_NAME = "the file name is not valid UTF-8 (its bytes are shown as \\x escapes): rename the file"
GONE = "the file disappeared between listing and reading"
_TOO_LONG = "the path is longer than the system allows (ENAMETOOLONG): move it nearer the raw directory"


class RawCapture(NamedTuple):
    """A file found under the raw directory; `error` says why it cannot be read.

    A named tuple: 100,187 of them go to the decoding workers and come back read, and a
    frozen dataclass took 0.57 s to unpickle them in the flow process, a tuple 0.16 s.
    """

    uri: str  # path relative to the raw directory, with '/' separators; in object storage the object's URI
    path: str  # a str, not a Path: Paths are slow to make and to pickle to the workers and back
    size_bytes: int  # of an object listed unread, the size the listing gave
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
    A sub-folder that cannot be listed is one row with its problem, not the run's end; the
    raw folder itself that cannot be listed ends the stage (RawFolderError).
    """
    root = raw_dir.resolve()
    prefix = len(str(root)) + 1  # uri: the entry's path after "root/" (POSIX separators)
    found: list[tuple[str, str, str | None]] = []
    folders = [str(root)]
    while folders:
        folder = folders.pop()
        try:
            entries = _visible_entries(folder)
        except OSError as err:
            if folder == str(root):
                raise RawFolderError(f"raw directory {folder!r} cannot be listed: {err.strerror or err}", err) from err
            found.append(_row(folder[prefix:], folder, _folder_problem(err)))
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                    continue
                problem = _entry_problem(entry, root)
            except OSError as err:  # gone, or a path too long, while it was looked at
                problem = _read_problem(err)
            found.append(_row(entry.path[prefix:], entry.path, problem))
    return sorted(found)


def _visible_entries(folder: str) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        return [entry for entry in entries if not entry.name.startswith(".")]


def _row(uri: str, path: str, problem: str | None) -> tuple[str, str, str | None]:
    if not uri.isascii() and not _is_utf8(uri):  # sources.uri is UTF-8: the run would fail writing it
        return _printable(uri), path, _NOT_UTF8_NAME
    return uri, path, problem


def _folder_problem(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "no permission to list the folder"
    if isinstance(err, FileNotFoundError):
        return "the folder disappeared while it was being listed"
    if err.errno == errno.ENAMETOOLONG:
        return _TOO_LONG
    return f"cannot list the folder: {err.strerror or err}"


def _entry_problem(entry: os.DirEntry[str], root: Path) -> str | None:
    """Why a listed entry (not a directory) is no capture; the entry's type costs no system call."""
    if entry.is_symlink():
        return _link_problem(Path(entry.path), root)
    if entry.is_file(follow_symlinks=False):
        return None
    try:
        return _kind_problem(entry.stat(follow_symlinks=False).st_mode)
    except OSError:
        return GONE


def _is_utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:  # os.fsdecode() kept the bytes that are not UTF-8 as lone surrogates
        return False
    return True


def _printable(name: str) -> str:
    return name.encode(errors="surrogateescape").decode(errors="backslashreplace")


def capture_problem(raw_dir: Path, uri: str) -> str | None:
    """Why the file listed as `uri` may not be read now, by the listing's rules; None when it may.

    For a capture an earlier run listed: since then its name may have become a link out of
    raw_dir, or something other than a regular file, or a folder on its way a link.
    """
    root = raw_dir.resolve()
    parts = PurePosixPath(uri).parts
    if not parts or any(part.startswith(".") for part in parts):  # the listing skips hidden names (and "..")
        return "not a capture the listing finds"
    folder = root
    for part in parts[:-1]:
        folder /= part
        if folder.is_symlink():  # the listing does not follow it
            return _link_problem(folder, root) or "symbolic link to a directory; not followed"
    path = folder / parts[-1]
    try:
        mode = path.lstat().st_mode
    except OSError:
        return GONE
    return _link_problem(path, root) if stat.S_ISLNK(mode) else _kind_problem(mode)


def _kind_problem(mode: int) -> str | None:
    """None for a regular file, else what it is."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory, not a capture file"
    return f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'of an unknown kind')})"


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
    try:
        mode = target.stat().st_mode
    except OSError:
        return "symbolic link to a missing file"
    if stat.S_ISREG(mode):
        return None
    return f"symbolic link to {_KINDS.get(stat.S_IFMT(mode), 'a file of an unknown kind')}; not followed"


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
    if is_object_store(item.path):
        return _read_object(item, max_bytes=max_bytes)
    data: bytes | None = None
    try:
        handle, status = open_regular(item.path)  # the file read, not a second look at its name
        with handle:
            if status.st_size <= max_bytes:  # one read, not file_digest's loop and 256 KiB buffer
                data = handle.read()
                digest, size = hashlib.sha256(data).hexdigest(), len(data)
            else:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
                size = handle.tell()
    except OSError as err:
        return RawCapture(item.uri, item.path, 0, None, _read_problem(err)), None
    return RawCapture(item.uri, item.path, size, digest, None, _modified_at(status.st_mtime_ns)), data


def _read_object(item: RawCapture, *, max_bytes: int) -> tuple[RawCapture, bytes | None]:
    """read_capture() of an object; its time is the listing's (the one the next run's listing compares)."""
    try:
        data, digest, size = read_object(item.path, max_bytes=max_bytes)
    except OSError as err:
        return RawCapture(item.uri, item.path, 0, None, object_read_problem(err)), None
    return RawCapture(item.uri, item.path, size, digest, None, item.modified_at), data


def read_raw(path: str) -> bytes:
    """The bytes of a capture: a regular file (read_regular), or an object in object storage."""
    return read_object_bytes(path) if is_object_store(path) else read_regular(path)


def check_raw_folder(item: RawCapture) -> None:
    """Raise RawFolderError when the raw folder `item` was listed in cannot be seen here: nothing in it can be read."""
    if is_object_store(item.path):
        problem = bucket_problem(item.path)
        if problem is not None:
            raise RawFolderError(f"{problem} from {socket.gethostname()}")
        return
    root = item.path[: len(item.path) - len(item.uri) - 1]
    if not Path(root).is_dir():
        raise RawFolderError(f"raw directory {root!r} cannot be reached on {socket.gethostname()}")


class NotRegularFileError(OSError):
    """A listed name that is no regular file when it is opened; the message says what it is."""


def open_regular(path: str) -> tuple[BufferedReader, os.stat_result]:
    """A file opened for reading, with its status, that is surely a regular file.

    O_NONBLOCK: opening a named pipe that was a file when it was listed would otherwise wait
    for a writer forever. It changes nothing for reading a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        status = os.fstat(fd)
        problem = _kind_problem(status.st_mode)
        if problem is not None:
            raise NotRegularFileError(problem)
        return os.fdopen(fd, "rb"), status
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str) -> bytes:
    """The bytes of a regular file (open_regular)."""
    handle, _ = open_regular(path)
    with handle:
        return handle.read()


def _read_problem(err: OSError) -> str:
    if isinstance(err, NotRegularFileError):
        return str(err)
    if err.errno == errno.ENXIO:  # what opening a socket (or a device without a driver) says
        return "not a regular file (a socket or a device)"
    if isinstance(err, FileNotFoundError):
        return GONE
    if isinstance(err, PermissionError):
        return "no permission to read the file"
    if err.errno == errno.ENAMETOOLONG:
        return _TOO_LONG
    return f"cannot read the file: {err.strerror or err}"


def new_captures(raw_dir: Path | str, known: Mapping[str, Fingerprints]) -> tuple[list[RawCapture], int]:
    """Captures to read this run, and how many were skipped as unchanged.

    `known` maps uri to the (size, modified time) of each version an earlier run archived
    under it: a file as one of them left it is neither read nor hashed again. A known file
    that changed is hashed now, so that one only touched is not decoded again. A new file is
    left unread (no sha256, no error): decoding reads it once and hashes it then
    (tasks/decode.py), on the workers' cores. Reading and hashing 100,187 files here took
    1.6 s of the run, all of it again read by decoding.
    """
    if is_object_store(str(raw_dir)):
        return new_objects(str(raw_dir), known)
    found: list[RawCapture] = []
    unchanged = 0
    for uri, path, problem in list_capture_paths(Path(raw_dir)):
        if problem is None and uri in known:
            if fingerprint(path) in known[uri]:
                unchanged += 1
            else:
                found.append(hash_capture(uri, path, problem))
        else:
            found.append(RawCapture(uri, path, 0, None, problem))
    return found, unchanged


def new_objects(raw_dir: str, known: Mapping[str, Fingerprints]) -> tuple[list[RawCapture], int]:
    """new_captures() of a prefix in object storage, by the same rules: the listing's size and time are the
    change key (it gives no ETag), the sha256 of the bytes the identity. An unchanged object is not read."""
    found: list[RawCapture] = []
    unchanged = 0
    for uri, size, mtime_ns in list_objects(raw_dir):
        item = RawCapture(uri, uri, size, None, None, _modified_at(mtime_ns))
        if uri not in known:
            found.append(item)
        elif (size, item.modified_at) in known[uri]:
            unchanged += 1
        else:
            found.append(read_capture(item, max_bytes=_READ_WHOLE_BYTES)[0])
    return found, unchanged


@task(
    name="discover-captures", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)  # fmt: skip
def discover_captures(raw_dir: str, known: Mapping[str, Fingerprints]) -> Sealed[list[RawCapture]]:
    """List the raw directory: the captures not archived unchanged before (changed ones hashed, new ones to read)."""
    found, unchanged = new_captures(raw_dir, known)  # RawFolderError when raw_dir cannot be listed
    unreadable = sum(1 for f in found if f.error)
    get_run_logger().info(
        "%s: %d new or changed captures, %d unchanged since an earlier run, %d unreadable",
        raw_dir, len(found), unchanged, unreadable,
    )  # fmt: skip
    return Sealed(found)
