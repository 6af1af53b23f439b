"""The temporary Prefect server of `newsarchive run`: Prefect's own server app, in a process that dies with the run.

Prefect starts the same app itself (its SubprocessASGIServer) when no PREFECT_API_URL names a
server, but only after importing its whole server (FastAPI, SQLAlchemy and the rest) into the
run's process, where none of it runs. Started here, the run's process talks to it as to any
server, through settings that name it.
"""

from __future__ import annotations

import atexit
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import httpx
import prefect
import prefect.context
from prefect.logging import get_logger
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    PREFECT_UI_URL,
    get_current_settings,
    temporary_settings,
)

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
# What Prefect gives its own temporary server: no UI, and the server's settings for that role.
_SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
_PORTS = range(8000, 9000)  # Prefect's range for its temporary servers
_PORT_TAKEN = 3  # uvicorn's exit status when another process holds its port
_POLL_S = 0.1
_STOP_WAIT_S = 5.0


@dataclass
class TemporaryServer:
    process: subprocess.Popen[Any]
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"


_running: TemporaryServer | None = None


def _popen_tied(args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Popen of a process that dies with this one, in a process group of its own (Ctrl-C is the run's to handle)."""
    tie = [sys.executable, "-I", "-S", "-c", _TIED_TO_PARENT, str(os.getpid())]
    return subprocess.Popen([*tie, *args], process_group=0, **kwargs)


def _start_app(port: int) -> subprocess.Popen[Any]:
    """Prefect's server app under uvicorn on `port`, as Prefect's SubprocessASGIServer runs it."""
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
        "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    env = {**os.environ, **_SERVER_ENV, **get_current_settings().to_environment_variables(exclude_unset=True)}
    return _popen_tied(command, env=env)


def start_temporary_server() -> str | None:
    """Start the run's temporary server unless PREFECT_API_URL names a server; its API's address, once it answers.

    Start it on the main thread: PR_SET_PDEATHSIG fires when the thread that started the process ends.
    It is stopped when this process exits, after Prefect has sent what it still held.
    """
    global _running
    if PREFECT_API_URL.value():
        return None
    if _running is not None and _running.process.poll() is None:
        return _running.api_url
    port = random.choice(_PORTS)
    get_logger().info("Starting temporary server on http://127.0.0.1:%d", port)
    server = TemporaryServer(_start_app(port), port)
    _running = server
    atexit.register(_stop, server)  # registered before Prefect's own exit work: it runs after it
    deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            status = server.process.poll()
            if status == _PORT_TAKEN:
                server.port = random.choice(_PORTS)
                server.process = _start_app(server.port)
                continue
            if status is not None:
                raise RuntimeError(f"the temporary Prefect server exited with status {status} while starting")
            try:
                if client.get(f"{server.api_url}/health").status_code == httpx.codes.OK:
                    return server.api_url
            except httpx.TransportError:
                pass
            time.sleep(_POLL_S)
    waited = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
    raise RuntimeError(
        f"the temporary Prefect server did not answer within {waited} s "
        "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS sets how long to wait)"
    )


def on_server() -> AbstractContextManager[Any]:
    """Prefect's settings naming the temporary server, while it runs; else the settings as they are."""
    if _running is None or _running.process.poll() is not None:
        return nullcontext()
    return _naming(_running.api_url)


@contextmanager
def _naming(api_url: str) -> Iterator[None]:
    # No UI is served there: Prefect would otherwise print a link to a page that does not exist. And the
    # same settings for the whole process (the second context, entered after the first): a new thread
    # starts with the process's settings, not those of the thread that started it, and one of Prefect's
    # (a task runner's message forwarder) would start a temporary server of its own.
    with (
        temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_UI_URL: ""}),
        prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()),
    ):
        yield


@contextmanager
def on_temporary_server() -> Iterator[None]:
    """Start the temporary server (unless PREFECT_API_URL names a server) and run the body with settings naming it."""
    start_temporary_server()
    with on_server():
        yield


def _stop(server: TemporaryServer) -> None:
    """Stop the server as Prefect stops its own: SIGTERM, then SIGKILL when it has not ended within seconds."""
    global _running
    if server.process.poll() is None:
        get_logger().info("Stopping temporary server on http://127.0.0.1:%d", server.port)
        server.process.terminate()
        try:
            server.process.wait(timeout=_STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    if _running is server:
        _running = None


def kill_temporary_server() -> None:
    """SIGKILL to the server start_temporary_server() started: a run stopped by a signal ends at once.

    Stopped with SIGTERM, a busy server printed tracebacks of the work it was cancelling after the
    run had said its last line. What the run needs of it is written by then (SQLite survives a kill).
    """
    if _running is not None and _running.process.poll() is None:
        _running.process.kill()
        _running.process.wait()
