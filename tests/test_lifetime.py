"""`newsarchive run` stopped from outside, at several stages: by Ctrl-C and SIGTERM it ends within 5 s with
its run marked Crashed and one line said; killed outright, it leaves no process of its own behind."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import pytest

from tasks.storage.store import LOCK, archive_lock
from tasks.synth.corpus import write_corpus
from tests.helpers import REPO, run_stages
from tests.test_crash import assert_whole_and_consistent

pytestmark = pytest.mark.slow

NEWSARCHIVE = REPO / ".venv" / "bin" / "newsarchive"
MARK = "NEWSARCHIVE_TEST_RUN"  # in the environment of the command, so of every process it starts
STARTED_WITHIN_S = 240.0  # the temporary server alone has taken 20 s to start on two busy cores
STOPPED_WITHIN_S = 5.0
BATCH = 1500  # captures per batch: two of each batch stage, so the pool's workers start before the flow
GONE_WITHIN_S = 30.0  # a worker killed while it starts first finishes importing: seconds on two busy cores

# Where to stop a run: the stage that the line announces has just begun.
STAGES = {
    "while starting": "Starting temporary server",
    "while decoding": "Task run 'discover-captures",
    "while labeling": "Task run 'find-site-furniture",
    "while writing": "Task run 'check-consistency",
}
# A line that says the stage was already over (None: nothing to check).
OVER = {
    "while starting": "Beginning flow run",
    "while decoding": "Task run 'load-related-stored-articles",
    "while labeling": "Task run 'plan-table-changes",
    "while writing": "Task run 'summarize-run",
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,894 captures: decoding takes 1-2 s on two cores, labeling 5-10 s."""
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, articles=1000, seed=18)
    return out / "raw"


@dataclass
class Command:
    """A `newsarchive run` in a session of its own, as a terminal starts it, with its stderr lines as they came."""

    process: subprocess.Popen[str]
    mark: str
    home: Path
    out: Path
    lines: list[tuple[float, str]] = field(default_factory=list)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + STARTED_WITHIN_S
        while not any(text in line for _, line in self.lines):
            assert self.process.poll() is None, f"ended before {text!r}:\n{self.tail()}"
            assert time.monotonic() < deadline, f"no {text!r} within {STARTED_WITHIN_S:.0f} s:\n{self.tail()}"
            time.sleep(0.01)

    def after(self, at: float) -> list[str]:
        return [line for t, line in self.lines if t >= at]

    def tail(self) -> str:
        return "".join(line for _, line in self.lines[-40:])


Start: TypeAlias = Callable[[Path], Command]


def processes_of(mark: str) -> dict[int, str]:
    """The live processes (zombies left out) whose environment holds the mark: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and f"{MARK}={mark}".encode() in (entry / "environ").read_bytes():
                stat = (entry / "stat").read_text()
                if stat[stat.rindex(")") + 2] != "Z":
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    return found


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """Starts the command on a corpus; afterwards kills whatever of it is left, found by its mark."""
    started: list[Command] = []

    def start_command(raw: Path) -> Command:
        mark = uuid.uuid4().hex
        home, out = tmp_path / "prefect-home", tmp_path / "archive"
        process = subprocess.Popen(
            [
                str(NEWSARCHIVE), "run", "--raw-dir", str(raw), "--out-dir", str(out),
                "--decode-batch-captures", str(BATCH), "--batch-captures", str(BATCH),
            ],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PREFECT_HOME": str(home), MARK: mark},
        )  # fmt: skip
        command = Command(process, mark, home, out)

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                command.lines.append((time.monotonic(), line))

        threading.Thread(target=read, daemon=True).start()
        started.append(command)
        return command

    yield start_command
    for command in started:
        for pid in processes_of(command.mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        command.process.wait()


def stop(command: Command, signum: int, stage: str, *, group: bool) -> tuple[int, float, float]:
    """The signal, as the stage begins; the exit code, the seconds it took, and when it was sent."""
    command.wait_for(STAGES[stage])
    sent = time.monotonic()
    if group:  # Ctrl-C: the terminal signals its foreground process group
        os.killpg(command.process.pid, signum)
    else:
        os.kill(command.process.pid, signum)
    try:
        code = command.process.wait(STOPPED_WITHIN_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOPPED_WITHIN_S:.0f} s after {signal.Signals(signum).name}:\n{command.tail()}")
    seconds = time.monotonic() - sent
    before = [line for t, line in command.lines if t < sent]
    assert not any(OVER[stage] in line for line in before), f"the signal came after the stage {stage}"
    return code, seconds, sent


def flow_run_states(home: Path) -> list[str]:
    """The state of each flow run in the temporary server's database."""
    if not (home / "prefect.db").exists():
        return []
    with contextlib.closing(sqlite3.connect(home / "prefect.db")) as db:
        return [state for (state,) in db.execute("SELECT state_type FROM flow_run")]


