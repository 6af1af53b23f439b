"""The run's two folders: made absolute once, and kept apart (the archive may not be read as captures)."""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import State, TaskRun

# Errors the same call meets again at once (the raw folder missing or forbidden): not retried.
_PERMANENT = frozenset({errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP})


class RawFolderError(OSError):
    """The raw folder itself cannot be reached: no capture can be listed or read, so the run fails."""

    def __init__(self, message: str, cause: OSError | None = None) -> None:
        super().__init__(message)
        self.errno = cause.errno if cause is not None else errno.ENOENT  # permanent or not (retry_transient)

    def __str__(self) -> str:
        return str(self.args[0])


class FolderOverlapError(ValueError):
    """The archive folder is the raw folder, lies inside it or holds it; the message names both."""


def overlap_problem(raw_dir: PurePath, out_dir: PurePath, *, named: tuple[str, str] | None = None) -> str | None:
    """Why these absolute folders may not go together, or None; `named`: how to name them (raw, out).

    An archive inside the raw folder is listed as captures by every run: its manifest became an
    article titled `{`, its Parquet files were quarantined, and each rerun found new files.
    """
    raw_name, out_name = named or (str(raw_dir), str(out_dir))
    names = f"the archive directory {out_name!r} (out_dir) and the raw directory {raw_name!r} (raw_dir)"
    if out_dir == raw_dir:
        return f"{names} are the same folder: a run would read its own output as captures"
    if out_dir.is_relative_to(raw_dir):
        return f"{names}: the archive lies inside the raw directory, so a run would read its own output as captures"
    if raw_dir.is_relative_to(out_dir):
        return f"{names}: the raw directory lies inside the archive, where runs write and remove files"
    return None


OBJECT_STORE_SCHEMES = ("s3://", "s3a://")


def is_object_store(location: str) -> bool:
    """Whether a folder is a location in object storage (`s3://bucket/prefix`), not a local path."""
    return location.startswith(OBJECT_STORE_SCHEMES)


def object_store_path(location: str) -> PurePosixPath:
    """`/bucket/prefix` of an object-store location, whatever its scheme: s3:// and s3a:// name the same objects."""
    return PurePosixPath("/", location.split("://", 1)[1].strip("/"))


def absolute_folders(raw_dir: str, out_dir: str) -> tuple[str, str]:
    """Both folders absolute, links resolved (workers started elsewhere get the same paths), checked apart.

    A folder in object storage (`s3://bucket/prefix`) is kept as it is, without its trailing slash;
    two of them are checked apart as two local folders are.
    """
    raw = raw_dir.rstrip("/") if is_object_store(raw_dir) else str(Path(raw_dir).expanduser().resolve())
    out = out_dir.rstrip("/") if is_object_store(out_dir) else str(Path(out_dir).expanduser().resolve())
    if is_object_store(raw) == is_object_store(out):
        problem = overlap_problem(_comparable(raw), _comparable(out), named=(raw, out))
        if problem is not None:
            raise FolderOverlapError(problem)
    return raw, out


def _comparable(location: str) -> PurePath:
    return object_store_path(location) if is_object_store(location) else Path(location)


def is_transient(err: BaseException) -> bool:
    """Whether trying again may help: not when a path is missing, forbidden or too long, nor for an error
    that says it is permanent (an archive of an older layout, or a damaged one)."""
    return not (isinstance(err, OSError) and err.errno in _PERMANENT) and not getattr(err, "permanent", False)


def retry_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry condition: a permanent error fails the task at once (two retries took 6 s)."""
    try:
        state.result()
    except Exception as err:
        return is_transient(err)
    return True


def count_files(raw_dir: str) -> int:
    """How many files lie below raw_dir, hidden ones aside: a first guess at a run's size (0.1 s for 100,000).

    0 for object storage: a guess there is a second listing of the bucket, as long as the run's own.
    """
    if is_object_store(raw_dir):
        return 0
    count = 0
    for _, dirs, files in os.walk(raw_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for name in files if not name.startswith("."))
    return count
