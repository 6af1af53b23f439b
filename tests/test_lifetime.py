"""`newsarchive run` stopped from outside, at several stages: killed outright, it leaves no process of its own
behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

import pytest

from tasks.synth import write_corpus
from tests.helpers import REPO

pytestmark = pytest.mark.slow

NEWSARCHIVE = REPO / ".venv" / "bin" / "newsarchive"
MARK = "NEWSARCHIVE_TEST_RUN"  # in the environment of the command, so of every process it starts
STARTED_WITHIN_S = 240.0  # the temporary server alone has taken 20 s to start on two busy cores
BATCH = 1500  # captures per batch: two of each batch stage, so the pool's workers start before the flow
GONE_WITHIN_S = 30.0  # a worker killed while it starts first finishes importing: seconds on two busy cores

# Where to stop a run: the stage that the line announces has just begun.
STAGES = {
    "while starting": "Starting temporary server",
    "while decoding": "Task run 'discover-captures",
    "while labeling": "Task run 'find-site-furniture",
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


@pytest.mark.parametrize("stage", ["while starting", "while decoding", "while labeling"])
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
