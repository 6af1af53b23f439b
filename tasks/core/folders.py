"""The run's two folders: made absolute once, and kept apart (the archive may not be read as captures)."""

from __future__ import annotations

import errno
import os
from pathlib import Path, PurePath
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


def overlap_problem(raw_dir: PurePath, out_dir: PurePath) -> str | None:
    """Why these absolute folders may not go together, or None.

    An archive inside the raw folder is listed as captures by every run: its manifest became an
    article titled `{`, its Parquet files were quarantined, and each rerun found new files.
    """
    names = f"the archive directory {str(out_dir)!r} (out_dir) and the raw directory {str(raw_dir)!r} (raw_dir)"
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


def absolute_folders(raw_dir: str, out_dir: str) -> tuple[str, str]:
    """Both folders absolute, links resolved (workers started elsewhere get the same paths), checked apart.

    An archive in object storage (`s3://bucket/prefix`) is kept as it is, without its trailing slash.
    """
    raw = Path(raw_dir).expanduser().resolve()
    if is_object_store(out_dir):
        return str(raw), out_dir.rstrip("/")
    out = Path(out_dir).expanduser().resolve()
    problem = overlap_problem(raw, out)
    if problem is not None:
        raise FolderOverlapError(problem)
    return str(raw), str(out)


def raw_folder_problem(raw_dir: str) -> str | None:
    """Why the raw folder cannot be listed at all, or None: then there is no run to make."""
    try:
        with os.scandir(raw_dir):
            return None
    except FileNotFoundError:
        return f"raw directory {raw_dir!r} does not exist"
    except NotADirectoryError:
        return f"raw directory {raw_dir!r} is not a directory"
    except OSError as err:
        return f"raw directory {raw_dir!r} cannot be listed: {err.strerror or err}"


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
    """How many files lie below raw_dir, hidden ones aside: a first guess at a run's size (0.1 s for 100,000)."""
    count = 0
    for _, dirs, files in os.walk(raw_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += sum(1 for name in files if not name.startswith("."))
    return count
