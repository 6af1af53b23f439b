"""`make serve`: a local Prefect server, the archive deployment and the process that runs it, until Ctrl-C.

The server listens on PREFECT_SERVER_API_HOST:PREFECT_SERVER_API_PORT (default 127.0.0.1:4200) and keeps its
database where Prefect's settings say (SQLite under PREFECT_HOME unless PREFECT_API_DATABASE_CONNECTION_URL is
set). Options are those of `python -m flows.deploy` (cron, time zone, directories).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from flows.deploy import DEPLOYMENT, parse_args
from flows.lifetime import InterruptUntilHeard

SERVER_START_TIMEOUT_S = 180.0  # a cold start runs the database migrations first
STOP_TIMEOUT_S = 20.0
EPILOG = """\
environment:
  PREFECT_SERVER_API_PORT   the port of the UI and the API (default 4200), e.g.
                            PREFECT_SERVER_API_PORT=4300 python -m flows.serve
  PREFECT_SERVER_API_HOST   the address the server listens on (default 127.0.0.1)

Ctrl-C (or SIGTERM) stops everything it started: a run in progress (it ends as Crashed),
then the runner (the schedule is paused), then the server.
"""


def wait_until_healthy(api_url: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll the server's health endpoint; fail fast when the server process has already died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {server.returncode} (is the port in use?)")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer at {api_url} within {timeout_s:.0f} s")


def _running_in_group(pgid: int) -> set[int]:
    """The processes of a group that still run, zombies (dead, not yet reaped) left out; empty without /proc."""
    running = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]  # after the command's name
            if int(pgrp) == pgid and state != "Z":
                running.add(int(stat.parent.name))
    return running


def _stop_the_rest_of_its_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group's other processes, and wait for them: the runner's flow runs, which end as Crashed.

    Before the runner, not with it: signalled with it, or killed after it, a run stayed Running for good.
    """
    deadline = time.monotonic() + STOP_TIMEOUT_S
    others = _running_in_group(process.pid) - {process.pid}
    for pid in others:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    while others and time.monotonic() < deadline:
        time.sleep(0.2)
        others = _running_in_group(process.pid) - {process.pid}


def stop(process: subprocess.Popen[bytes]) -> None:
    """What it started, then SIGTERM (the runner pauses its schedule, the server shuts down), then SIGKILL."""
    if process.poll() is None:
        _stop_the_rest_of_its_group(process)
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a process that hung
    process.wait()


def _own_group_dying_with_us() -> None:
    """In a child: its own process group, SIGINT back to default, and SIGTERM should this process die (Linux).

    Ctrl-C then reaches this process only, which stops the runner first (it pauses its schedule while the
    server still answers) and the server after it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the server, then the deployment's runner; stop both when either stops or on Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parse_args(argv, prog="python -m flows.serve", about=__doc__ or "", epilog=EPILOG)  # refuse a bad cron or zone
    host = os.environ.get("PREFECT_SERVER_API_HOST", "127.0.0.1")
    port = os.environ.get("PREFECT_SERVER_API_PORT", "4200")
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    api_url = f"http://{local}:{port}/api"
    env = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false")}
    interrupt = InterruptUntilHeard()  # SIGTERM too: one way out, the same clean-up as Ctrl-C
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    started: list[subprocess.Popen[bytes]] = []
    try:
        print(f"newsarchive: starting the Prefect server on {host}:{port} ...", flush=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", port],
            env=env,
            preexec_fn=_own_group_dying_with_us,  # no threads are running yet: safe
        )
        started.append(server)
        wait_until_healthy(api_url, server, SERVER_START_TIMEOUT_S)
        runner = subprocess.Popen(
            [sys.executable, "-m", "flows.deploy", *argv],
            env=env | {"PREFECT_API_URL": api_url},
            preexec_fn=_own_group_dying_with_us,
        )
        started.append(runner)
        print(
            f"\nnewsarchive: Prefect UI at http://{local}:{port}  (deployment archive/{DEPLOYMENT}: "
            "Deployments → newsarchive → Run). Ctrl-C stops the server and the runner.\n",
            flush=True,
        )
        while all(p.poll() is None for p in started):
            time.sleep(0.5)
        gone = "the Prefect server" if server.returncode is not None else "the runner"
        raise RuntimeError(f"{gone} stopped on its own; stopping the rest")
    except KeyboardInterrupt:
        return 0
    except RuntimeError as err:
        print(f"newsarchive: {err}", file=sys.stderr)
        return 1
    finally:
        interrupt.heard()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        for process in reversed(started):  # the runner first: it pauses the schedule while the server is up
            stop(process)


if __name__ == "__main__":
    sys.exit(main())