def assert_stopped_cleanly(command: Command, signum: int, sent: float) -> None:
    """One line said after the signal, no traceback or warning; the run Crashed; nothing left running;
    the archive whole and its lock free."""
    said = command.after(sent)
    own = [line for line in said if line.startswith("newsarchive:")]
    assert len(own) == 1, command.tail()
    assert own[0].startswith(f"newsarchive: stopped by {signal.Signals(signum).name}"), own
    for noise in ("Traceback", "Warning", "ERROR", "refused"):
        assert not any(noise in line for line in said), command.tail()
    assert set(flow_run_states(command.home)) <= {"CRASHED"}, command.tail()
    deadline = time.monotonic() + 2.0  # the helper of multiprocessing ends once its pipe closes
    while (left := processes_of(command.mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"{left}\n{command.tail()}"
    if (command.out / LOCK).exists():
        with archive_lock(command.out, wait_seconds=0):
            pass
        assert_whole_and_consistent(command.out)


@pytest.mark.parametrize("stage", list(STAGES))
def test_ctrl_c_ends_the_run_within_5_s_as_crashed_with_one_line(raw: Path, start: Start, stage: str) -> None:
    command = start(raw)
    code, seconds, sent = stop(command, signal.SIGINT, stage, group=True)
    assert code == 130, command.tail()
    assert_stopped_cleanly(command, signal.SIGINT, sent)
    print(f"Ctrl-C {stage}: exit {code} after {seconds:.2f} s")
    if stage != "while starting":
        assert flow_run_states(command.home) == ["CRASHED"]
    if stage == "while labeling":  # the next run takes the lock and completes the archive
        run_stages(raw, command.out)
        assert_whole_and_consistent(command.out)


def test_sigterm_ends_the_run_within_5_s_with_143(raw: Path, start: Start) -> None:
    command = start(raw)
    code, seconds, sent = stop(command, signal.SIGTERM, "while labeling", group=False)
    assert code == 143, command.tail()
    assert_stopped_cleanly(command, signal.SIGTERM, sent)
    assert flow_run_states(command.home) == ["CRASHED"]
    print(f"SIGTERM while labeling: exit {code} after {seconds:.2f} s")


# Before the pool starts, and once its workers are busy: the two kinds of process tree a kill can meet.
@pytest.mark.parametrize("stage", ["while starting", "while labeling"])
def test_no_process_outlives_a_killed_run(raw: Path, start: Start, stage: str) -> None:
    command = start(raw)
    command.wait_for(STAGES[stage])
    before = processes_of(command.mark)
    assert len(before) >= 3, f"the command, its workers and the temporary server, at least: {before}"
    killed = time.monotonic()
    os.kill(command.process.pid, signal.SIGKILL)  # the command alone, as the kernel's OOM killer would
    command.process.wait()
    while (left := processes_of(command.mark)) and time.monotonic() - killed < GONE_WITHIN_S:
        time.sleep(0.1)
    assert not left, f"still running {GONE_WITHIN_S:.0f} s after the command was killed: {left}"
    print(f"SIGKILL {stage}: the last process of the run gone {time.monotonic() - killed:.1f} s after")
