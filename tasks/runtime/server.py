"""The temporary Prefect server of `newsarchive run`: Prefect's own, in a process that dies with the run."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any
from unittest import mock

from prefect.server.api import server as prefect_server
from prefect.settings import PREFECT_API_URL

# Run by the server's process before it becomes the server (exec keeps both settings): SIGKILL
# when the run's process ends, however it ends (prctl 1: PR_SET_PDEATHSIG), unless it ended
# while this one started; and the signals the run blocks (flows/lifetime.py), unblocked.
_TIED_TO_PARENT = """\
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGKILL)
if os.getppid() != int(sys.argv[1]):
    os._exit(1)
signal.pthread_sigmask(signal.SIG_SETMASK, [])
os.execv(sys.argv[2], sys.argv[2:])
"""


def _popen_tied(args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Popen of a process that dies with this one, in a process group of its own (Ctrl-C is the run's to handle)."""
    tie = [sys.executable, "-I", "-S", "-c", _TIED_TO_PARENT, str(os.getpid())]
    return subprocess.Popen([*tie, *args], process_group=0, **kwargs)


class _TiedServer(prefect_server.SubprocessASGIServer):
    """Prefect's temporary server, started as Prefect starts it, but by `_popen_tied`.

    When `newsarchive run` was killed (SIGKILL), the server lived on under PID 1 for good;
    and in the terminal's process group, Ctrl-C stopped it before the run was marked Crashed.
    """

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        with mock.patch.object(prefect_server, "subprocess", SimpleNamespace(Popen=_popen_tied)):
            return super()._run_uvicorn_command()


def start_temporary_server() -> None:
    """Start the temporary server Prefect would start for the run, now, unless PREFECT_API_URL names a server.

    Prefect takes it for its own (it keeps one per port). Start it on the main thread:
    PR_SET_PDEATHSIG fires when the thread that started the process ends.
    """
    if not PREFECT_API_URL.value():
        _TiedServer().start()


def kill_temporary_server() -> None:
    """SIGKILL to the server start_temporary_server() started: a run stopped by a signal ends at once.

    Stopped with SIGTERM, a busy server printed tracebacks of the work it was cancelling after the
    run had said its last line. What the run needs of it is written by then (SQLite survives a kill).
    """
    server = prefect_server.SubprocessASGIServer._instances.get(None)
    process = server.server_process if isinstance(server, _TiedServer) else None
    if process is not None:
        process.kill()
        process.wait()
