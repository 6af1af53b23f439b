"""Stage 1: the captures under the raw directory, read and hashed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE


@dataclass(frozen=True)
class RawCapture:
    """A file found under the raw directory; `error` says why it cannot be read."""

    uri: str  # path relative to the raw directory, with '/' separators
    path: Path
    size_bytes: int
    sha256: str | None
    error: str | None
    modified_at: datetime | None = None


def list_capture_paths(raw_dir: Path) -> list[tuple[str, Path, str | None]]:
    """Every file below raw_dir as (uri, path, problem), sorted by uri; hidden names are skipped.

    Links are not followed out of raw_dir, nor into a loop.
    """
    root = raw_dir.resolve()
    found: list[tuple[str, Path, str | None]] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            uri = path.relative_to(root).as_posix()
            found.append((uri, path, _link_problem(path, root)))
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


def fingerprint(path: Path) -> tuple[int, datetime] | None:
    """Size and modification time, without following a link; None when the file is gone."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, datetime.fromtimestamp(stat.st_mtime_ns // 1000 / 1e6, UTC)


def hash_capture(uri: str, path: Path, problem: str | None) -> RawCapture:
    """Read one capture and hash it, or record why it cannot be read."""
    if problem is not None:
        return RawCapture(uri, path, 0, None, problem)
    seen = fingerprint(path)
    modified_at = seen[1] if seen else None
    try:
        if path.is_dir():
            raise IsADirectoryError(path)
        with path.open("rb") as handle:  # streamed: a 50 MB capture is not held twice
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
            size = handle.tell()
    except IsADirectoryError:
        return RawCapture(uri, path, 0, None, "a directory, not a capture file")
    except FileNotFoundError:
        return RawCapture(uri, path, 0, None, "the file disappeared between listing and reading")
    except PermissionError:
        return RawCapture(uri, path, 0, None, "no permission to read the file")
    except OSError as err:
        return RawCapture(uri, path, 0, None, f"cannot read the file: {err.strerror or err}")
    return RawCapture(uri, path, size, digest, None, modified_at)


def new_captures(raw_dir: Path, known: Mapping[str, tuple[int, datetime]]) -> tuple[list[RawCapture], int]:
    """Captures to read this run, hashed, and how many were skipped as unchanged.

    `known` maps uri to the (size, modified time) an earlier run archived it
    with: such a file is neither read nor hashed again.
    """
    found: list[RawCapture] = []
    unchanged = 0
    for uri, path, problem in list_capture_paths(raw_dir):
        if problem is None and uri in known and fingerprint(path) == known[uri]:
            unchanged += 1
            continue
        found.append(hash_capture(uri, path, problem))
    return found, unchanged


@task(name="discover-and-hash", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def discover_captures(raw_dir: str, known: Mapping[str, tuple[int, datetime]]) -> list[RawCapture]:
    """List the raw directory and hash every capture (sha256) not archived unchanged before."""
    root = Path(raw_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"raw directory {raw_dir!r} does not exist or is not a directory")
    found, unchanged = new_captures(root, known)
    unreadable = sum(1 for f in found if f.error)
    get_run_logger().info(
        "%s: %d new or changed captures, %d unchanged since an earlier run, %d unreadable",
        raw_dir, len(found), unchanged, unreadable,
    )  # fmt: skip
    return found
