"""`make serve` (`python -m flows.serve`) stopped with Ctrl-C, as a person at a terminal stops it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tasks.storage.store import LOCK
from tests.helpers import SEED_NAMES, SEEDS
from tests.test_deploy import DEPLOYMENT, START_TIMEOUT_S, free_port, log_tail, start_serve, wait_for

pytestmark = pytest.mark.slow

# A clean stop takes 2-3 s; flows.serve gives what it started 20 s (flows.serve.STOP_TIMEOUT_S) before it kills it.
STOPPED_WITHIN_S = 60.0

Processes = dict[int, str]  # pid -> its start time (a pid used again by another process has another)


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None once the pid is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces


def descendants(root: int) -> Processes:
    """Every process under `root`, however deep; a child that made a session of its own is still a child."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents[int(entry.name)] = (int(fields[1]), fields[19])  # ppid, starttime
    found: Processes = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = {pid: started for pid, (ppid, started) in parents.items() if ppid == parent}
        found |= children
        frontier += children
    return found


def alive(pid: int, started: str) -> bool:
    """Still running: neither gone, nor a zombie waiting for its parent, nor another process under the same pid."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z" and fields[19] == started


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class Served:
    """A `python -m flows.serve` of the test's own, and the processes it had started when Ctrl-C came."""

    process: subprocess.Popen[bytes]
    port: int
    tmp: Path
    log: Path
    started: Processes = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def database(self) -> sqlite3.Connection:
        """The server's SQLite database, read once the server is gone."""
        return sqlite3.connect(self.tmp / "prefect-home" / "prefect.db")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in SEED_NAMES:
        (raw / f"{name}.txt").write_bytes((SEEDS / f"{name}.txt").read_bytes())
    port = free_port()
    log = tmp_path / "serve.log"
    serve = Served(start_serve(tmp_path, port, raw, tmp_path / "archive", log), port, tmp_path, log)
    try:

        def registered() -> bool:
            assert serve.process.poll() is None, f"flows.serve exited with {serve.process.returncode}:\n{log_tail(log)}"
            if "Prefect UI at" not in log_tail(log):
                return False
            try:
                return httpx.get(f"{serve.api}/deployments/name/{DEPLOYMENT}", timeout=10).is_success
            except httpx.TransportError:
                return False

        # Polled often: the runner registers the deployment before it starts, and the first test stops it there.
        wait_for(registered, START_TIMEOUT_S, "the server and the deployment", every_s=0.1)
        yield serve
    finally:
        if serve.process.poll() is None:
            os.killpg(serve.process.pid, signal.SIGKILL)
            serve.process.wait()
        for pid, start in serve.started.items():  # only the processes it started, and only if still them
            if alive(pid, start):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def ctrl_c(serve: Served) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the foreground process group, flows.serve's own (its children
    have groups of their own); then flows.serve must be gone with code 0, the port closed, nothing it started left.
    """
    serve.started = descendants(serve.process.pid)
    assert len(serve.started) >= 2, f"the server and the runner, at least: {serve.started}"
    os.killpg(serve.process.pid, signal.SIGINT)
    try:
        code = serve.process.wait(STOPPED_WITHIN_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"flows.serve still running {STOPPED_WITHIN_S:.0f} s after Ctrl-C:\n{log_tail(serve.log)}")
    assert code == 0, log_tail(serve.log)
    assert not accepts_connections(serve.port), "the UI and API port still answers"
    left = {pid for pid, start in serve.started.items() if alive(pid, start)}
    assert not left, f"still running after Ctrl-C: {left}\n{log_tail(serve.log)}"


def test_ctrl_c_as_soon_as_the_deployment_is_registered_stops_everything_and_pauses_it(served: Served) -> None:
    ctrl_c(served)
    # Stopped before Prefect's runner took over SIGTERM, the runner still paused the schedule: no runs pile up
    # as Late for the next `make serve` to start all at once.
    with contextlib.closing(served.database()) as db:
        assert db.execute("SELECT name, paused FROM deployment").fetchall() == [("newsarchive", 1)], log_tail(
            served.log
        )


def test_ctrl_c_during_a_run_ends_the_run_as_crashed_and_stops_its_process(served: Served) -> None:
    out = served.tmp / "archive-busy"
    out.mkdir()
    # The test holds the archive's lock, so the run waits for it (flows/archive.py) until Ctrl-C.
    with (out / LOCK).open("a+", encoding="utf-8") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with httpx.Client(base_url=served.api, timeout=60) as api:
            deployment = api.get(f"/deployments/name/{DEPLOYMENT}").json()
            params = {"raw_dir": str(served.tmp / "raw"), "out_dir": str(out)}
            reply = api.post(f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": params})
            assert reply.status_code == 201, reply.text
            run_id = reply.json()["id"]
            wait_for(lambda: "waiting for" in log_tail(served.log), START_TIMEOUT_S, "the run to wait for the lock")
            assert api.get(f"/flow_runs/{run_id}").json()["state_name"] == "Running"
        ctrl_c(served)
    with contextlib.closing(served.database()) as db:
        # Not left Running for good: the run's process reported its end while the server still answered.
        assert db.execute("SELECT state_name FROM flow_run WHERE id = ?", [run_id]).fetchall() == [("Crashed",)], (
            log_tail(served.log)
        )
        assert db.execute("SELECT paused FROM deployment").fetchall() == [(1,)]
