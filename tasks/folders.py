"""The run's folders: a raw folder out of reach fails the run, and such an error is not retried."""

from __future__ import annotations

import errno
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


def is_transient(err: BaseException) -> bool:
    """Whether trying again may help: not when a path is missing, forbidden or too long."""
    return not (isinstance(err, OSError) and err.errno in _PERMANENT)


def retry_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry condition: a permanent error fails the task at once (two retries took 6 s)."""
    try:
        state.result()
    except Exception as err:
        return is_transient(err)
    return True
